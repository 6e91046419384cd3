//! A session: a project loaded for one command, from the files to the graph (the project and
//! its packages, the profile's target, vars merged by precedence, the Jinja environment with
//! every macro, the manifest and the graph), and what commands ask of it: a selection, a plan
//! to run, the compiler, the database.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use minijinja::Environment;
use serde_json::{json, Map, Value};

use crate::adapter::database::Database;
use crate::adapter::Adapter;
use crate::artifacts::{self, Invocation};
use crate::compile::{Compiler, ManifestResolver};
use crate::config::run::RunSettings;
use crate::config::ConfigContext;
use crate::graph::selector::{self, PreviousState};
use crate::graph::{self, Graph, Plan};
use crate::log::{self, Level};
use crate::manifest::{self, Manifest, ResourceType};
use crate::project::profile::{self, Target};
use crate::project::Project;
use crate::templating;

/// Where the project and profile are, and what to override in them: the command line's
/// `--project-dir`, `--profiles-dir`, `--target`, `--vars` (YAML text), `--profile`,
/// `--target-path` and `--threads`.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub project_dir: Option<PathBuf>,
    pub profiles_dir: Option<PathBuf>,
    pub target: Option<String>,
    pub vars: Option<String>,
    pub profile: Option<String>,
    pub target_path: Option<PathBuf>,
    pub threads: Option<usize>,
    /// The invocation's settings (see [`RunSettings`]): `flags` in templates, and what
    /// [`Session::compiler`] does with `--full-refresh` and `--empty`.
    pub settings: Arc<RunSettings>,
}

impl LoadOptions {
    /// The project folder: `--project-dir`, or the current folder.
    ///
    /// Errors: the current folder cannot be read.
    pub fn project_dir(&self) -> Result<PathBuf> {
        match &self.project_dir {
            Some(dir) => Ok(dir.clone()),
            None => std::env::current_dir().context("cannot read the current directory"),
        }
    }
}

/// What to select: `--select`, `--exclude`, `--selector` and `--state` (an earlier run's
/// target folder).
#[derive(Debug, Clone, Copy, Default)]
pub struct Selection<'a> {
    pub select: &'a [String],
    pub exclude: &'a [String],
    pub selector: Option<&'a str>,
    pub state: Option<&'a std::path::Path>,
}

/// A loaded project, ready to select and run.
pub struct Session {
    pub project: Project,
    pub target: Target,
    pub env: Environment<'static>,
    pub manifest: Manifest,
    pub graph: Graph,
    /// The invocation's settings, as the command line resolved them.
    pub settings: Arc<RunSettings>,
}

/// The vars of a run: each package's own vars as defaults under the root project's, root
/// vars scoped to a package (`vars: {pkg: {...}}`) as well, then the root project's, then
/// `--vars` (`cli_vars`).
fn merged_vars(project: &Project, cli_vars: &Map<String, Value>) -> Map<String, Value> {
    let mut vars = Map::new();
    for package in &project.packages {
        vars.extend(package.vars.clone());
        if let Some(Value::Object(scoped)) = project.vars.get(&package.name) {
            vars.extend(scoped.clone());
        }
    }
    vars.extend(project.vars.clone());
    vars.extend(cli_vars.clone());
    vars
}

/// The Jinja environment of a run: every macro of the project and its packages (each macro
/// file named by its path from the root project, unique across packages), dispatch, the
/// target, `builtins` (the project's name and each package's version, for
/// `builtins.ref.config`) and `flags` from `settings`.
///
/// Errors: a macro file that does not parse, at its line.
fn macro_environment(
    project: &Project,
    target: &Target,
    settings: Arc<RunSettings>,
) -> Result<minijinja::Environment<'static>> {
    let macro_files: Vec<(String, String, &str)> = project
        .packages
        .iter()
        .chain([project])
        .flat_map(|pkg| {
            let prefix = pkg
                .root
                .strip_prefix(&project.root)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_else(|_| pkg.root.to_string_lossy().into_owned());
            pkg.macros.iter().map(move |f| {
                let file = if prefix.is_empty() {
                    f.original_file_path.clone()
                } else {
                    format!("{prefix}/{}", f.original_file_path)
                };
                (pkg.name.clone(), file, f.contents.as_str())
            })
        })
        .collect();
    let macros: Vec<templating::MacroFile> = macro_files
        .iter()
        .map(|(package, file, text)| templating::MacroFile { package, file, text })
        .collect();
    let mut env = templating::environment_with_packages(
        &macros,
        &project.name,
        &project.dispatch,
        target.jinja_value(),
    )?;
    // `builtins.ref.config`: the project's name and each package's version.
    let dependencies: Map<String, Value> = project
        .packages
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                json!({"project_name": p.name, "version": p.version}),
            )
        })
        .collect();
    env.add_global(
        "builtins",
        templating::builtins::builtins_with_runtime_config(
            &json!({"project_name": project.name, "dependencies": dependencies}),
        ),
    );
    templating::builtins::add_flags(&mut env, settings);
    Ok(env)
}

