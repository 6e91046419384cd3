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

/// The Spark Connect server a `type: spark` target runs on: dbt-spark's keys for
/// `method: connect` (read by `project::spark_profile`).
#[derive(Debug, Clone, PartialEq)]
pub struct SparkConnect {
    pub host: String,
    /// Spark Connect's gRPC port (15002 unless the profile says otherwise).
    pub port: u16,
    /// A bearer token for a secured cluster; never shown in any message.
    pub token: Option<String>,
    pub use_ssl: bool,
    /// Spark confs set on every session before its first statement (`server_side_parameters`).
    pub server_side_parameters: Vec<(String, String)>,
    /// The default `file_format` of tables (`parquet`; `delta` or `iceberg` allow `merge`).
    pub file_format: String,
    /// How long to wait for the server to accept a connection (`connect_timeout`, seconds;
    /// dbt-spark's default is 10).
    pub connect_timeout: std::time::Duration,
    /// The target's place in profiles.yml, for messages.
    pub at: Location,
}

impl SparkConnect {
    /// The Spark Connect URL: `sc://host:port/;use_ssl=true;token=...`.
    pub fn url(&self) -> String {
        let mut url = format!("sc://{}:{}/", self.host, self.port);
        if self.use_ssl {
            url.push_str(";use_ssl=true");
        }
        if let Some(token) = &self.token {
            url.push_str(&format!(";token={token}"));
        }
        url
    }
}
