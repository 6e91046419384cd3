//! dbt 1.9's `microbatch` incremental strategy, as dbt-core plans batches
//! (`materializations/incremental/microbatch.py`) and dbt-duckdb writes each one
//! (`incremental_strategy/microbatch.sql`): the model is built in windows of its `event_time`
//! (`batch_size`: hour, day, month or year), each window rendered with the `ref()`s and
//! `source()`s of upstreams that have an `event_time` of their own filtered to it, and each
//! window replaced in the table in a transaction of its own (delete the window's rows, insert the
//! new ones).
//!
//! Which windows: from `--event-time-start` (truncated to a batch), else from `begin` on a first
//! build or a full refresh, else `lookback` + 1 batches before the end; to `--event-time-end`,
//! else the run's start, rounded up to a batch boundary. All times are UTC.

use anyhow::Result;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

use crate::adapter::Adapter;
use crate::config::materialized::MicrobatchConfig;
use crate::error::Diagnostic;
use crate::relation::{quote, Relation};

/// A batch's length (`batch_size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchSize {
    Hour,
    Day,
    Month,
    Year,
}

/// One window of `event_time`: from `start` (included) to `end` (excluded), UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
}

impl Batch {
    /// A bound as dbt writes it into SQL (Python's `str` of a UTC datetime):
    /// `2024-01-01 00:00:00+00:00`.
    pub fn text(t: NaiveDateTime) -> String {
        // Python shows microseconds only when there are some.
        let format = if t.nanosecond() / 1000 == 0 {
            "%Y-%m-%d %H:%M:%S"
        } else {
            "%Y-%m-%d %H:%M:%S%.6f"
        };
        format!("{}+00:00", t.format(format))
    }

    /// dbt's batch id: the start as its batch size shows it, without dashes (`20240101` for a
    /// day, `20240101T16` for an hour, `202401` for a month, `2024` for a year).
    pub fn id(&self, size: BatchSize) -> String {
        let format = match size {
            BatchSize::Year => "%Y",
            BatchSize::Month => "%Y%m",
            BatchSize::Day => "%Y%m%d",
            BatchSize::Hour => "%Y%m%dT%H",
        };
        self.start.format(format).to_string()
    }

    /// `event_time >= 'start' and event_time < 'end'`, as dbt filters a window.
    pub fn predicate(&self, event_time: &str) -> String {
        format!(
            "{event_time} >= '{}' and {event_time} < '{}'",
            Batch::text(self.start),
            Batch::text(self.end)
        )
    }
}

/// A microbatch model's settings, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub event_time: String,
    pub batch_size: BatchSize,
    pub begin: Option<NaiveDateTime>,
    pub lookback: i64,
}

impl Plan {
    /// Validates `config` of model `name` (which has `unique_key` keys), as dbt and dbt-duckdb do.
    ///
    /// Errors: no `event_time`; a missing or unknown `batch_size`; a `begin` that is not a date
    /// or time; a `unique_key` (dbt-duckdb refuses it: a batch replaces its window, not keys).
    pub fn from_config(
        config: &MicrobatchConfig,
        unique_key: &[String],
        name: &str,
    ) -> Result<Plan, Diagnostic> {
        let event_time = config.event_time.clone().ok_or_else(|| {
            Diagnostic::new(format!(
                "microbatch model `{name}` requires an `event_time` config (its column that places each row in a batch)"
            ))
        })?;
        let batch_size = match config.batch_size.as_deref() {
            Some("hour") => BatchSize::Hour,
            Some("day") => BatchSize::Day,
            Some("month") => BatchSize::Month,
            Some("year") => BatchSize::Year,
            other => {
                return Err(Diagnostic::new(format!(
                    "microbatch model `{name}` has {} `batch_size` config: use one of hour, day, month, year",
                    other.map_or("no".to_string(), |o| format!("an invalid (`{o}`)"))
                )))
            }
        };
        if !unique_key.is_empty() {
            return Err(Diagnostic::new(format!(
                "microbatch model `{name}` sets `unique_key`, which the microbatch strategy does not use (each batch replaces its `event_time` window, as in dbt-duckdb)"
            ))
            .help("remove `unique_key`, or use incremental_strategy='merge'"));
        }
        let begin = match &config.begin {
            None => None,
            Some(text) => Some(parse_time(text).ok_or_else(|| {
                Diagnostic::new(format!(
                    "microbatch model `{name}`: `begin: {text}` is not a date or time (write `2024-01-01` or `2024-01-01 06:00:00`)"
                ))
            })?),
        };
        Ok(Plan {
            event_time,
            batch_size,
            begin,
            lookback: config.lookback.unwrap_or(1).max(0),
        })
    }