/// dbt's `graph` (the parsed project) as a global, added only for projects whose templates
/// read it: at 10,000 models it is a sizeable copy of the manifest.
fn add_graph(env: &mut minijinja::Environment<'static>, project: &Project, manifest: &Manifest) {
    let reads_graph = project
        .packages
        .iter()
        .chain([project])
        .flat_map(|p| p.macros.iter().chain(&p.models).chain(&p.singular_tests))
        .any(|f| f.contents.contains("graph"));
    if reads_graph {
        env.add_global(
            "graph",
            templating::mutable::mutable_value(&crate::manifest::json::graph_json(
                manifest,
                &project.target_path,
            )),
        );
    }
}

/// Prints the profile's and the parse's warnings; under `--warn-error`, the first is an error.
fn report_warnings(target: &Target, manifest: &Manifest) -> Result<()> {
    for w in target.warnings.iter().chain(&manifest.warnings) {
        if log::warning_is_error("Note") {
            return Err(crate::error::Diagnostic::new(w.to_string())
                .help("a warning is an error under `--warn-error`; fix it, or leave the flag out")
                .into());
        }
        log::event("Note", Level::Warn, &format!("warning: {w}"), json!({}));
    }
    Ok(())
}

impl Session {
    /// Loads the project, profile and property files, parses every node and builds the graph.
    ///
    /// Errors: anything that stops a run from starting, with its file and line.
    pub fn load(args: &LoadOptions) -> Result<Session> {
        let project_dir = args.project_dir()?;
        let cli_vars = parse_vars(args.vars.as_deref())?;
        let dirs = profile::profile_dirs(args.profiles_dir.as_deref(), &project_dir);
        let target = profile::load_target(
            &dirs,
            &match &args.profile {
                Some(name) => name.clone(),
                None => crate::project::profile_name(&project_dir)?,
            },
            args.target.as_deref(),
            &project_dir.canonicalize().unwrap_or_else(|_| project_dir.clone()),
            args.threads,
            &cli_vars,
        )?;
        crate::adapter::target::use_quoting_of(&target.engine)?;
        let ctx = ConfigContext {
            vars: cli_vars.clone(),
            target: target.jinja_value(),
        };
        let mut project = Project::load(&project_dir, &ctx)?;
        if let Some(dir) = &args.target_path {
            project.target_path = dir.to_string_lossy().into_owned();
        }
        project.packages = project.load_packages(&ctx)?;
        project.vars = merged_vars(&project, &cli_vars);
        let mut env = macro_environment(&project, &target, args.settings.clone())?;
        let manifest = manifest::parse::parse(&project, &target, &env)?;
        add_graph(&mut env, &project, &manifest);
        report_warnings(&target, &manifest)?;
        let graph = Graph::build(&manifest)?;
        Ok(Session {
            project,
            target,
            env,
            manifest,
            graph,
            settings: args.settings.clone(),
        })
    }

    /// The first lines of a run, as dbt's `MainReportVersion` and `FoundStats` events:
    /// "Running with mallard X" and "Found 3 models, 1 seed, ...".
    pub fn report_header(&self) {
        log::event(
            "MainReportVersion",
            Level::Info,
            &format!("Running with mallard {}", env!("CARGO_PKG_VERSION")),
            json!({"version": env!("CARGO_PKG_VERSION"), "log_version": 3}),
        );
        log::event(
            "FoundStats",
            Level::Info,
            &format!("Found {}", self.manifest.summary()),
            json!({"stat_line": self.manifest.summary()}),
        );
    }

    /// dbt's `ConcurrencyLine` ("Concurrency: 4 threads (target='dev')") and the blank line
    /// after it, for a run of `node_count` nodes.
    pub fn report_concurrency(&self, node_count: usize) {
        let t = &self.target;
        log::event(
            "ConcurrencyLine",
            Level::Info,
            &format!("Concurrency: {} threads (target='{}')", t.threads, t.name),
            json!({"num_threads": t.threads, "target_name": t.name, "node_count": node_count}),
        );
        log::blank();
    }

    /// The target's database opened read-only, for a command (`command`) that reads but never
    /// writes it.
    ///
    /// Errors: the database does not exist yet (with `help`); DuckDB cannot open it.
    pub fn open_existing_read_only(&self, command: &str, help: &str) -> Result<Adapter> {
        crate::adapter::target::open_existing(&self.target.engine, &self.target.setup)?.ok_or_else(|| {
            crate::error::Diagnostic::new(format!(
                "`{command}` reads the database, which does not exist yet"
            ))
            .help(help.to_string())
            .into()
        })
    }

