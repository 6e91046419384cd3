//! `source freshness`: how long ago each source table was last loaded, against its
//! `freshness` thresholds, as dbt-core 1.11 with dbt-duckdb decides it.
//!
//! For a source table with a `freshness` that sets `warn_after` or `error_after`, and a
//! `loaded_at_field`, the query is dbt-duckdb's `collect_freshness`: the greatest
//! `loaded_at_field` (under the `filter`, when set) and the current time. The age is their
//! difference in seconds (timestamps without a zone read as UTC, as dbt reads them); the status
//! is `error` past `error_after`, else `warn` past `warn_after`, else `pass`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::output;
use crate::artifacts::Invocation;
use crate::manifest::Source;
use crate::session::Session;

/// Seconds in one `period` of a freshness threshold (`minute`, `hour`, `day`); `None` for
/// another word.
pub fn period_seconds(period: &str) -> Option<f64> {
    match period {
        "minute" => Some(60.0),
        "hour" => Some(3600.0),
        "day" => Some(86400.0),
        _ => None,
    }
}

/// A threshold (`{count, period}`) in seconds; `None` when unset or `count` is null.
///
/// Errors: a `period` that is not minute, hour or day.
fn threshold(t: &Value) -> Result<Option<f64>, String> {
    let Some(count) = t.get("count").and_then(Value::as_f64) else {
        return Ok(None);
    };
    let period = t.get("period").and_then(Value::as_str).unwrap_or("");
    period_seconds(period)
        .map(|s| Some(count * s))
        .ok_or_else(|| format!("freshness period `{period}` is not one of minute, hour, day"))
}

/// Whether a source's `freshness` (the merged mapping the manifest records) asks for a check:
/// `warn_after` or `error_after` with a count.
pub fn is_checked(freshness: &Value) -> bool {
    ["warn_after", "error_after"].iter().any(|k| {
        freshness
            .get(k)
            .and_then(|t| t.get("count"))
            .is_some_and(|c| !c.is_null())
    })
}

/// The query whose one column has the type of the greatest `loaded_at_field`, for
/// [`not_a_timestamp`].
pub fn type_query(relation: &str, loaded_at_field: &str) -> String {
    format!("select max({loaded_at_field}) from {relation}")
}

/// The error for a `loaded_at_field` of DuckDB type `type_name` that is not a date or
/// timestamp (dbt's "Expected a timestamp value" error), or `None` when it is one.
pub fn not_a_timestamp(loaded_at_field: &str, relation: &str, type_name: &str) -> Option<String> {
    let upper = type_name.to_ascii_uppercase();
    if upper == "DATE" || upper.starts_with("TIMESTAMP") {
        return None;
    }
    Some(format!(
        "Expected a timestamp value when querying field `{loaded_at_field}` of table {relation}, \
         but it is {type_name}: set `loaded_at_field` to a timestamp column or expression, \
         e.g. `cast({loaded_at_field} as timestamp)`"
    ))
}

/// The status for an age in seconds: `error`, `warn` or `pass`.
///
/// Errors: a threshold whose period is not minute, hour or day.
pub fn status(freshness: &Value, age: f64) -> Result<&'static str, String> {
    let error_after = threshold(freshness.get("error_after").unwrap_or(&Value::Null))?;
    let warn_after = threshold(freshness.get("warn_after").unwrap_or(&Value::Null))?;
    Ok(if error_after.is_some_and(|s| age > s) {
        "error"
    } else if warn_after.is_some_and(|s| age > s) {
        "warn"
    } else {
        "pass"
    })
}

/// A time as dbt writes it in `sources.json` (`2026-11-30T19:50:22.579793+00:00`), from epoch
/// seconds.
pub fn timestamp(epoch: f64) -> String {
    let secs = epoch.floor();
    let micros = ((epoch - secs) * 1e6).round() as u32;
    DateTime::<Utc>::from_timestamp(secs as i64, micros * 1000)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string())
        .unwrap_or_default()
}

/// The `criteria` of a result: `warn_after`, `error_after` (each `{count, period}`, the
/// unset ones `{count: null, period: null}` as dbt writes them) and `filter`.
pub fn criteria(freshness: &Value) -> Value {
    let unset = json!({"count": null, "period": null});
    json!({
        "warn_after": freshness.get("warn_after").filter(|v| !v.is_null()).cloned().unwrap_or(unset.clone()),
        "error_after": freshness.get("error_after").filter(|v| !v.is_null()).cloned().unwrap_or(unset),
        "filter": freshness.get("filter").cloned().unwrap_or(Value::Null),
    })
}

