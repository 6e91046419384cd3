//! The run-phase render of a node: its final SQL, with every `ref` and `source` resolved to
//! a relation, written under `target/compiled/`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use minijinja::Environment;

use crate::adapter::SharedAdapter;
use crate::error::Diagnostic;
use crate::manifest::{FixtureInput, Manifest, Node, ResourceType};
use crate::materialization::Hooks;
use crate::project::profile::Target;
use crate::relation::Relation;
use crate::templating::{self, NodeContext, Phase, Recorded, RefCall, RenderInput, Resolver};
use crate::testing;

pub mod error_location;
mod test_queries;

/// Resolves refs and sources against a manifest.
#[derive(Debug)]
pub struct ManifestResolver {
    refs: BTreeMap<String, Relation>,
    /// `ref('package', 'name')`.
    package_refs: BTreeMap<(String, String), Relation>,
    sources: BTreeMap<(String, String), Relation>,
    /// The `event_time` config of each node and source that has one, by its relation.
    event_times: HashMap<Relation, String>,
}

impl ManifestResolver {
    pub fn new(manifest: &Manifest) -> ManifestResolver {
        ManifestResolver::with_deferred(manifest, &BTreeMap::new())
    }

    /// As [`ManifestResolver::new`], with the nodes of `deferred` (unique_id -> relation)
    /// resolving to that relation instead of their own: `--defer`'s relations of another
    /// target's state.
    pub fn with_deferred(manifest: &Manifest, deferred: &BTreeMap<String, Relation>) -> ManifestResolver {
        // An ephemeral model is referred to by its CTE's name; the CTE itself is injected into
        // the referring node's SQL by `Compiler::compile`.
        // A version of a versioned model is `name.v<version>`; the latest is also `name`.
        let named: Vec<((String, String), Relation)> = manifest
            .nodes
            .values()
            .filter(|n| n.unit_test.is_none())
            .flat_map(|n| {
                let relation = if n.materialization.is_ephemeral() {
                    Some(Relation::cte(&n.name))
                } else {
                    deferred.get(&n.unique_id).cloned().or_else(|| n.relation.clone())
                };
                let keys = match &n.version {
                    Some(v) if n.latest_version.as_ref() == Some(v) => {
                        vec![format!("{}.v{v}", n.name), n.name.clone()]
                    }
                    Some(v) => vec![format!("{}.v{v}", n.name)],
                    None => vec![n.name.clone()],
                };
                keys.into_iter()
                    .filter_map(move |k| relation.clone().map(|r| ((n.package_name.clone(), k), r)))
            })
            .collect();
        let mut refs: BTreeMap<String, Relation> = BTreeMap::new();
        // A one-argument ref means the root project's node when packages share a name.
        for ((package, name), relation) in &named {
            if package == &manifest.project_name || !refs.contains_key(name) {
                refs.insert(name.clone(), relation.clone());
            }
        }
        let node_times = manifest.nodes.values().filter_map(|n| {
            let column = n.config.get_str("event_time")?;
            Some((n.relation.clone()?, column.to_string()))
        });
        let source_times = manifest.sources.values().filter_map(|s| {
            let column = s.properties.get("config")?.get("event_time")?.as_str()?;
            Some((s.relation.clone(), column.to_string()))
        });
        ManifestResolver {
            event_times: node_times.chain(source_times).collect(),
            refs,
            package_refs: named.into_iter().collect(),
            sources: manifest
                .sources
                .values()
                .map(|s| ((s.source_name.clone(), s.name.clone()), s.relation.clone()))
                .collect(),
        }
    }
}

impl Resolver for ManifestResolver {
    fn resolve_ref(&self, call: &RefCall) -> Option<Relation> {
        match &call.package {
            Some(package) => self.package_refs.get(&(package.clone(), call.key())).cloned(),
            None => self.refs.get(&call.key()).cloned(),
        }
    }

    fn resolve_source(&self, source: &str, table: &str) -> Option<Relation> {
        self.sources
            .get(&(source.to_string(), table.to_string()))
            .cloned()
    }

    fn ref_event_time(&self, call: &RefCall) -> Option<String> {
        self.event_times.get(&self.resolve_ref(call)?).cloned()
    }

