//! `clone`: makes this target's relation of a node stand for the relation another run (the
//! `--state` manifest) built for it, as dbt's `clone` materialization does on an adapter that
//! cannot clone tables without copying (dbt-duckdb): a view `select * from <state relation>`.

use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use serde_json::json;

use super::run::state_relation;
use super::{output, NodeResult, Plan, Status, Timing};
use crate::adapter::database::Database;
use crate::adapter::{Adapter, RelationKind};
use crate::artifacts::{self, Invocation};
use crate::log;
use crate::relation::Relation;
use crate::session::Session;

/// What [`clone_node`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloned {
    /// The view over the state's relation was created (or replaced).
    Created,
    /// This target already has the relation, and `--full-refresh` was not given: untouched.
    Exists,
    /// The state manifest records no relation for the node: nothing to clone.
    NoState,
}

impl Cloned {
    /// The result message dbt records in `run_results.json` (`OK` or `No-op`).
    pub fn message(&self) -> &'static str {
        match self {
            Cloned::Created => "OK",
            Cloned::Exists | Cloned::NoState => "No-op",
        }
    }
}

/// Clones into `this` the relation `state` (from the state manifest; `None` when it records
/// none): a view over it, replacing a view of that name, and with `full_refresh` a table too
/// (dropped in the same transaction). An existing relation is left alone without
/// `full_refresh`, as dbt leaves it.
///
/// Errors: DuckDB's (e.g. the state's relation is not readable from this database); on an
/// error nothing changed.
pub fn clone_node(
    adapter: &Adapter,
    this: &Relation,
    state: Option<&Relation>,
    full_refresh: bool,
) -> anyhow::Result<Cloned> {
    let Some(state) = state else {
        return Ok(Cloned::NoState);
    };
    let existing = adapter.relation_kind(this)?;
    if existing.is_some() && !full_refresh {
        return Ok(Cloned::Exists);
    }
    adapter.ensure_schema(&this.database, &this.schema)?;
    let mut statements = Vec::new();
    if existing == Some(RelationKind::Table) {
        statements.push(format!("drop table {this}"));
    }
    statements.push(format!(
        "create or replace view {this} as (\n    select * from {state}\n  )"
    ));
    adapter.in_transaction(&statements)?;
    adapter.set_relation_kind(this, RelationKind::View);
    Ok(Cloned::Created)
}

/// Runs `clone` over `plan` as dbt 1.11 does with dbt-duckdb: no line per node, but a log line
/// for each node left alone (`Relation ... already exists`, `No relation found in state
/// manifest for ...`), the summary, and `run_results.json` (`OK` for a created view, `No-op`
/// otherwise). `state` is the other run's `manifest.json`. The nodes are cloned one after
/// another: each is one `create view`.
///
/// Returns exit code 1 when a node could not be cloned, else 0.
pub fn run(
    session: &Session,
    plan: &Plan,
    database: Database,
    state: &serde_json::Value,
    full_refresh: bool,
    started: Instant,
    invocation: &Invocation,
) -> anyhow::Result<ExitCode> {
    session.write_manifest(invocation)?;
    session.report_header();
    session.report_concurrency(plan.order.len());
    let adapter = database.adapter();
    let mut results = Vec::new();
    for id in &plan.order {
        let node = &session.manifest.nodes[id];
        let Some(this) = node.relation.as_ref() else {
            continue;
        };
        let began = Instant::now();
        let started_at = Utc::now();
        let outcome = clone_node(adapter, this, state_relation(state, id).as_ref(), full_refresh);
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
    // dbt's clone ends without the "Finished running ..." line (and the blank before it).
    let summary = output::summary(&session.manifest, &results.iter().collect::<Vec<_>>(), elapsed);
    let after_stats = summary
        .into_iter()
        .skip_while(|(name, _, _)| *name != "FinishedRunningStats")
        .skip(1);
    for (name, level, msg) in after_stats {
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