    /// The batches to build, in order: see the module's documentation. `incremental` is whether
    /// the table exists and this is not a full refresh; `now` is the run's start (UTC).
    ///
    /// Errors: a first build without `--event-time-start` and without `begin`.
    pub fn batches(
        &self,
        incremental: bool,
        event_time_start: Option<NaiveDateTime>,
        event_time_end: Option<NaiveDateTime>,
        now: NaiveDateTime,
        name: &str,
    ) -> Result<Vec<Batch>, Diagnostic> {
        let size = self.batch_size;
        let end = ceiling(event_time_end.unwrap_or(now), size);
        let start = match (event_time_start, incremental) {
            (Some(start), _) => truncate(start, size),
            (None, false) => truncate(
                self.begin.ok_or_else(|| {
                    Diagnostic::new(format!(
                        "microbatch model `{name}` requires a `begin` config for its first build"
                    ))
                })?,
                size,
            ),
            // The end is on a batch boundary, so the batch before it counts too (dbt's).
            (None, true) => offset(end, size, -(self.lookback + 1)),
        };
        let mut batches = vec![Batch {
            start,
            end: offset(start, size, 1),
        }];
        while batches.last().is_some_and(|b| b.end < end) {
            let from = batches.last().map_or(start, |b| b.end);
            batches.push(Batch {
                start: from,
                end: offset(from, size, 1),
            });
        }
        if let Some(last) = batches.last_mut() {
            last.end = end;
        }
        Ok(batches)
    }
}

/// A time written as dbt accepts `begin` and `--event-time-start`: `2024-01-01`,
/// `2024-01-01 06:00:00`, `2024-01-01T06:00:00` (seconds and fractions optional); `None`
/// otherwise.
pub fn parse_time(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim().trim_end_matches('Z').trim_end_matches("+00:00");
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
}

/// dbt 1.10's `--sample`: `N unit` (`3 days`, `1 month`; hours, days, months or years) is
/// the window from `now` less that much to `now`; `{start: ..., end: ...}` (YAML) is that
/// window. Returns `(start, end)`, UTC.
///
/// Errors: any other text, with dbt's forms in the message.
pub fn sample_window(text: &str, now: NaiveDateTime) -> Result<(NaiveDateTime, NaiveDateTime), String> {
    let forms = "write `--sample '3 days'` (hours, days, months, years) or `--sample \"{start: 2024-01-01, end: 2024-01-08}\"`";
    if text.trim_start().starts_with('{') {
        let map: serde_yaml::Mapping =
            serde_yaml::from_str(text).map_err(|e| format!("`--sample {text}`: {e}; {forms}"))?;
        let bound = |key: &str| {
            map.get(key)
                .and_then(|v| match v {
                    serde_yaml::Value::String(s) => parse_time(s),
                    _ => None,
                })
                .ok_or_else(|| format!("`--sample {text}` has no `{key}` time; {forms}"))
        };
        return Ok((bound("start")?, bound("end")?));
    }
    let (count, unit) = text
        .trim()
        .split_once(' ')
        .ok_or_else(|| format!("`--sample {text}`: {forms}"))?;
    let count: i64 = count
        .parse()
        .map_err(|_| format!("`--sample {text}`: `{count}` is not a whole number; {forms}"))?;
    let start = match unit.trim().to_ascii_lowercase().trim_end_matches('s') {
        "hour" => now - Duration::hours(count),
        "day" => now - Duration::days(count),
        "month" => now
            .checked_sub_months(chrono::Months::new(count.max(0) as u32))
            .unwrap_or(now),
        "year" => now
            .checked_sub_months(chrono::Months::new(12 * count.max(0) as u32))
            .unwrap_or(now),
        other => {
            return Err(format!(
                "`--sample {text}`: `{other}` is not hours, days, months or years; {forms}"
            ))
        }
    };
    Ok((start, now))
}