    fn source_event_time(&self, source: &str, table: &str) -> Option<String> {
        self.event_times
            .get(&self.resolve_source(source, table)?)
            .cloned()
    }
}

/// What compiling needs, shared by all workers.
pub struct Compiler<'a> {
    pub env: &'a Environment<'static>,
    pub manifest: &'a Manifest,
    pub target: &'a Target,
    pub resolver: Arc<dyn Resolver>,
    pub vars: Arc<serde_json::Map<String, serde_json::Value>>,
    /// Absolute target folder; compiled SQL goes under `compiled/`.
    pub target_dir: std::path::PathBuf,
    /// The target folder as configured (`target`), for messages.
    pub target_path: String,
    /// `--full-refresh`: incremental models are rebuilt from scratch unless their
    /// `full_refresh` config says otherwise.
    pub full_refresh: bool,
    /// `--empty`: the nodes' `ref()`s and `source()`s select no rows, as dbt's `--empty`.
    pub empty: bool,
    /// `--event-time-start`, `--event-time-end` and the run's start (UTC): what microbatch
    /// models' batches are planned from.
    pub event_time: (
        Option<chrono::NaiveDateTime>,
        Option<chrono::NaiveDateTime>,
        chrono::NaiveDateTime,
    ),
    /// `--sample`: the window models' and snapshots' upstreams with an `event_time` are read
    /// through (see [`templating::EventTimeWindow`]).
    pub sample: Option<templating::EventTimeWindow>,
    /// Folders of compiled files known to exist now, and whether each existed before this
    /// run: asking the filesystem again for each of 30,000 files cost two system calls each.
    pub compiled_dirs: Mutex<HashMap<PathBuf, bool>>,
    /// Static analysis: render against a connection of empty shapes (data reads fail, see
    /// [`NodeContext::shapes_only`]) and write no compiled files.
    pub shapes_only: bool,
}

