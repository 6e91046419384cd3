//! Static analysis (dbt v2's `static_analysis`, issue 29): before a command moves data, every
//! selected model, snapshot and data test is bound by DuckDB's own binder against the typed,
//! empty shapes of what it reads, in graph order, in an in-memory DuckDB (no file of the
//! target is touched; see [`crate::adapter::shapes`]). Seeds are shaped as they will load,
//! sources from the target's catalog or else their declared column types, models from their
//! own bound columns. A node that does not bind is an error at its `file:line`, with DuckDB's
//! did-you-mean; a node whose SQL depends on data (`run_query`, `statement` while compiling)
//! or that reads what could not be shaped is reported as not analysable, with the reason,
//! never guessed.

mod generic_tests;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::adapter::{shapes, Adapter, Column};
use crate::compile::Compiler;
use crate::config::materialized::Materialization;
use crate::config::run::StaticAnalysis;
use crate::manifest::{Manifest, Node, ResourceType, Source};
use crate::relation::Relation;
use crate::session::Session;

pub use report::{report, Outcome};

/// What static analysis found for one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// It binds: its columns, in order, with DuckDB's type names.
    Bound(Vec<Column>),
    /// It does not bind: DuckDB's message, where in the user's files (`models/x.sql:7`), and
    /// a did-you-mean when DuckDB has one.
    Error {
        message: String,
        at: String,
        help: Option<String>,
    },
    /// It cannot be analysed, and why.
    NotAnalysable(String),
    /// `static_analysis: off`, on it or on what it reads.
    Off,
    /// A table function (dbt-duckdb's `table_function`): its SQL reads its parameters, so it
    /// is bound where it is called; what calls it is analysed against it.
    AtCalls,
}

/// The analysis of a selection: each analysed node's verdict and mode, in graph order, and
/// the shapes database it bound them in (every shaped relation an empty table).
#[derive(Debug, Default)]
pub struct Analysis {
    pub verdicts: Vec<(String, StaticAnalysis, Verdict)>,
    pub shapes: Option<crate::adapter::SharedAdapter>,
}

impl Analysis {
    /// The bound columns of each node that bound, by unique_id.
    pub fn columns(&self) -> BTreeMap<&str, &[Column]> {
        self.verdicts
            .iter()
            .filter_map(|(id, _, v)| match v {
                Verdict::Bound(columns) => Some((id.as_str(), columns.as_slice())),
                _ => None,
            })
            .collect()
    }
}

/// The mode for `node`: `--static-analysis` when given, else its `static_analysis` config,
/// else `baseline` (an unknown config value counts as `baseline`).
pub fn mode_of(node: &Node, flag: Option<StaticAnalysis>) -> StaticAnalysis {
    flag.or_else(|| {
        node.config
            .get_str("static_analysis")
            .and_then(StaticAnalysis::parse)
    })
    .unwrap_or_default()
}

