//! The engine side of static analysis: an in-memory DuckDB that holds the typed, empty shape
//! of every relation a project reads, so that DuckDB's own binder checks each model's SQL
//! against them without a row moving. Only the engine spells the SQL that makes the shapes.

use anyhow::Result;

use super::setup::{ConnectionSetup, SetupStep};
use super::{Adapter, Column};
use crate::relation::{quote, Relation};

/// An in-memory DuckDB for shapes, with the target's extensions loaded (a model may call
/// their functions); the profile's other steps (attachments, secrets, settings) are not run,
/// so no file of the target is touched.
///
/// Errors: DuckDB cannot start, or an extension cannot be loaded (named at its line).
pub fn open(setup: &ConnectionSetup) -> Result<Adapter> {
    let extensions = ConnectionSetup {
        steps: setup
            .steps
            .iter()
            .filter(|s| matches!(s, SetupStep::Extension { .. }))
            .cloned()
            .collect(),
    };
    let shapes = Adapter::open(None)?.with_setup(&extensions)?;
    // Binding is one thread's work; DuckDB's other threads would only be woken for nothing.
    shapes.execute("set threads = 1")?;
    Ok(shapes)
}

/// Makes `relation` an empty table of `columns` (in order, with their engine types) in the
/// shapes database `shapes`, replacing what was there. Its schema must exist
/// ([`create_schema`]).
///
/// Errors: a type name DuckDB does not read back (then use [`create_from_query`]).
pub fn create(shapes: &Adapter, relation: &Relation, columns: &[Column]) -> Result<()> {
    let list: Vec<String> = table_names(columns)
        .iter()
        .zip(columns)
        .map(|(name, c)| format!("{} {}", quote(name), c.data_type))
        .collect();
    shapes.execute(&format!(
        "create or replace table {relation} ({})",
        list.join(", ")
    ))?;
    shapes.set_relation_kind(relation, super::RelationKind::Table);
    Ok(())
}

/// The column names a table made from a query with `columns` gets: DuckDB renames a repeated
/// name (compared without regard to case) by its count so far, `a`, `a_1`, `A_2`.
pub fn table_names(columns: &[Column]) -> Vec<String> {
    let mut seen: std::collections::HashMap<String, usize> = Default::default();
    let mut taken: std::collections::HashSet<String> = Default::default();
    columns
        .iter()
        .map(|c| {
            let count = seen.entry(c.name.to_lowercase()).or_insert(0);
            let mut name = c.name.clone();
            while !taken.insert(name.to_lowercase()) {
                *count += 1;
                name = format!("{}_{}", c.name, count);
            }
            name
        })
        .collect()
}

/// Makes `relation` an empty table with the columns `sql` (a query) returns, by running it
/// with no rows kept: for shapes whose type names do not read back as SQL.
///
/// Errors: the query's own.
pub fn create_from_query(shapes: &Adapter, relation: &Relation, sql: &str) -> Result<()> {
    let body = sql.trim_end().trim_end_matches(';');
    shapes.execute(&format!(
        "create or replace table {relation} as select * from ({body}\n) limit 0"
    ))?;
    shapes.set_relation_kind(relation, super::RelationKind::Table);
    Ok(())
}

/// The columns `sql` returns, bound by DuckDB without running it.
///
/// Errors: the binder's (an unknown column or function, a type mismatch, a missing relation),
/// DuckDB's own message with its `LINE n:` context.
pub fn bind(shapes: &Adapter, sql: &str) -> Result<Vec<Column>> {
    // Wrapped as the statements that build it wrap it, so that a syntax error is placed (and
    // worded) as when it runs.
    let body = sql.trim_end().trim_end_matches(';');
    shapes.columns(&format!("select * from (\n{body}\n)"))
}

/// Creates schema `database.schema` in `shapes`, attaching an in-memory database named
/// `database` first (unless there is one).
///
/// Errors: DuckDB's.
pub fn create_schema(shapes: &Adapter, database: &str, schema: &str) -> Result<()> {
    if !database.is_empty() {
        shapes.execute(&format!("attach if not exists ':memory:' as {}", quote(database)))?;
    }
    shapes.ensure_schema(database, schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_renamed_as_duckdb_does() {
        let columns: Vec<Column> = ["a", "a", "A", "b"]
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                data_type: "INTEGER".into(),
            })
            .collect();
        assert_eq!(table_names(&columns), ["a", "a_1", "A_2", "b"]);
    }
}
