//! A run from start to end: the header, `on-run-start` hooks, the nodes (see
//! [`super::run_nodes`]), `on-run-end` hooks, the summary, publishing and `run_results.json`; and
//! `--defer`, which points refs at another run's relations.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::{hooks, output, Plan};
use crate::adapter::database::Database;
use crate::adapter::Adapter;
use crate::artifacts::{self, Invocation};
use crate::compile::ManifestResolver;
use crate::log::{self, Level};
use crate::manifest::ResourceType;
use crate::session::Session;

/// What the command line says about a run beyond its selection and the invocation's settings
/// (`Session::settings`): `--favor-state` and `--junit-xml PATH`; and for compiling, a
/// read-only connection the caller already holds (else compiling opens one itself).
#[derive(Debug, Clone, Default)]
pub struct RunOptions<'a> {
    pub favor_state: bool,
    pub junit_xml: Option<PathBuf>,
    pub read_only: Option<&'a Adapter>,
}

/// The manifest `--defer` (or `clone`, named by `purpose`) reads, in `dir`: `--defer-state`,
/// else `--state`.
///
/// Errors (exit code 2, before anything is opened): neither is given; the file is missing or
/// is not JSON.
pub fn read_defer_state(dir: Option<&Path>, purpose: &str) -> Result<Value> {
    let dir = dir.ok_or_else(|| {
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
pub fn state_relation(state: &Value, id: &str) -> Option<crate::relation::Relation> {
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
    plan: &super::Plan,
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
/// and `run_results.json`. Returns exit code 1 when a node or hook failed, 128 + the signal
/// when one stopped the run.
pub fn run_plan(
    session: &Session,
    plan: &Plan,
    database: Option<Database>,
    args: &RunOptions,
    defer_state: Option<&Value>,
    started: Instant,
    invocation: &Invocation,
) -> Result<ExitCode> {
    let compiling = database.is_none();
    if !compiling {
        super::signals::executing();
    }
    session.report_header();
    session.report_concurrency(plan.order.len());
    if !compiling {
        warn_of_external_files_in_publish_mode(session, plan);
    }
    // Compiling opens an existing database read-only (with the profile's setup: attached
    // databases, settings), for `run_query` and `adapter` calls, unless the caller has one.
    let opened = match (args.read_only, &database) {
        (None, None) => crate::adapter::target::open_existing(&session.target.engine, &session.target.setup)
            .ok()
            .flatten(),
        _ => None,
    };
    let read_only = args.read_only.filter(|_| database.is_none()).or(opened.as_ref());
    let adapter = database.as_ref().map(Database::adapter).or(read_only);
    let mut compiler = session.compiler();
    if let Some(state) = defer_state {
        let deferred = deferred_relations(session, plan, state, args.favor_state, adapter);
        compiler.resolver = Arc::new(ManifestResolver::with_deferred(&session.manifest, &deferred));
    }
    let write = database.as_ref().map(Database::adapter);
    let schemas = hooks::schema_context(
        plan.order
            .iter()
            .filter_map(|id| session.manifest.nodes[id].relation.as_ref()),
    );
    // From here a second signal writes what finished (nothing, until the nodes run).
    let finished = match compiling {
        true => Arc::default(),
        false => record_for_a_second_signal(session, plan, started, invocation),
    };
    let analysed = static_analysis(session, plan, adapter, invocation)?;
    if !analysed.errors.is_empty() && !compiling {
        return analysis_failed(session, plan, database, &analysed, started, invocation);
    }
    let start = run_project_hooks(session, &compiler, write, hooks::When::Start, schemas.clone())?;
    if start.iter().any(|r| r.status.is_failure()) {
        return start_hooks_failed(session, database, &start, started, invocation);
    }
    let results = run_and_report(session, plan, &compiler, adapter, compiling, &finished)?;
    let interrupted = crate::adapter::cancel::requested();
    let end = match interrupted {
        Some(_) => Vec::new(),
        None => {
            let extra =
                minijinja::value::merge_maps([schemas, hooks::results_context(&session.manifest, &results)]);
            run_project_hooks(session, &compiler, write, hooks::When::End, extra)?
        }
    };
    let elapsed = started.elapsed().as_secs_f64();
    report_summary(session, plan, &results, elapsed);
    if !analysed.errors.is_empty() {
        // Compiling went on past them; the exit code is 1.
        log::event(
            "Note",
            Level::Error,
            &format!(
                "Static analysis found {} (above).",
                crate::manifest::plural(analysed.errors.len(), "error")
            ),
            json!({}),
        );
    }
    let failed = results.iter().chain(&end).any(|r| r.status.is_failure());
    if let Some(database) = database {
        finish(
            session,
            database,
            args,
            [&start, &results, &end],
            failed,
            elapsed,
            invocation,
        )?;
    }
    Ok(match interrupted {
        Some(signal) => interrupted_exit(session, signal),
        None if failed || !analysed.errors.is_empty() => ExitCode::from(1),
        None => ExitCode::SUCCESS,
    })
}

/// Static analysis of the plan's models, snapshots and data tests (see [`crate::analysis`])
/// against `catalog`, the target's database as it is; its report printed, and the manifest
/// written again with every bound node's columns. Nothing on a target DuckDB cannot bind
/// (said once), or when every node is `off`.
///
/// Errors: the analysis database cannot start; the manifest cannot be written.
fn static_analysis(
    session: &Session,
    plan: &Plan,
    catalog: Option<&crate::adapter::Adapter>,
    invocation: &Invocation,
) -> Result<crate::analysis::Outcome> {
    if session.settings.static_analysis == Some(crate::config::run::StaticAnalysis::Off) {
        return Ok(Default::default());
    }
    if !crate::adapter::target::binds_with_duckdb(&session.target.engine) {
        log::event(
            "Note",
            Level::Debug,
            "static analysis: not run, as it binds with DuckDB and the target is not DuckDB",
            json!({}),
        );
        return Ok(Default::default());
    }
    let clock = Instant::now();
    let analysis = crate::analysis::analyse(session, &plan.order, catalog)?;
    let outcome = crate::analysis::report(&session.manifest, &analysis, clock.elapsed().as_secs_f64());
    if outcome.bound > 0 {
        session.write_manifest_with_columns(invocation, &analysis.columns())?;
    }
    Ok(outcome)
}

/// Static analysis found errors: nothing runs. The nodes with errors are `error` in
/// `run_results.json` (so that `retry` runs them again), every other node of the plan
/// `skipped`; the write ends without publishing. Returns exit code 1.
fn analysis_failed(
    session: &Session,
    plan: &Plan,
    database: Option<Database>,
    outcome: &crate::analysis::Outcome,
    started: Instant,
    invocation: &Invocation,
) -> Result<ExitCode> {
    if let Some(database) = database {
        database.finish(false)?;
        if session.target.engine.publish() {
            log::event(
                "Note",
                Level::Warn,
                "Not published: static analysis found errors; the published database is unchanged.",
                json!({}),
            );
        }
    }
    let results: Vec<super::NodeResult> = plan
        .order
        .iter()
        .map(|id| {
            let mut r = super::NodeResult::skipped(id);
            if outcome.errors.contains(id) {
                r.status = super::Status::Error;
                r.message = Some("static analysis: it does not bind (see the error above)".to_string());
            }
            r
        })
        .collect();
    log::blank();
    log::event(
        "Note",
        Level::Error,
        &format!(
            "Static analysis found {} and nothing was run.",
            crate::manifest::plural(outcome.errors.len(), "error")
        ),
        json!({}),
    );
    let elapsed = started.elapsed().as_secs_f64();
    artifacts::write_run_results(
        &session.project.target_dir(),
        &session.manifest,
        &results,
        elapsed,
        invocation,
    )?;
    Ok(ExitCode::from(1))
}

/// Runs (or compiles) the plan's nodes with the progress bar, each node's line as it finishes
/// and, when running, each result kept for a second signal's `run_results.json`.
fn run_and_report(
    session: &Session,
    plan: &Plan,
    compiler: &crate::compile::Compiler<'_>,
    adapter: Option<&crate::adapter::Adapter>,
    compiling: bool,
    finished: &Mutex<Vec<Value>>,
) -> Result<Vec<super::NodeResult>> {
    let total = plan.order.len();
    let progress = if compiling {
        None
    } else {
        log::start_progress(total)
    };
    let results = super::run_nodes(
        plan,
        compiler,
        adapter,
        !compiling,
        session.target.threads,
        &session.project.root,
        |index, r| {
            if !compiling {
                let entry = artifacts::run_result(&session.manifest, r);
                finished.lock().unwrap_or_else(|p| p.into_inner()).push(entry);
            }
            report_node(session, index, total, compiling, r);
        },
    );
    drop(progress);
    results
}

/// An `on-run-start` hook failed: no node runs. Says so, ends the write (publishing nothing),
/// writes `run_results.json` with the hooks' results and returns exit code 1.
fn start_hooks_failed(
    session: &Session,
    database: Option<Database>,
    start: &[super::NodeResult],
    started: Instant,
    invocation: &Invocation,
) -> Result<ExitCode> {
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
    let target_dir = session.project.target_dir();
    artifacts::write_run_results(&target_dir, &session.manifest, start, elapsed, invocation)?;
    Ok(ExitCode::from(1))
}

/// The note that `signal` stopped the run, and its exit code (128 + the signal).
fn interrupted_exit(session: &Session, signal: i32) -> ExitCode {
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
    ExitCode::from((128 + signal) as u8)
}

/// The note that publish mode does not cover the files `external` models of `plan` write.
fn warn_of_external_files_in_publish_mode(session: &Session, plan: &Plan) {
    let external: Vec<&str> = plan
        .order
        .iter()
        .map(|id| &session.manifest.nodes[id])
        .filter(|n| {
            matches!(
                n.materialization,
                crate::config::materialized::Materialization::External(_)
            )
        })
        .map(|n| n.name.as_str())
        .collect();
    if session.target.engine.publish() && !external.is_empty() {
        log::event(
            "Note",
            Level::Warn,
            &format!(
                "Publish mode builds the database in a copy, but external models write their files in place: \
                 the files of {} are replaced (each whole) as each model succeeds, and the published database reads them at once",
                external.join(", ")
            ),
            json!({}),
        );
    }
}

/// Runs the project's `on-run-start` or `on-run-end` hooks (`when`) on `write` with `extra`
/// in their context, logging each as dbt does. Nothing when compiling (`write` is `None`) or
/// when there are none.
///
/// Errors: a second connection cannot be opened (hook failures are results).
fn run_project_hooks(
    session: &Session,
    compiler: &crate::compile::Compiler<'_>,
    write: Option<&Adapter>,
    when: hooks::When,
    extra: minijinja::Value,
) -> Result<Vec<super::NodeResult>> {
    let templates = hooks::project_hooks(&session.project, when);
    let Some(write) = write.filter(|_| !templates.is_empty()) else {
        return Ok(Vec::new());
    };
    let s = if templates.len() == 1 { "" } else { "s" };
    log::event(
        "HooksRunning",
        Level::Info,
        &format!("Running {} {} hook{s}", templates.len(), when.key()),
        json!({"num_hooks": templates.len(), "hook_type": when.key()}),
    );
    let results = hooks::run(when, &templates, compiler, write, extra, |i, r| {
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
    })?;
    log::blank();
    Ok(results)
}

/// The results of the run so far (filled as nodes finish), for a second signal that ends the
/// process at once: it writes them, with every node of `plan` that had not finished as
/// skipped, so that `retry` runs the rest (see [`super::signals::on_hard_stop`]).
fn record_for_a_second_signal(
    session: &Session,
    plan: &Plan,
    started: Instant,
    invocation: &Invocation,
) -> Arc<Mutex<Vec<Value>>> {
    let finished: Arc<Mutex<Vec<Value>>> = Arc::default();
    let unfinished: Vec<(String, Value)> = plan
        .order
        .iter()
        .map(|id| {
            let mut r = super::NodeResult::skipped(id);
            r.message = Some("not finished: the run was stopped at once by a second signal".into());
            (id.clone(), artifacts::run_result(&session.manifest, &r))
        })
        .collect();
    let (results, target_dir, invocation) =
        (finished.clone(), session.project.target_dir(), invocation.clone());
    super::signals::on_hard_stop(move || {
        let mut results = results.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let done: std::collections::HashSet<String> = results
            .iter()
            .filter_map(|r| r["unique_id"].as_str().map(String::from))
            .collect();
        results.extend(
            unfinished
                .into_iter()
                .filter(|(id, _)| !done.contains(id))
                .map(|(_, r)| r),
        );
        let elapsed = started.elapsed().as_secs_f64();
        if let Err(e) = artifacts::write_run_results_of(&target_dir, results, elapsed, &invocation) {
            eprintln!("{e:#}");
        }
    });
    finished
}

/// The log lines of node result `r`, the `index`th of `total`. `compile` names only the nodes
/// that failed to compile, as dbt prints no line per node there.
fn report_node(session: &Session, index: usize, total: usize, compiling: bool, r: &super::NodeResult) {
    if compiling && r.status != super::Status::Error {
        return;
    }
    let node = &session.manifest.nodes[&r.unique_id];
    log::progress_done(&node.name);
    let level = match r.status {
        super::Status::Error | super::Status::Fail => Level::Error,
        super::Status::Warn => Level::Warn,
        _ => Level::Info,
    };
    let info = output::node_info(node, r);
    log::event(
        output::result_event(node, r),
        level,
        &output::progress_line(index, total, node, r, &session.target.database),
        json!({"index": index, "total": total, "status": r.status.as_str(),
               "execution_time": r.execution_time, "node_info": info.clone()}),
    );
    log::event(
        "NodeFinished",
        Level::Debug,
        &format!("Finished running node {}", r.unique_id),
        json!({"node_info": info}),
    );
}

/// The run's summary lines. They count kinds in plan order: with several workers, results
/// arrive in no fixed order, and "Finished running 2 view models, 1 table model" must not vary.
fn report_summary(session: &Session, plan: &Plan, results: &[super::NodeResult], elapsed: f64) {
    let position: std::collections::HashMap<&str, usize> = plan
        .order
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut in_plan_order: Vec<&super::NodeResult> = results.iter().collect();
    in_plan_order.sort_by_key(|r| position.get(r.unique_id.as_str()).copied().unwrap_or(usize::MAX));
    for (name, level, msg) in output::summary(&session.manifest, &in_plan_order, elapsed) {
        let data = if name == "Formatting" {
            json!({"msg": ""})
        } else {
            json!({})
        };
        log::event(name, level, &msg, data);
    }
}

/// Ends a writing run: commits (and in publish mode publishes) unless it `failed`, writes the
/// JUnit report of the nodes' results when asked and `run_results.json` with the results of
/// `[on-run-start hooks, nodes, on-run-end hooks]` (the project hooks are in it, as in dbt:
/// `operation.<project>...`), then forgets the record a second signal would have written.
///
/// Errors: the database cannot be finished; a report cannot be written.
fn finish(
    session: &Session,
    database: Database,
    args: &RunOptions,
    [start, nodes, end]: [&[super::NodeResult]; 3],
    failed: bool,
    elapsed: f64,
    invocation: &Invocation,
) -> Result<()> {
    match database.finish(!failed)? {
        Some(published) => log::info("Note", &format!("Published {}", published.display())),
        None if session.target.engine.publish() => log::event(
            "Note",
            Level::Warn,
            "Not published: the run failed; the published database is unchanged.",
            json!({}),
        ),
        None => {}
    }
    if let Some(path) = &args.junit_xml {
        artifacts::write_junit(path, &session.manifest, nodes, elapsed)
            .with_context(|| format!("cannot write the JUnit report `{}`", path.display()))?;
    }
    let all: Vec<super::NodeResult> = start.iter().chain(nodes).chain(end).cloned().collect();
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
    super::signals::clear_hard_stop();
    Ok(())
}
