//! The command line: clap definitions ([`args`]) and one function per command, each working on
//! a [`Session`] (the loaded project, target, manifest and graph).

pub mod args;
mod clone;
mod commands;
mod init;

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use minijinja::Environment;
use serde_json::{json, Map, Value};

use crate::adapter::database::Database;
use crate::adapter::Adapter;
use crate::artifacts::{self, Invocation};
use crate::config::ConfigContext;
use crate::graph::selector::{self, PreviousState};
use crate::graph::{self, Graph};
use crate::log::{self, Level};
use crate::manifest::{self, Manifest, ResourceType};
use crate::project::profile::{self, Target};
use crate::project::Project;
use crate::runner::compile::{Compiler, ManifestResolver};
use crate::runner::{self, hooks, output, Plan};
use crate::templating;
use args::{Cli, Command, DepsSource, LsOutput, ProjectArgs, ResourceTypeArg, RunArgs, SelectArgs};
use commands::{
    clean, command_types, compile_inline, debug, recorded_args, retry, run_operation, show, source_freshness,
};

/// Exit code when the run could not start (bad project, profile, arguments, database).
const EXIT_CANNOT_START: u8 = 2;

/// Runs the command line of this process and returns its exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = runner::signals::install() {
        eprintln!(
            "warning: cannot handle SIGINT and SIGTERM ({e}): a signal stops the run without a summary"
        );
    }
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            print_error(&err);
            ExitCode::from(EXIT_CANNOT_START)
        }
    }
}

