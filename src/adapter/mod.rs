//! The engine layer: the only code that talks to a database engine. [`engine`] is the
//! interface an engine implements ([`engine::Connection`]), [`duckdb`] the DuckDB one;
//! [`Adapter`] is what the layers above use: a connection plus what is the same for every
//! engine (transactions, the statement log, the cache of which relations exist).

pub mod cancel;
pub mod database;
pub mod dialect;
pub mod duckdb;
pub mod engine;
pub mod lock;
pub mod setup;
pub mod shapes;
#[cfg(feature = "spark")]
pub mod spark;
#[cfg(feature = "spark")]
pub mod spark_dialect;
pub mod target;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::relation::{quote, Relation};
pub use engine::{Cell, Column, Connection, RelationKind, Rows};

/// A worker's adapter, shared with the templates it renders (`run_query`, `adapter.*`).
pub type SharedAdapter = Arc<Mutex<Adapter>>;

/// A connection to the target's database, and what every engine's connection shares.
#[derive(Debug)]
pub struct Adapter {
    conn: Box<dyn Connection>,
    /// What every connection of this database runs first (the profile's `extensions`,
    /// `secrets`, `attach`, `settings`); a clone runs it too.
    setup: Arc<setup::ConnectionSetup>,
    log: Option<Arc<StatementLog>>,
    /// The relations that exist, shared by the run's connections; read on first use.
    catalog: Arc<Mutex<Option<std::collections::HashMap<Relation, RelationKind>>>>,
}

/// The error of a statement not run because the run was told to stop by `signal`.
fn interrupted(signal: i32) -> anyhow::Error {
    anyhow::anyhow!("interrupted by {}: rolled back", cancel::signal_name(signal))
}

/// With `MALLARD_SQL_LOG=<file>`, every statement the run executes (not the metadata lookups)
/// is appended to that file, each followed by a line [`STATEMENT_END`]: the benchmark replays
/// them in one DuckDB connection to measure the same work without the runner.
#[derive(Debug)]
pub struct StatementLog(Mutex<std::fs::File>);

/// The line that ends each statement in a statement log.
pub const STATEMENT_END: &str = "-- mallard: end of statement";

impl StatementLog {
    fn from_env() -> Option<Arc<StatementLog>> {
        let path = std::env::var_os("MALLARD_SQL_LOG")?;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        Some(Arc::new(StatementLog(Mutex::new(file))))
    }

    fn write(&self, sql: &str) {
        use std::io::Write;
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(f, "{sql}\n{STATEMENT_END}");
    }
}

impl Adapter {
    fn over(conn: Box<dyn Connection>, log: Option<Arc<StatementLog>>) -> Adapter {
        Adapter {
            conn,
            log,
            catalog: Default::default(),
            setup: Default::default(),
        }
    }

    /// Opens (creating if needed) the DuckDB database at `path`, or an in-memory one for
    /// `None`. Writing runs open it through [`database::Database`], which takes the write lock
    /// first.
    ///
    /// Errors, each naming the file and what to do: the file is not a DuckDB database;
    /// another process holds the database; DuckDB cannot open it (permissions, disk).
    pub fn open(path: Option<&Path>) -> Result<Adapter> {
        let conn = duckdb::DuckDbConnection::open(path)?;
        Ok(Adapter::over(Box::new(conn), StatementLog::from_env()))
    }

    /// Connects to the Spark Connect server of a `type: spark` target.
    ///
    /// Errors: as [`spark::SparkConnection::open`]; without the `spark` feature, that this
    /// build has no Spark support.
    pub fn open_spark(target: &crate::config::connection::SparkConnect) -> Result<Adapter> {
        #[cfg(feature = "spark")]
        {
            Ok(Adapter::over(
                Box::new(spark::SparkConnection::open(target)?),
                StatementLog::from_env(),
            ))
        }
        #[cfg(not(feature = "spark"))]
        {
            Err(crate::error::Diagnostic::new(
                "this mallard was built without Spark support, and the target has `type: spark`",
            )
            .at(target.at.clone())
            .help("build it with `cargo build --release --features spark` (needs protoc: `apt-get install protobuf-compiler libprotobuf-dev`)")
            .into())
        }
    }

    /// Opens an existing DuckDB database read-only (no lock is taken; DuckDB refuses while
    /// another process writes it), for compiling.
    ///
    /// Errors: DuckDB's, when the file cannot be opened.
    pub fn open_read_only(path: &Path) -> Result<Adapter> {
        Ok(Adapter::over(
            Box::new(duckdb::DuckDbConnection::open_read_only(path)?),
            None,
        ))
    }

    /// This connection with `setup` run, and run again on every clone.
    ///
    /// Errors: as [`setup::run`]: the step that failed, at its line of
    /// profiles.yml.
    pub fn with_setup(mut self, setup: &setup::ConnectionSetup) -> Result<Adapter> {
        setup::run(setup, self.conn.as_ref())?;
        self.setup = Arc::new(setup.clone());
        Ok(self)
    }