impl Compiler<'_> {
    /// Whether `node` is rebuilt from scratch: its `full_refresh` config when set, else the
    /// run's `--full-refresh` (dbt's `should_full_refresh()`).
    pub fn full_refresh(&self, node: &Node) -> bool {
        node.config
            .0
            .get("full_refresh")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(self.full_refresh)
    }

    /// The node's SQL with all Jinja rendered: for a model, its `select`; for a test, the
    /// query returning its failing rows. Also written to `target/compiled/...`.
    /// `incremental` is what the model's `is_incremental()` returns (see
    /// [`crate::materialization::incremental::is_incremental`]); `connection` is the worker's
    /// connection for `run_query` and `adapter` (`None` when compiling without a database).
    ///
    /// Errors: a Jinja error at its file and line; the compiled file cannot be written.
    pub fn compile(
        &self,
        node: &Node,
        incremental: bool,
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        if node.python {
            // Not silently: a Python model is in the graph, but nothing here can run it.
            return Err(Diagnostic::new(format!(
                "model `{}` is a Python model, which Mallard cannot run yet (it has no Python runtime)",
                node.name
            ))
            .at(crate::error::Location::in_source(
                &node.original_file_path,
                &node.raw_code,
                1,
                None,
            ))
            .help("leave it out of the selection (`--exclude`), or write the model in SQL"));
        }
        let sql = match (&node.resource_type, &node.test_metadata) {
            (ResourceType::Seed, _) => return Ok(String::new()),
            (ResourceType::Test, Some(meta)) => {
                // A test of an ephemeral model reads its CTE, injected as into models.
                let sql = self.generic_test(node, meta, connection)?;
                crate::sql::inject_ctes(&sql, &self.ephemeral_ctes(node, connection)?)
            }
            (ResourceType::UnitTest, _) => self.unit_test(node, connection)?,
            _ => {
                let sql = self.render(node, incremental, connection)?;
                let ctes = self.ephemeral_ctes(node, connection)?;
                crate::sql::inject_ctes(&sql, &ctes)
            }
        };
        if self.shapes_only {
            return Ok(sql);
        }
        let path = self.target_dir.join(node.compiled_path());
        self.write_compiled(&path, &sql)
            .map_err(|e| Diagnostic::new(format!("cannot write `{}`: {e}", path.display())))?;
        Ok(sql)
    }

    /// Writes `sql` to `path`, creating its folder unless this compiler already did. A file
    /// from an earlier run that already holds `sql` is left as it is: reading it costs less
    /// than writing it again (checked only in folders that existed before this run, so that a
    /// fresh `target/` pays nothing).
    fn write_compiled(&self, path: &Path, sql: &str) -> std::io::Result<()> {
        let Some(dir) = path.parent() else {
            return std::fs::write(path, sql);
        };
        let known = self
            .compiled_dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(dir)
            .copied();
        let existed = match known {
            Some(existed) => existed,
            None => {
                let existed = dir.is_dir();
                std::fs::create_dir_all(dir)?;
                self.compiled_dirs
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(dir.to_path_buf(), existed);
                existed
            }
        };
        if existed && std::fs::read(path).is_ok_and(|old| old == sql.as_bytes()) {
            return Ok(());
        }
        std::fs::write(path, sql)
    }

    /// The node's `pre_hook` and `post_hook` templates rendered in its run-phase context (so
    /// `{{ this }}` is the node's relation). Ephemeral models and tests have none, as in dbt.
    ///
    /// Errors: a Jinja error in a hook, naming the hook.
    pub fn hooks(
        &self,
        node: &Node,
        incremental: bool,
        connection: Option<&SharedAdapter>,
    ) -> Result<Hooks, Diagnostic> {
        if node.resource_type == ResourceType::Test || node.materialization.is_ephemeral() {
            return Ok(Hooks::default());
        }
        let render_all = |key: &str| -> Result<Vec<String>, Diagnostic> {
            node.config
                .hooks(key)
                .iter()
                .enumerate()
                .map(|(i, hook)| {
                    self.render_text(node, hook, incremental, connection)
                        .map_err(|d| Diagnostic {
                            message: format!("in {key} #{} of `{}`: {}", i + 1, node.name, d.message),
                            ..d
                        })
                })
                .collect()
        };
        // A post-hook is rendered now, without the database, unless it needs the database to
        // render: then it is rendered after the node ran (see `Hooks::deferred_post`).
        let mut post = Vec::new();
        let mut deferred_post = Vec::new();
        for (i, hook) in node.config.hooks("post_hook").iter().enumerate() {
            match self.render_text(node, hook, incremental, None) {
                Ok(sql) => post.push(sql),
                Err(d) if d.message.contains(templating::context::NEEDS_DATABASE) => {
                    deferred_post.push((i + 1, hook.to_string()))
                }
                Err(d) => {
                    return Err(Diagnostic {
                        message: format!("in post_hook #{} of `{}`: {}", i + 1, node.name, d.message),
                        ..d
                    })
                }
            }
        }
        Ok(Hooks {
            pre: render_all("pre_hook")?,
            post,
            deferred_post,
        })
    }

    /// Renders and runs the post-hooks that use the database while rendering (see
    /// [`Hooks::deferred_post`]), after node `node` ran: their own statements run as they
    /// render, what they render runs in one transaction.
    ///
    /// Errors: a Jinja or SQL error, naming the hook.
    pub fn run_deferred_post_hooks(
        &self,
        node: &Node,
        hooks: &Hooks,
        incremental: bool,
        connection: &SharedAdapter,
    ) -> Result<(), Diagnostic> {
        for (i, hook) in &hooks.deferred_post {
            let fail =
                |message: String| Diagnostic::new(format!("in post_hook #{i} of `{}`: {message}", node.name));
            let sql = self
                .render_text(node, hook, incremental, Some(connection))
                .map_err(|d| Diagnostic {
                    message: fail(d.message.clone()).message,
                    ..d
                })?;
            if !sql.trim().is_empty() {
                let adapter = connection.lock().unwrap_or_else(|p| p.into_inner());
                adapter.in_transaction(&[sql]).map_err(|e| fail(e.to_string()))?;
            }
        }
        Ok(())
    }

    /// The run-phase render of a model or singular test's Jinja.
    fn render(
        &self,
        node: &Node,
        incremental: bool,
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        self.render_text(node, &node.raw_code, incremental, connection)
    }

    /// A microbatch model's `select` for one batch: rendered with `model.batch` (`id`,
    /// `event_time_start`, `event_time_end`) and its upstreams with an `event_time` read through
    /// the batch's window, as dbt renders each batch. Also written to `target/compiled/...`
    /// (the last batch's, as dbt leaves it).
    ///
    /// Errors: as [`Compiler::compile`].
    pub fn compile_batch(
        &self,
        node: &Node,
        incremental: bool,
        batch: (&str, &templating::EventTimeWindow),
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        let (id, window) = batch;
        let mut model = node.model_context();
        if let Some(fields) = model.as_object_mut() {
            fields.insert(
                "batch".into(),
                serde_json::json!({"id": id, "event_time_start": window.start, "event_time_end": window.end}),
            );
        }
        let input = RenderInput {
            file: &node.original_file_path,
            source: &node.raw_code,
            this: node.relation.clone(),
            model,
            extra: None,
        };
        let mut context = self.context(node);
        context.is_incremental = incremental;
        context.database = connection.cloned();
        context.event_time_window = Some(window.clone());
        let sql = templating::render(self.env, &input, context)?.0;
        let sql = crate::sql::inject_ctes(&sql, &self.ephemeral_ctes(node, connection)?);
        if self.shapes_only {
            return Ok(sql);
        }
        let path = self.target_dir.join(node.compiled_path());
        self.write_compiled(&path, &sql)
            .map_err(|e| Diagnostic::new(format!("cannot write `{}`: {e}", path.display())))?;
        Ok(sql)
    }

    /// Renders `source` (the node's code, or one of its hooks) in the node's run-phase context.
    fn render_text(
        &self,
        node: &Node,
        source: &str,
        incremental: bool,
        connection: Option<&SharedAdapter>,
    ) -> Result<String, Diagnostic> {
        let input = RenderInput {
            file: &node.original_file_path,
            source,
            // A data test's `this` is the relation of its failures, as in dbt.
            this: node.relation.clone().or_else(|| node.audit_relation.clone()),
            model: node.model_context(),
            extra: None,
        };
        let mut context = self.context(node);
        context.is_incremental = incremental;
        context.database = connection.cloned();
        Ok(templating::render(self.env, &input, context)?.0)
    }

    /// The CTEs of every ephemeral model `node` reads, directly or through other ephemeral
    /// models, as `(cte name, compiled SQL)`, each after the ones it reads and each once, as dbt
    /// hoists them all to the top of the referring node's SQL.
    fn ephemeral_ctes(
        &self,
        node: &Node,
        connection: Option<&SharedAdapter>,
    ) -> Result<Vec<(String, String)>, Diagnostic> {
        let mut ctes: Vec<(String, String)> = Vec::new();
        self.collect_ctes(node, connection, &mut ctes)?;
        Ok(ctes)
    }

    fn collect_ctes(
        &self,
        node: &Node,
        connection: Option<&SharedAdapter>,
        ctes: &mut Vec<(String, String)>,
    ) -> Result<(), Diagnostic> {
        for dep in &node.depends_on {
            let Some(parent) = self.manifest.nodes.get(dep) else {
                continue;
            };
            if parent.resource_type != ResourceType::Model || !parent.materialization.is_ephemeral() {
                continue;
            }
            let name = Relation::cte(&parent.name).identifier;
            if ctes.iter().any(|(n, _)| *n == name) {
                continue;
            }
            self.collect_ctes(parent, connection, ctes)?;
            let sql = self.render(parent, false, connection)?;
            ctes.push((name, sql.trim().trim_end_matches(';').to_string()));
        }
        Ok(())
    }

    /// Renders an `on-run-start` / `on-run-end` template from `dbt_project.yml`, with `extra`
    /// (a map: `schemas`, `results`, ...) added to the context.
    ///
    /// Errors: a Jinja error in the hook.
    pub fn render_project_hook(
        &self,
        template: &str,
        connection: Option<&SharedAdapter>,
        extra: minijinja::Value,
    ) -> Result<String, Diagnostic> {
        let input = RenderInput {
            file: "dbt_project.yml",
            source: template,
            this: None,
            model: serde_json::Value::Null,
            extra: Some(extra),
        };
        let mut context = NodeContext {
            config: Default::default(),
            ..self.context_without_node()
        };
        context.database = connection.cloned();
        Ok(templating::render(self.env, &input, context)?.0)
    }

    /// Renders a source table's `loaded_at_query` (from its property file `file`) with `this`
    /// as the table, as dbt renders it when it checks freshness.
    ///
    /// Errors: a Jinja error in the query.
    pub fn render_source_query(
        &self,
        file: &str,
        query: &str,
        this: &Relation,
    ) -> Result<String, Diagnostic> {
        let input = RenderInput {
            file,
            source: query,
            this: Some(this.clone()),
            model: serde_json::Value::Null,
            extra: None,
        };
        Ok(templating::render(self.env, &input, self.context_without_node())?.0)
    }

    fn context_without_node(&self) -> NodeContext {
        NodeContext {
            phase: Phase::Run,
            vars: self.vars.clone(),
            recorded: Mutex::new(Recorded::default()),
            resolver: Some(self.resolver.clone()),
            config: Default::default(),
            target_schema: self.target.schema.clone(),
            target_database: self.target.database.clone(),
            is_incremental: false,
            database: None,
            results: Default::default(),
            macro_overrides: Default::default(),
            empty_refs: false,
            event_time_window: None,
            shapes_only: self.shapes_only,
        }
    }

    fn context(&self, node: &Node) -> NodeContext {
        NodeContext {
            phase: Phase::Run,
            vars: self.vars.clone(),
            recorded: Mutex::new(Recorded::default()),
            resolver: Some(self.resolver.clone()),
            config: node.config.0.clone(),
            target_schema: self.target.schema.clone(),
            target_database: self.target.database.clone(),
            is_incremental: false,
            database: None,
            results: Default::default(),
            macro_overrides: Default::default(),
            empty_refs: self.empty,
            // dbt samples the upstreams of models and snapshots only.
            event_time_window: self
                .sample
                .clone()
                .filter(|_| matches!(node.resource_type, ResourceType::Model | ResourceType::Snapshot)),
            shapes_only: self.shapes_only,
        }
    }

    /// [`Compiler::context`] with the worker's connection, for `run_query` and `adapter`.
    fn context_on(&self, node: &Node, connection: Option<&SharedAdapter>) -> NodeContext {
        let mut context = self.context(node);
        context.database = connection.cloned();
        context
    }
}

