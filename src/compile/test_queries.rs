//! Compiling tests: a generic data test's query (the built-in four, or a project's or
//! package's `{% test %}`) with its rendered arguments, and a unit test's query over its
//! `given` rows.

use super::*;

impl Compiler<'_> {
    /// A unit test's SQL: the tested model's code rendered with each input (`ref`, `source`,
    /// `this`) read from the CTE that [`crate::testing::unit`] fills with the given rows, and
    /// with the test's `overrides`.
    pub(super) fn unit_test(
        &self,
        node: &Node,
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        let spec = node.unit_test.as_ref().expect("unit tests have a spec");
        let model = &self.manifest.nodes[&spec.model];
        let resolver = UnitTestResolver {
            inputs: spec
                .given
                .iter()
                .map(|g| (g.input.clone(), g.input.cte()))
                .collect(),
        };
        let gives_this = spec.given.iter().any(|g| g.input == FixtureInput::This);
        let input = RenderInput {
            file: &model.original_file_path,
            source: &model.raw_code,
            this: if gives_this {
                Some(FixtureInput::This.cte())
            } else {
                model.relation.clone()
            },
            model: model.model_context(),
            extra: None,
        };
        let mut vars = self.vars.as_ref().clone();
        vars.extend(spec.vars.clone());
        let mut context = self.context(model);
        context.vars = Arc::new(vars);
        context.resolver = Some(Arc::new(resolver));
        context.is_incremental = spec.is_incremental;
        context.macro_overrides = Arc::new(spec.macros.clone());
        // A unit test's inputs are its given rows, `--empty` or not.
        context.empty_refs = false;
        context.database = connection.cloned();
        Ok(templating::render(self.env, &input, context)?.0)
    }

    pub(super) fn generic_test(
        &self,
        node: &Node,
        meta: &crate::manifest::TestMetadata,
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        let attached = node.attached_node.as_deref().unwrap_or_default();
        let relation = self.manifest.relation_of(attached).ok_or_else(|| {
            Diagnostic::new(format!(
                "test `{}` is attached to unknown node `{attached}`",
                node.name
            ))
        })?;
        // A test of an ephemeral model reads the model's CTE (injected in `compile`).
        let cte;
        let relation = match self.manifest.nodes.get(attached) {
            Some(n) if n.resource_type == ResourceType::Model && n.materialization.is_ephemeral() => {
                cte = Relation::cte(&n.name);
                &cte
            }
            _ => relation,
        };
        let model = testing::model_with_where(&relation.to_string(), &node.config);
        if let Some(test_macro) = templating::generic_test_macro(self.env, &meta.name) {
            // dbt's `get_where_subquery`: the relation itself, or with a `where` config a
            // subquery (a string) over it.
            let model = if model == relation.to_string() {
                minijinja::Value::from_object(relation.clone())
            } else {
                minijinja::Value::from(model)
            };
            return self.custom_generic_test(node, meta, model, test_macro, connection);
        }
        let to = match meta.kwargs.get("to").and_then(|v| v.as_str()) {
            Some(expr) => {
                let (value, _) =
                    templating::eval_expression(self.env, expr, self.context(node)).map_err(|e| {
                        Diagnostic::new(format!(
                            "cannot resolve `to: {expr}` of test `{}`: {e}",
                            node.name
                        ))
                    })?;
                Some(value.to_string())
            }
            None => None,
        };
        // Arguments are templates, as for custom tests: `values: "{{ var('types') }}"`.
        let mut kwargs = meta.kwargs.clone();
        for (key, value) in kwargs.iter_mut() {
            if key != "column_name" && key != "to" && value_has_template(value) {
                let rendered = self.test_argument(node, key, value, connection)?;
                if let Ok(v) = serde_json::to_value(&rendered) {
                    *value = v;
                }
            }
        }
        let store_failures = matches!(testing::store_failures_as(&node.config), Ok(Some(_)));
        testing::generic_test_sql(&meta.name, &kwargs, &model, to.as_deref(), store_failures)
            .ok_or_else(|| Diagnostic::new(format!("unknown generic test `{}`", meta.name)))
    }

    /// The SQL of a custom generic test (`{% test name(model, ...) %}`): its macro called with
    /// `model` (the relation, or a `where` subquery) and the test's arguments rendered as dbt
    /// renders them ([`Compiler::test_argument`]).
    ///
    /// Errors: a Jinja error in the test's macro or in an argument.
    pub(super) fn custom_generic_test(
        &self,
        node: &Node,
        meta: &crate::manifest::TestMetadata,
        model: minijinja::Value,
        test_macro: minijinja::Value,
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        let mut args = BTreeMap::new();
        args.insert("model".to_string(), model);
        for (key, value) in &meta.kwargs {
            let v = if key == "column_name" {
                minijinja::Value::from_serialize(value)
            } else {
                self.test_argument(node, key, value, connection)?
            };
            args.insert(key.clone(), v);
        }
        let input = RenderInput {
            file: &node.original_file_path,
            source: "{{ __mallard_test(**__mallard_test_args) }}",
            this: None,
            model: node.model_context(),
            extra: Some(minijinja::context! {
                __mallard_test => test_macro,
                __mallard_test_args => minijinja::Value::from_iter(args),
            }),
        };
        Ok(templating::render(self.env, &input, self.context_on(node, connection))?.0)
    }

    /// A generic test's argument as dbt passes it (dbt-core's `add_rendered_test_kwargs`):
    /// every string, also inside lists and dicts, is rendered as a template natively (`0.5`
    /// becomes a number, `{{ ref('x') }}` the relation), one that looks like a call of
    /// `ref`, `source`, `var`, `env_var` or `doc` as the expression it is; lists and dicts
    /// become ones that `.append()` and `.update()` can change.
    ///
    /// Errors: a Jinja error in the argument, naming the test and the argument.
    pub(super) fn test_argument(
        &self,
        node: &Node,
        key: &str,
        value: &serde_json::Value,
        connection: Option<&SharedAdapter>,
    ) -> Result<minijinja::Value, Diagnostic> {
        use crate::templating::mutable::{MutableDict, MutableList};
        let fail = |e: &dyn std::fmt::Display| {
            Diagnostic::new(format!(
                "cannot render argument `{key}` of test `{}`: {e}",
                node.name
            ))
        };
        Ok(match value {
            serde_json::Value::String(text) => {
                let t = text.trim();
                let call = ["ref", "source", "var", "env_var", "doc"].iter().any(|f| {
                    t.strip_prefix(f)
                        .is_some_and(|rest| rest.trim_start().starts_with('(') && t.ends_with(')'))
                });
                let single = t
                    .strip_prefix("{{")
                    .and_then(|r| r.strip_suffix("}}"))
                    .filter(|inner| !inner.contains("{{") && !inner.contains("}}"));
                if let Some(expr) = single.or(call.then_some(t)) {
                    templating::eval_expression(self.env, expr, self.context_on(node, connection))
                        .map_err(|e| fail(&e))?
                        .0
                } else {
                    let input = RenderInput {
                        file: &node.original_file_path,
                        source: text,
                        this: None,
                        model: node.model_context(),
                        extra: None,
                    };
                    let rendered = templating::render(self.env, &input, self.context_on(node, connection))
                        .map_err(|e| fail(&e.message))?
                        .0;
                    minijinja::Value::from_serialize(crate::config::yaml::native_value(&rendered))
                }
            }
            serde_json::Value::Array(items) => {
                let items = items
                    .iter()
                    .map(|v| self.test_argument(node, key, v, connection))
                    .collect::<Result<Vec<_>, _>>()?;
                minijinja::Value::from_object(MutableList::from_items(items))
            }
            serde_json::Value::Object(map) => {
                let mut out = BTreeMap::new();
                for (k, v) in map {
                    out.insert(k.clone(), self.test_argument(node, key, v, connection)?);
                }
                let map = minijinja::Value::from_iter(out);
                minijinja::Value::from_object(MutableDict::from_map(Some(&map)).map_err(|e| fail(&e))?)
            }
            other => minijinja::Value::from_serialize(other),
        })
    }
}

/// Resolves a unit test's inputs to the CTEs holding their given rows.
#[derive(Debug)]
pub(super) struct UnitTestResolver {
    inputs: BTreeMap<FixtureInput, Relation>,
}

impl Resolver for UnitTestResolver {
    fn resolve_ref(&self, call: &RefCall) -> Option<Relation> {
        self.inputs.get(&FixtureInput::Ref(call.name.clone())).cloned()
    }

    fn resolve_source(&self, source: &str, table: &str) -> Option<Relation> {
        self.inputs
            .get(&FixtureInput::Source(source.to_string(), table.to_string()))
            .cloned()
    }
}

/// Whether a test argument holds a Jinja expression anywhere (strings inside lists and maps too).
pub(super) fn value_has_template(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(s) => s.contains("{{") || s.contains("{%"),
        serde_json::Value::Array(items) => items.iter().any(value_has_template),
        serde_json::Value::Object(map) => map.values().any(value_has_template),
        _ => false,
    }
}
