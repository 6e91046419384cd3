//! The example warehouse built from the committed seeds, with every mart's output under an
//! insta snapshot, so that a change to a model shows up as a reviewable diff.
//!
//! Values are printed by DuckDB with floats to 6 significant digits, so float noise cannot
//! flip a snapshot. Small marts are snapshotted row by row; per-customer marts as a summary plus an
//! MD5 of every row in key order, so that any change to any row still changes the snapshot.

mod common;

use common::relations::{self, value_sql, Floats};
use common::{rows, rows_with_header, Project};

/// Every column of `table` as `(name, expression printing it as text)`, in table order,
/// floats to 6 significant digits (so 3.4e-16 stays readable and float noise cannot show).
fn printable_columns(db: &duckdb::Connection, table: &str) -> Vec<(String, String)> {
    let types = rows(
        db,
        &format!("select column_name, data_type from information_schema.columns where table_name = '{table}' order by ordinal_position"),
    );
    types
        .lines()
        .map(|l| {
            let (col, ty) = l.split_once('\t').expect("two fields");
            let expr = format!(
                "({})::varchar",
                value_sql(&format!("t.\"{col}\""), ty, Floats::Rounded)
            );
            (col.to_string(), expr)
        })
        .collect()
}

/// `a, b` as `t."a", t."b"`: sort keys on the table's own columns, so numbers sort as numbers.
fn qualified(order_by: &str) -> String {
    order_by
        .split(',')
        .map(|c| format!("t.\"{}\"", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A header line plus every row of `table` ordered by `order_by` (column names).
fn full_table(db: &duckdb::Connection, table: &str, order_by: &str) -> String {
    let cols = printable_columns(db, table);
    let header = cols
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join("\t");
    let select = cols
        .iter()
        .map(|(_, e)| e.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let body = rows(
        db,
        &format!(
            "select {select} from {table} as t order by {}",
            qualified(order_by)
        ),
    );
    format!("{header}\n{body}")
}

/// The row count and the MD5 of all rows, printed as in [`full_table`], in `order_by` order.
fn fingerprint(db: &duckdb::Connection, table: &str, order_by: &str) -> String {
    let line = printable_columns(db, table)
        .into_iter()
        .map(|(_, e)| format!("coalesce({e}, 'NULL')"))
        .collect::<Vec<_>>()
        .join(", ");
    rows(
        db,
        &format!(
            "select count(*), md5(string_agg(concat_ws('|', {line}), chr(10) order by {})) from {table} as t",
            qualified(order_by)
        ),
    )
}

#[test]
fn every_mart_matches_its_snapshot() {
    let p = Project::warehouse();
    let run = p.run(&["build"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    // Every singular test of the project (tests/singular, its test-paths) ran and passed.
    let results: serde_json::Value = serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let passed: Vec<&str> = results["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == "pass")
        .filter_map(|r| r["unique_id"].as_str())
        .collect();
    let singular =
        std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/singular")).unwrap();
    let mut count = 0;
    for entry in singular {
        let name = entry
            .unwrap()
            .file_name()
            .to_string_lossy()
            .trim_end_matches(".sql")
            .to_string();
        let id = format!("test.retention.{name}");
        assert!(
            passed.contains(&id.as_str()),
            "singular test {id} did not run and pass: {passed:?}"
        );
        count += 1;
    }
    assert!(
        count >= 2,
        "tests/singular holds the warehouse's checks of published facts"
    );
    assert!(
        run.stdout.contains(" WARN=0 ERROR=0 SKIP=0 "),
        "warnings or errors:\n{}",
        run.stdout
    );
    let db = p.db("retention.duckdb");

    // Marts small enough to read row by row, with the key order of each.
    let full = [
        ("order_cohorts", "store, cohort_month, month_number"),
        ("ltv", "store, cohort_month, month_number"),
        ("ab_test_performance", "ab_group"),
        ("guardrail_metrics", "ab_group"),
        ("crm_cohort_retention", "cohort_key"),
        ("app_cohort_retention", "cohort_type, cohort_start"),
        ("engagement_daily", "activity_date"),
        ("conversion_funnel", "step_number"),
        ("paying_user_activity", "activity_status"),
        ("repeat_purchases", "segment_type, segment_value"),
    ];
    for (mart, order_by) in full {
        insta::assert_snapshot!(mart, full_table(&db, mart, order_by));
    }

    // Per-user marts: a summary to read, and a fingerprint of every row to catch any change.
    let summarized = [
        (
            "rfm_segments",
            "customer_id",
            "select segment, count(*) as customers, round(avg(recency_days), 1) as avg_recency_days, \
             round(avg(frequency), 2) as avg_frequency, sum(monetary_usd) as monetary_usd \
             from rfm_segments group by segment order by segment",
        ),
        (
            "churn_definition",
            "user_id",
            "select tier, count(*) as users, round(any_value(threshold_ntile), 3) as threshold_ntile, \
             round(any_value(threshold_p75), 3) as threshold_p75, count(*) filter (where is_high_risk) as high_risk, \
             count(*) filter (where is_high_risk_ntile) as high_risk_ntile \
             from churn_definition group by tier order by tier",
        ),
        (
            "personalization_matching",
            "match_key",
            "select match_type, count(*) as matches, count(distinct user_id) as users, \
             round(avg(wage_uplift_pct), 4) as avg_wage_uplift_pct \
             from personalization_matching group by match_type order by match_type",
        ),
        (
            "user_segments",
            "user_id",
            "select segment, churn_risk_level, count(*) as users, round(avg(days_active_30), 2) as avg_days_active_30 \
             from user_segments group by all order by all",
        ),
        (
            "retention_triggers",
            "trigger_key",
            "select trigger_type, priority, channels, count(*) as users \
             from retention_triggers group by all order by all",
        ),
    ];
    for (mart, key, summary) in summarized {
        let text = format!(
            "{}\n\nall rows (count, md5): {}",
            rows_with_header(&db, summary),
            fingerprint(&db, mart, key)
        );
        insta::assert_snapshot!(mart, text);
    }
}

/// Every column of every mart is documented in property YAML, and nothing documented is
/// missing from the table: the docs a reader relies on match what the model builds.
#[test]
fn every_mart_column_is_documented() {
    let p = Project::warehouse();
    let run = p.run(&["build", "--select", "+marts", "--exclude", "resource_type:test"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let manifest: serde_json::Value = serde_json::from_str(&p.read("target/manifest.json")).unwrap();
    let db = p.db("retention.duckdb");
    let mut problems = Vec::new();
    for node in manifest["nodes"].as_object().unwrap().values() {
        let path = node["original_file_path"].as_str().unwrap();
        if node["resource_type"] != "model" || !path.starts_with("models/marts/") {
            continue;
        }
        let name = node["name"].as_str().unwrap();
        let documented: Vec<String> = node["columns"].as_object().unwrap().keys().cloned().collect();
        let built: Vec<String> = rows(
            &db,
            &format!("select column_name from information_schema.columns where table_name = '{name}' order by ordinal_position"),
        )
        .lines()
        .map(str::to_string)
        .collect();
        for c in &built {
            if !documented.contains(c) {
                problems.push(format!("{name}.{c} is not documented"));
            }
        }
        for c in &documented {
            if !built.contains(c) {
                problems.push(format!("{name}.{c} is documented but not built"));
            }
        }
        if node["description"].as_str().unwrap_or("").trim().is_empty() {
            problems.push(format!("{name} has no description"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A nightly schedule in miniature: the app's as-of date moves forward over four runs, and the
/// incremental marts must then hold exactly what one full build at the last date gives.
#[test]
fn incremental_marts_built_night_by_night_equal_a_full_refresh() {
    let project = Project::warehouse();
    let nights = [
        "{app_as_of_date: '2024-02-10'}",
        "{app_as_of_date: '2024-02-11'}",
        "{app_as_of_date: '2024-03-02'}",
        "{app_as_of_date: '2024-03-31'}",
    ];
    common::assert_increments_equal_full_refresh(&project, "retention.duckdb", &nights);
}

/// Every relation of the warehouse holds the same bytes whether it was built with one worker or
/// eight: DOUBLE sums are taken in a fixed order (`sum(x order by key)`), since DuckDB's
/// parallel partial sums otherwise differ in the last bits from run to run.
#[test]
fn marts_are_the_same_bytes_at_any_thread_count() {
    let dump = |threads: &str| -> std::collections::BTreeMap<String, String> {
        let p = Project::warehouse();
        let run = p.run(&["build", "--threads", threads]);
        assert_eq!(run.code, 0, "{}", run.text(&p));
        let db = p.db("retention.duckdb");
        // Exact values: JSON prints each DOUBLE with every digit it needs.
        relations::list(&db)
            .into_iter()
            .filter(|r| r.kind == "table")
            .map(|r| {
                let rows = relations::json_rows(&db, &r.schema, &r.name, Floats::Exact);
                (format!("{}.{}", r.schema, r.name), rows.join("\n"))
            })
            .collect()
    };
    let one = dump("1");
    let eight = dump("8");
    assert!(one.len() > 20, "the warehouse built {} tables", one.len());
    for (table, data) in &one {
        assert!(
            eight.get(table) == Some(data),
            "`{table}` differs between --threads 1 and 8"
        );
    }
}
