//! Materializations: the statements that turn a node's compiled SQL into a relation.
//!
//! Every change runs in one DuckDB transaction, so a failing statement leaves the previous
//! version of the relation as it was: a table is replaced by `create or replace table ... as`
//! inside the transaction, a view by `create or replace view`, and a relation of the other
//! kind under the same name is dropped in that same transaction.

pub mod incremental;
pub mod snapshot;

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::adapter::{sql_string, Adapter, RelationKind};
use crate::error::{did_you_mean, Diagnostic, Location};
use crate::templating::Relation;

/// A node's rendered `pre_hook` and `post_hook` statements, which run in the same transaction
/// as the node's own, before and after it (dbt's default, `transaction: true`).
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub pre: Vec<String>,
    pub post: Vec<String>,
}

/// Builds a `view` or `table` model from `sql` (a `select`), with its hooks around it. The
/// schema must exist: [`crate::runner::execute`] creates every schema before the workers start.
///
/// Errors: DuckDB's error; nothing has changed in the database when it is returned.
pub fn model(
    adapter: &Adapter,
    materialized: &str,
    relation: &Relation,
    sql: &str,
    hooks: &Hooks,
) -> Result<(), duckdb::Error> {
    let body = strip_trailing_semicolon(sql);
    let existing = adapter.relation_kind(relation)?;
    let mut statements = hooks.pre.clone();
    let (kind, drop_other) = match materialized {
        "table" => ("table", existing == Some(RelationKind::View)),
        _ => ("view", existing == Some(RelationKind::Table)),
    };
    if drop_other {
        let other = if kind == "table" { "view" } else { "table" };
        statements.push(format!("drop {other} if exists {relation}"));
    }
    statements.push(format!("create or replace {kind} {relation} as (\n{body}\n)"));
    statements.extend(hooks.post.iter().cloned());
    adapter.in_transaction(&statements)?;
    adapter.set_relation_kind(
        relation,
        if kind == "table" {
            RelationKind::Table
        } else {
            RelationKind::View
        },
    );
    Ok(())
}

/// A seed to load: its CSV file and the configured types of some of its columns.
pub struct SeedLoad<'a> {
    pub csv: std::path::PathBuf,
    /// The CSV path as the user knows it (`seeds/x.csv`), for messages.
    pub shown_path: &'a str,
    pub relation: &'a Relation,
    /// `column_types` config: column name to DuckDB type.
    pub column_types: Option<&'a serde_json::Map<String, Value>>,
    pub delimiter: Option<&'a str>,
    pub hooks: &'a Hooks,
}

impl<'a> SeedLoad<'a> {
    /// The load of seed node `seed`, its CSV read from its package's folder (the project's,
    /// `project_root`, for the project's own seeds), `hooks` around it.
    ///
    /// Panics if `seed` has no relation (every seed node has one).
    pub fn for_node(
        manifest: &'a crate::manifest::Manifest,
        seed: &'a crate::manifest::Node,
        project_root: &'a Path,
        hooks: &'a Hooks,
    ) -> SeedLoad<'a> {
        SeedLoad {
            csv: manifest
                .package_root(&seed.package_name, project_root)
                .join(&seed.original_file_path),
            shown_path: &seed.original_file_path,
            relation: seed.relation.as_ref().expect("seeds have relations"),
            column_types: seed.config.0.get("column_types").and_then(|v| v.as_object()),
            delimiter: seed.config.get_str("delimiter"),
            hooks,
        }
    }
}

