//! Data tests of property YAML: generic tests on models, seeds, columns and sources, each a
//! node, with the custom ones rendered in the parse phase as dbt renders them.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::{folders_of, test_defaults, test_names, Located, Node, Parser, ResourceType, TestMetadata};
use crate::error::{did_you_mean, Diagnostic};
use crate::project::properties::{NodeProps, Properties, TestDef};
use crate::relation::Relation;
use crate::templating::{self, Recorded, RenderInput};

impl Parser<'_> {
    /// The data tests of property entry `np`, on the node named `key` (see
    /// [`crate::templating::RefCall::key`]), their names built from `target_name`.
    pub(super) fn generic_tests_of(
        &mut self,
        np: &NodeProps,
        what: &str,
        key: &str,
        target_name: &str,
    ) -> Result<()> {
        let key = (self.project.name.clone(), key.to_string());
        let Some((target_id, _)) = self.names.get(&key).cloned() else {
            // dbt patches a node of that name in another package, if one exists: a later
            // package may adopt these properties (else they are reported at the end).
            self.orphan_props
                .insert((what.to_string(), np.name.clone()), np.clone());
            return Ok(());
        };
        for t in &np.tests {
            self.generic_test(t, target_name, &target_id, None, &np.file)?;
        }
        for c in &np.columns {
            for t in &c.tests {
                self.generic_test(t, target_name, &target_id, Some(&c.name), &np.file)?;
            }
        }
        Ok(())
    }

    pub(super) fn source_tests(&mut self, props: &Properties) -> Result<()> {
        for s in &props.sources {
            for t in &s.tables {
                let target_id = format!("source.{}.{}.{}", self.project.name, s.name, t.name);
                let target_name = format!("{}_{}", s.name, t.name);
                for def in &t.tests {
                    self.generic_test(def, &target_name, &target_id, None, &s.file)?;
                }
                for c in &t.columns {
                    for def in &c.tests {
                        self.generic_test(def, &target_name, &target_id, Some(&c.name), &s.file)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Turns a property-YAML test into a test node attached to `target_id`.
    fn generic_test(
        &mut self,
        def: &TestDef,
        target_name: &str,
        target_id: &str,
        column: Option<&str>,
        yml_file: &str,
    ) -> Result<()> {
        let custom = self.test_macro_exists(def)?;
        let mut kwargs = def.kwargs.clone();
        if let Some(c) = column {
            kwargs.insert("column_name".into(), Value::from(c));
        }
        check_arguments(def, &kwargs, target_name)?;
        let is_source = target_id.starts_with("source.");
        // `dbt_utils.expression_is_true` is named `dbt_utils_expression_is_true_...`, as in dbt.
        let test_name = def.test_name.replace('.', "_");
        let test_type = if is_source {
            format!("source_{test_name}")
        } else {
            test_name
        };
        let (short, full) = test_names::synthesize(&test_type, target_name, &kwargs);
        let name = def.custom_name.clone().unwrap_or(full);
        let model = where_subquery(target_id);
        // `dbt_utils.equality` is test `equality` of namespace `dbt_utils`.
        let (namespace, bare_name) = match def.test_name.split_once('.') {
            Some((ns, t)) => (Some(ns), t),
            None => (None, def.test_name.as_str()),
        };
        let mut hashed_kwargs = kwargs.clone();
        hashed_kwargs.insert("model".into(), Value::from(model.clone()));
        let metadata = json!({"name": bare_name, "kwargs": hashed_kwargs, "namespace": namespace});
        let hash = test_names::unique_id_hash(&name, &metadata);
        let unique_id = format!("test.{}.{}.{}", self.project.name, name, hash);
        let mut fqn = vec![self.project.name.clone()];
        fqn.extend(folders_of(yml_file));
        fqn.push(name.clone());
        let mut config = self.base_config(test_defaults(), |p| &p.tests_tree, &fqn);
        let mut refs = Vec::new();
        let mut sources = Vec::new();
        if custom {
            // As dbt does at parse time: the test's macro, rendered with `execute` false,
            // records `config()` calls (below the YAML's config) and the refs and sources of
            // its arguments, which the test then depends on.
            let recorded = self.render_custom_test(def, target_id, &kwargs);
            for layer in &recorded.configs {
                config.merge(layer);
            }
            add_located(&mut refs, &mut sources, recorded, def);
        }
        config.merge(&self.rendered_config(&def.config, &def.location.file)?);
        if !config.enabled() {
            return Ok(());
        }
        // The `to:` of a relationships test is Jinja (`ref('customers')`): record its calls.
        if let Some(to) = kwargs.get("to").and_then(Value::as_str).filter(|_| !custom) {
            let rec = self.relationships_to(to, &name, def)?;
            add_located(&mut refs, &mut sources, rec, def);
        }
        let kwargs_text = kwargs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ");
        let depends_on_macros = self.test_macros(namespace, bare_name);
        // Its alias: a custom `name:`, else the (shortened) generated name.
        let alias = def.custom_name.as_deref().unwrap_or(&short);
        let audit_relation = Some(self.relation(&config, alias, || {
            self.node_for_macros("test", alias, &fqn, None, &config)
        })?);
        self.tests.push(Box::new(Node {
            audit_relation,
            depends_on_macros,
            path: format!("{short}.sql"),
            original_file_path: yml_file.to_string(),
            fqn,
            raw_code: format!("{{{{ test_{}({kwargs_text}) }}}}", def.test_name),
            config,
            refs,
            sources,
            depends_on: vec![target_id.to_string()],
            test_metadata: Some(TestMetadata {
                name: def.test_name.clone(),
                kwargs,
                model,
            }),
            attached_node: Some(target_id.to_string()),
            defined_at: Some(format!("{}:{}", def.location.file, def.location.line)),
            ..Node::new(ResourceType::Test, unique_id, name, self.project.name.clone())
        }));
        Ok(())
    }

    /// Whether data test `def` is a custom generic test (a `{% test %}` macro) rather than one
    /// of dbt's four built-in ones. Errors on a test that is neither, with a did-you-mean.
    fn test_macro_exists(&self, def: &TestDef) -> Result<bool> {
        const BUILT_IN: &[&str] = &["not_null", "unique", "accepted_values", "relationships"];
        let custom = templating::generic_test_macro(self.env, &def.test_name).is_some();
        if !BUILT_IN.contains(&def.test_name.as_str()) && !custom {
            let known: Vec<String> = self
                .env
                .globals()
                .filter_map(|(g, _)| g.strip_prefix("test_").map(str::to_string))
                .chain(BUILT_IN.iter().map(|s| s.to_string()))
                .collect();
            let mut d =
                Diagnostic::new(format!("unknown data test `{}`", def.test_name)).at(def.location.clone());
            d = match did_you_mean(&def.test_name, known.iter().map(String::as_str)) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help("define it with `{% test name(model, column_name) %} ... {% endtest %}` in `tests/generic/` or `macros/`, or install the package that has it"),
            };
            return Err(d.into());
        }
        Ok(custom)
    }

    /// The macros a generic test depends on, as dbt records them: the test's macro (of
    /// `namespace`, else the package defining `test_<bare_name>`, else dbt), and
    /// `get_where_subquery` that wraps its model (not for `unique` and `not_null`, which dbt
    /// builds without rendering).
    fn test_macros(&self, namespace: Option<&str>, bare_name: &str) -> Vec<String> {
        let macro_name = format!("test_{bare_name}");
        let macro_package = namespace
            .map(str::to_string)
            .or_else(|| self.macro_packages.get(&macro_name).cloned())
            .unwrap_or_else(|| "dbt".to_string());
        let mut depends_on_macros = vec![format!("macro.{macro_package}.{macro_name}")];
        if !matches!(bare_name, "unique" | "not_null") || namespace.is_some() {
            depends_on_macros.push("macro.dbt.get_where_subquery".to_string());
        }
        depends_on_macros
    }

    /// What the `to:` of a relationships test (Jinja: `ref('customers')`) calls, rendered in
    /// the parse phase. Errors at the test's line when it does not render.
    fn relationships_to(&self, to: &str, name: &str, def: &TestDef) -> Result<templating::Recorded> {
        let (_, rec) = templating::eval_expression(self.env, to, self.parse_context()).map_err(|e| {
            Diagnostic::new(format!(
                "cannot read `to: {to}` of `{name}`: {}",
                e.detail().unwrap_or(&e.to_string())
            ))
            .at(def.location.clone())
            .help("write `to: ref('model_name')` or `to: source('source_name', 'table_name')`")
        })?;
        Ok(rec)
    }

    /// What rendering custom generic test `def` in the parse phase records: its arguments
    /// that call `ref(...)` or `source(...)` (also inside lists and dicts), and the calls of
    /// its macro, rendered with placeholder relations. A macro that fails with `execute`
    /// false records what it reached; the error shows when the test compiles.
    fn render_custom_test(&self, def: &TestDef, target_id: &str, kwargs: &Map<String, Value>) -> Recorded {
        let mut recorded = Recorded::default();
        let mut args = BTreeMap::new();
        fn strings<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
            match v {
                Value::String(s) => out.push(s),
                Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
                Value::Object(map) => map.values().for_each(|i| strings(i, out)),
                _ => {}
            }
        }
        for (key, value) in kwargs {
            let mut texts = Vec::new();
            strings(value, &mut texts);
            for text in texts {
                let t = text.trim().trim_start_matches("{{").trim_end_matches("}}").trim();
                if t.starts_with("ref(") || t.starts_with("source(") {
                    if let Ok((_, rec)) = templating::eval_expression(self.env, t, self.parse_context()) {
                        recorded.refs.extend(rec.refs);
                        recorded.sources.extend(rec.sources);
                    }
                }
            }
            args.insert(key.clone(), minijinja::Value::from_serialize(value));
        }
        let Some(test_macro) = templating::generic_test_macro(self.env, &def.test_name) else {
            return recorded;
        };
        let placeholder = Relation::new(&self.target.database, &self.target.schema, target_id);
        args.insert("model".to_string(), minijinja::Value::from_object(placeholder));
        let input = RenderInput {
            file: &def.location.file,
            source: "{{ __mallard_test(**__mallard_test_args) }}",
            this: None,
            model: json!({"resource_type": "test", "package_name": self.project.name}),
            extra: Some(minijinja::context! {
                __mallard_test => test_macro,
                __mallard_test_args => minijinja::Value::from_iter(args),
            }),
        };
        let context = self.parse_context();
        if let Ok((_, rec)) = templating::render(self.env, &input, context) {
            recorded.configs.extend(rec.configs);
            recorded.refs.extend(rec.refs);
            recorded.sources.extend(rec.sources);
        }
        recorded.refs.sort();
        recorded.refs.dedup();
        recorded
    }
}

/// The `model` argument dbt gives a generic test on `target_id`:
/// `{{ get_where_subquery(ref('orders')) }}`, `ref('m', version='2')` for a model version,
/// `source('raw', 'orders')` for a source table.
fn where_subquery(target_id: &str) -> String {
    let mut parts = target_id.splitn(3, '.');
    let (kind, _package, rest) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next().unwrap_or(""),
    );
    let target = match kind {
        "source" => {
            let (source, table) = rest.split_once('.').unwrap_or((rest, ""));
            format!("source('{source}', '{table}')")
        }
        _ => match rest.rsplit_once(".v") {
            Some((name, version)) if kind == "model" => format!("ref('{name}', version='{version}')"),
            _ => format!("ref('{rest}')"),
        },
    };
    format!("{{{{ get_where_subquery({target}) }}}}")
}

/// Adds the refs and sources `recorded` while rendering part of test `def`, located at the
/// test's line.
fn add_located(
    refs: &mut Vec<Located<templating::RefCall>>,
    sources: &mut Vec<Located<(String, String)>>,
    recorded: Recorded,
    def: &TestDef,
) {
    let at = |value| Located {
        value,
        location: def.location.clone(),
    };
    refs.extend(recorded.refs.into_iter().map(at));
    sources.extend(recorded.sources.into_iter().map(|value| Located {
        value,
        location: def.location.clone(),
    }));
}

/// Errors when a built-in data test lacks an argument it needs: `values` of accepted_values,
/// `to` and `field` of relationships, and a column for all four (a custom test takes what
/// its macro declares).
fn check_arguments(def: &TestDef, kwargs: &Map<String, Value>, target_name: &str) -> Result<()> {
    const BUILT_IN: &[&str] = &["not_null", "unique", "accepted_values", "relationships"];
    let required: &[&str] = match def.test_name.as_str() {
        "accepted_values" => &["values"],
        "relationships" => &["to", "field"],
        _ => &[],
    };
    // The built-in tests need a column; a custom test takes what its macro declares.
    let needs_column = BUILT_IN.contains(&def.test_name.as_str()) && !kwargs.contains_key("column_name");
    for r in required.iter().chain(if needs_column {
        &["column_name"][..]
    } else {
        &[][..]
    }) {
        if !kwargs.contains_key(*r) {
            return Err(Diagnostic::new(format!(
                "data test `{}` on `{target_name}` needs the argument `{r}`",
                def.test_name
            ))
            .at(def.location.clone())
            .into());
        }
    }
    Ok(())
}
