//! `mallard clone --state DIR`: this target's relations of the selected models, seeds and
//! snapshots as views over the relations the other run built (see [`crate::runner::clone`]).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;
use serde_json::json;

use super::args::RunArgs;
use super::{read_defer_state, state_relation, Session};
use crate::artifacts::{self, Invocation};
use crate::log::{self, Level};
use crate::manifest::ResourceType;
use crate::runner::clone::{clone_node, Cloned};
use crate::runner::{output, NodeResult, Status, Timing};

/// Runs `clone` as dbt 1.11 does with dbt-duckdb: no line per node, but a log line for each
/// node left alone (`Relation ... already exists`, `No relation found in state manifest for
/// ...`), the summary, and `run_results.json` (`OK` for a created view, `No-op` otherwise).
/// Ephemeral models have no relation and are left out. The nodes are cloned one after another:
/// each is one `create view`.
///
/// Exit codes: 0; 1 when a node could not be cloned; 2 without `--state` (before anything
/// is opened).
pub(super) fn clone(args: RunArgs, invocation: &Invocation) -> Result<ExitCode> {
    let started = Instant::now();
    let state = read_defer_state(&args, "clone")?;
    let session = Session::load(&args.project)?;
    let plan = session.plan(
        &args.select,
        &[ResourceType::Model, ResourceType::Seed, ResourceType::Snapshot],
        false,
        true,
    )?;
    let database = session.open_database(args.lock_timeout)?;
    session.write_manifest(invocation)?;
    session.report_header();
    log::event(
        "ConcurrencyLine",
        Level::Info,
        &format!(
            "Concurrency: {} threads (target='{}')",
            session.target.threads, session.target.name
        ),
        json!({"num_threads": session.target.threads, "target_name": session.target.name,
               "node_count": plan.order.len()}),
    );
    log::blank();
    let adapter = database.adapter();
    let mut results = Vec::new();
    for id in &plan.order {
        let node = &session.manifest.nodes[id];
        let Some(this) = node.relation.as_ref() else {
            continue;
        };
        let began = Instant::now();
        let started_at = Utc::now();
        let outcome = clone_node(
            adapter,
            this,
            state_relation(&state, id).as_ref(),
            args.full_refresh,
        );
        let (status, message) = match &outcome {
            Ok(Cloned::Exists) => {
                log::info("JinjaLogInfo", &format!("Relation {this} already exists"));
                (Status::Success, Cloned::Exists.message().to_string())
            }
            Ok(Cloned::NoState) => {
                log::info(
                    "JinjaLogInfo",
                    &format!("No relation found in state manifest for {id}"),
                );
                (Status::Success, Cloned::NoState.message().to_string())
            }
            Ok(created) => (Status::Success, created.message().to_string()),
            Err(e) => (Status::Error, format!("{e:#}")),
        };
        results.push(NodeResult {
            unique_id: id.clone(),
            status,
            message: Some(message),
            failures: None,
            execution_time: began.elapsed().as_secs_f64(),
            timing: vec![Timing {
                name: "execute",
                started_at,
                completed_at: Utc::now(),
            }],
            thread_id: "Thread-1".to_string(),
            compiled_code: None,
            rows_affected: None,
        });
    }
    let elapsed = started.elapsed().as_secs_f64();
    // dbt's clone ends without the "Finished running ..." line and the blank before it.
    let summary = output::summary(&session.manifest, &results, elapsed);
    for (name, level, msg) in summary.into_iter().skip(2) {
        log::event(name, level, &msg, json!({}));
    }
    let failed = results.iter().any(|r| r.status.is_failure());
    database.finish(!failed)?;
    artifacts::write_run_results(
        &session.project.target_dir(),
        &session.manifest,
        &results,
        elapsed,
        invocation,
    )?;
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
