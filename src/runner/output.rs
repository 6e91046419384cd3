//! What a run prints: one line per node as it finishes, and the summary at the end, in
//! dbt's words so that people and log scrapers used to dbt read them the same way.

use crate::log::Level;
use crate::manifest::{plural, Manifest, Node, ResourceType};

use super::{NodeResult, Status};

/// Width of the text before the `[STATUS]` box; dots fill the gap, as in dbt's log.
const LINE_WIDTH: usize = 80;

/// `3 of 17 OK created sql table model main.ltv ........ [OK in 0.12s]`; a relation in
/// another database than the target's (`target_database`) is shown with its database, as dbt
/// shows it (`other.main.ltv`).
pub fn progress_line(
    index: usize,
    total: usize,
    node: &Node,
    r: &NodeResult,
    target_database: &str,
) -> String {
    let relation = node
        .relation
        .as_ref()
        .map(|r| {
            if r.database == target_database {
                r.short()
            } else {
                format!("{}.{}", r.database, r.short())
            }
        })
        .unwrap_or_default();
    let kind = match node.resource_type {
        ResourceType::Seed => "seed file".to_string(),
        ResourceType::Snapshot => "snapshot".to_string(),
        _ => format!("sql {} model", node.materialized()),
    };
    let secs = format!("{:.2}s", r.execution_time);
    let failures = r.failures.unwrap_or(0);
    // A unit test is shown as `<model>::<test>`, as dbt does.
    let test_name = match (&node.unit_test, node.attached_node.as_deref()) {
        (Some(_), Some(model)) => format!("{}::{}", model.rsplit('.').next().unwrap_or(model), node.name),
        _ => node.name.clone(),
    };
    let is_test = matches!(node.resource_type, ResourceType::Test | ResourceType::UnitTest);
    let (text, status) = match (
        if is_test {
            ResourceType::Test
        } else {
            node.resource_type
        },
        r.status,
    ) {
        (_, Status::NoOp) => (
            format!("NO-OP {} {}", node.resource_type.as_str(), node.name),
            format!("NO-OP in {secs}"),
        ),
        (_, Status::Skipped) if is_test => (format!("SKIP test {test_name}"), "SKIP".to_string()),
        (_, Status::Skipped) => (format!("SKIP relation {relation}"), "SKIP".to_string()),
        (ResourceType::Test, Status::Pass) => (format!("PASS {test_name}"), format!("PASS in {secs}")),
        (ResourceType::Test, Status::Fail) => (
            format!("FAIL {failures} {test_name}"),
            format!("FAIL {failures} in {secs}"),
        ),
        (ResourceType::Test, Status::Warn) => (
            format!("WARN {failures} {test_name}"),
            format!("WARN {failures} in {secs}"),
        ),
        (ResourceType::Test, _) => (format!("ERROR {test_name}"), format!("ERROR in {secs}")),
        (ResourceType::Seed, Status::Success) => (
            format!("OK loaded {kind} {relation}"),
            format!("{} in {secs}", r.message.as_deref().unwrap_or("OK")),
        ),
        (ResourceType::Seed, _) => (
            format!("ERROR loading {kind} {relation}"),
            format!("ERROR in {secs}"),
        ),
        (ResourceType::Snapshot, Status::Success) if r.timing.len() >= 2 => {
            (format!("OK snapshotted {relation}"), format!("OK in {secs}"))
        }
        (ResourceType::Snapshot, Status::Error) => (
            format!("ERROR snapshotting {relation}"),
            format!("ERROR in {secs}"),
        ),
        (_, Status::Success) if r.timing.len() < 2 => {
            (format!("OK compiled {kind} {relation}"), format!("OK in {secs}"))
        }
        (_, Status::Success) => (format!("OK created {kind} {relation}"), format!("OK in {secs}")),
        (_, _) => (
            format!("ERROR creating {kind} {relation}"),
            format!("ERROR in {secs}"),
        ),
    };
    dotted(&format!("{index} of {total} {text} "), &status)
}

/// `head` filled with dots to [`LINE_WIDTH`] (at least three), then `[status]`: the shape of
/// every per-node line, as dbt's.
fn dotted(head: &str, status: &str) -> String {
    let dots = ".".repeat(LINE_WIDTH.saturating_sub(head.chars().count()).max(3));
    format!("{head}{dots} [{status}]")
}

