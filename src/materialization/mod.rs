//! Materializations: the statements that turn a node's compiled SQL into a relation.
//!
//! Every change runs in one DuckDB transaction, so a failing statement leaves the previous
//! version of the relation as it was: a table is replaced by `create or replace table ... as`
//! inside the transaction, a view by `create or replace view`, and a relation of the other
//! kind under the same name is dropped in that same transaction.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::adapter::{sql_string, Adapter, RelationKind};
use crate::error::{did_you_mean, Diagnostic};
use crate::templating::Relation;

/// Builds a `view` or `table` model from `sql` (a `select`). The schema must exist:
/// [`crate::runner::execute`] creates every schema before the workers start.
///
/// Errors: DuckDB's error; nothing has changed in the database when it is returned.
pub fn model(
    adapter: &Adapter,
    materialized: &str,
    relation: &Relation,
    sql: &str,
) -> Result<(), duckdb::Error> {
    let body = strip_trailing_semicolon(sql);
    let existing = adapter.relation_kind(relation)?;
    let mut statements = Vec::new();
    let (kind, drop_other) = match materialized {
        "table" => ("table", existing == Some(RelationKind::View)),
        _ => ("view", existing == Some(RelationKind::Table)),
    };
    if drop_other {
        let other = if kind == "table" { "view" } else { "table" };
        statements.push(format!("drop {other} if exists {relation}"));
    }
    statements.push(format!("create or replace {kind} {relation} as (\n{body}\n)"));
    adapter.in_transaction(&statements)
}

/// The `create ... as` statement `model` would run, for `target/run/` and messages.
pub fn model_ddl(materialized: &str, relation: &Relation, sql: &str) -> String {
    let kind = if materialized == "table" { "table" } else { "view" };
    format!(
        "create or replace {kind} {relation} as (\n{}\n)",
        strip_trailing_semicolon(sql)
    )
}

/// A seed to load: its CSV file and the configured types of some of its columns.
pub struct SeedLoad<'a> {
    pub csv: &'a Path,
    /// The CSV path as the user knows it (`seeds/x.csv`), for messages.
    pub shown_path: &'a str,
    pub relation: &'a Relation,
    /// `column_types` config: column name to DuckDB type.
    pub column_types: Option<&'a serde_json::Map<String, Value>>,
    pub delimiter: Option<&'a str>,
}

impl SeedLoad<'_> {
    /// The `select` that reads the CSV with DuckDB's reader, types forced where configured.
    pub fn select_sql(&self) -> String {
        let mut opts = vec!["header = true".to_string(), "auto_detect = true".to_string()];
        if let Some(d) = self.delimiter {
            opts.push(format!("delim = '{}'", d.replace('\'', "''")));
        }
        if let Some(types) = self.column_types.filter(|t| !t.is_empty()) {
            let pairs: Vec<String> = types
                .iter()
                .map(|(col, ty)| {
                    let ty = ty.as_str().map(str::to_string).unwrap_or_else(|| ty.to_string());
                    format!("'{}': '{}'", col.replace('\'', "''"), ty.replace('\'', "''"))
                })
                .collect();
            opts.push(format!("types = {{{}}}", pairs.join(", ")));
        }
        format!(
            "select * from read_csv({}, {})",
            sql_string(self.csv),
            opts.join(", ")
        )
    }

    /// Loads the seed, replacing the table in one transaction; returns the row count. The
    /// schema must exist.
    ///
    /// Errors: the CSV does not exist; `column_types` names a column the header lacks (with
    /// the header's columns and a did-you-mean); DuckDB's reader rejects the file (ragged
    /// rows, values that do not fit a forced type), with DuckDB's line number.
    pub fn load(&self, adapter: &Adapter) -> Result<i64> {
        if !self.csv.is_file() {
            return Err(Diagnostic::new(format!("seed file `{}` does not exist", self.shown_path)).into());
        }
        if let Some(types) = self.column_types.filter(|t| !t.is_empty()) {
            let plain = SeedLoad {
                column_types: None,
                ..*self
            };
            let header = adapter
                .describe(&plain.select_sql())
                .map_err(|e| Diagnostic::new(format!("cannot read seed `{}`: {e}", self.shown_path)))?;
            for col in types.keys() {
                if !header.contains(col) {
                    let mut d = Diagnostic::new(format!(
                        "`column_types` of seed `{}` names column `{col}`, which `{}` does not have",
                        self.relation.identifier, self.shown_path
                    ));
                    d = match did_you_mean(col, header.iter().map(String::as_str)) {
                        Some(s) => d.help(format!("did you mean `{s}`? (columns: {})", header.join(", "))),
                        None => d.help(format!("the file's columns are: {}", header.join(", "))),
                    };
                    return Err(d.into());
                }
            }
        }
        let mut statements = Vec::new();
        if adapter.relation_kind(self.relation)? == Some(RelationKind::View) {
            statements.push(format!("drop view if exists {}", self.relation));
        }
        statements.push(format!(
            "create or replace table {} as {}",
            self.relation,
            self.select_sql()
        ));
        adapter
            .in_transaction(&statements)
            .map_err(|e| Diagnostic::new(format!("cannot load seed `{}`: {e}", self.shown_path)))?;
        Ok(adapter.query_i64(&format!("select count(*) from {}", self.relation))?)
    }
}

/// `sql` without trailing whitespace and semicolons, so that it can be wrapped in `( ... )`.
fn strip_trailing_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}