    /// Writes `manifest.json` into the target folder.
    pub fn write_manifest(&self, invocation: &Invocation) -> Result<()> {
        artifacts::write_manifest(
            &self.project.target_dir(),
            &self.project.target_path,
            &self.manifest,
            invocation,
        )
    }

    /// Writes `manifest.json` with the columns static analysis bound (`columns`, by
    /// unique_id): each declared column gets its `data_type` when it has none, and the
    /// columns not declared are added after them.
    ///
    /// Errors: the file cannot be written.
    pub fn write_manifest_with_columns(
        &self,
        invocation: &Invocation,
        columns: &BTreeMap<&str, &[crate::adapter::Column]>,
    ) -> Result<()> {
        let mut manifest = self.manifest.clone();
        for (id, bound) in columns {
            if let Some(node) = manifest.nodes.get_mut(*id) {
                crate::manifest::add_bound_columns(
                    &mut node.columns,
                    bound.iter().map(|c| (c.name.as_str(), c.data_type.as_str())),
                );
            }
        }
        artifacts::write_manifest(
            &self.project.target_dir(),
            &self.project.target_path,
            &manifest,
            invocation,
        )
    }

    /// What compiling needs for this session, with the invocation's `--full-refresh` and
    /// `--empty`.
    pub fn compiler(&self) -> Compiler<'_> {
        Compiler {
            env: &self.env,
            manifest: &self.manifest,
            target: &self.target,
            resolver: Arc::new(ManifestResolver::new(&self.manifest)),
            vars: Arc::new(self.project.vars.clone()),
            target_dir: self.project.target_dir(),
            target_path: self.project.target_path.clone(),
            full_refresh: self.settings.full_refresh,
            empty: self.settings.empty,
            // A microbatch model in sample mode builds the sample's window (dbt's).
            event_time: (
                self.settings
                    .event_time_start
                    .or(self.settings.sample.map(|s| s.0)),
                self.settings.event_time_end.or(self.settings.sample.map(|s| s.1)),
                chrono::Utc::now().naive_utc(),
            ),
            sample: self
                .settings
                .sample
                .map(|(start, end)| templating::EventTimeWindow {
                    start: crate::materialization::microbatch::Batch::text(start),
                    end: crate::materialization::microbatch::Batch::text(end),
                }),
            compiled_dirs: Default::default(),
            shapes_only: false,
        }
    }

    /// The target's database, claimed for writing (see
    /// [`crate::adapter::target::open_for_writing`]).
    pub fn open_database(&self, lock_timeout: Option<std::time::Duration>) -> Result<Database> {
        crate::adapter::target::open_for_writing(&self.target.engine, &self.target.setup, lock_timeout)
    }

    /// The `unique_id`s `args` select, reading `--state` when given.
    pub fn select(&self, args: &Selection) -> Result<BTreeSet<String>> {
        let state = match args.state {
            Some(dir) => Some(PreviousState::load(dir)?.with_current_sources(&self.project.target_dir())?),
            None => None,
        };
        let selectors = selector::Selectors::load(&self.project.root)?;
        Ok(selector::select_with(
            &self.manifest,
            &self.graph,
            args.select,
            args.exclude,
            state.as_ref(),
            selectors.as_ref(),
            args.selector,
        )?)
    }

    /// The selected nodes of the given kinds, in schedule order, with the edges that gate them.
    /// Ephemeral models are left out when `executing`: they build nothing, and live on as CTEs
    /// in the nodes that read them.
    pub fn plan(
        &self,
        args: &Selection,
        types: &[ResourceType],
        tests_gate: bool,
        executing: bool,
    ) -> Result<Plan> {
        let chosen = self.select(args)?;
        let ids: BTreeSet<String> = chosen
            .into_iter()
            .filter(|id| {
                self.manifest.nodes.get(id).is_some_and(|n| {
                    types.contains(&n.resource_type) && !(executing && n.materialization.is_ephemeral())
                })
            })
            .collect();
        let mut edges = graph::run_edges(&self.manifest, &self.graph, tests_gate);
        if executing {
            // A node still waits for what its ephemeral parents read.
            edges = edges
                .into_iter()
                .flat_map(|(from, to)| {
                    graph::through_ephemerals(&self.manifest, &from)
                        .into_iter()
                        .map(move |f| (f, to.clone()))
                })
                .collect();
        }
        let order = graph::schedule_order(&ids, &edges);
        Ok(Plan {
            order,
            edges,
            fail_fast: false,
        })
    }
}

/// `--vars '{key: value}'`: a YAML mapping; empty for `None`.
///
/// Errors: the text is not a YAML mapping.
pub fn parse_vars(text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(text) = text else { return Ok(Map::new()) };
    let doc = crate::config::yaml::parse_mapping("--vars", text)
        .map_err(|d| d.help("pass a YAML mapping, e.g. --vars '{as_of: 2024-01-01, scale: 2}'"))?;
    Ok(doc)
}
