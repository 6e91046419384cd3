//! `clone`: makes this target's relation of a node stand for the relation another run (the
//! `--state` manifest) built for it, as dbt's `clone` materialization does on an adapter that
//! cannot clone tables without copying (dbt-duckdb): a view `select * from <state relation>`.

use crate::adapter::{Adapter, RelationKind};
use crate::relation::Relation;

/// What [`clone_node`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cloned {
    /// The view over the state's relation was created (or replaced).
    Created,
    /// This target already has the relation, and `--full-refresh` was not given: untouched.
    Exists,
    /// The state manifest records no relation for the node: nothing to clone.
    NoState,
}

impl Cloned {
    /// The result message dbt records in `run_results.json` (`OK` or `No-op`).
    pub fn message(&self) -> &'static str {
        match self {
            Cloned::Created => "OK",
            Cloned::Exists | Cloned::NoState => "No-op",
        }
    }
}

/// Clones into `this` the relation `state` (from the state manifest; `None` when it records
/// none): a view over it, replacing a view of that name, and with `full_refresh` a table too
/// (dropped in the same transaction). An existing relation is left alone without
/// `full_refresh`, as dbt leaves it.
///
/// Errors: DuckDB's (e.g. the state's relation is not readable from this database); on an
/// error nothing changed.
pub fn clone_node(
    adapter: &Adapter,
    this: &Relation,
    state: Option<&Relation>,
    full_refresh: bool,
) -> anyhow::Result<Cloned> {
    let Some(state) = state else {
        return Ok(Cloned::NoState);
    };
    let existing = adapter.relation_kind(this)?;
    if existing.is_some() && !full_refresh {
        return Ok(Cloned::Exists);
    }
    adapter.ensure_schema(&this.database, &this.schema)?;
    let mut statements = Vec::new();
    if existing == Some(RelationKind::Table) {
        statements.push(format!("drop table {this}"));
    }
    statements.push(format!(
        "create or replace view {this} as (\n    select * from {state}\n  )"
    ));
    adapter.in_transaction(&statements)?;
    adapter.set_relation_kind(this, RelationKind::View);
    Ok(Cloned::Created)
}