impl SeedLoad<'_> {
    /// The `select` that reads the CSV with DuckDB's reader, types forced where configured.
    pub fn select_sql(&self) -> String {
        // The delimiter is always given (dbt's default is a comma): left to the sniffer, one
        // ragged row can make it take each whole line for a single column.
        let delimiter = self.delimiter.unwrap_or(",");
        let opts = [
            "header = true".to_string(),
            "auto_detect = true".to_string(),
            format!("delim = '{}'", delimiter.replace('\'', "''")),
        ];
        let mut opts = opts.to_vec();
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
            sql_string(&self.csv),
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
            // The header as written, read by a CSV parser rather than DuckDB's sniffer, which
            // can take a whole line for one column when a later row is ragged.
            let header = self.header()?;
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
        let mut statements = self.hooks.pre.clone();
        if adapter.relation_kind(self.relation)? == Some(RelationKind::View) {
            statements.push(format!("drop view if exists {}", self.relation));
        }
        statements.push(format!(
            "create or replace table {} as {}",
            self.relation,
            self.select_sql()
        ));
        statements.extend(self.hooks.post.iter().cloned());
        adapter
            .in_transaction(&statements)
            .map_err(|e| self.load_error(&e.to_string()))?;
        adapter.set_relation_kind(self.relation, RelationKind::Table);
        Ok(adapter.query_i64(&format!("select count(*) from {}", self.relation))?)
    }
}

impl SeedLoad<'_> {
    /// The column names of the CSV's first line.
    fn header(&self) -> Result<Vec<String>> {
        let delimiter = self.delimiter.and_then(|d| d.bytes().next()).unwrap_or(b',');
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_path(&self.csv)
            .map_err(|e| Diagnostic::new(format!("cannot read seed `{}`: {e}", self.shown_path)))?;
        let header = reader.headers().map_err(|e| {
            Diagnostic::new(format!(
                "cannot read the header of seed `{}`: {e}",
                self.shown_path
            ))
        })?;
        Ok(header.iter().map(|h| h.trim().to_string()).collect())
    }

    /// The first row whose number of fields differs from the header's, as
    /// `(line, header fields, row fields)`; `None` when every row matches.
    fn first_ragged_row(&self) -> Option<(u64, usize, usize)> {
        let delimiter = self.delimiter.and_then(|d| d.bytes().next()).unwrap_or(b',');
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_path(&self.csv)
            .ok()?;
        for record in reader.records() {
            if let Err(e) = record {
                if let csv::ErrorKind::UnequalLengths {
                    pos,
                    expected_len,
                    len,
                } = e.kind()
                {
                    return Some((
                        pos.as_ref().map_or(0, |p| p.line()),
                        *expected_len as usize,
                        *len as usize,
                    ));
                }
                return None;
            }
        }
        None
    }

    /// DuckDB's error on loading the CSV, cut to its first paragraph (the rest restates the
    /// reader's settings) and placed at the CSV line it names. A ragged row, which DuckDB's
    /// sniffer reports only as an undetectable dialect, is found and named here.
    fn load_error(&self, duckdb_message: &str) -> Diagnostic {
        if let Some((line, expected, found)) = self.first_ragged_row() {
            let text = std::fs::read_to_string(&self.csv).unwrap_or_default();
            return Diagnostic::new(format!(
                "cannot load seed `{}`: line {line} has {found} fields, the header has {expected}",
                self.shown_path
            ))
            .at(Location::in_source(self.shown_path, &text, line as usize, None))
            .help("give every row as many fields as the header; quote values that contain the delimiter");
        }
        let first_paragraph: Vec<&str> = duckdb_message
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .collect();
        let mut d = Diagnostic::new(format!(
            "cannot load seed `{}`: {}",
            self.shown_path,
            first_paragraph.join("\n")
        ));
        let line = duckdb_message
            .split("on Line: ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(line) = line {
            let text = std::fs::read_to_string(&self.csv).unwrap_or_default();
            d = d.at(Location::in_source(self.shown_path, &text, line, None));
            d = d.help(format!(
                "fix line {line} of `{}`, or set the column's type with `column_types`",
                self.shown_path
            ));
        }
        d
    }
}

/// `sql` without trailing whitespace and semicolons, so that it can be wrapped in `( ... )`.
fn strip_trailing_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}
