//! The only module that talks to DuckDB: opening the database, running statements in a
//! transaction, and the few metadata queries the materializations need.
//!
//! A [`duckdb::Connection`] is `Send` but not `Sync`; each worker thread gets its own with
//! [`Adapter::try_clone`], all on the same database.

pub mod cancel;
pub mod database;
pub mod lock;

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Result;
use duckdb::Connection;

use crate::error::Diagnostic;
use crate::templating::{quote, Relation};

/// What kind of relation already exists under a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// A column of a relation as DuckDB describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// DuckDB's type name, e.g. `BIGINT` or `DECIMAL(18,3)`.
    pub data_type: String,
}

/// A connection to the target's DuckDB database.
#[derive(Debug)]
pub struct Adapter {
    conn: Connection,
    /// `SET` statements every connection of this database runs first (the profile's
    /// `settings:`); a clone runs them too.
    settings: Arc<Vec<String>>,
    log: Option<Arc<StatementLog>>,
    /// The relations that exist, shared by the run's connections; read on first use.
    catalog: Arc<Mutex<Option<std::collections::HashMap<Relation, RelationKind>>>>,
}

/// The error of a statement not run because the run was told to stop by `signal`.
fn interrupted(signal: i32) -> duckdb::Error {
    duckdb::Error::ToSqlConversionFailure(Box::new(std::io::Error::new(
        std::io::ErrorKind::Interrupted,
        format!("interrupted by {}: rolled back", cancel::signal_name(signal)),
    )))
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
    /// Opens (creating if needed) the database at `path`, or an in-memory one for `None`.
    /// Writing runs open it through [`database::Database`], which takes the write lock first.
    ///
    /// Errors, each naming the file and what to do: the file is not a DuckDB database;
    /// another process holds the database; DuckDB cannot open it (permissions, disk).
    pub fn open(path: Option<&Path>) -> Result<Adapter> {
        let Some(path) = path else {
            let conn = Connection::open_in_memory()?;
            cancel::register(&conn.interrupt_handle());
            return Ok(Adapter {
                conn,
                log: StatementLog::from_env(),
                catalog: Default::default(),
                settings: Default::default(),
            });
        };
        Connection::open(path)
            .map(|conn| {
                cancel::register(&conn.interrupt_handle());
                Adapter {
                    conn,
                    log: StatementLog::from_env(),
                    catalog: Default::default(),
                    settings: Default::default(),
                }
            })
            .map_err(|e| open_error(path, &e.to_string()).into())
    }

    /// Opens an existing database read-only (no lock is taken; DuckDB refuses while another
    /// process writes it), for compiling.
    ///
    /// Errors: DuckDB's, when the file cannot be opened.
    pub fn open_read_only(path: &Path) -> Result<Adapter> {
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        Ok(Adapter {
            conn: Connection::open_with_flags(path, config)?,
            log: None,
            catalog: Default::default(),
            settings: Default::default(),
        })
    }

    /// This connection with `settings` (`SET` statements) run, and run again on every clone.
    ///
    /// Errors: DuckDB's, for an unknown setting or a bad value (naming the statement).
    pub fn with_settings(mut self, settings: &[String]) -> Result<Adapter> {
        for statement in settings {
            self.conn.execute_batch(statement).map_err(|e| {
                Diagnostic::new(format!(
                    "`{statement}` (from the profile's `settings`) failed: {e}"
                ))
            })?;
        }
        self.settings = Arc::new(settings.to_vec());
        Ok(self)
    }

    /// A second connection to the same database, for another worker thread.
    pub fn try_clone(&self) -> Result<Adapter> {
        let conn = self.conn.try_clone()?;
        cancel::register(&conn.interrupt_handle());
        for statement in self.settings.iter() {
            conn.execute_batch(statement)?;
        }
        Ok(Adapter {
            settings: self.settings.clone(),
            conn,
            log: self.log.clone(),
            catalog: self.catalog.clone(),
        })
    }

    /// Runs `sql` (one or more statements) outside any explicit transaction.
    pub fn execute(&self, sql: &str) -> Result<(), duckdb::Error> {
        self.logged(sql);
        self.conn.execute_batch(sql)
    }

    fn logged(&self, sql: &str) {
        if let Some(log) = &self.log {
            log.write(sql);
        }
    }

    /// Runs `statements` in one transaction: all take effect, or (on the first error, which
    /// is returned) none does.
    pub fn in_transaction(&self, statements: &[String]) -> Result<(), duckdb::Error> {
        self.execute("begin transaction")?;
        for stmt in statements {
            // A run told to stop starts no further statement, and commits nothing.
            if let Some(signal) = cancel::requested() {
                let _ = self.conn.execute_batch("rollback");
                return Err(interrupted(signal));
            }
            if let Err(e) = self.execute(stmt) {
                // The error that matters is the statement's; a failed rollback leaves the
                // transaction to be aborted when the connection closes.
                let _ = self.conn.execute_batch("rollback");
                return Err(e);
            }
        }
        if let Some(signal) = cancel::requested() {
            let _ = self.conn.execute_batch("rollback");
            return Err(interrupted(signal));
        }
        self.execute("commit")
    }

    /// Runs `work` inside one transaction: commits when it returns `Ok`, rolls back (and
    /// returns its error) otherwise, so that either all of its statements take effect or none.
    pub fn transaction<T>(&self, work: impl FnOnce(&Adapter) -> Result<T>) -> Result<T> {
        self.execute("begin transaction")?;
        match work(self) {
            Ok(value) => {
                self.execute("commit")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.conn.execute_batch("rollback");
                Err(e)
            }
        }
    }

    /// The columns of `relation` (any relation SQL, such as `temp.main."t"`), in order, with
    /// DuckDB's type names (`INTEGER`, `DECIMAL(18,3)`, `VARCHAR`).
    ///
    /// Errors: the relation does not exist.
    pub fn columns(&self, relation: &str) -> Result<Vec<Column>, duckdb::Error> {
        let mut stmt = self.conn.prepare(&format!("describe {relation}"))?;
        let rows = stmt.query_map([], |row| {
            Ok(Column {
                name: row.get(0)?,
                data_type: row.get(1)?,
            })
        })?;
        rows.collect()
    }

    /// Runs `sql` and returns its column names and every row (for `run_query` and `statement`).
    ///
    /// Errors: DuckDB's, for a query that fails.
    #[allow(clippy::type_complexity)]
    pub fn query_rows(
        &self,
        sql: &str,
    ) -> Result<(Vec<String>, Vec<Vec<duckdb::types::Value>>), duckdb::Error> {
        self.logged(sql);
        let mut stmt = self.conn.prepare(sql)?;
        let mut rows = stmt.query([])?;
        let mut out = Vec::new();
        let mut names = Vec::new();
        while let Some(row) = rows.next()? {
            let stmt = row.as_ref();
            if names.is_empty() {
                names = stmt.column_names();
            }
            let n = stmt.column_count();
            out.push(
                (0..n)
                    .map(|i| row.get::<_, duckdb::types::Value>(i))
                    .collect::<Result<_, _>>()?,
            );
        }
        drop(rows);
        if names.is_empty() {
            names = stmt.column_names();
        }
        Ok((names, out))
    }

    /// The relation named `database.schema.identifier` as the catalog spells it (names compared
    /// without regard to case, as DuckDB resolves them), or `None`.
    pub fn find_relation(
        &self,
        database: &str,
        schema: &str,
        identifier: &str,
    ) -> Result<Option<Relation>, duckdb::Error> {
        let mut stmt = self.conn.prepare(
            "select table_catalog, table_schema, table_name from information_schema.tables \
             where lower(table_catalog) = lower(?) and lower(table_schema) = lower(?) and lower(table_name) = lower(?)",
        )?;
        let mut rows = stmt.query([database, schema, identifier])?;
        match rows.next()? {
            Some(row) => Ok(Some(Relation::new(
                &row.get::<_, String>(0)?,
                &row.get::<_, String>(1)?,
                &row.get::<_, String>(2)?,
            ))),
            None => Ok(None),
        }
    }

    /// The options of a `COPY ... FROM` of CSV file `csv` with a header and `delimiter`: the
    /// quote, escape, rows to skip and comment character DuckDB's sniffer finds, asked for
    /// the dialect only (`auto_type_candidates = ['VARCHAR']`), and `auto_detect false`, so
    /// that the `COPY` into a table with declared types skips the sniffer's type detection.
    /// When the dialect cannot be sniffed, options that let the `COPY` sniff and report what
    /// it finds.
    pub fn csv_copy_options(&self, csv: &Path, delimiter: char) -> String {
        let delimiter = sql_string(Path::new(&delimiter.to_string()));
        let sniffed = self.query_rows(&format!(
            "select Quote, Escape, SkipRows, Comment from sniff_csv({}, header = true, delim = {delimiter}, \
             auto_type_candidates = ['VARCHAR'])",
            sql_string(csv)
        ));
        // The sniffer writes an unset character as `(empty)`.
        let text = |v: &duckdb::types::Value| {
            Some(display_value(v))
                .filter(|t| t != "(empty)")
                .unwrap_or_default()
        };
        match sniffed {
            Ok((_, rows)) if rows.len() == 1 && rows[0].len() == 4 => {
                let row = &rows[0];
                let comment = text(&row[3]);
                format!(
                    "format csv, header true, delimiter {delimiter}, quote {}, escape {}, skip {}{}, auto_detect false",
                    sql_string(Path::new(&text(&row[0]))),
                    sql_string(Path::new(&text(&row[1]))),
                    text(&row[2]).parse::<u64>().unwrap_or(0),
                    if comment.is_empty() {
                        String::new()
                    } else {
                        format!(", comment {}", sql_string(Path::new(&comment)))
                    }
                )
            }
            _ => format!("format csv, header true, delimiter {delimiter}"),
        }
    }

    /// The first row of `sql` as numbers: `None` for a NULL or a value that is not a number.
    /// Empty when the query returns no row.
    ///
    /// Errors: DuckDB's, for a query that fails.
    pub fn query_numbers(&self, sql: &str) -> Result<Vec<Option<f64>>, duckdb::Error> {
        let (_, rows) = self.query_rows(sql)?;
        Ok(rows
            .first()
            .map(|row| row.iter().map(|v| display_value(v).parse::<f64>().ok()).collect())
            .unwrap_or_default())
    }

    /// The first column of the first row of `sql` as an integer.
    pub fn query_i64(&self, sql: &str) -> Result<i64, duckdb::Error> {
        self.logged(sql);
        self.conn.query_row(sql, [], |row| row.get(0))
    }

    /// The first row of `sql` as `(failures, should_warn, should_error)`, the shape of a data
    /// test's wrapper query.
    pub fn query_test(&self, sql: &str) -> Result<(i64, bool, bool), duckdb::Error> {
        self.logged(sql);
        self.conn
            .query_row(sql, [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
    }

    /// Column names of the result of `sql`, in order.
    pub fn describe(&self, sql: &str) -> Result<Vec<String>, duckdb::Error> {
        let mut stmt = self.conn.prepare(&format!("describe {sql}"))?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect()
    }

    /// The type names of the result columns of `sql`, in order, as DuckDB names them
    /// (`VARCHAR`, `TIMESTAMP WITH TIME ZONE`, ...), without running it.
    ///
    /// Errors: DuckDB's, for a query that does not bind.
    pub fn column_types(&self, sql: &str) -> Result<Vec<String>, duckdb::Error> {
        let mut stmt = self.conn.prepare(&format!("describe {sql}"))?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(1))?;
        rows.collect()
    }

    /// Whether `relation` exists, and as what. The catalog is read once per run, with one
    /// query, and kept up to date by [`Adapter::set_relation_kind`]: one lookup per node cost
    /// a catalog query each, which DuckDB running the same statements does not pay.
    pub fn relation_kind(&self, relation: &Relation) -> Result<Option<RelationKind>, duckdb::Error> {
        let mut catalog = self.catalog.lock().unwrap_or_else(|p| p.into_inner());
        if catalog.is_none() {
            let mut stmt = self.conn.prepare(
                "select table_catalog, table_schema, table_name, table_type from information_schema.tables",
            )?;
            let rows = stmt.query_map([], |row| {
                let kind: String = row.get(3)?;
                let kind = if kind == "VIEW" {
                    RelationKind::View
                } else {
                    RelationKind::Table
                };
                Ok((
                    Relation::new(
                        &row.get::<_, String>(0)?,
                        &row.get::<_, String>(1)?,
                        &row.get::<_, String>(2)?,
                    ),
                    kind,
                ))
            })?;
            *catalog = Some(rows.collect::<Result<_, _>>()?);
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
    /// Errors: DuckDB's.
    pub fn relations_in_schema(&self, database: &str, schema: &str) -> Result<Vec<Relation>, duckdb::Error> {
        let mut stmt = self.conn.prepare(
            "select table_catalog, table_schema, table_name from information_schema.tables \
             where lower(table_catalog) = lower(?) and lower(table_schema) = lower(?) order by table_name",
        )?;
        let rows = stmt.query_map([database, schema], |row| {
            Ok(Relation::new(
                &row.get::<_, String>(0)?,
                &row.get::<_, String>(1)?,
                &row.get::<_, String>(2)?,
            ))
        })?;
        rows.collect()
    }

    /// Creates `database.schema` if it does not exist. Two connections creating the
    /// same schema at once conflict in DuckDB's catalog, so call this from one connection
    /// before work is spread over several.
    pub fn ensure_schema(&self, database: &str, schema: &str) -> Result<(), duckdb::Error> {
        self.execute(&format!(
            "create schema if not exists {}.{}",
            quote(database),
            quote(schema)
        ))
    }
}

/// Turns DuckDB's message on a failed open into one that says what to do.
fn open_error(path: &Path, msg: &str) -> Diagnostic {
    let shown = path.display();
    if msg.contains("Could not set lock") || msg.contains("Conflicting lock") {
        Diagnostic::new(format!("database `{shown}` is in use by another process")).help(format!(
            "wait for the other run to finish (DuckDB said: {})",
            first_line(msg)
        ))
    } else if msg.contains("not a valid DuckDB database")
        || msg.contains("invalid") && msg.contains("database")
    {
        Diagnostic::new(format!("`{shown}` exists but is not a DuckDB database"))
            .help("point `path:` in profiles.yml at a new file, or move this file away")
    } else if msg.contains("Permission denied")
        || msg.contains("Operation not permitted")
        || msg.contains("Read-only")
        || msg.contains("read-only")
    {
        Diagnostic::new(format!(
            "cannot write database `{shown}`: {}",
            if msg.contains("Operation not permitted") {
                "the file may not be changed (owned by someone else, or immutable)"
            } else {
                "permission denied"
            }
        ))
        .help("make the folder and file writable by this user, or change `path:` in profiles.yml; nothing was changed")
    } else {
        Diagnostic::new(format!("cannot open database `{shown}`: {}", first_line(msg)))
            .help("check `path:` of the target in profiles.yml")
    }
}

fn first_line(msg: &str) -> &str {
    msg.lines().next().unwrap_or(msg)
}

/// The absolute form of `path` for SQL string literals (`read_csv('...')`), quotes doubled.
pub fn sql_string(path: &Path) -> String {
    format!("'{}'", path.to_string_lossy().replace('\'', "''"))
}

/// A DuckDB value as text for people: numbers and strings as themselves, dates as
/// `YYYY-MM-DD`, timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]`, NULL as `null`; other types in
/// their debug form.
pub fn display_value(v: &duckdb::types::Value) -> String {
    use duckdb::types::{TimeUnit, Value as D};
    match v {
        D::Null => "null".to_string(),
        D::Text(s) | D::Enum(s) => s.clone(),
        D::Boolean(b) => b.to_string(),
        D::TinyInt(n) => n.to_string(),
        D::SmallInt(n) => n.to_string(),
        D::Int(n) => n.to_string(),
        D::BigInt(n) => n.to_string(),
        D::HugeInt(n) => n.to_string(),
        D::UTinyInt(n) => n.to_string(),
        D::USmallInt(n) => n.to_string(),
        D::UInt(n) => n.to_string(),
        D::UBigInt(n) => n.to_string(),
        D::UHugeInt(n) => n.to_string(),
        D::Float(f) => f.to_string(),
        D::Double(f) => f.to_string(),
        D::Decimal(d) => d.to_string(),
        D::Date32(days) => chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
            .map(|d| d.to_string())
            .unwrap_or_else(|| days.to_string()),
        D::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n * 1_000_000,
                TimeUnit::Millisecond => n * 1_000,
                TimeUnit::Microsecond => *n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.naive_utc().to_string())
                .unwrap_or_else(|| n.to_string())
        }
        other => format!("{other:?}"),
    }
}