/// Analyses the models, snapshots and data tests among `selected` (unique_ids), with whatever
/// they read shaped first. `catalog` is the target's database as it is now (the run's
/// connection, or a read-only one), for sources and for `{{ this }}` of incremental models;
/// `None` when there is no database yet.
///
/// Errors: the in-memory DuckDB cannot start, or an extension of the profile cannot load.
/// What a node's SQL does wrong is its verdict, not an error.
pub fn analyse(session: &Session, selected: &[String], catalog: Option<&Adapter>) -> Result<Analysis> {
    let flag = session.settings.static_analysis;
    let manifest = &session.manifest;
    let shapes = shapes::open(&session.target.setup)?;
    let mut compiler = session.compiler();
    compiler.shapes_only = true;
    let mut run = Analyser {
        manifest,
        compiler: &compiler,
        catalog,
        project_root: &session.project.root,
        has_hooks: has_hooks(session),
        shared: Arc::new(Mutex::new(shapes)),
        shaped: HashMap::new(),
        schemas: Default::default(),
        shaped_columns: HashMap::new(),
    };
    let mut analysis = Analysis {
        shapes: Some(run.shared.clone()),
        ..Analysis::default()
    };
    let wanted: Vec<&String> = selected
        .iter()
        .filter(|id| manifest.nodes.get(*id).is_some_and(analysed))
        .collect();
    let wanted_ids: std::collections::HashSet<&str> = wanted.iter().map(|id| id.as_str()).collect();
    // dbt's generic tests are checked last, against every shaped relation's columns read at once.
    let mut generic_tests = Vec::new();
    for id in upstream_order(manifest, &wanted) {
        // Told to stop: what is analysed so far is the analysis (the run starts nothing).
        if crate::adapter::cancel::requested().is_some() {
            break;
        }
        if let Some(source) = manifest.sources.get(&id) {
            let shaped = run.shape_source(source);
            run.shaped.insert(id, shaped);
            continue;
        }
        let node = &manifest.nodes[&id];
        if node.resource_type == ResourceType::Seed {
            let shaped = run.shape_seed(node);
            run.shaped.insert(id, shaped);
            continue;
        }
        let mode = mode_of(node, flag);
        if node.test_metadata.is_some() {
            generic_tests.push((id, mode));
            continue;
        }
        let verdict = run.analyse_node(node, mode);
        let shaped = match &verdict {
            Verdict::Bound(columns) => run.keep_shape(node, columns),
            Verdict::AtCalls => Ok(()),
            Verdict::Off => Err(Unshaped::Off),
            Verdict::Error { .. } => Err(Unshaped::Because(format!("`{}` does not bind", node.name))),
            Verdict::NotAnalysable(_) => Err(Unshaped::Because(format!("`{}` is not analysable", node.name))),
        };
        run.shaped.insert(id.clone(), shaped);
        // An ephemeral model is part of the SQL of what reads it: its verdict is reported.
        if wanted_ids.contains(id.as_str()) || node.materialization.is_ephemeral() {
            analysis.verdicts.push((id, mode, verdict));
        }
    }
    run.read_shaped_columns();
    for (id, mode) in generic_tests {
        let verdict = run.analyse_node(&manifest.nodes[&id], mode);
        analysis.verdicts.push((id, mode, verdict));
    }
    // A model's bound columns are its shape's.
    for (id, _, verdict) in &mut analysis.verdicts {
        if let (Verdict::Bound(columns), Some(relation)) =
            (&mut *verdict, &manifest.nodes[id.as_str()].relation)
        {
            if columns.is_empty() {
                *columns = run.shaped_columns.get(relation).cloned().unwrap_or_default();
            }
        }
    }
    Ok(analysis)
}

/// Whether `node` is analysed when selected: models, snapshots, singular data tests and dbt's
/// four generic ones. A package's generic test is not: its macro may keep state between
/// renders (elementary's record their results), which a second render would change.
fn analysed(node: &Node) -> bool {
    match node.resource_type {
        ResourceType::Model | ResourceType::Snapshot => true,
        ResourceType::Test => node.test_metadata.as_ref().is_none_or(|m| {
            matches!(
                m.name.as_str(),
                "not_null" | "unique" | "accepted_values" | "relationships"
            )
        }),
        _ => false,
    }
}

/// Why a relation has no shape to bind against.
#[derive(Debug, Clone)]
enum Unshaped {
    /// `static_analysis: off` on it (or on what it reads): its readers are not analysed.
    Off,
    /// The reason, as `` `name` is not analysable``.
    Because(String),
}

/// The state of one analysis.
struct Analyser<'a> {
    manifest: &'a Manifest,
    compiler: &'a Compiler<'a>,
    catalog: Option<&'a Adapter>,
    project_root: &'a std::path::Path,
    /// The project runs hooks, which may create relations and functions analysis cannot see.
    has_hooks: bool,
    /// The shapes database, shared with the templates (`adapter.get_columns_in_relation`).
    shared: crate::adapter::SharedAdapter,
    /// Each node or source done so far: shaped, or why not.
    shaped: HashMap<String, Result<(), Unshaped>>,
    /// Schemas created in the shapes database.
    schemas: std::collections::HashSet<(String, String)>,
    /// The columns of each relation shaped so far (models' read back after their
    /// `create ... as`), for the generic tests on them.
    shaped_columns: HashMap<Relation, Vec<Column>>,
}