    /// A second connection to the same database, for another worker thread.
    pub fn try_clone(&self) -> Result<Adapter> {
        let conn = self.conn.try_clone()?;
        setup::run(&self.setup, conn.as_ref())?;
        Ok(Adapter {
            setup: self.setup.clone(),
            conn,
            log: self.log.clone(),
            catalog: self.catalog.clone(),
        })
    }

    /// Runs `sql` (one or more statements) outside any explicit transaction.
    pub fn execute(&self, sql: &str) -> Result<()> {
        self.logged(sql);
        self.conn.execute(sql)
    }

    fn logged(&self, sql: &str) {
        if let Some(log) = &self.log {
            log.write(sql);
        }
    }

    /// Runs `statements` in one transaction: all take effect, or (on the first error, which
    /// is returned) none does.
    ///
    /// On an engine without transactions (Spark) the statements run one after another and
    /// stop at the first error; what ran before it stays (materializations order their
    /// statements so that this leaves the previous relation readable).
    pub fn in_transaction(&self, statements: &[String]) -> Result<()> {
        if !self.conn.transactional() {
            for stmt in statements {
                if let Some(signal) = cancel::requested() {
                    return Err(interrupted(signal));
                }
                self.execute(stmt)?;
            }
            return Ok(());
        }
        self.execute("begin transaction")?;
        for stmt in statements {
            // A run told to stop starts no further statement, and commits nothing.
            if let Some(signal) = cancel::requested() {
                let _ = self.conn.execute("rollback");
                return Err(interrupted(signal));
            }
            if let Err(e) = self.execute(stmt) {
                // The error that matters is the statement's; a failed rollback leaves the
                // transaction to be aborted when the connection closes.
                let _ = self.conn.execute("rollback");
                return Err(e);
            }
        }
        if let Some(signal) = cancel::requested() {
            let _ = self.conn.execute("rollback");
            return Err(interrupted(signal));
        }
        self.execute("commit")
    }

    /// Runs `work` inside one transaction: commits when it returns `Ok`, rolls back (and
    /// returns its error) otherwise, so that either all of its statements take effect or none.
    /// On an engine without transactions, `work` runs as it is.
    pub fn transaction<T>(&self, work: impl FnOnce(&Adapter) -> Result<T>) -> Result<T> {
        if !self.conn.transactional() {
            return work(self);
        }
        self.execute("begin transaction")?;
        match work(self) {
            Ok(value) => {
                self.execute("commit")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute("rollback");
                Err(e)
            }
        }
    }

    /// The columns of `relation` (any relation SQL, such as `temp.main."t"`, or a query), in
    /// order, with the engine's type names (`INTEGER`, `DECIMAL(18,3)`, `VARCHAR`), without
    /// reading rows.
    ///
    /// Errors: the relation does not exist; the query does not bind.
    pub fn columns(&self, relation: &str) -> Result<Vec<Column>> {
        self.conn.describe(relation)
    }

    /// Runs `sql` and returns its column names and every row (for `run_query` and `statement`).
    ///
    /// Errors: the engine's, for a query that fails.
    pub fn query_rows(&self, sql: &str) -> Result<Rows> {
        self.logged(sql);
        self.conn.query(sql)
    }

    /// The engine's catalog of `databases` (see [`engine::Connection::catalog`]).
    ///
    /// Errors: the engine's.
    pub fn catalog(&self, databases: &[String]) -> Result<Option<Vec<engine::CatalogRelation>>> {
        self.conn.catalog(databases)
    }

    /// The JSON syntax tree of each of `queries`, parsed by this engine when it parses SQL so
    /// (DuckDB), else by an in-memory DuckDB, whose parse of another engine's SQL then says
    /// what it cannot read (see [`engine::Connection::parse_to_json`]). One per query, in order.
    ///
    /// Errors: the engine's (a query that does not parse is not one: its tree says so).
    pub fn parse_to_json(&self, queries: &[&str]) -> Result<Vec<String>> {
        if let Some(parsed) = self.conn.parse_to_json(queries)? {
            return Ok(parsed);
        }
        let duckdb = duckdb::DuckDbConnection::open(None)?;
        Ok(engine::Connection::parse_to_json(&duckdb, queries)?.unwrap_or_default())
    }

    /// The relation named `database.schema.identifier` as the catalog spells it (names compared
    /// without regard to case, as DuckDB resolves them), or `None`.
    pub fn find_relation(&self, database: &str, schema: &str, identifier: &str) -> Result<Option<Relation>> {
        self.conn.find_relation(database, schema, identifier)
    }

    /// The statement that appends CSV file `csv` (a header, `delimiter`) to table `relation`
    /// (see [`Connection::load_csv`]).
    pub fn load_csv(
        &self,
        relation: &Relation,
        csv: &Path,
        delimiter: char,
        columns: &[(String, String)],
    ) -> Result<String> {
        self.conn.load_csv(relation, csv, delimiter, columns)
    }

