//! Where a node's relation goes: its database, schema and alias from config, through the
//! project's `generate_*_name` macros when it overrides them, as dbt names relations.

use super::*;

impl Parser<'_> {
    /// The relation of a node of the package being parsed, named as dbt names it: by the
    /// `generate_database_name`, `generate_schema_name` and `generate_alias_name` macros of the
    /// root project, else of the node's own package, called with dbt's arguments (the custom
    /// name from config, or none, and `node`, built by `node` only when a macro is called);
    /// else by dbt's default rules: the target's database and schema, `<target
    /// schema>_<custom schema>`, the alias or the node's name.
    ///
    /// Errors: a Jinja error in an overriding macro, at its file and line.
    pub(super) fn relation(
        &self,
        config: &NodeConfig,
        name: &str,
        node: impl Fn() -> Value,
    ) -> Result<Relation, Diagnostic> {
        let custom = |key: &str| config.0.get(key).filter(|v| !v.is_null()).cloned();
        let database = match self.generate_macro("generate_database_name") {
            Some(call) => self.call_generate(&call, custom("database"), &node)?,
            None => config
                .get_str("database")
                .unwrap_or(&self.target.database)
                .to_string(),
        };
        let schema = match self.generate_macro("generate_schema_name") {
            Some(call) => self.call_generate(&call, custom("schema"), &node)?,
            None => match config.get_str("schema").map(str::trim) {
                Some(custom) if !custom.is_empty() => format!("{}_{}", self.target.schema, custom),
                _ => self.target.schema.clone(),
            },
        };
        let alias = match self.generate_macro("generate_alias_name") {
            Some(call) => self.call_generate(&call, custom("alias"), &node)?,
            None => config.get_str("alias").map(str::trim).unwrap_or(name).to_string(),
        };
        Ok(Relation::new(&database, &schema, &alias))
    }

    /// How to call the project's override of dbt macro `macro_name` for a node of the
    /// package being parsed: the root project's (a global), else the package's own
    /// (`package.macro_name`), else dbt's own when the root project overrides the form it
    /// dispatches to (`default__macro_name`); `None` when none is overridden.
    pub(super) fn generate_macro(&self, macro_name: &str) -> Option<String> {
        let defines = |pkg: &str| {
            self.generate_overrides
                .contains(&(pkg.to_string(), macro_name.to_string()))
        };
        if defines(&self.root.name) {
            Some(macro_name.to_string())
        } else if defines(&self.project.name) {
            Some(format!("{}.{macro_name}", self.project.name))
        } else if self
            .generate_overrides
            .iter()
            .any(|(pkg, name)| *pkg == self.root.name && name.ends_with(&format!("__{macro_name}")))
        {
            // dbt's own macro, which dispatches to the root project's `default__` (or
            // `<adapter>__`) form.
            Some(macro_name.to_string())
        } else {
            None
        }
    }

    /// Renders `{{ call(custom, node) }}` and returns the trimmed result.
    pub(super) fn call_generate(
        &self,
        call: &str,
        custom: Option<Value>,
        node: &dyn Fn() -> Value,
    ) -> Result<String, Diagnostic> {
        let source = format!("{{{{ {call}(__custom, node) }}}}");
        let file = format!(
            "<{call} for {}>",
            node()["unique_id"].as_str().unwrap_or_default()
        );
        let input = RenderInput {
            file: &file,
            source: &source,
            this: None,
            model: node(),
            extra: Some(minijinja::context! {
                __custom => minijinja::Value::from_serialize(custom.unwrap_or(Value::Null)),
                node => minijinja::Value::from_serialize(node()),
            }),
        };
        let (out, _) = templating::render(self.env, &input, self.parse_context())?;
        Ok(out.trim().to_string())
    }

    /// The `node` a `generate_*_name` macro sees: dbt's fields of the node being parsed.
    pub(super) fn node_for_macros(
        &self,
        resource_type: &str,
        name: &str,
        fqn: &[String],
        f: Option<&ProjectFile>,
        config: &NodeConfig,
    ) -> Value {
        json!({
            "name": name,
            "unique_id": format!("{resource_type}.{}.{name}", self.project.name),
            "resource_type": resource_type,
            "package_name": self.project.name,
            "fqn": fqn,
            "path": f.map(|f| f.path.as_str()),
            "original_file_path": f.map(|f| f.original_file_path.as_str()),
            "config": config.0,
            "tags": config.tags(),
        })
    }
}