impl Analyser<'_> {
    /// Makes `relation` an empty table of `columns` in the shapes database (creating its
    /// schema once).
    fn create(&mut self, relation: &Relation, columns: &[Column]) -> Result<()> {
        self.ensure_schema(relation)?;
        let shapes = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        shapes::create(&shapes, relation, columns)?;
        self.shaped_columns.insert(relation.clone(), columns.to_vec());
        Ok(())
    }

    /// Creates `relation`'s schema in the shapes database, once.
    fn ensure_schema(&mut self, relation: &Relation) -> Result<()> {
        let key = (relation.database.clone(), relation.schema.clone());
        if !self.schemas.contains(&key) {
            let shapes = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            shapes::create_schema(&shapes, &key.0, &key.1)?;
            self.schemas.insert(key);
        }
        Ok(())
    }

    /// A source's shape: the target database's table when it has one (what the run will
    /// read), else the declared columns when every one has a `data_type`; external sources
    /// (dbt-duckdb's `external_location`) are read where they are.
    fn shape_source(&mut self, source: &Source) -> Result<(), Unshaped> {
        if source
            .properties
            .get("config")
            .and_then(|c| c.get("external_location"))
            .is_some_and(|v| !v.is_null())
        {
            return Ok(());
        }
        let shown = format!("source `{}.{}`", source.source_name, source.name);
        if let Some(columns) = self
            .catalog
            .and_then(|c| c.columns(&source.relation.to_string()).ok())
        {
            return self
                .create(&source.relation, &columns)
                .map_err(|e| Unshaped::Because(format!("{shown} cannot be shaped: {e}")));
        }
        let declared: Option<Vec<Column>> = source
            .columns
            .iter()
            .map(|c| {
                c.data_type.as_ref().map(|t| Column {
                    name: c.name.clone(),
                    data_type: t.clone(),
                })
            })
            .collect();
        match declared.filter(|d| !d.is_empty()) {
            Some(columns) => self
                .create(&source.relation, &columns)
                .map_err(|e| Unshaped::Because(format!("{shown}'s declared types cannot be read: {e}"))),
            None => Err(Unshaped::Because(format!(
                "{shown} is not in the database and does not declare every column's `data_type`"
            ))),
        }
    }

    /// A seed's shape: its columns typed as they will load (`column_types`, else inferred
    /// from the file as dbt's agate does).
    fn shape_seed(&mut self, seed: &Node) -> Result<(), Unshaped> {
        let hooks = crate::materialization::Hooks::default();
        let load = crate::materialization::SeedLoad::for_node(self.manifest, seed, self.project_root, &hooks);
        let columns = load
            .columns()
            .map_err(|e| Unshaped::Because(format!("seed `{}` cannot be read: {e}", seed.name)))?;
        let columns: Vec<Column> = columns
            .into_iter()
            .map(|(name, data_type)| Column { name, data_type })
            .collect();
        let relation = seed.relation.as_ref().expect("seeds have relations");
        self.create(relation, &columns)
            .map_err(|e| Unshaped::Because(format!("seed `{}` cannot be shaped: {e}", seed.name)))
    }

    /// The verdict on a model, snapshot or data test whose upstreams are done.
    fn analyse_node(&mut self, node: &Node, mode: StaticAnalysis) -> Verdict {
        if mode == StaticAnalysis::Off {
            return Verdict::Off;
        }
        for dep in &node.depends_on {
            match self.shaped.get(dep) {
                Some(Ok(())) | None => {}
                Some(Err(Unshaped::Off)) => return Verdict::Off,
                Some(Err(Unshaped::Because(why))) => {
                    return Verdict::NotAnalysable(format!("it reads what cannot be shaped: {why}"))
                }
            }
        }
        if node.resource_type == ResourceType::Model && !node.materialization.is_built_in() {
            return Verdict::NotAnalysable(format!(
                "its materialization `{}` is a macro of the project's, which decides what runs",
                node.materialized()
            ));
        }
        if let Some(checked) = self.check_generic_test(node) {
            return checked;
        }
        let incremental = match self.incremental_this(node) {
            Ok(incremental) => incremental,
            Err(why) => return Verdict::NotAnalysable(why),
        };
        let sql = match self.compiler.compile(node, incremental, Some(&self.shared)) {
            Ok(sql) => sql,
            Err(d) if d.message.contains(crate::templating::context::READS_DATA) => {
                return Verdict::NotAnalysable(
                    "it reads data while compiling (`run_query` or a `statement` block)".into(),
                )
            }
            Err(d) => {
                let first = d.message.lines().next().unwrap_or_default().to_string();
                return Verdict::NotAnalysable(format!("it does not compile without the database: {first}"));
            }
        };
        if let Materialization::TableFunction { parameters } = &node.materialization {
            return self.table_function(node, &sql, parameters);
        }
        // A model's shape is made by the binding itself (its columns are read afterwards,
        // all at once): one statement where binding and then creating took two.
        let table = node
            .relation
            .as_ref()
            .filter(|_| node.resource_type == ResourceType::Model && !node.materialization.is_ephemeral());
        if let Some(relation) = table {
            if let Err(e) = self.ensure_schema(relation) {
                return Verdict::NotAnalysable(format!("its schema cannot be made: {e}"));
            }
            let shapes = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            return match shapes::create_from_query(&shapes, relation, &sql) {
                Ok(()) => Verdict::Bound(Vec::new()),
                Err(e) => self.judge(node, &e.to_string(), &sql),
            };
        }
        let bound = {
            let shapes = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            shapes::bind(&shapes, &sql)
        };
        match bound {
            Ok(columns) => Verdict::Bound(columns),
            Err(e) => self.judge(node, &e.to_string(), &sql),
        }
    }

    /// A table function made in the shapes database as the run makes it, so that what calls
    /// it binds against it.
    fn table_function(&mut self, node: &Node, sql: &str, parameters: &[String]) -> Verdict {
        let Some(relation) = &node.relation else {
            return Verdict::NotAnalysable("it has no relation".into());
        };
        if let Err(e) = self.ensure_schema(relation) {
            return Verdict::NotAnalysable(format!("its schema cannot be made: {e}"));
        }
        let shapes = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        let hooks = crate::materialization::Hooks::default();
        match crate::materialization::table_function(&shapes, relation, sql, parameters, &hooks) {
            Ok(()) => Verdict::AtCalls,
            Err(e) => self.judge(node, &e.to_string(), sql),
        }
    }

    /// Whether `node` renders as an increment (an incremental model whose table exists, not
    /// rebuilt), with `{{ this }}` shaped from the database when so.
    fn incremental_this(&mut self, node: &Node) -> Result<bool, String> {
        let (Materialization::Incremental(_), Some(relation), Some(catalog)) =
            (&node.materialization, &node.relation, self.catalog)
        else {
            return Ok(false);
        };
        if self.compiler.full_refresh(node) || !matches!(catalog.relation_kind(relation), Ok(Some(_))) {
            return Ok(false);
        }
        let columns = catalog
            .columns(&relation.to_string())
            .map_err(|e| format!("its table cannot be read: {e}"))?;
        self.create(relation, &columns)
            .map_err(|e| format!("its table cannot be shaped: {e}"))?;
        Ok(true)
    }

    /// The verdict on a node whose SQL does not bind (DuckDB's message `error`): an error,
    /// unless what is missing could exist when the run gets there (a relation or function
    /// that the project's hooks may create, a relation outside the project that the database
    /// has, a file), which makes it not analysable.
    fn judge(&self, node: &Node, error: &str, sql: &str) -> Verdict {
        let first = error.lines().next().unwrap_or_default();
        let missing_relation = first.starts_with("Catalog Error: Table with name");
        let missing_function = first.starts_with("Catalog Error:") && first.contains("Function with name");
        if (missing_relation || missing_function) && self.has_hooks {
            return Verdict::NotAnalysable(format!("{first} (the project's hooks may create it)"));
        }
        if missing_relation && self.in_catalog(first) {
            return Verdict::NotAnalysable(format!(
                "{first} in the analysis: it reads a relation outside the project"
            ));
        }
        // What the binder refuses, and constants it cannot convert (`date_trunc('mnth', ..)`),
        // fail the same way when the model runs; anything else (a file to read, an engine
        // limit) may not.
        let definite = [
            "Binder Error",
            "Parser Error",
            "Catalog Error",
            "Conversion Error",
        ];
        if !definite.iter().any(|d| first.starts_with(d)) {
            return Verdict::NotAnalysable(first.to_string());
        }
        Verdict::Error {
            message: error
                .split("\n\nLINE ")
                .next()
                .unwrap_or(error)
                .trim_end()
                .to_string(),
            at: report::location(node, error, sql),
            help: report::did_you_mean(error),
        }
    }

    /// Whether the relation a `Table with name X does not exist` message names is in the
    /// target's database.
    fn in_catalog(&self, message: &str) -> bool {
        let name = message
            .trim_start_matches("Catalog Error: Table with name ")
            .split(" does not exist")
            .next()
            .unwrap_or_default();
        self.catalog
            .is_some_and(|c| !name.is_empty() && c.columns(name).is_ok())
    }

    /// Keeps a bound node's columns as its relation's shape (ephemeral models and data tests
    /// have none). A snapshot's table has dbt's columns besides its query's: its shape is the
    /// database's table, when there is one.
    fn keep_shape(&mut self, node: &Node, columns: &[Column]) -> Result<(), Unshaped> {
        let Some(relation) = node
            .relation
            .as_ref()
            .filter(|_| !node.materialization.is_ephemeral())
        else {
            return Ok(());
        };
        let unshaped = |e: anyhow::Error| Unshaped::Because(format!("`{}` cannot be shaped: {e}", node.name));
        match node.resource_type {
            // Made by its `create ... as`; its columns are read with all the others.
            ResourceType::Model if columns.is_empty() => Ok(()),
            ResourceType::Model => self.create(relation, columns).map_err(unshaped),
            ResourceType::Snapshot => {
                match self.catalog.and_then(|c| c.columns(&relation.to_string()).ok()) {
                    Some(existing) => self.create(relation, &existing).map_err(unshaped),
                    None => Err(Unshaped::Because(format!(
                        "snapshot `{}` has no table yet, and its shape adds dbt's columns",
                        node.name
                    ))),
                }
            }
            _ => Ok(()),
        }
    }
}