/// `t` at the start of its batch.
pub fn truncate(t: NaiveDateTime, size: BatchSize) -> NaiveDateTime {
    let day = t.date();
    let date = match size {
        BatchSize::Hour | BatchSize::Day => day,
        BatchSize::Month => day.with_day(1).unwrap_or(day),
        BatchSize::Year => NaiveDate::from_ymd_opt(day.year(), 1, 1).unwrap_or(day),
    };
    let hour = if size == BatchSize::Hour { t.hour() } else { 0 };
    date.and_hms_opt(hour, 0, 0).unwrap_or(t)
}

/// The start of the batch `n` batches after (before, for a negative `n`) the one `t` is in.
pub fn offset(t: NaiveDateTime, size: BatchSize, n: i64) -> NaiveDateTime {
    let start = truncate(t, size);
    match size {
        BatchSize::Hour => start + Duration::hours(n),
        BatchSize::Day => start + Duration::days(n),
        BatchSize::Month | BatchSize::Year => {
            let months = if size == BatchSize::Year { 12 * n } else { n };
            let index = i64::from(start.year()) * 12 + i64::from(start.month0()) + months;
            NaiveDate::from_ymd_opt(index.div_euclid(12) as i32, index.rem_euclid(12) as u32 + 1, 1)
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .unwrap_or(start)
        }
    }
}

/// `t` rounded up to a batch boundary (itself when it is on one).
pub fn ceiling(t: NaiveDateTime, size: BatchSize) -> NaiveDateTime {
    let start = truncate(t, size);
    if start == t {
        t
    } else {
        offset(start, size, 1)
    }
}

