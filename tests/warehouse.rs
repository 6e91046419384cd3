//! The example warehouse built from the committed seeds, with every mart's output under an
//! insta snapshot, so that a change to a model shows up as a reviewable diff.
//!
//! Values are printed by DuckDB with floats fixed to 6 decimals, so float noise cannot flip a
//! snapshot. Small marts are snapshotted row by row; per-customer marts as a summary plus an
//! MD5 of every row in key order, so that any change to any row still changes the snapshot.

mod common;

use common::{rows, Project};

/// Every column of `table` as `(name, expression printing it as text)`, in table order,
/// floats rounded to 6 decimals.
fn printable_columns(db: &duckdb::Connection, table: &str) -> Vec<(String, String)> {
    let types = rows(
        db,
        &format!("select column_name, data_type from information_schema.columns where table_name = '{table}' order by ordinal_position"),
    );
    types
        .lines()
        .map(|l| {
            let (col, ty) = l.split_once('\t').expect("two fields");
            let expr = if ty == "DOUBLE" || ty == "FLOAT" {
                format!("printf('%.6f', t.\"{col}\")")
            } else {
                format!("t.\"{col}\"::varchar")
            };
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
    assert!(
        run.stdout.contains(" WARN=0 ERROR=0 SKIP=0 "),
        "warnings or errors:\n{}",
        run.stdout
    );
    let db = p.db("retention.duckdb");

    insta::assert_snapshot!(
        "order_cohorts",
        full_table(&db, "order_cohorts", "store, cohort_month, month_number")
    );

    let rfm_summary = rows(
        &db,
        "select segment, count(*) as customers, round(avg(recency_days), 1) as avg_recency_days, \
         round(avg(frequency), 2) as avg_frequency, sum(monetary_usd) as monetary_usd \
         from rfm_segments group by segment order by segment",
    );
    insta::assert_snapshot!(
        "rfm_segments",
        format!("segment\tcustomers\tavg_recency_days\tavg_frequency\tmonetary_usd\n{rfm_summary}\n\nall rows: {}", fingerprint(&db, "rfm_segments", "customer_id"))
    );
}
