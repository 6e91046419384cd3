//! `source freshness`: how long ago each source table was last loaded, against its
//! `freshness` thresholds, as dbt-core 1.11 with dbt-duckdb decides it.
//!
//! For a source table with a `freshness` that sets `warn_after` or `error_after`, and a
//! `loaded_at_field`, the query is dbt-duckdb's `collect_freshness`: the greatest
//! `loaded_at_field` (under the `filter`, when set) and the current time. The age is their
//! difference in seconds (timestamps without a zone read as UTC, as dbt reads them); the status
//! is `error` past `error_after`, else `warn` past `warn_after`, else `pass`.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

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

/// dbt-duckdb's freshness query for `relation` (already quoted): the epoch seconds of the
/// greatest `loaded_at_field` and of now.
pub fn query(relation: &str, loaded_at_field: &str, filter: Option<&str>) -> String {
    let filter = filter.map(|f| format!(" where {f}")).unwrap_or_default();
    format!(
        "select epoch(max({loaded_at_field})) as max_loaded_at, epoch(now()) as snapshotted_at \
         from {relation}{filter}"
    )
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
