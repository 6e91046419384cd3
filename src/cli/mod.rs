//! The command line: clap definitions ([`args`]) and one function per command, each working on
//! a [`Session`] (the loaded project, target, manifest and graph).

pub mod args;
mod clone;
mod commands;
mod init;
mod resource_type;

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use clap::Parser;
use serde_json::json;

use crate::artifacts::Invocation;
use crate::log::{self, Level};
use crate::manifest::ResourceType;
use crate::runner::{self};
use crate::session::Session;
use args::{Cli, Command, LsOutput, ResourceTypeArg, RunArgs, SelectArgs};
use commands::{
    clean, compile_inline, debug, deps, docs_generate, docs_serve, init_logging, ls, parse, recorded_args,
    retry, run_operation, show, source_freshness,
};

/// Exit code when the run could not start (bad project, profile, arguments, database).
const EXIT_CANNOT_START: u8 = 2;

/// dbt 1.11's `DBT_ENGINE_` prefix: each `DBT_ENGINE_<NAME>` set in the environment is
/// also `DBT_<NAME>` (and wins over it, as in dbt), so that every flag read from a `DBT_`
/// variable (`DBT_PROFILES_DIR`, `DBT_TARGET`, `DBT_FAIL_FAST`, ...) is read from either name.
/// Called once, before any other thread starts.
pub fn adopt_engine_env_vars() {
    let engine: Vec<(String, std::ffi::OsString)> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let rest = k.to_str()?.strip_prefix("DBT_ENGINE_")?;
            Some((format!("DBT_{rest}"), v))
        })
        .collect();
    for (name, value) in engine {
        std::env::set_var(name, value);
    }
}

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
    let text = log::scrub(&text).into_owned();
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
    init_logging(&cli, &invocation)?;
    match cli.command {
        Command::Retry(a) => retry(a),
        Command::RunOperation(a) => run_operation(a),
        Command::Clone(a) => clone::clone(a, &invocation),
        Command::Init(a) => init::init(a),
        Command::Source(args::SourceCommand::Freshness(a)) => source_freshness(a, &invocation),
        Command::Show(a) => show(a),
        Command::Docs(args::DocsCommand::Generate(a)) => docs_generate(a, &invocation),
        Command::Docs(args::DocsCommand::Serve(a)) => docs_serve(a),
        Command::Ls(a) => ls(a, &invocation),
        Command::Compile(a) if a.inline.is_some() => {
            let inline = a.inline.clone().unwrap_or_default();
            compile_inline(&a, &inline)
        }
        Command::Compile(a) => run_selected(
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
            let types =
                crate::runner::retry::command_types(name).expect("every building command has its node kinds");
            run_selected(a, types, true, &invocation)
        }
        Command::Parse(a) => parse(a, &invocation),
        Command::Debug(a) => debug(&a.project),
        Command::Deps(a) => deps(a),
        Command::Clean(a) => clean(&a.project),
    }
}

/// `seed`, `run`, `test`, `build` (with `connect`) and `compile` (without).
fn run_selected(
    args: RunArgs,
    types: &[ResourceType],
    connect: bool,
    invocation: &Invocation,
) -> Result<ExitCode> {
    let started = Instant::now();
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
        .then(|| runner::run::read_defer_state(args.defer_state_dir(), "--defer"))
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
    let session = Session::load(&args.load_options(command))?;
    let mut plan = session.plan(&args.select.selection(), types, gate, connect)?;
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
    let options = runner::run::RunOptions {
        favor_state: args.favor_state,
        junit_xml: args.junit_xml.clone(),
        read_only: None,
    };
    runner::run::run_plan(
        &session,
        &plan,
        database,
        &options,
        defer_state.as_ref(),
        started,
        invocation,
    )
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
    let chosen = session.select(&select.selection())?;
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