    /// The adapter type of the engine (`duckdb`, `spark`).
    pub fn adapter_type(&self) -> &'static str {
        self.conn.adapter_type()
    }

    /// The engine's SQL for what materializations issue.
    pub fn dialect(&self) -> &'static dyn dialect::Dialect {
        self.conn.dialect()
    }

    /// The first row of `sql` as numbers: `None` for a NULL or a value that is not a number.
    /// Empty when the query returns no row.
    ///
    /// Errors: the engine's, for a query that fails.
    pub fn query_numbers(&self, sql: &str) -> Result<Vec<Option<f64>>> {
        let (_, rows) = self.query_rows(sql)?;
        Ok(rows
            .first()
            .map(|row| row.iter().map(Cell::as_f64).collect())
            .unwrap_or_default())
    }

    /// The first column of the first row of `sql` as an integer.
    ///
    /// Errors: the engine's; no row, or a value that is not a whole number.
    pub fn query_i64(&self, sql: &str) -> Result<i64> {
        let (_, rows) = self.query_rows(sql)?;
        let first = rows.first().and_then(|r| r.first());
        first
            .and_then(Cell::as_i64)
            .ok_or_else(|| anyhow::anyhow!("`{sql}` returned {first:?}, not a whole number"))
    }

    /// The first row of `sql` as `(failures, should_warn, should_error)`, the shape of a data
    /// test's wrapper query.
    ///
    /// Errors: the engine's; a row not of that shape.
    pub fn query_test(&self, sql: &str) -> Result<(i64, bool, bool)> {
        let (_, rows) = self.query_rows(sql)?;
        let row = rows.first().map(Vec::as_slice);
        match row {
            Some([failures, Cell::Bool(warn), Cell::Bool(error), ..]) => match failures.as_i64() {
                Some(failures) => Ok((failures, *warn, *error)),
                None => {
                    anyhow::bail!("a data test's query counted {failures:?} failures, not a whole number")
                }
            },
            other => anyhow::bail!(
                "a data test's query returned {other:?}, not (failures, should_warn, should_error)"
            ),
        }
    }

    /// Whether `relation` exists, and as what. The catalog is read once per run, with one
    /// query, and kept up to date by [`Adapter::set_relation_kind`]: one lookup per node cost
    /// a catalog query each, which DuckDB running the same statements does not pay.
    pub fn relation_kind(&self, relation: &Relation) -> Result<Option<RelationKind>> {
        let mut catalog = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
        if catalog.is_none() {
            *catalog = Some(self.conn.relations()?.into_iter().collect());
        }
        Ok(catalog.as_ref().and_then(|c| c.get(relation).copied()))
    }

    /// Records that `relation` now exists as `kind`, after this run built it.
    pub fn set_relation_kind(&self, relation: &Relation, kind: RelationKind) {
        let mut catalog = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = catalog.as_mut() {
            c.insert(relation.clone(), kind);
        }
    }

    /// Drops `relation` from the cache of relation kinds, after a template dropped or renamed
    /// it behind the materializations' back.
    pub fn forget_relation(&self, relation: &Relation) {
        let mut catalog = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = catalog.as_mut() {
            c.remove(relation);
        }
    }

    /// The tables and views of `database.schema` (names compared without case), sorted.
    ///
    /// Errors: the engine's.
    pub fn relations_in_schema(&self, database: &str, schema: &str) -> Result<Vec<Relation>> {
        self.conn.relations_in_schema(database, schema)
    }

    /// Whether schema `database.schema` exists (names compared without case).
    ///
    /// Errors: the engine's.
    pub fn schema_exists(&self, database: &str, schema: &str) -> Result<bool> {
        self.conn.schema_exists(database, schema)
    }

    /// Drops schema `database.schema` and everything in it, if it exists, and forgets the
    /// relations it held.
    ///
    /// Errors: the engine's.
    pub fn drop_schema(&self, database: &str, schema: &str) -> Result<()> {
        let held = self.relations_in_schema(database, schema)?;
        self.execute(&format!(
            "drop schema if exists {}.{} cascade",
            quote(database),
            quote(schema)
        ))?;
        for relation in &held {
            self.forget_relation(relation);
        }
        Ok(())
    }

    /// Creates `database.schema` if it does not exist. Two connections creating the
    /// same schema at once conflict in DuckDB's catalog, so call this from one connection
    /// before work is spread over several.
    pub fn ensure_schema(&self, database: &str, schema: &str) -> Result<()> {
        self.execute(&format!(
            "create schema if not exists {}.{}",
            quote(database),
            quote(schema)
        ))
    }
}

/// The absolute form of `path` for SQL string literals (`read_csv('...')`), quotes doubled.
pub fn sql_string(path: &Path) -> String {
    crate::sql::string_literal(&path.to_string_lossy())
}
