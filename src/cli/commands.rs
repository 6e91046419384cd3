//! The commands around a run: `retry`, `show`, `debug`, `clean`, `run-operation`, inline
//! `compile`, `source freshness`, `docs`, `ls`, `parse` and `deps`, the arguments a run is
//! recorded with for `retry`, and the log's start from the global flags.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::args::{
    Cli, DepsArgs, DepsSource, DocsGenerateArgs, DocsServeArgs, FreshnessArgs, LsArgs, ProjectArgs,
    ProjectOnlyArgs, ResourceTypeArg, RetryArgs, RunArgs, RunOperationArgs, SelectArgs, ShowArgs,
};
use super::run_selected;
use crate::artifacts::Invocation;
use crate::config::ConfigContext;
use crate::error::Diagnostic;
use crate::log::{self, Level};
use crate::manifest::ResourceType;
use crate::project::Project;
use crate::runner::{self, output, show::Preview};
use crate::session::Session;

/// The arguments a run is recorded with in `run_results.json` (`args`), enough for `retry` to
/// run it again: the command and the flags that change what it does.
pub(super) fn recorded_args(command: &str, a: &RunArgs) -> Value {
    let mut args = json!({
        "command": command,
        "select": a.select.select,
        "exclude": a.select.exclude,
        "selector": a.select.selector,
        "vars": a.project.vars,
        "target": a.project.target,
        "threads": a.project.threads,
        "full_refresh": a.full_refresh,
        "empty": a.empty,
    });
    if let Some(mode) = a.static_analysis {
        args["static_analysis"] = json!(mode.name());
    }
    // The microbatch window, when given, so that `retry` builds the same one.
    for (key, time) in [
        ("event_time_start", a.event_time_start),
        ("event_time_end", a.event_time_end),
    ] {
        if let Some(time) = time {
            args[key] = json!(time.to_string());
        }
    }
    args
}