/// `run-operation --sql`'s lines: `1 of 1 START executing inline_query .... [RUN]` before,
/// `1 of 1 OK executed inline_query .... [OK in 0.05s]` (or `ERROR`) after (`secs` `None`).
pub fn inline_query_line(ok: bool, secs: Option<f64>) -> String {
    match (secs, ok) {
        (None, _) => dotted("1 of 1 START executing inline_query ", "RUN"),
        (Some(secs), true) => dotted("1 of 1 OK executed inline_query ", &format!("OK in {secs:.2}s")),
        (Some(secs), false) => dotted(
            "1 of 1 ERROR executing inline_query ",
            &format!("ERROR in {secs:.2}s"),
        ),
    }
}

/// `1 of 3 WARN freshness of raw.events ........ [WARN in 0.04s]`: `word` is dbt's
/// (`PASS`, `WARN`, `ERROR STALE`, `ERROR`), `secs` the check's seconds.
pub fn freshness_line(index: usize, total: usize, source: &str, word: &str, secs: f64) -> String {
    dotted(
        &format!("{index} of {total} {word} freshness of {source} "),
        &format!("{word} in {secs:.2}s"),
    )
}

/// `1 of 1 OK hook: retention.on-run-start.0 ........ [OK in 0.01s]`, and for a failed hook
/// its error below the line.
pub fn hook_line(index: usize, total: usize, r: &NodeResult) -> String {
    // `operation.<project>.<project>-on-run-start-0` is shown as `<project>.on-run-start.0`.
    let name = r.unique_id.rsplit('.').next().unwrap_or(&r.unique_id);
    let shown = match name.rsplit_once('-') {
        Some((head, i)) => match head.split_once("-on-run-") {
            Some((project, when)) => format!("{project}.on-run-{when}.{i}"),
            None => name.to_string(),
        },
        None => name.to_string(),
    };
    let secs = format!("{:.2}s", r.execution_time);
    let (word, status) = if r.status == Status::Error {
        ("ERROR", format!("ERROR in {secs}"))
    } else {
        ("OK", format!("OK in {secs}"))
    };
    let mut line = dotted(&format!("{index} of {total} {word} hook: {shown} "), &status);
    if r.status == Status::Error {
        line.push_str(&format!("\n\n{}\n", r.message.as_deref().unwrap_or("")));
    }
    line
}

