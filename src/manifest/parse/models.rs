//! Models, seeds and singular tests: each file rendered once at parse time for its config,
//! refs and sources, and added as a node.

use super::*;

impl Parser<'_> {
    pub(super) fn seed(&mut self, f: &ProjectFile, props: Option<&NodeProps>) -> Result<()> {
        let name = f.stem().to_string();
        let unique_id = format!("seed.{}.{}", self.project.name, name);
        let fqn = self.fqn(f, &name);
        let mut config = self.base_config(
            json!({"materialized": "seed", "on_schema_change": "ignore"}),
            |p| &p.seeds_tree,
            &fqn,
        );
        if let Some(np) = props {
            config.merge(&self.rendered_config(&np.config, &np.file)?);
        }
        if !config.enabled() {
            return Ok(());
        }
        self.claim_name(&name, &unique_id, f)?;
        let checksum = file_checksum(&self.project.root.join(&f.original_file_path));
        let relation = self.relation(&config, &name, || {
            self.node_for_macros("seed", &name, &fqn, Some(f), &config)
        })?;
        self.add(Node {
            path: f.path.clone(),
            original_file_path: f.original_file_path.clone(),
            patch_path: props.map(|p| p.file.clone()),
            fqn,
            config,
            description: props.map(|p| p.description.clone()).unwrap_or_default(),
            columns: props
                .map(|p| self.columns(&p.columns))
                .transpose()?
                .unwrap_or_default(),
            relation: Some(relation),
            checksum,
            ..Node::new(ResourceType::Seed, unique_id, name, self.project.name.clone())
        });
        Ok(())
    }

    /// The parse-phase render of model file `f`: its config with the file's own `config()`
    /// calls applied, and what the render recorded. Reads `self` only, so models render in
    /// parallel.
    pub(super) fn render_model(
        &self,
        f: &ProjectFile,
        id: &ModelId,
        props: Option<&NodeProps>,
    ) -> Result<(NodeConfig, Recorded), Diagnostic> {
        let name = id.name.as_str();
        let fqn = id.fqn(self.fqn(f, name));
        let mut config = self.base_config(
            json!({"materialized": "view", "on_schema_change": "ignore"}),
            |p| &p.models_tree,
            &fqn,
        );
        if let Some(np) = props {
            config.merge(&self.rendered_config(&np.config, &np.file)?);
        }
        let placeholder = self.relation(&config, &id.default_alias(), || {
            id.with_version(self.node_for_macros("model", name, &fqn, Some(f), &config))
        })?;
        let unique_id = id.unique_id(&self.project.name);
        let input = self.parse_input(f, name, &unique_id, "model", Some(placeholder));
        let (_, mut recorded) = templating::render(self.env, &input, self.parse_context())?;
        for layer in &recorded.configs {
            config.merge(layer);
        }
        // dbt renders the hooks at parse time too: the macros they call are the model's
        // dependencies, after the body's. A hook that fails here fails when it runs.
        for hook in config
            .hooks("pre_hook")
            .into_iter()
            .chain(config.hooks("post_hook"))
        {
            let input = RenderInput {
                file: input.file,
                source: &hook,
                this: input.this.clone(),
                model: input.model.clone(),
                extra: None,
            };
            for m in templating::record_calls(self.env, &input, self.parse_context()).macros {
                if !recorded.macros.contains(&m) {
                    recorded.macros.push(m);
                }
            }
        }
        Ok((config, recorded))
    }

    /// Errors when model `name` (file `f`) has a materialization that is neither built in nor
    /// a `{% materialization %}` of the project or its packages, at its `config()` call.
    fn check_materialization(&self, name: &str, f: &ProjectFile, config: &NodeConfig) -> Result<()> {
        let materialized = config.materialized().to_string();
        // Looked up only for a materialization that is not built in: a scan of the globals.
        if !BUILT_IN.contains(&materialized.as_str())
            && templating::materialization_macro(self.env, &materialized).is_none()
        {
            let loc = find_call_line(&f.contents, "config", &materialized)
                .map(|(l, c)| Location::in_source(&f.original_file_path, &f.contents, l, Some(c)))
                .unwrap_or_else(|| Location::in_source(&f.original_file_path, &f.contents, 1, None));
            return Err(Diagnostic::new(format!(
                "model `{name}` has materialization `{materialized}`, which mallard does not build yet"
            ))
            .at(loc)
            .help("use `view`, `table`, `incremental` or `ephemeral`")
            .into());
        }
        Ok(())
    }

    /// Warns of what model `name`'s config asks and Mallard does not apply (not silently): an
    /// external model's `partition_by` outside `options` (dbt-duckdb reads it for DuckLake
    /// tables alone), and constraints other than an enforced table contract's `not_null`,
    /// `unique`, `primary_key` and `check` (recorded only).
    fn warn_of_unapplied_config(
        &mut self,
        name: &str,
        f: &ProjectFile,
        config: &NodeConfig,
        props: Option<&NodeProps>,
    ) {
        // dbt-duckdb partitions an external model's files by `options: {partition_by: ...}`
        // only; a `partition_by` beside it is read by DuckLake tables alone: not silently.
        if config.materialized() == "external"
            && config.0.get("partition_by").is_some_and(|v| !v.is_null())
            && config
                .0
                .get("options")
                .and_then(|o| o.get("partition_by"))
                .is_none()
        {
            self.manifest.warnings.push(format!(
            "model `{name}` ({}) is `external` with `partition_by` outside `options`, which dbt-duckdb does not read for files: it writes one file; put `partition_by` under `options:` to partition them",
            f.original_file_path
        ));
        }
        // Not silently: constraints Mallard does not apply (on a view or an incremental model,
        // or a `foreign_key` or `custom` one) are recorded with a warning.
        let enforced = config
            .0
            .get("contract")
            .and_then(|c| c.get("enforced"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let kinds: Vec<String> = props
            .map(|p| p.columns.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.raw.get("constraints").and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c.get("type").and_then(Value::as_str).map(str::to_string))
            .collect();
        let table = config.materialized() == "table";
        let unapplied: Vec<&String> = kinds
            .iter()
            .filter(|k| {
                !table || !enforced || !matches!(k.as_str(), "not_null" | "unique" | "primary_key" | "check")
            })
            .collect();
        if !unapplied.is_empty() {
            self.manifest.warnings.push(format!(
            "model `{name}` ({}) declares constraints Mallard does not apply ({}): only a table with an enforced contract gets `not_null`, `unique`, `primary_key` and `check`; the others are recorded only",
            f.original_file_path,
            unapplied.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
        ));
        }
    }

    /// Adds model file `f`, rendered by [`Parser::render_model`], to the manifest.
    pub(super) fn model(
        &mut self,
        f: &ProjectFile,
        id: &ModelId,
        props: Option<&NodeProps>,
        config: NodeConfig,
        recorded: Recorded,
    ) -> Result<()> {
        let name = id.name.clone();
        let unique_id = id.unique_id(&self.project.name);
        let fqn = id.fqn(self.fqn(f, &name));
        if !config.enabled() {
            return Ok(());
        }
        if f.contents.trim().is_empty() {
            return Err(
                Diagnostic::new(format!("model file `{}` is empty", f.original_file_path))
                    .at(Location::in_source(&f.original_file_path, "", 1, None))
                    .help("write a `select` statement in it, or delete the file")
                    .into(),
            );
        }
        self.check_materialization(&name, f, &config)?;
        match &id.version {
            // Each version is `name.v<v>` for `ref('name', v=...)`; the latest also `name`.
            Some(v) => {
                self.claim_name(&format!("{name}.v{v}"), &unique_id, f)?;
                if id.latest_version.as_ref() == Some(v) {
                    self.names.insert(
                        (self.project.name.clone(), name.clone()),
                        (unique_id.clone(), f.original_file_path.clone()),
                    );
                }
            }
            None => self.claim_name(&name, &unique_id, f)?,
        }
        let relation = self.relation(&config, &id.default_alias(), || {
            id.with_version(self.node_for_macros("model", &name, &fqn, Some(f), &config))
        })?;
        self.warn_of_unapplied_config(&name, f, &config, props);
        let (refs, sources) = located_calls(f, &recorded);
        self.add(Node {
            patch_path: props.map(|p| p.file.clone()),
            fqn,
            config,
            description: props.map(|p| p.description.clone()).unwrap_or_default(),
            columns: props
                .map(|p| self.columns(&p.columns))
                .transpose()?
                .unwrap_or_default(),
            refs,
            sources,
            relation: Some(relation),
            depends_on_macros: recorded.macros.clone(),
            version: id.version.clone(),
            latest_version: id.latest_version.clone(),
            time_spine: props.and_then(|p| p.time_spine.clone()),
            deprecation_date: props.and_then(|p| p.deprecation_date.clone()),
            ..self.file_node(f, ResourceType::Model, unique_id, name)
        });
        Ok(())
    }

    /// A `config:` block of property YAML with its Jinja values rendered as dbt renders
    /// them (`enabled: "{{ target.type != 'bigquery' }}"` becomes a boolean): `var`,
    /// `env_var` and `target`, native values; hooks are left for when they run.
    ///
    /// Errors: a Jinja error in a value, in `file`.
    pub(super) fn rendered_config(
        &self,
        config: &Map<String, Value>,
        file: &str,
    ) -> Result<Map<String, Value>, Diagnostic> {
        let has_jinja = config.values().any(|v| {
            let text = v.to_string();
            text.contains("{{") || text.contains("{%")
        });
        if !has_jinja {
            return Ok(config.clone());
        }
        let ctx = crate::config::ConfigContext {
            vars: (*self.vars).clone(),
            target: self.target.jinja_value(),
        };
        crate::project::yaml::render_config_values(file, "", config.clone(), &ctx)
    }

    pub(super) fn singular_test(&mut self, f: &ProjectFile) -> Result<()> {
        let name = f.stem().to_string();
        let unique_id = format!("test.{}.{}", self.project.name, name);
        let fqn = self.fqn(f, &name);
        let mut config = self.base_config(test_defaults(), |p| &p.tests_tree, &fqn);
        // `this` as dbt gives a data test before its own `config()` is read: the relation of
        // its failures under the project's config.
        let audit = self.relation(&config, &name, || {
            self.node_for_macros("test", &name, &fqn, Some(f), &config)
        })?;
        let input = self.parse_input(f, &name, &unique_id, "test", Some(audit));
        let (_, recorded) = templating::render(self.env, &input, self.parse_context())?;
        for layer in &recorded.configs {
            config.merge(layer);
        }
        if !config.enabled() {
            return Ok(());
        }
        let (refs, sources) = located_calls(f, &recorded);
        let audit_relation = Some(self.relation(&config, &name, || {
            self.node_for_macros("test", &name, &fqn, Some(f), &config)
        })?);
        self.add(Node {
            fqn,
            config,
            refs,
            sources,
            audit_relation,
            ..self.file_node(f, ResourceType::Test, unique_id, name)
        });
        Ok(())
    }
}
