//! A target's engine and connection as data, read from profiles.yml by `project::profile`:
//! which engine ([`Engine`]: DuckDB's database file, or a Spark Connect server) and what every
//! connection runs before its first statement (dbt-duckdb's `config_options`, `extensions`,
//! `secrets`, `attach` and `settings`, in dbt-duckdb's order; `adapter::setup` runs them).
//! `adapter::target` opens an [`Engine`]; nothing above `adapter/` branches on which it is.

use std::path::PathBuf;

use crate::error::Location;

/// The engine a target runs on, with that engine's own settings (profiles.yml's `type:`).
#[derive(Debug, Clone, PartialEq)]
pub enum Engine {
    /// Embedded DuckDB (`type: duckdb`).
    DuckDb(DuckDbFile),
    /// Apache Spark over Spark Connect (`type: spark`, `method: connect`).
    Spark(SparkConnect),
}

impl Engine {
    /// The adapter type, `target.type` in Jinja: `duckdb` or `spark`.
    pub fn adapter_type(&self) -> &'static str {
        match self {
            Engine::DuckDb(_) => "duckdb",
            Engine::Spark(_) => "spark",
        }
    }

    /// Where `external` models write, relative to the project folder (dbt-duckdb's
    /// `external_root`; `.` where the engine has none).
    pub fn external_root(&self) -> &str {
        match self {
            Engine::DuckDb(file) => &file.external_root,
            Engine::Spark(_) => ".",
        }
    }

    /// Whether the run builds in a copy and replaces the database only when it succeeds
    /// (DuckDB's publish mode).
    pub fn publish(&self) -> bool {
        matches!(self, Engine::DuckDb(file) if file.publish)
    }
}

/// A DuckDB target's database and the files it writes. The default is an in-memory database
/// that attaches nothing, with an empty `external_root`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DuckDbFile {
    /// The database file (`path:`, relative to the project folder); `None` in memory.
    pub path: Option<PathBuf>,
    /// Where `path:` is written in profiles.yml, for errors opening the database file.
    pub path_at: Option<Location>,
    /// Publish mode (`publish: true`): build into a shadow copy and replace the file only when
    /// the run succeeds (see `adapter::database`).
    pub publish: bool,
    /// The DuckDB files the profile attaches for writing: a run locks them too.
    pub attached_files: Vec<PathBuf>,
    /// `external_root` as written (default `.`): where `external` models write, relative to
    /// the project folder.
    pub external_root: String,
}

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