/// The lines after the last node, as dbt's events (name, level, message; `Formatting` for a
/// blank line): what ran (`FinishedRunningStats`), the outcome (`EndOfRunSummary`), the
/// errors, failures (`RunResultError`, `RunResultFailure`) and warnings (`RunResultWarning`)
/// in full, and the counts (`StatsLine`). `elapsed` is the run's wall time in seconds.
pub fn summary(
    manifest: &Manifest,
    results: &[&NodeResult],
    elapsed: f64,
) -> Vec<(&'static str, Level, String)> {
    let mut out: Vec<(&'static str, Level, String)> = Vec::new();
    let blank = ("Formatting", Level::Info, String::new());
    let what = what_ran(manifest, results);
    out.push(blank.clone());
    out.push((
        "FinishedRunningStats",
        Level::Info,
        format!("Finished running {what} in {elapsed:.2}s."),
    ));

    let count = |s: Status| results.iter().filter(|r| r.status == s).count();
    let errors = count(Status::Error) + count(Status::Fail);
    let warnings = count(Status::Warn);
    if errors == 0 && warnings == 0 {
        out.push(blank.clone());
        out.push((
            "EndOfRunSummary",
            Level::Info,
            "Completed successfully".to_string(),
        ));
    } else {
        out.push(blank.clone());
        out.push((
            "EndOfRunSummary",
            Level::Info,
            format!(
                "Completed with {} and {}:",
                plural(errors, "error"),
                plural(warnings, "warning")
            ),
        ));
        for r in results
            .iter()
            .filter(|r| r.status.is_failure() || r.status == Status::Warn)
        {
            let (event, level, text) = problem(manifest, r);
            out.push(blank.clone());
            out.push((event, level, text));
        }
    }
    out.push(blank);
    out.push((
        "StatsLine",
        Level::Info,
        format!(
            "Done. PASS={} WARN={} ERROR={} SKIP={} NO-OP={} TOTAL={}",
            count(Status::Success) + count(Status::Pass),
            warnings,
            errors,
            count(Status::Skipped),
            count(Status::NoOp),
            results.len()
        ),
    ));
    out
}

/// What a run ran, by kind in dbt's order (seeds, models by materialization, snapshots, tests):
/// `3 seeds, 2 table models, 1 data test`. Empty for no results.
fn what_ran(manifest: &Manifest, results: &[&NodeResult]) -> String {
    let mut kinds: Vec<(String, usize)> = Vec::new();
    let mut bump = |k: String| match kinds.iter_mut().find(|(name, _)| *name == k) {
        Some(e) => e.1 += 1,
        None => kinds.push((k, 1)),
    };
    let mut sorted: Vec<&NodeResult> = results.to_vec();
    sorted.sort_by_key(|r| kind_rank(&manifest.nodes[&r.unique_id]));
    for r in &sorted {
        let n = &manifest.nodes[&r.unique_id];
        bump(match n.resource_type {
            ResourceType::Seed => "seed".to_string(),
            ResourceType::Test => "data test".to_string(),
            ResourceType::UnitTest => "unit test".to_string(),
            ResourceType::Snapshot => "snapshot".to_string(),
            _ => format!("{} model", n.materialized()),
        });
    }
    let what = kinds
        .iter()
        .map(|(k, n)| plural(*n, k))
        .collect::<Vec<_>>()
        .join(", ");
    what
}

/// The summary's entry for a result that failed, errored or warned: its event, level and
/// text (dbt's `Failure in test ...` heading for failures and warnings, the message alone for
/// errors).
fn problem(manifest: &Manifest, r: &NodeResult) -> (&'static str, Level, String) {
    let n = &manifest.nodes[&r.unique_id];
    let body = r.message.as_deref().unwrap_or("");
    let (event, level) = match r.status {
        Status::Fail => ("RunResultFailure", Level::Error),
        Status::Warn => ("RunResultWarning", Level::Warn),
        _ => ("RunResultError", Level::Error),
    };
    let text = match r.status {
        Status::Fail if n.resource_type == ResourceType::UnitTest => {
            format!(
                "Failure in unit_test {} ({})\n  {body}",
                n.name, n.original_file_path
            )
        }
        Status::Fail => format!("Failure in test {} ({})\n  {body}", n.name, n.original_file_path),
        Status::Warn => format!("Warning in test {} ({})\n  {body}", n.name, n.original_file_path),
        _ => body.to_string(),
    };
    (event, level, text)
}

/// Seeds, then models, then tests, as dbt lists them in the summary.
fn kind_rank(n: &Node) -> u8 {
    match n.resource_type {
        ResourceType::Seed => 0,
        ResourceType::Model => 1,
        ResourceType::Snapshot => 2,
        _ => 3,
    }
}

/// Rows as a Markdown-style table (`| a | b |`, a rule, then one line per row), as `show`
/// prints them; NULL as `null`. An empty result gives the header and rule only.
pub fn table(columns: &[String], rows: &[Vec<crate::adapter::Cell>]) -> String {
    crate::log::text_table(
        columns,
        rows.iter()
            .map(|r| r.iter().map(ToString::to_string).collect())
            .collect(),
    )
}

/// The dbt event that reports a finished node: `LogSeedResult`, `LogSnapshotResult`,
/// `LogTestResult` (data and unit tests), `SkippingDetails` for a skipped node, else
/// `LogModelResult` (dbt-core 1.11's names, which dagster-dbt and other log readers match).
pub fn result_event(node: &Node, r: &NodeResult) -> &'static str {
    match (node.resource_type, r.status) {
        (ResourceType::Test | ResourceType::UnitTest, _) => "LogTestResult",
        (_, Status::Skipped) => "SkippingDetails",
        (ResourceType::Seed, _) => "LogSeedResult",
        (ResourceType::Snapshot, _) => "LogSnapshotResult",
        _ => "LogModelResult",
    }
}

/// dbt's `node_info` of a node's events: `unique_id`, `node_name`, `node_path`,
/// `resource_type`, `materialized`, `node_status` (run_results' status), `node_started_at` and
/// `node_finished_at` (UTC, ISO 8601 without zone, as dbt; empty before the node ran),
/// `node_checksum`, `meta` and `node_relation`.
pub fn node_info(node: &Node, r: &NodeResult) -> serde_json::Value {
    let at = |t: Option<&chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string())
            .unwrap_or_default()
    };
    let relation = node.relation.as_ref().map(|rel| {
        serde_json::json!({
            "database": rel.database,
            "schema": rel.schema,
            "alias": rel.identifier,
            "relation_name": rel.to_string(),
        })
    });
    serde_json::json!({
        "unique_id": node.unique_id,
        "node_name": node.name,
        "node_path": node.path,
        "resource_type": node.resource_type.as_str(),
        "materialized": node.materialized(),
        "node_status": r.status.as_str(),
        "node_started_at": at(r.timing.first().map(|t| &t.started_at)),
        "node_finished_at": at(r.timing.last().map(|t| &t.completed_at)),
        "node_checksum": node.checksum,
        "meta": node.config.0.get("meta").cloned().unwrap_or_else(|| serde_json::json!({})),
        "node_relation": relation,
    })
}