impl Compiler<'_> {
    /// Runs model `node`'s custom materialization (`{% materialization name, adapter %}`) on
    /// the worker's connection, with dbt's context for it: `sql` and `compiled_code` (the
    /// compiled model), `model` (its manifest entry), `this`, `config`, `pre_hooks` and
    /// `post_hooks`. Its `statement` calls run as they come (outside a transaction, as dbt
    /// runs a materialization's statements).
    ///
    /// Errors: no such materialization; a Jinja or SQL error in it, at its file and line.
    pub fn custom_materialization(
        &self,
        node: &Node,
        sql: &str,
        connection: &SharedAdapter,
    ) -> Result<(), Diagnostic> {
        let name = node.materialized();
        let mat = templating::materialization_macro(self.env, name)
            .ok_or_else(|| Diagnostic::new(format!("no materialization `{name}` (for duckdb or default)")))?;
        let model = crate::manifest::json::node_json(node, &self.target_path);
        let input = RenderInput {
            file: &node.original_file_path,
            source: "{{ __mallard_materialization() }}",
            // A data test's `this` is the relation of its failures, as in dbt.
            this: node.relation.clone().or_else(|| node.audit_relation.clone()),
            model: model.clone(),
            extra: Some(minijinja::context! {
                __mallard_materialization => mat,
                sql => sql,
                compiled_code => sql,
                pre_hooks => Vec::<String>::new(),
                post_hooks => Vec::<String>::new(),
            }),
        };
        templating::render(self.env, &input, self.context_on(node, Some(connection)))?;
        Ok(())
    }
}
