//! The one way the tests and the dbt parity scripts read what a DuckDB file holds: its relations,
//! their columns, and their rows in a canonical text form. `tests/parity.rs`,
//! `tests/realworld.rs`, `tests/warehouse.rs` and `common::versions` use it, and so does
//! `examples/relations.rs`, which `scripts/dbt_parity` runs on the databases dbt builds, so
//! dbt's side and Mallard's are printed by the same code.
//!
//! Values have two forms, by what a comparison must tolerate:
//! - [`Floats::Exact`]: every row as DuckDB's `to_json` prints it, so each DOUBLE with every
//!   digit it needs. For comparing two builds of the same data (dbt's and Mallard's, one
//!   thread and eight), where any difference is a difference.
//! - [`Floats::Rounded`]: DOUBLE and FLOAT values to 6 significant digits. For values
//!   compared across separate runs of aggregations DuckDB computes in parallel (partial sums
//!   added in varying order change the last bits of an average): snapshots of the
//!   warehouse's marts, and the fingerprints of a database before and after a kill.

use std::path::Path;

/// How DOUBLE and FLOAT values are printed; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Floats {
    Exact,
    Rounded,
}

/// A relation of a database file: schema, name, `table` or `view`, and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelationInfo {
    pub schema: String,
    pub name: String,
    pub kind: String,
    pub comment: Option<String>,
}

/// A column: name, DuckDB type, comment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
    pub comment: Option<String>,
}

/// Opens the DuckDB file at `db` read-only. Panics when it cannot be opened.
pub fn open_read_only(db: &Path) -> duckdb::Connection {
    let cfg = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .expect("read-only access mode");
    duckdb::Connection::open_with_flags(db, cfg).unwrap_or_else(|e| panic!("open {}: {e}", db.display()))
}

/// `name` as a quoted identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Every table and view of the connection's current database, by schema and name. Tables
/// named `*__dbt_backup` are left out: dbt-duckdb leaves one behind after a full refresh of an
/// incremental model (its drop runs in a transaction that is rolled back).
pub fn list(conn: &duckdb::Connection) -> Vec<RelationInfo> {
    let mut stmt = conn
        .prepare(
            "select schema_name, table_name, 'table', comment from duckdb_tables() \
             where database_name = current_database() \
             and table_name not like '%\\_\\_dbt\\_backup' escape '\\' \
             union all select schema_name, view_name, 'view', comment from duckdb_views() \
             where database_name = current_database() and not internal \
             order by 1, 2",
        )
        .expect("list relations");
    let rows = stmt
        .query_map([], |r| {
            Ok(RelationInfo {
                schema: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                comment: r.get::<_, Option<String>>(3)?.filter(|c| !c.is_empty()),
            })
        })
        .expect("list relations");
    rows.map(Result::unwrap).collect()
}

/// The columns of `schema.name`, in table order.
pub fn columns(conn: &duckdb::Connection, schema: &str, name: &str) -> Vec<ColumnInfo> {
    let mut stmt = conn
        .prepare(
            "select column_name, data_type, comment from duckdb_columns() \
             where database_name = current_database() and schema_name = ? and table_name = ? \
             order by column_index",
        )
        .expect("list columns");
    let rows = stmt
        .query_map([schema, name], |r| {
            Ok(ColumnInfo {
                name: r.get(0)?,
                data_type: r.get(1)?,
                comment: r.get::<_, Option<String>>(2)?.filter(|c| !c.is_empty()),
            })
        })
        .expect("list columns");
    rows.map(Result::unwrap).collect()
}

/// The SQL expression giving the value of `expr` (a column reference of `data_type`) in form
/// `floats`, keeping its type: a rounded DOUBLE is still a DOUBLE, so JSON prints it as a
/// number.
pub fn value_sql(expr: &str, data_type: &str, floats: Floats) -> String {
    match (floats, data_type) {
        (Floats::Rounded, "DOUBLE" | "FLOAT") => {
            format!("cast(printf('%.6g', {expr}) as {data_type})")
        }
        _ => expr.to_string(),
    }
}