/// Whether the project runs hooks (`on-run-start`/`on-run-end`, or any node's pre- or
/// post-hook), which may create relations and functions that analysis cannot see.
fn has_hooks(session: &Session) -> bool {
    let project = &session.project;
    !project.on_run_start.is_empty()
        || session.manifest.nodes.values().any(|n| {
            ["pre-hook", "post-hook", "pre_hook", "post_hook"]
                .iter()
                .any(|k| {
                    n.config
                        .0
                        .get(*k)
                        .is_some_and(|v| v.as_array().is_none_or(|a| !a.is_empty()) && !v.is_null())
                })
        })
}

/// `wanted` and everything they read (models, seeds, snapshots, sources), parents before
/// children, each once.
fn upstream_order(manifest: &Manifest, wanted: &[&String]) -> Vec<String> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for root in wanted {
        // Depth first, parents first, without recursion (a chain may be thousands long).
        let mut stack: Vec<(&str, bool)> = vec![(root.as_str(), false)];
        while let Some((id, expanded)) = stack.pop() {
            if expanded {
                order.push(id.to_string());
                continue;
            }
            if !seen.insert(id.to_string()) {
                continue;
            }
            stack.push((id, true));
            if let Some(node) = manifest.nodes.get(id) {
                for dep in node.depends_on.iter().rev() {
                    if !seen.contains(dep.as_str()) {
                        stack.push((dep, false));
                    }
                }
            }
        }
    }
    order
}
