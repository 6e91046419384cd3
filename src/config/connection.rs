//! What every connection of a target's database runs before its first statement, as data:
//! dbt-duckdb's `config_options`, `extensions`, `secrets`, `attach` and `settings` from the
//! profile (read by `project::duckdb_profile`), in dbt-duckdb's order. `adapter::setup` runs
//! them on each connection.

use crate::error::Location;

/// One step of a connection's setup.
#[derive(Debug, Clone, PartialEq)]
pub enum SetupStep {
    /// An extension: `INSTALL` it (from `repo`, when given) unless DuckDB has it installed,
    /// then `LOAD` it unless loaded.
    Extension {
        name: String,
        repo: Option<String>,
        at: Location,
    },
    /// A statement (`SET`, `CREATE SECRET`, `ATTACH`), described for messages as `what`
    /// (`secret #1`, `attach of data/other.duckdb`, `setting memory_limit`).
    Statement {
        sql: String,
        what: String,
        at: Location,
        /// Values that must not appear in any message (a secret's fields).
        hidden: Vec<String>,
    },
}

/// The steps every connection runs, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConnectionSetup {
    pub steps: Vec<SetupStep>,
}