/// Prints `err` to stderr: the error, then each cause on its own line; with `--log-format
/// json`, as dbt's `MainEncounteredError` event on stdout.
fn print_error(err: &anyhow::Error) {
    let mut text = format!("error: {err}");
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    if log::is_json() {
        log::event("MainEncounteredError", Level::Error, &text, json!({"exc": text}));
    } else {
        eprintln!("{text}");
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let name = cli.command.name();
    let invocation = match &cli.command {
        Command::Seed(a)
        | Command::Run(a)
        | Command::Test(a)
        | Command::Snapshot(a)
        | Command::Build(a)
        | Command::Clone(a) => Invocation::new(recorded_args(name, a)),
        other => Invocation::new(json!({"command": other.name()})),
    };
    let g = &cli.global;
    let project = cli.command.project_args();
    let log_dir = (g.log_level_file != Level::None).then(|| {
        g.log_path.clone().unwrap_or_else(|| {
            project
                .project_dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("."))
                .join("logs")
        })
    });
    let level = if g.quiet { Level::Error } else { g.log_level };
    log::init(g.log_format, level, &invocation.id, log_dir.as_deref());
    log::set_warn_error(log::WarnError::parse(
        g.warn_error,
        g.warn_error_options.as_deref(),
    )?);
    match cli.command {
        Command::Retry(a) => retry(a),
        Command::RunOperation(a) => run_operation(a),
        Command::Clone(a) => clone::clone(a, &invocation),
        Command::Init(a) => init::init(a),
        Command::Source(args::SourceCommand::Freshness(a)) => source_freshness(a, &invocation),
        Command::Show(a) => show(a),
        Command::Ls(a) => {
            let session = Session::load(&a.project)?;
            let types =
                ResourceTypeArg::narrow(&ResourceType::ALL, &a.resource_type, &a.exclude_resource_type);
            session.write_manifest(&invocation)?;
            list(&session, &a.select, &types, a.output)
        }
        Command::Compile(a) if a.inline.is_some() => {
            let inline = a.inline.clone().unwrap_or_default();
            compile_inline(&a, &inline)
        }
        Command::Compile(a) => execute(
            a,
            &[
                ResourceType::Model,
                ResourceType::Snapshot,
                ResourceType::UnitTest,
                ResourceType::Test,
            ],
            false,
            &invocation,
        ),
        Command::Seed(a) | Command::Run(a) | Command::Test(a) | Command::Snapshot(a) | Command::Build(a) => {
            let types = command_types(name).expect("every building command has its node kinds");
            execute(a, types, true, &invocation)
        }
        Command::Parse(a) => {
            let session = Session::load(&a.project)?;
            session.write_manifest(&invocation)?;
            println!(
                "Parsed {}; wrote {}/manifest.json",
                session.manifest.summary(),
                session.project.target_path
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Debug(a) => debug(&a.project),
        Command::Deps(a) => {
            let opts = crate::deps::DepsOptions {
                upgrade: a.upgrade,
                lock_only: a.lock,
                add_package: a.add_package.clone(),
                source: match a.source {
                    DepsSource::Hub => crate::deps::AddSource::Hub,
                    DepsSource::Git => crate::deps::AddSource::Git,
                    DepsSource::Local => crate::deps::AddSource::Local,
                },
                ctx: ConfigContext {
                    vars: parse_cli_vars(a.project.vars.as_deref())?,
                    target: Value::Null,
                },
            };
            crate::deps::deps(&project_dir(&a.project)?, &opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Clean(a) => clean(&a.project),
    }
}

/// A loaded project, ready to select and run.
pub struct Session {
    pub project: Project,
    pub target: Target,
    pub env: Environment<'static>,
    pub manifest: Manifest,
    pub graph: Graph,
}

impl Session {
    /// Loads the project, profile and property files, parses every node and builds the graph.
    ///
    /// Errors: anything that stops a run from starting, with its file and line.
    pub fn load(args: &ProjectArgs) -> Result<Session> {
        let project_dir = project_dir(args)?;
        let cli_vars = parse_cli_vars(args.vars.as_deref())?;
        let dirs = profile::profile_dirs(args.profiles_dir.as_deref(), &project_dir);
        let target = profile::load_target(
            &dirs,
            &match &args.profile {
                Some(name) => name.clone(),
                None => crate::project::profile_name(&project_dir)?,
            },
            args.target.as_deref(),
            &project_dir.canonicalize().unwrap_or_else(|_| project_dir.clone()),
            args.threads.map(usize::from),
            &cli_vars,
        )?;
        let ctx = ConfigContext {
            vars: cli_vars.clone(),
            target: target.jinja_value(),
        };
        let mut project = Project::load(&project_dir, &ctx)?;
        if let Some(dir) = &args.target_path {
            project.target_path = dir.to_string_lossy().into_owned();
        }
        project.packages = project.load_packages(&ctx)?;
        // Packages' own vars are defaults under the root project's; root vars scoped to a
        // package (`vars: {pkg: {...}}`) apply as well.
        let mut vars = Map::new();
        for package in &project.packages {
            vars.extend(package.vars.clone());
            if let Some(Value::Object(scoped)) = project.vars.get(&package.name) {
                vars.extend(scoped.clone());
            }
        }
        vars.extend(project.vars.clone());
        vars.extend(cli_vars.clone());
        project.vars = vars;
        // Macro templates are named by their path from the root project, unique across packages.
        let macro_files: Vec<(String, String, &str)> = project
            .packages
            .iter()
            .chain([&project])
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
        let env = templating::environment_with_packages(
            &macros,
            &project.name,
            &project.dispatch,
            target.jinja_value(),
        )?;
        let manifest = manifest::parse::parse(&project, &target, &env)?;
        let mut env = env;
        // dbt's `graph` (the parsed project), built only for projects whose templates read it:
        // at 10,000 models it is a sizeable copy of the manifest.
        let reads_graph = project
            .packages
            .iter()
            .chain([&project])
            .flat_map(|p| p.macros.iter().chain(&p.models).chain(&p.singular_tests))
            .any(|f| f.contents.contains("graph"));
        if reads_graph {
            env.add_global(
                "graph",
                templating::context::mutable_value(&crate::manifest::json::graph_json(
                    &manifest,
                    &project.target_path,
                )),
            );
        }
        for w in target.warnings.iter().chain(&manifest.warnings) {
            if log::warning_is_error("Note") {
                return Err(crate::error::Diagnostic::new(w.to_string())
                    .help("a warning is an error under `--warn-error`; fix it, or leave the flag out")
                    .into());
            }
            log::event("Note", Level::Warn, &format!("warning: {w}"), json!({}));
        }
        let graph = Graph::build(&manifest)?;
        Ok(Session {
            project,
            target,
            env,
            manifest,
            graph,
        })
    }

    /// The first lines of a run, as dbt's `MainReportVersion` and `FoundStats` events:
    /// "Running with mallard X" and "Found 3 models, 1 seed, ...".
    fn report_header(&self) {
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

    /// The target's database opened read-only, for a command (`command`) that reads but never
    /// writes it.
    ///
    /// Errors: the database does not exist yet (with `help`); DuckDB cannot open it.
    fn open_existing_read_only(&self, command: &str, help: &str) -> Result<Adapter> {
        let path = self.target.path.clone().filter(|p| p.exists()).ok_or_else(|| {
            crate::error::Diagnostic::new(format!(
                "`{command}` reads the database, which does not exist yet"
            ))
            .help(help.to_string())
        })?;
        Adapter::open_read_only(&path)
    }

    fn write_manifest(&self, invocation: &Invocation) -> Result<()> {
        artifacts::write_manifest(
            &self.project.target_dir(),
            &self.project.target_path,
            &self.manifest,
            invocation,
        )
    }

    /// What compiling needs for this session; `full_refresh` is `--full-refresh`.
    fn compiler(&self, full_refresh: bool) -> Compiler<'_> {
        Compiler {
            env: &self.env,
            manifest: &self.manifest,
            target: &self.target,
            resolver: Arc::new(ManifestResolver::new(&self.manifest)),
            vars: Arc::new(self.project.vars.clone()),
            target_dir: self.project.target_dir(),
            target_path: self.project.target_path.clone(),
            full_refresh,
            empty: false,
            compiled_dirs: Default::default(),
        }
    }

    /// The target's database, claimed for writing (see [`Database::open`]).
    fn open_database(&self, lock_timeout: Option<std::time::Duration>) -> Result<Database> {
        let t = &self.target;
        Database::open(t.path.as_deref(), &t.settings, t.publish, lock_timeout)
    }

    /// The `unique_id`s `args` select, reading `--state` when given.
    fn select(&self, args: &SelectArgs) -> Result<BTreeSet<String>> {
        let state = match args.state.as_deref() {
            Some(dir) => Some(PreviousState::load(dir)?.with_current_sources(&self.project.target_dir())?),
            None => None,
        };
        let selectors = selector::Selectors::load(&self.project.root)?;
        Ok(selector::select_with(
            &self.manifest,
            &self.graph,
            &args.select,
            &args.exclude,
            state.as_ref(),
            selectors.as_ref(),
            args.selector.as_deref(),
        )?)
    }

    /// The selected nodes of the given kinds, in schedule order, with the edges that gate them.
    /// Ephemeral models are left out when `executing`: they build nothing, and live on as CTEs
    /// in the nodes that read them.
    fn plan(
        &self,
        args: &SelectArgs,
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
                    self.through_ephemerals(&from)
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

    /// `id` itself, or for an ephemeral model the nearest non-ephemeral nodes it reads from.
    fn through_ephemerals(&self, id: &str) -> Vec<String> {
        match self.manifest.nodes.get(id) {
            Some(n) if n.resource_type == ResourceType::Model && n.materialization.is_ephemeral() => n
                .depends_on
                .iter()
                .flat_map(|d| self.through_ephemerals(d))
                .collect(),
            _ => vec![id.to_string()],
        }
    }
}

/// The project folder: `--project-dir`, or the current folder.
fn project_dir(args: &ProjectArgs) -> Result<std::path::PathBuf> {
    match &args.project_dir {
        Some(dir) => Ok(dir.clone()),
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

/// `--vars '{key: value}'`: a YAML mapping.
fn parse_cli_vars(text: Option<&str>) -> Result<Map<String, Value>> {
    let Some(text) = text else { return Ok(Map::new()) };
    let doc = crate::config::yaml::parse_mapping("--vars", text)
        .map_err(|d| d.help("pass a YAML mapping, e.g. --vars '{as_of: 2024-01-01, scale: 2}'"))?;
    Ok(doc)
}

/// `seed`, `run`, `test`, `build` (with `connect`) and `compile` (without).
fn execute(
    args: RunArgs,
    types: &[ResourceType],
    connect: bool,
    invocation: &Invocation,
) -> Result<ExitCode> {
    let started = Instant::now();
    templating::builtins::set_flags(templating::builtins::Flags {
        which: invocation.args["command"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        full_refresh: args.full_refresh,
        fail_fast: args.fail_fast,
        empty: args.empty,
    });
    if args.empty && matches!(invocation.args["command"].as_str(), Some("seed" | "test")) {
        return Err(crate::error::Diagnostic::new(format!(
            "`--empty` is not an option of `mallard {}`",
            invocation.args["command"].as_str().unwrap_or_default()
        ))
        .help(
            "`--empty` limits the refs of models and snapshots: use it with run, build, compile or snapshot",
        )
        .into());
    }
    let command = invocation.args["command"].as_str().unwrap_or_default();
    // `--defer`'s state, read before anything is opened or written.
    let defer_state = args
        .defer
        .then(|| read_defer_state(&args, "--defer"))
        .transpose()?;
    if args.inline.is_some() {
        return Err(crate::error::Diagnostic::new(format!(
            "`--inline` is not an option of `mallard {command}`"
        ))
        .help("use `mallard compile --inline` or `mallard show --inline`")
        .into());
    }
    let filtered = !args.resource_type.is_empty() || !args.exclude_resource_type.is_empty();
    if filtered && !matches!(command, "build" | "test") {
        return Err(crate::error::Diagnostic::new(format!(
            "`--resource-type` and `--exclude-resource-type` are not options of `mallard {command}`"
        ))
        .help("use them with build, test or ls")
        .into());
    }
    // In `build`, a data test gates what is built on the node it tests.
    let gate = types.contains(&ResourceType::Seed) && types.contains(&ResourceType::Test);
    let types = ResourceTypeArg::narrow(types, &args.resource_type, &args.exclude_resource_type);
    let types = &types[..];
    let session = Session::load(&args.project)?;
    let mut plan = session.plan(&args.select, types, gate, connect)?;
    plan.fail_fast = args.fail_fast;
    if plan.order.is_empty() {
        // Nothing to run: the database is not opened and nothing is written.
        session.report_header();
        log::blank();
        log::event(
            "NothingToDo",
            Level::Warn,
            &format!("Nothing to do: the selection matched no {}.", kinds(types)),
            json!({}),
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Claim the database before anything is written, so that a run refused the lock changes
    // nothing, not even the artifacts.
    let database = if connect {
        Some(session.open_database(args.lock_timeout)?)
    } else {
        None
    };
    // Writing manifest.json on a thread of its own while the nodes run was measured slower
    // at 30,000 nodes (3.82 s vs 3.65 s median of 6): the workers already fill both cores.
    session.write_manifest(invocation)?;
    run_plan(
        &session,
        &plan,
        database,
        &args,
        defer_state.as_ref(),
        started,
        invocation,
    )
}

/// The manifest `--defer` (or `clone`, named by `purpose`) reads: `--defer-state`'s, else
/// `--state`'s.
///
/// Errors (exit code 2, before anything is opened): neither is given; the file is missing or
/// is not JSON.
fn read_defer_state(args: &RunArgs, purpose: &str) -> Result<Value> {
    let dir = args
        .defer_state
        .as_deref()
        .or(args.select.state.as_deref())
        .ok_or_else(|| {
            crate::error::Diagnostic::new(format!(
                "`{purpose}` needs the manifest of another run to defer to"
            ))
            .help("pass `--state DIR` (or `--defer-state DIR`), the target folder of a production run")
        })?;
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read `{}` for {purpose}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("`{}` is not a manifest", path.display()))
}

/// The relation the state manifest `state` records for node `id`: its `database`, `schema`
/// and `alias` (or `name`); `None` when it has no such node or the node no relation.
fn state_relation(state: &Value, id: &str) -> Option<crate::relation::Relation> {
    let recorded = state["nodes"].get(id)?;
    let field = |k: &str| recorded.get(k).and_then(Value::as_str);
    Some(crate::relation::Relation::new(
        field("database")?,
        field("schema")?,
        field("alias").or_else(|| field("name"))?,
    ))
}

/// `--defer`: for each node of the state's manifest that this run does not select (models,
/// seeds, snapshots; not ephemeral ones), the relation recorded there, when this target has
/// no relation of its own for the node (or always, with `favor_state`), as dbt defers.
/// `state` is the other run's `manifest.json` (see [`read_defer_state`]).
fn deferred_relations(
    session: &Session,
    plan: &runner::Plan,
    state: &Value,
    favor_state: bool,
    adapter: Option<&Adapter>,
) -> std::collections::BTreeMap<String, crate::relation::Relation> {
    let selected: BTreeSet<&String> = plan.order.iter().collect();
    let mut out = std::collections::BTreeMap::new();
    for (id, node) in &session.manifest.nodes {
        if selected.contains(id)
            || !matches!(
                node.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            )
            || node.materialization.is_ephemeral()
        {
            continue;
        }
        let Some(recorded) = state_relation(state, id) else {
            continue;
        };
        let own = node.relation.as_ref().and_then(|r| {
            adapter.and_then(|a| {
                a.find_relation(&r.database, &r.schema, &r.identifier)
                    .ok()
                    .flatten()
            })
        });
        if favor_state || own.is_none() {
            out.insert(id.clone(), recorded);
        }
    }
    out
}

/// Runs (or, without `database`, compiles) `plan`: project hooks, the nodes, the summary,
/// and `run_results.json`. Returns exit code 1 when a node or hook failed.
fn run_plan(
    session: &Session,
    plan: &runner::Plan,
    database: Option<Database>,
    args: &RunArgs,
    defer_state: Option<&Value>,
    started: Instant,
    invocation: &Invocation,
) -> Result<ExitCode> {
    if database.is_some() {
        runner::signals::executing();
    }
    session.report_header();
    let threads = session.target.threads;
    log::event(
        "ConcurrencyLine",
        Level::Info,
        &format!(
            "Concurrency: {threads} threads (target='{}')",
            session.target.name
        ),
        json!({"num_threads": threads, "target_name": session.target.name, "node_count": plan.order.len()}),
    );
    log::blank();
    let mut compiler = session.compiler(args.full_refresh);
    compiler.empty = args.empty;
    let total = plan.order.len();
    let compiling = database.is_none();
    // Compiling opens an existing database read-only, for `run_query` and `adapter` calls.
    let read_only = match (&database, session.target.path.as_deref()) {
        (None, Some(path)) if path.exists() => Adapter::open_read_only(path).ok(),
        _ => None,
    };
    let adapter = database.as_ref().map(Database::adapter).or(read_only.as_ref());
    if let Some(state) = defer_state {
        let deferred = deferred_relations(session, plan, state, args.favor_state, adapter);
        compiler.resolver = Arc::new(ManifestResolver::with_deferred(&session.manifest, &deferred));
    }
    let project_hooks = |when: hooks::When, templates: &[String], extra: minijinja::Value| {
        let Some(write) = database
            .as_ref()
            .map(Database::adapter)
            .filter(|_| !templates.is_empty())
        else {
            return Ok(Vec::new());
        };
        let s = if templates.len() == 1 { "" } else { "s" };
        log::event(
            "HooksRunning",
            Level::Info,
            &format!("Running {} {} hook{s}", templates.len(), when.key()),
            json!({"num_hooks": templates.len(), "hook_type": when.key()}),
        );
        let results = hooks::run(
            when,
            templates,
            &session.project.name,
            &compiler,
            write,
            extra,
            |i, r| {
                let level = if r.status.is_failure() {
                    Level::Error
                } else {
                    Level::Info
                };
                log::event(
                    "LogHookEndLine",
                    level,
                    &output::hook_line(i, templates.len(), r),
                    json!({"index": i, "total": templates.len(), "status": r.status.as_str(),
                               "execution_time": r.execution_time, "node_info": {"unique_id": r.unique_id,
                               "node_status": r.status.as_str(), "resource_type": "operation"}}),
                );
            },
        )?;
        log::blank();
        anyhow::Ok(results)
    };
    let schemas = hooks::schema_context(
        plan.order
            .iter()
            .filter_map(|id| session.manifest.nodes[id].relation.as_ref()),
    );
    let start = project_hooks(hooks::When::Start, &session.project.on_run_start, schemas.clone())?;
    if start.iter().any(|r| r.status.is_failure()) {
        log::event(
            "Note",
            Level::Error,
            "on-run-start failed: no node was run.",
            json!({}),
        );
        if let Some(database) = database {
            database.finish(false)?;
        }
        let elapsed = started.elapsed().as_secs_f64();
        artifacts::write_run_results(
            &session.project.target_dir(),
            &session.manifest,
            &start,
            elapsed,
            invocation,
        )?;
        return Ok(ExitCode::from(1));
    }
    let progress = if compiling {
        None
    } else {
        log::start_progress(total)
    };
    let results = runner::execute(
        plan,
        &compiler,
        adapter,
        database.is_some(),
        threads,
        &session.project.root,
        |index, r| {
            // `compile` names only the nodes that failed to compile, as dbt prints no line
            // per node there.
            if compiling && r.status != runner::Status::Error {
                return;
            }
            let node = &session.manifest.nodes[&r.unique_id];
            log::progress_done(&node.name);
            let level = match r.status {
                runner::Status::Error | runner::Status::Fail => Level::Error,
                runner::Status::Warn => Level::Warn,
                _ => Level::Info,
            };
            let info = output::node_info(node, r);
            log::event(
                output::result_event(node, r),
                level,
                &output::progress_line(index, total, node, r),
                json!({"index": index, "total": total, "status": r.status.as_str(),
                       "execution_time": r.execution_time, "node_info": info.clone()}),
            );
            log::event(
                "NodeFinished",
                Level::Debug,
                &format!("Finished running node {}", r.unique_id),
                json!({"node_info": info}),
            );
        },
    )?;
    drop(progress);
    let interrupted = crate::adapter::cancel::requested();
    let end = if session.project.on_run_end.is_empty() || interrupted.is_some() {
        Vec::new()
    } else {
        let extra =
            minijinja::value::merge_maps([schemas, hooks::results_context(&session.manifest, &results)]);
        project_hooks(hooks::When::End, &session.project.on_run_end, extra)?
    };
    let elapsed = started.elapsed().as_secs_f64();
    for (name, level, msg) in output::summary(&session.manifest, &results, elapsed) {
        let data = if name == "Formatting" {
            json!({"msg": ""})
        } else {
            json!({})
        };
        log::event(name, level, &msg, data);
    }
    let failed = results.iter().chain(&end).any(|r| r.status.is_failure());
    if let Some(database) = database {
        match database.finish(!failed)? {
            Some(published) => log::info("Note", &format!("Published {}", published.display())),
            None if session.target.publish => log::event(
                "Note",
                Level::Warn,
                "Not published: the run failed; the published database is unchanged.",
                json!({}),
            ),
            None => {}
        }
        if let Some(path) = &args.junit_xml {
            artifacts::write_junit(path, &session.manifest, &results, elapsed)
                .with_context(|| format!("cannot write the JUnit report `{}`", path.display()))?;
        }
        // The project hooks are in run_results.json, as in dbt (`operation.<project>...`).
        let all: Vec<runner::NodeResult> = start.iter().chain(&results).chain(&end).cloned().collect();
        artifacts::write_run_results(
            &session.project.target_dir(),
            &session.manifest,
            &all,
            elapsed,
            invocation,
        )
        .context(
            "the run's database work stands (each node committed or rolled back as reported above), \
             but run_results.json is missing",
        )?;
    }
    if let Some(signal) = interrupted {
        log::event(
            "Note",
            Level::Warn,
            &format!(
                "Interrupted by {}: what ran is in {}/run_results.json; `mallard retry` runs the rest.",
                crate::adapter::cancel::signal_name(signal),
                session.project.target_path
            ),
            json!({}),
        );
        return Ok(ExitCode::from((128 + signal) as u8));
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn kinds(types: &[ResourceType]) -> String {
    types
        .iter()
        .map(|t| format!("{}s", t.as_str()))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// `ls`: the selected resources, one per line, sorted.
fn list(session: &Session, select: &SelectArgs, types: &[ResourceType], out: LsOutput) -> Result<ExitCode> {
    let chosen = session.select(select)?;
    let mut lines = Vec::new();
    for id in chosen {
        let line = if let Some(n) = session.manifest.nodes.get(&id) {
            if !types.is_empty() && !types.contains(&n.resource_type) {
                continue;
            }
            match out {
                LsOutput::Selector if n.resource_type == ResourceType::Exposure => {
                    format!("exposure:{}", n.fqn.join("."))
                }
                LsOutput::Selector => n.fqn.join("."),
                LsOutput::Name => n.name.clone(),
                LsOutput::Path => n.original_file_path.clone(),
                LsOutput::Json => json!({
                    "name": n.name, "resource_type": n.resource_type.as_str(), "package_name": n.package_name,
                    "original_file_path": n.original_file_path, "unique_id": n.unique_id,
                    "alias": n.relation.as_ref().map(|r| r.identifier.clone()),
                    "config": n.config.0, "tags": n.config.tags(), "depends_on": {"nodes": n.depends_on},
                })
                .to_string(),
            }
        } else if let Some(s) = session.manifest.sources.get(&id) {
            if !types.is_empty() && !types.contains(&ResourceType::Source) {
                continue;
            }
            match out {
                LsOutput::Selector => format!("source:{}", s.fqn.join(".")),
                LsOutput::Name => format!("{}.{}", s.source_name, s.name),
                LsOutput::Path => s.original_file_path.clone(),
                LsOutput::Json => json!({
                    "name": s.name, "resource_type": "source", "package_name": s.package_name,
                    "original_file_path": s.original_file_path, "unique_id": s.unique_id,
                    "source_name": s.source_name,
                })
                .to_string(),
            }
        } else {
            continue;
        };
        lines.push(line);
    }
    lines.sort();
    lines.dedup();
    if log::is_json() {
        // dbt's `PrintEvent` events, one per resource.
        for l in lines {
            log::print("PrintEvent", &l, json!({"msg": l}));
        }
    } else {
        let mut stdout = std::io::stdout().lock();
        for l in lines {
            writeln!(stdout, "{l}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