/// `retry`: reads the last run's `run_results.json` and runs its command again on the nodes
/// that errored, failed or were skipped, with its vars, target, threads and `--full-refresh`.
/// Exit 0 with a note when there is nothing to retry.
///
/// Errors: no `run_results.json`, or one written by a command that builds nothing.
pub(super) fn retry(a: RetryArgs) -> Result<ExitCode> {
    let root = a.project.load_options().project_dir()?;
    let session = Session::load(&a.project.load_options())?;
    let retry = runner::retry::plan(
        &session.project.target_dir().join("run_results.json"),
        &session.manifest,
    )?;
    let (command, again, prev_args) = (retry.command, retry.select, &retry.args);
    if again.is_empty() {
        println!("Nothing to retry: the last `{command}` had no errors, failures or skipped nodes.");
        return Ok(ExitCode::SUCCESS);
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let args = RunArgs {
        project: ProjectArgs {
            project_dir: Some(root),
            profiles_dir: a.project.profiles_dir.clone(),
            profile: a.project.profile.clone(),
            target_path: a.project.target_path.clone(),
            target: prev_args["target"]
                .as_str()
                .map(str::to_string)
                .or(a.project.target.clone()),
            vars: prev_args["vars"]
                .as_str()
                .map(str::to_string)
                .or(a.project.vars.clone()),
            threads: prev_args["threads"]
                .as_u64()
                .map(|t| t as u16)
                .or(a.project.threads),
        },
        select: SelectArgs {
            select: again,
            exclude: strings(&prev_args["exclude"]),
            selector: None,
            state: None,
        },
        full_refresh: prev_args["full_refresh"].as_bool().unwrap_or(false),
        empty: prev_args["empty"].as_bool().unwrap_or(false),
        // A retried microbatch model builds the same window as the run it retries.
        event_time_start: prev_args["event_time_start"]
            .as_str()
            .and_then(crate::materialization::microbatch::parse_time),
        event_time_end: prev_args["event_time_end"]
            .as_str()
            .and_then(crate::materialization::microbatch::parse_time),
        sample: None,
        // A retry checks again what the run it retries checked.
        static_analysis: prev_args["static_analysis"]
            .as_str()
            .and_then(crate::config::run::StaticAnalysis::parse),
        resource_type: Vec::new(),
        exclude_resource_type: Vec::new(),
        inline: None,
        junit_xml: None,
        defer: false,
        defer_state: None,
        favor_state: false,
        lock_timeout: a.lock_timeout,
        fail_fast: false,
    };
    let invocation = Invocation::new(recorded_args(&command, &args));
    run_selected(args, retry.types, true, &invocation)
}

/// `show`: the first `--limit` rows of each selected model, seed or snapshot (or of `--inline`
/// SQL), read from the database, as a table.
///
/// Errors: the database does not exist yet; nothing selected; a query that fails.
pub(super) fn show(a: ShowArgs) -> Result<ExitCode> {
    let session = Session::load(&a.project.load_options())?;
    let selection = a.select.selection();
    let preview = match &a.inline {
        Some(inline) => Preview::Inline(inline),
        None => Preview::Nodes(&selection),
    };
    for (what, (columns, rows)) in runner::show::previews(&session, preview, a.limit)? {
        println!("Previewing {what}:");
        println!("{}", output::table(&columns, &rows));
    }
    Ok(ExitCode::SUCCESS)
}

/// `debug`: the project, the profile and the database, each checked and reported. Exit 0 when
/// every check passes, 1 when the database cannot be opened; project and profile errors stop it
/// as for any command (exit 2).
pub(super) fn debug(args: &ProjectArgs) -> Result<ExitCode> {
    println!("mallard {}", env!("CARGO_PKG_VERSION"));
    let session = Session::load(&args.load_options())?;
    let t = &session.target;
    println!(
        "project: {} ({})",
        session.project.name,
        session.project.root.display()
    );
    println!("  {}: OK", session.manifest.summary());
    println!("profile: {} in {}", t.profile_name, t.profiles_file.display());
    println!(
        "target: {} ({}), schema {}, {} threads{}",
        t.name,
        t.adapter_type(),
        t.schema,
        t.threads,
        if t.engine.publish() { ", publish mode" } else { "" }
    );
    let check = crate::adapter::target::check(&t.engine, &t.setup);
    for line in &check.lines {
        println!("{line}");
    }
    if !check.ok {
        return Ok(ExitCode::from(1));
    }
    println!("\nAll checks passed!");
    Ok(ExitCode::SUCCESS)
}

/// `clean`: deletes each folder of `clean-targets` (relative to the project) that exists.
///
/// Errors: a clean target outside the project folder (nothing is deleted then).
pub(super) fn clean(args: &ProjectArgs) -> Result<ExitCode> {
    let project = Project::load(
        &args.load_options().project_dir()?,
        &crate::config::ConfigContext::default(),
    )?;
    let mut folders = Vec::new();
    for target in &project.clean_targets {
        let path = project.root.join(target);
        // A path that does not exist cannot be canonicalized; judge it by its components.
        let inside = match path.canonicalize() {
            Ok(p) => p.starts_with(&project.root) && p != project.root,
            Err(_) => {
                !std::path::Path::new(target)
                    .components()
                    .any(|c| matches!(c, std::path::Component::ParentDir))
                    && !std::path::Path::new(target).is_absolute()
            }
        };
        if !inside {
            return Err(Diagnostic::new(format!(
                "clean target `{target}` is not inside the project folder"
            ))
            .help("list only folders of the project under `clean-targets:` in dbt_project.yml")
            .into());
        }
        folders.push((target, path));
    }
    for (target, path) in folders {
        if path.is_dir() {
            std::fs::remove_dir_all(&path).with_context(|| format!("cannot delete `{target}`"))?;
            println!("Cleaned {target}/");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `run-operation MACRO --args '{...}'`: calls a macro with the run's context and a database
/// connection, as dbt does: its statements (`run_query`, `{% call statement %}`) run and stay
/// committed as they run (checked with dbt 1.11 and dbt-duckdb: a macro that raises after an
/// insert keeps the insert), its `log(..., info=True)` lines are printed, and what it returns
/// is not. `MACRO` is a macro name or `package.macro`.
///
/// Exit codes as dbt's: 0 when the macro ran, 1 when it raised (a compilation or database
/// error, printed as "Encountered an error while running operation: ..."), 2 when it cannot
/// start (no such macro, `--args` that is not a YAML mapping, a project or profile error).
pub(super) fn run_operation(a: RunOperationArgs) -> Result<ExitCode> {
    let args = match a.args.as_deref() {
        None => serde_json::Map::new(),
        Some(text) => crate::config::yaml::parse_mapping("--args", text).map_err(|d| {
            d.help("pass the macro's arguments as a YAML mapping, e.g. --args '{role: analyst}'")
        })?,
    };
    for key in args.keys() {
        if !key.chars().all(|c| c.is_alphanumeric() || c == '_')
            || key.starts_with(|c: char| c.is_ascii_digit())
        {
            return Err(Diagnostic::new(format!("--args: `{key}` is not a macro argument name")).into());
        }
    }
    let session = Session::load(&a.project.load_options())?;
    match (&a.sql, &a.macro_name) {
        (Some(sql), _) => crate::runner::operation::run_sql(&session, sql, a.lock_timeout),
        (None, Some(name)) => crate::runner::operation::run(&session, name, &args, a.lock_timeout),
        (None, None) => Err(Diagnostic::new("run-operation needs a macro name or --sql").into()),
    }
}

/// `compile --inline SQL`: renders the query with the project's context (`ref`, `source`,
/// `var`, macros; `run_query` reads the database when it exists) and prints it as dbt does,
/// under "Compiled inline node is:" (dbt's `CompiledNode` event). Nothing is written.
///
/// Errors (exit code 2, as dbt's): a Jinja error, a `ref` to no node.
pub(super) fn compile_inline(a: &RunArgs, inline: &str) -> Result<ExitCode> {
    let session = Session::load(&a.load_options("compile"))?;
    let adapter = crate::adapter::target::open_existing(&session.target.engine, &session.target.setup)?;
    let shared = match &adapter {
        Some(adapter) => Some(Arc::new(std::sync::Mutex::new(adapter.try_clone()?))),
        None => None,
    };
    let compiler = session.compiler();
    let sql = compiler
        .render_project_hook(inline, shared.as_ref(), minijinja::Value::from(()))
        .map_err(|d| d.help("the error is in the query given to `--inline`"))?;
    crate::log::print(
        "CompiledNode",
        &format!("Compiled inline node is:\n{}", sql.trim()),
        json!({"compiled": sql.trim(), "is_inline": true, "node_name": "inline_query",
               "unique_id": format!("sql_operation.{}.inline_query", session.project.name)}),
    );
    Ok(ExitCode::SUCCESS)
}

/// `source freshness`: for each selected source table whose `freshness` sets `warn_after` or
/// `error_after` and that has a `loaded_at_field`, how long ago it was loaded (see
/// [`crate::runner::freshness`]); one line per table as dbt prints them (`PASS`, `WARN`,
/// `ERROR STALE`, `ERROR` for a query that fails), then `sources.json` (dbt's schema v3; a
/// table whose query failed is left out of it, as dbt 1.11 leaves it out). Reads the database
/// read-only. A table with a freshness but no `loaded_at_field` is named in a warning.
///
/// Exit codes as dbt's: 0 when every table passed or warned, 1 when one is stale past
/// `error_after` or its query failed, 2 when the run cannot start (no database yet).
pub(super) fn source_freshness(a: FreshnessArgs, invocation: &Invocation) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    let session = Session::load(&a.project.load_options())?;
    let chosen = session.select(&a.select.selection())?;
    crate::runner::freshness::run(&session, &chosen, a.output.clone(), started, invocation)
}

/// Starts the log as the global flags say: format, level (`--quiet`: errors only), the log
/// file's folder (`--log-path`, else the project's `logs/`; none at `--log-level-file none`)
/// and `--warn-error`/`--warn-error-options`.
///
/// Errors: malformed `--warn-error-options`.
pub(super) fn init_logging(cli: &Cli, invocation: &Invocation) -> Result<()> {
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
    Ok(())
}

/// `docs generate`: manifest, compiled project, catalog and site (see [`runner::docs::generate`]).
pub(super) fn docs_generate(a: DocsGenerateArgs, invocation: &Invocation) -> Result<ExitCode> {
    let session = Session::load(&a.project.load_options())?;
    let options = runner::docs::GenerateOptions {
        compile: !a.no_compile,
        single_file: a.single_file,
        empty_catalog: a.empty_catalog,
    };
    runner::docs::generate(&session, options, invocation)
}

/// `docs serve`: the target folder's site over HTTP (the project is read for its target path only).
pub(super) fn docs_serve(a: DocsServeArgs) -> Result<ExitCode> {
    let root = a.project.load_options().project_dir()?;
    let project = crate::project::Project::load(&root, &ConfigContext::default())?;
    runner::docs::serve(&project.target_dir(), &a.host, a.port, !a.no_browser)
}

/// `ls`: writes the manifest, then lists the selected nodes of the chosen kinds.
pub(super) fn ls(a: LsArgs, invocation: &Invocation) -> Result<ExitCode> {
    let session = Session::load(&a.project.load_options())?;
    let types = ResourceTypeArg::narrow(&ResourceType::ALL, &a.resource_type, &a.exclude_resource_type);
    session.write_manifest(invocation)?;
    super::list(&session, &a.select, &types, a.output)
}

/// `parse`: writes the manifest and says what it holds.
pub(super) fn parse(a: ProjectOnlyArgs, invocation: &Invocation) -> Result<ExitCode> {
    let session = Session::load(&a.project.load_options())?;
    session.write_manifest(invocation)?;
    println!(
        "Parsed {}; wrote {}/manifest.json",
        session.manifest.summary(),
        session.project.target_path
    );
    Ok(ExitCode::SUCCESS)
}

/// `deps`: installs (or locks, or adds) the packages of `packages.yml` (see [`crate::deps::deps`]).
pub(super) fn deps(a: DepsArgs) -> Result<ExitCode> {
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
            vars: crate::session::parse_vars(a.project.vars.as_deref())?,
            target: Value::Null,
        },
    };
    crate::deps::deps(&a.project.load_options().project_dir()?, &opts)?;
    Ok(ExitCode::SUCCESS)
}