/// Replaces `batch`'s window of `relation` by the rows of `sql` (the model rendered for that
/// batch) that fall in it, in one transaction, as dbt-duckdb does: a temporary table of `sql`,
/// the window's rows deleted, the new ones inserted. `pre`/`post` hooks run around it.
///
/// Errors: DuckDB's; the table is as it was when one is returned.
pub fn replace_window(
    adapter: &Adapter,
    relation: &Relation,
    sql: &str,
    plan: &Plan,
    batch: &Batch,
    hooks: &super::Hooks,
) -> Result<()> {
    let dialect = adapter.dialect();
    let temp = dialect.temp_table(relation);
    let target = relation.to_string();
    let window = batch.predicate(&plan.event_time);
    let body = super::strip_trailing_semicolon(sql);
    adapter.transaction(|a| {
        for hook in &hooks.pre {
            a.execute(hook)?;
        }
        a.execute(&dialect.create_temp_table(&temp, body))?;
        let columns: Vec<String> = a.columns(&target)?.iter().map(|c| quote(&c.name)).collect();
        let columns = columns.join(", ");
        a.execute(&format!("delete from {target}\nwhere {window}"))?;
        a.execute(&format!(
            "insert into {target} ({columns})\nselect {columns}\nfrom {temp}\nwhere {window}"
        ))?;
        for hook in &hooks.post {
            a.execute(hook)?;
        }
        a.execute(&dialect.drop_temp_table(&temp))?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        parse_time(text).unwrap()
    }

    #[test]
    fn times_move_to_batch_boundaries_as_dbts_do() {
        let t = at("2024-09-17 16:06:00");
        assert_eq!(truncate(t, BatchSize::Hour), at("2024-09-17 16:00:00"));
        assert_eq!(offset(t, BatchSize::Day, -1), at("2024-09-16"));
        assert_eq!(offset(t, BatchSize::Month, 1), at("2024-10-01"));
        assert_eq!(offset(at("2024-01-15"), BatchSize::Month, -1), at("2023-12-01"));
        assert_eq!(offset(t, BatchSize::Year, -1), at("2023-01-01"));
        assert_eq!(ceiling(t, BatchSize::Day), at("2024-09-18"));
        assert_eq!(ceiling(at("2024-09-01"), BatchSize::Month), at("2024-09-01"));
    }

    #[test]
    fn a_sample_is_a_window_before_now_or_the_one_given() {
        let now = at("2024-03-31 12:00:00");
        assert_eq!(sample_window("3 days", now), Ok((at("2024-03-28 12:00:00"), now)));
        assert_eq!(
            sample_window("1 month", now),
            Ok((at("2024-02-29 12:00:00"), now))
        );
        assert_eq!(
            sample_window("{start: '2024-01-01', end: '2024-01-03 06:00:00'}", now),
            Ok((at("2024-01-01"), at("2024-01-03 06:00:00")))
        );
        assert!(sample_window("3 weeks", now)
            .unwrap_err()
            .contains("`week` is not hours"));
        assert_eq!(
            Batch::text(at("2024-01-01 00:00:00.5")),
            "2024-01-01 00:00:00.500000+00:00"
        );
    }

    #[test]
    fn settings_are_checked_as_dbt_and_dbt_duckdb_check_them() {
        let config = |batch_size: Option<&str>| MicrobatchConfig {
            event_time: Some("event_at".into()),
            batch_size: batch_size.map(str::to_string),
            begin: Some("2024-01-01".into()),
            lookback: None,
        };
        let plan = Plan::from_config(&config(Some("month")), &[], "m").unwrap();
        assert_eq!((plan.batch_size, plan.lookback), (BatchSize::Month, 1));
        let err =
            |c: &MicrobatchConfig, keys: &[String]| Plan::from_config(c, keys, "m").unwrap_err().message;
        assert!(err(&config(None), &[]).contains("has no `batch_size` config"));
        assert!(err(&config(Some("week")), &[]).contains("an invalid (`week`) `batch_size`"));
        assert!(err(&config(Some("day")), &["id".to_string()]).contains("sets `unique_key`"));
        let no_time = MicrobatchConfig {
            event_time: None,
            ..config(Some("day"))
        };
        assert!(err(&no_time, &[]).contains("requires an `event_time` config"));
        let plan = Plan::from_config(&config(Some("day")), &[], "m").unwrap();
        let first = Plan { begin: None, ..plan };
        let now = at("2024-01-02");
        assert!(first
            .batches(false, None, None, now, "m")
            .unwrap_err()
            .message
            .contains("requires a `begin`"));
    }

    #[test]
    fn a_first_build_starts_at_begin_and_a_later_one_redoes_the_lookback() {
        let plan = Plan {
            event_time: "event_at".into(),
            batch_size: BatchSize::Day,
            begin: Some(at("2024-01-01")),
            lookback: 1,
        };
        let now = at("2024-01-03 10:00:00");
        let first = plan.batches(false, None, None, now, "m").unwrap();
        let starts: Vec<String> = first.iter().map(|b| b.id(BatchSize::Day)).collect();
        assert_eq!(starts, ["20240101", "20240102", "20240103"]);
        assert_eq!(first[2].end, at("2024-01-04"));
        let again = plan.batches(true, None, None, now, "m").unwrap();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0].start, at("2024-01-02"));
        let window = plan
            .batches(
                true,
                Some(at("2024-01-01 05:00:00")),
                Some(at("2024-01-02")),
                now,
                "m",
            )
            .unwrap();
        assert_eq!(
            window,
            vec![Batch {
                start: at("2024-01-01"),
                end: at("2024-01-02")
            }]
        );
        assert_eq!(
            window[0].predicate("event_at"),
            "event_at >= '2024-01-01 00:00:00+00:00' and event_at < '2024-01-02 00:00:00+00:00'"
        );
    }
}