/// Every row of `schema.name` as a JSON object (keys in column order), sorted, floats in form
/// `floats`.
pub fn json_rows(conn: &duckdb::Connection, schema: &str, name: &str, floats: Floats) -> Vec<String> {
    let fields: Vec<String> = columns(conn, schema, name)
        .iter()
        .map(|c| {
            format!(
                "{} as {}",
                value_sql(&quote(&c.name), &c.data_type, floats),
                quote(&c.name)
            )
        })
        .collect();
    let sql = format!(
        "select to_json(t)::varchar as j from (select {} from {}.{}) as t order by j",
        fields.join(", "),
        quote(schema),
        quote(name)
    );
    let mut stmt = conn.prepare(&sql).unwrap_or_else(|e| panic!("{e}\n{sql}"));
    let rows = stmt.query_map([], |r| r.get(0)).expect("rows");
    rows.map(Result::unwrap).collect()
}

/// The parity form of a whole database (`tests/fixtures/*/expected/step-N.txt`): per
/// relation a header `# schema.name (BASE TABLE|VIEW)`, `# columns: name TYPE, ...`, then its
/// rows from [`json_rows`].
pub fn dump(conn: &duckdb::Connection, floats: Floats) -> String {
    let mut out = String::new();
    for r in list(conn) {
        let kind = if r.kind == "table" { "BASE TABLE" } else { "VIEW" };
        let cols: Vec<String> = columns(conn, &r.schema, &r.name)
            .iter()
            .map(|c| format!("{} {}", c.name, c.data_type))
            .collect();
        out.push_str(&format!(
            "# {}.{} ({kind})\n# columns: {}\n",
            r.schema,
            r.name,
            cols.join(", ")
        ));
        for row in json_rows(conn, &r.schema, &r.name, floats) {
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
}

/// The digest form of a database (`tests/realworld/*/expected/step-N.txt`), one line per
/// relation:
///
/// `<schema>.<name> <table|view> | <column> <TYPE>[ -- <comment>], ... | rows=<n> md5=<hex>[ comment=<c>]`
///
/// Columns in table order, or by name for relations in `column_order_free`; the md5 is of the
/// exact rows as JSON objects with keys sorted by column name, one per line, sorted.
/// Relations in `columns_only` get `rows=*`. A newline in a comment is written `\n`, so that
/// each relation is one line.
pub fn digest(
    conn: &duckdb::Connection,
    columns_only: &[String],
    column_order_free: &[String],
) -> Vec<String> {
    let mut out = Vec::new();
    for r in list(conn) {
        let mut cols = columns(conn, &r.schema, &r.name);
        let mut by_name = cols.clone();
        by_name.sort();
        if column_order_free.contains(&r.name) {
            cols = by_name.clone();
        }
        let col_text: Vec<String> = cols
            .iter()
            .map(|c| match &c.comment {
                Some(m) => format!("{} {} -- {}", c.name, c.data_type, m.replace('\n', "\\n")),
                None => format!("{} {}", c.name, c.data_type),
            })
            .collect();
        let rows = if columns_only.contains(&r.name) {
            "rows=*".to_string()
        } else {
            let fields: Vec<String> = by_name
                .iter()
                .map(|c| format!("'{}': {}", c.name.replace('\'', "''"), quote(&c.name)))
                .collect();
            let sql = format!(
                "select count(*), md5(coalesce(string_agg(j, chr(10) order by j), '')) from \
                 (select to_json({{{}}})::varchar as j from {}.{})",
                fields.join(", "),
                quote(&r.schema),
                quote(&r.name)
            );
            let (n, h): (i64, String) = conn
                .query_row(&sql, [], |row| Ok((row.get(0)?, row.get(1)?)))
                .unwrap_or_else(|e| panic!("digest of {}.{}: {e}", r.schema, r.name));
            format!("rows={n} md5={h}")
        };
        let extra = r
            .comment
            .as_ref()
            .map(|c| format!(" comment={}", c.replace('\n', "\\n")))
            .unwrap_or_default();
        out.push(format!(
            "{}.{} {} | {} | {rows}{extra}",
            r.schema,
            r.name,
            r.kind,
            col_text.join(", ")
        ));
    }
    out
}