/// When a source table was last loaded: the greatest value of a column or expression
/// (`loaded_at_field`), or the one value of a query (`loaded_at_query`, dbt 1.10).
enum LoadedAt {
    Field(String),
    Query(String),
}

/// Runs `source freshness` on the sources of `chosen`: for each
/// table whose `freshness` sets `warn_after` or `error_after` and that has a
/// `loaded_at_field` or a `loaded_at_query`, how long ago it was loaded; one line per table as dbt prints them
/// (`PASS`, `WARN`, `ERROR STALE`, `ERROR` for a query that fails), then `sources.json` at
/// `output` (default: the target folder; dbt's schema v3, a table whose query failed left out,
/// as dbt 1.11 leaves it out). Reads the database read-only. A table with a freshness but no
/// `loaded_at_field` is named in a warning.
///
/// Exit codes as dbt's: 0 when every table passed or warned, 1 when one is stale past
/// `error_after` or its query failed; errors (exit code 2) when there is no database yet.
pub fn run(
    session: &Session,
    chosen: &BTreeSet<String>,
    output: Option<PathBuf>,
    started: std::time::Instant,
    invocation: &Invocation,
) -> Result<ExitCode> {
    use crate::log::{self, Level};
    let checked = checked_tables(session, chosen);
    let adapter = session.open_existing_read_only(
        "source freshness",
        "load the sources first (or build the project)",
    )?;
    session.report_header();
    log::blank();
    let total = checked.len();
    let mut results = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for (i, (source, f, loaded_at)) in checked.iter().enumerate() {
        let shown = format!("{}.{}", source.source_name, source.name);
        let t0 = chrono::Utc::now();
        let clock = std::time::Instant::now();
        let outcome = loaded_and_now(session, &adapter, source, f, loaded_at)
            .and_then(|(loaded, now)| status(f, now - loaded).map(|s| (loaded, now, s)));
        let secs = clock.elapsed().as_secs_f64();
        let t1 = chrono::Utc::now();
        let (word, level) = match &outcome {
            Ok((_, _, "pass")) => ("PASS", Level::Info),
            Ok((_, _, "warn")) => ("WARN", Level::Warn),
            Ok(_) => ("ERROR STALE", Level::Error),
            Err(_) => ("ERROR", Level::Error),
        };
        log::event(
            "LogFreshnessResult",
            level,
            &output::freshness_line(i + 1, total, &shown, word, secs),
            json!({"source_name": source.source_name, "table_name": source.name, "index": i + 1,
                   "total": total, "execution_time": secs,
                   "node_info": {"unique_id": source.unique_id, "resource_type": "source",
                                 "node_status": word.to_lowercase()}}),
        );
        match outcome {
            Ok((loaded, now, status)) => {
                if status == "error" {
                    failures.push(format!(
                        "Failure in source {} ({})\n  Status: error",
                        source.name, source.original_file_path
                    ));
                }
                let timing = Timing {
                    started: t0,
                    completed: t1,
                    secs,
                };
                results.push(result_json(source, f, (loaded, now), status, &timing));
            }
            Err(e) => failures.push(format!(
                "Runtime Error in source {} ({})\n  {}",
                source.name,
                source.original_file_path,
                crate::runner::indent(&e)
            )),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    log::blank();
    log::info(
        "FinishedRunningStats",
        &format!(
            "Finished running {} in {elapsed:.2}s.",
            crate::manifest::plural(total, "source")
        ),
    );
    for f in &failures {
        log::blank();
        log::event("RunResultError", Level::Error, f, json!({}));
    }
    let out = output.unwrap_or_else(|| session.project.target_dir().join("sources.json"));
    crate::artifacts::write_sources(&out, results, elapsed, invocation)?;
    log::info("StatsLine", "Done.");
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The chosen source tables whose freshness is checked, each with its freshness and how its
/// load time is read. A table with a freshness but neither `loaded_at_field` nor
/// `loaded_at_query` is named in a warning and left out.
fn checked_tables<'a>(session: &'a Session, chosen: &BTreeSet<String>) -> Vec<(&'a Source, Value, LoadedAt)> {
    use crate::log::{self, Level};
    let mut checked = Vec::new();
    for s in session
        .manifest
        .sources
        .values()
        .filter(|s| chosen.contains(&s.unique_id))
    {
        let f = s.properties.get("freshness").cloned().unwrap_or(Value::Null);
        if !is_checked(&f) {
            continue;
        }
        // dbt 1.10's `loaded_at_query` (one value: when the table was last loaded) wins over
        // `loaded_at_field`; it is read as the field of a one-row relation, without `filter`.
        let query = s.properties.get("loaded_at_query").and_then(Value::as_str);
        match (query, s.properties.get("loaded_at_field").and_then(Value::as_str)) {
            (Some(query), _) => checked.push((s, f, LoadedAt::Query(query.to_string()))),
            (None, Some(field)) => checked.push((s, f, LoadedAt::Field(field.to_string()))),
            (None, None) => log::event(
                "Note",
                Level::Warn,
                &format!(
                    "warning: source `{}.{}` has a freshness but no `loaded_at_field`: not checked \
                     (Mallard has no metadata-based freshness)",
                    s.source_name, s.name
                ),
                json!({}),
            ),
        }
    }
    checked
}

/// When `source` was last loaded and the database's current time, both in epoch seconds.
///
/// Errors (as the line dbt prints): the query fails (a field that is not a timestamp is said
/// so), `loaded_at_query` does not render, or no row has a load time.
fn loaded_and_now(
    session: &Session,
    adapter: &crate::adapter::Adapter,
    source: &Source,
    f: &Value,
    loaded_at: &LoadedAt,
) -> Result<(f64, f64), String> {
    let relation = source.relation.to_string();
    let sql: Result<String, String> = match loaded_at {
        LoadedAt::Field(field) => {
            Ok(adapter
                .dialect()
                .freshness_query(&relation, field, f.get("filter").and_then(Value::as_str)))
        }
        LoadedAt::Query(query) => session
            .compiler()
            .render_source_query(&source.original_file_path, query, &source.relation)
            .map(|query| {
                let query = format!("({})", query.trim().trim_end_matches(';'));
                adapter
                    .dialect()
                    .freshness_query("(select 1) as dbt_one_row", &query, None)
            })
            .map_err(|d| d.to_string()),
    };
    let field = match loaded_at {
        LoadedAt::Field(field) => field.as_str(),
        LoadedAt::Query(_) => "loaded_at_query",
    };
    let row = adapter.query_numbers(&sql?).map_err(|e| {
        // A field that is not a timestamp fails to bind: say that instead.
        adapter
            .columns(&type_query(&relation, field))
            .ok()
            .and_then(|columns| not_a_timestamp(field, &relation, &columns.first()?.data_type))
            .unwrap_or_else(|| e.to_string())
    })?;
    let loaded = row.first().copied().flatten();
    let loaded = loaded.ok_or(format!(
        "no row of `{}.{}` has a `{field}`",
        source.source_name, source.name
    ))?;
    let now = row.get(1).copied().flatten().ok_or("no current time")?;
    Ok((loaded, now))
}

/// When a freshness check ran: its start and end (UTC) and its seconds.
struct Timing {
    started: chrono::DateTime<chrono::Utc>,
    completed: chrono::DateTime<chrono::Utc>,
    secs: f64,
}

/// One table's entry of `sources.json` (dbt's schema v3): `(loaded, now)` in epoch seconds.
fn result_json(
    source: &Source,
    f: &Value,
    (loaded, now): (f64, f64),
    status: &str,
    timing: &Timing,
) -> Value {
    use crate::artifacts::timestamp as iso;
    json!({
        "unique_id": source.unique_id,
        "max_loaded_at": timestamp(loaded),
        "snapshotted_at": timestamp(now),
        "max_loaded_at_time_ago_in_s": now - loaded,
        "status": status,
        "criteria": criteria(f),
        "adapter_response": {"_message": "OK"},
        "timing": [
            {"name": "compile", "started_at": iso(timing.started), "completed_at": iso(timing.started)},
            {"name": "execute", "started_at": iso(timing.started), "completed_at": iso(timing.completed)},
        ],
        "thread_id": "Thread-1",
        "execution_time": timing.secs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_follows_the_thresholds() {
        let f = json!({"warn_after": {"count": 1, "period": "hour"}, "error_after": {"count": 2, "period": "day"}});
        assert!(is_checked(&f));
        assert_eq!(status(&f, 60.0), Ok("pass"));
        assert_eq!(status(&f, 7203.0), Ok("warn"));
        assert_eq!(status(&f, 2.0 * 86400.0 + 1.0), Ok("error"));
        let only_error = json!({"warn_after": {"count": null, "period": null}, "error_after": {"count": 1, "period": "day"}});
        assert_eq!(status(&only_error, 7203.0), Ok("pass"));
        assert!(!is_checked(
            &json!({"warn_after": {"count": null, "period": null}})
        ));
        assert!(status(&json!({"warn_after": {"count": 1, "period": "week"}}), 1.0).is_err());
        assert_eq!(timestamp(1_577_836_800.5), "2020-01-01T00:00:00.500000+00:00");
    }
}
