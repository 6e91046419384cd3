//! DuckDB, the first engine: [`DuckDbConnection`] implements [`Connection`] over the `duckdb`
//! crate. A `duckdb::Connection` is `Send` but not `Sync`; each worker gets its own with
//! [`Connection::try_clone`], all on the same database.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::cancel;
use super::engine::{CatalogRelation, Cell, Column, Connection, RelationKind, Rows};
use crate::error::Diagnostic;
use crate::relation::Relation;

/// A connection to a DuckDB database (a file or in memory).
#[derive(Debug)]
pub struct DuckDbConnection(duckdb::Connection);

impl cancel::Interrupt for duckdb::InterruptHandle {
    fn interrupt(&self) {
        duckdb::InterruptHandle::interrupt(self);
    }
}

impl DuckDbConnection {
    fn registered(conn: duckdb::Connection) -> DuckDbConnection {
        let handle: Arc<dyn cancel::Interrupt> = conn.interrupt_handle();
        cancel::register(&handle);
        DuckDbConnection(conn)
    }

    /// Opens (creating if needed) the database at `path`, or an in-memory one for `None`.
    ///
    /// Errors, each naming the file and what to do: the file is not a DuckDB database;
    /// another process holds the database; DuckDB cannot open it (permissions, disk).
    pub fn open(path: Option<&Path>) -> Result<DuckDbConnection> {
        let Some(path) = path else {
            return Ok(DuckDbConnection::registered(duckdb::Connection::open_in_memory()?));
        };
        // DuckDB opens some other files (a CSV, say) as a database that keeps nothing: a
        // file that is there must carry DuckDB's header (`DUCK` at byte 8).
        if let Ok(mut file) = std::fs::File::open(path) {
            use std::io::Read;
            let mut head = Vec::with_capacity(12);
            file.by_ref().take(12).read_to_end(&mut head)?;
            if !head.is_empty() && head.get(8..12) != Some(b"DUCK".as_slice()) {
                return Err(open_error(path, "not a valid DuckDB database file").into());
            }
        }
        duckdb::Connection::open(path)
            .map(DuckDbConnection::registered)
            .map_err(|e| open_error(path, &e.to_string()).into())
    }

    /// Opens an existing database read-only (no lock is taken; DuckDB refuses while another
    /// process writes it).
    ///
    /// Errors: the file cannot be opened: held by a writer (naming the Mallard run that
    /// writes it, from its lock file), not a DuckDB database, or DuckDB's reason.
    pub fn open_read_only(path: &Path) -> Result<DuckDbConnection> {
        let config = duckdb::Config::default().access_mode(duckdb::AccessMode::ReadOnly)?;
        duckdb::Connection::open_with_flags(path, config)
            .map(DuckDbConnection)
            .map_err(|e| {
                let mut lock = path.as_os_str().to_owned();
                lock.push(".lock");
                // A Mallard run holds its lock file while it writes (see `super::lock`).
                let held = std::fs::File::open(&lock)
                    .is_ok_and(|f| matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)));
                let holder = std::fs::read_to_string(&lock).unwrap_or_default();
                let holder = holder.trim();
                let message = e.to_string();
                if held {
                    Diagnostic::new(format!(
                        "database `{}` is being written by another Mallard run ({holder})",
                        path.display()
                    ))
                    .help("wait for that run to end, then run this command again")
                    .into()
                } else {
                    open_error(path, &message).into()
                }
            })
    }

    /// Relations from an `information_schema.tables` query whose first three columns are
    /// catalog, schema and name.
    fn relation_rows(&self, sql: &str, params: &[&str]) -> Result<Vec<Relation>> {
        let mut stmt = self.0.prepare(sql)?;
        let rows = stmt.query_map(duckdb::params_from_iter(params), |row| {
            let relation = Relation::new(
                &row.get::<_, String>(0)?,
                &row.get::<_, String>(1)?,
                &row.get::<_, String>(2)?,
            );
            // information_schema's table_type: `BASE TABLE`, `VIEW`, `LOCAL TEMPORARY`.
            let kind = match row.get::<_, String>(3)?.as_str() {
                "VIEW" => "view",
                _ => "table",
            };
            Ok(relation.of_kind(kind))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Connection for DuckDbConnection {
    fn try_clone(&self) -> Result<Box<dyn Connection>> {
        Ok(Box::new(DuckDbConnection::registered(self.0.try_clone()?)))
    }

    fn execute(&self, sql: &str) -> Result<()> {
        Ok(self.0.execute_batch(sql)?)
    }

    fn query(&self, sql: &str) -> Result<Rows> {
        let mut stmt = self.0.prepare(sql)?;
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
                    .map(|i| row.get::<_, duckdb::types::Value>(i).map(cell))
                    .collect::<Result<_, _>>()?,
            );
        }
        drop(rows);
        if names.is_empty() {
            names = stmt.column_names();
        }
        Ok((names, out))
    }

    fn describe(&self, sql: &str) -> Result<Vec<Column>> {
        let mut stmt = self.0.prepare(&format!("describe {sql}"))?;
        let rows = stmt.query_map([], |row| {
            Ok(Column {
                name: row.get(0)?,
                data_type: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn relations(&self) -> Result<Vec<(Relation, RelationKind)>> {
        let mut stmt = self.0.prepare(
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
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn relations_in_schema(&self, database: &str, schema: &str) -> Result<Vec<Relation>> {
        self.relation_rows(
            "select table_catalog, table_schema, table_name, table_type from information_schema.tables \
             where lower(table_catalog) = lower(?) and lower(table_schema) = lower(?) order by table_name",
            &[database, schema],
        )
    }

    fn schema_exists(&self, database: &str, schema: &str) -> Result<bool> {
        let mut stmt = self.0.prepare(
            "select count(*) from information_schema.schemata \
             where lower(catalog_name) = lower(?) and lower(schema_name) = lower(?)",
        )?;
        let n: i64 = stmt.query_row([database, schema], |row| row.get(0))?;
        Ok(n > 0)
    }

    fn find_relation(&self, database: &str, schema: &str, identifier: &str) -> Result<Option<Relation>> {
        Ok(self
            .relation_rows(
                "select table_catalog, table_schema, table_name, table_type from information_schema.tables \
                 where lower(table_catalog) = lower(?) and lower(table_schema) = lower(?) \
                 and lower(table_name) = lower(?)",
                &[database, schema, identifier],
            )?
            .into_iter()
            .next())
    }

    fn dialect(&self) -> &'static dyn super::dialect::Dialect {
        &super::dialect::DuckDb
    }

    /// dbt-duckdb's `duckdb__get_catalog`: `duckdb_tables()`, `duckdb_views()` (not internal)
    /// and `duckdb_columns()`.
    fn catalog(&self, databases: &[String]) -> Result<Option<Vec<CatalogRelation>>> {
        let list = databases
            .iter()
            .map(|d| crate::sql::string_literal(&d.to_lowercase()))
            .collect::<Vec<_>>()
            .join(", ");
        let text = |c: &Cell| match c {
            Cell::Null => None,
            other => Some(other.to_string()),
        };
        let (_, rows) = self.query(&format!(
            "select database_name, schema_name, table_name, 'BASE TABLE', comment, estimated_size from duckdb_tables() \
             where lower(database_name) in ({list}) \
             union all select database_name, schema_name, view_name, 'VIEW', comment, null from duckdb_views() \
             where lower(database_name) in ({list}) and not internal"
        ))?;
        let mut out: Vec<CatalogRelation> = rows
            .iter()
            .map(|r| CatalogRelation {
                database: r[0].to_string(),
                schema: r[1].to_string(),
                name: r[2].to_string(),
                kind: r[3].to_string(),
                comment: text(&r[4]),
                rows: r[5].as_i64(),
                columns: Vec::new(),
            })
            .collect();
        let at: std::collections::HashMap<(String, String, String), usize> = out
            .iter()
            .enumerate()
            .map(|(i, r)| ((r.database.clone(), r.schema.clone(), r.name.clone()), i))
            .collect();
        let (_, rows) = self.query(&format!(
            "select database_name, schema_name, table_name, column_name, data_type, comment from duckdb_columns() \
             where lower(database_name) in ({list}) order by database_name, schema_name, table_name, column_index"
        ))?;
        for r in rows {
            let k = (r[0].to_string(), r[1].to_string(), r[2].to_string());
            if let Some(&i) = at.get(&k) {
                out[i]
                    .columns
                    .push((r[3].to_string(), r[4].to_string(), text(&r[5])));
            }
        }
        Ok(Some(out))
    }

    /// `json_serialize_sql`, 500 queries to a statement (one statement each cost a second at
    /// 10,000 models).
    fn parse_to_json(&self, queries: &[&str]) -> Result<Option<Vec<String>>> {
        let mut out = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(i, sql)| format!("({i}, {})", crate::sql::string_literal(sql)))
                .collect();
            let (_, rows) = self.query(&format!(
                "select json_serialize_sql(s) from (values {}) as t(i, s) order by i",
                values.join(", ")
            ))?;
            out.extend(
                rows.iter()
                    .map(|r| r.first().map(|c| c.to_string()).unwrap_or_default()),
            );
        }
        Ok(Some(out))
    }

    fn adapter_type(&self) -> &'static str {
        "duckdb"
    }

    fn load_csv(
        &self,
        relation: &Relation,
        csv: &Path,
        delimiter: char,
        _columns: &[(String, String)],
    ) -> Result<String> {
        Ok(format!(
            "copy {relation} from {} ({})",
            super::sql_string(csv),
            self.csv_copy_options(csv, delimiter)
        ))
    }
}

impl DuckDbConnection {
    /// The options of DuckDB's `COPY ... FROM` for CSV file `csv` with a header and
    /// `delimiter`: the quote, escape, rows to skip and comment character DuckDB's sniffer
    /// finds, asked for the dialect only (`auto_type_candidates = ['VARCHAR']`), and
    /// `auto_detect false`, so that the `COPY` into a table with declared types skips the
    /// sniffer's type detection, which tried date formats on every column (on adventureworks'
    /// 15 seeds, 0.50 s of COPY became 0.19 s; the loaded tables of the corpus's 223 CSV
    /// files identical). A seed quoted with `'` is read as dbt-duckdb reads it.
    /// When the dialect cannot be sniffed, options that let the `COPY` sniff and report what
    /// it finds.
    fn csv_copy_options(&self, csv: &Path, delimiter: char) -> String {
        let delimiter = super::sql_string(Path::new(&delimiter.to_string()));
        let sniffed = self.query(&format!(
            "select Quote, Escape, SkipRows, Comment from sniff_csv({}, header = true, delim = {delimiter}, \
             auto_type_candidates = ['VARCHAR'])",
            super::sql_string(csv)
        ));
        // The sniffer writes an unset character as `(empty)`.
        let text = |v: &Cell| Some(v.to_string()).filter(|t| t != "(empty)").unwrap_or_default();
        match sniffed {
            Ok((_, rows)) if rows.len() == 1 && rows[0].len() == 4 => {
                let row = &rows[0];
                let comment = text(&row[3]);
                format!(
                    "format csv, header true, delimiter {delimiter}, quote {}, escape {}, skip {}{}, auto_detect false",
                    super::sql_string(Path::new(&text(&row[0]))),
                    super::sql_string(Path::new(&text(&row[1]))),
                    text(&row[2]).parse::<u64>().unwrap_or(0),
                    if comment.is_empty() {
                        String::new()
                    } else {
                        format!(", comment {}", super::sql_string(Path::new(&comment)))
                    }
                )
            }
            _ => format!("format csv, header true, delimiter {delimiter}"),
        }
    }
}

/// A DuckDB value as a [`Cell`]: integers of every width as `Int` (`UHUGEINT` as `UInt`),
/// dates as `YYYY-MM-DD`, timestamps as `YYYY-MM-DD HH:MM:SS[.ffffff]`, other types in their
/// debug form.
fn cell(v: duckdb::types::Value) -> Cell {
    use duckdb::types::{TimeUnit, Value as D};
    match v {
        D::Null => Cell::Null,
        D::Boolean(b) => Cell::Bool(b),
        D::TinyInt(n) => Cell::Int(n.into()),
        D::SmallInt(n) => Cell::Int(n.into()),
        D::Int(n) => Cell::Int(n.into()),
        D::BigInt(n) => Cell::Int(n.into()),
        D::HugeInt(n) => Cell::Int(n),
        D::UTinyInt(n) => Cell::Int(n.into()),
        D::USmallInt(n) => Cell::Int(n.into()),
        D::UInt(n) => Cell::Int(n.into()),
        D::UBigInt(n) => Cell::Int(n.into()),
        D::UHugeInt(n) => Cell::UInt(n),
        D::Float(f) => Cell::Float(f.into()),
        D::Double(f) => Cell::Float(f),
        D::Decimal(d) => Cell::Decimal(d.to_string()),
        D::Text(s) | D::Enum(s) => Cell::Text(s),
        D::List(items) | D::Array(items) => Cell::List(items.into_iter().map(cell).collect()),
        D::Date32(days) => Cell::Temporal(
            chrono::NaiveDate::from_num_days_from_ce_opt(days + 719_163)
                .map(|d| d.to_string())
                .unwrap_or_else(|| days.to_string()),
        ),
        D::Timestamp(unit, n) => {
            let micros = match unit {
                TimeUnit::Second => n * 1_000_000,
                TimeUnit::Millisecond => n * 1_000,
                TimeUnit::Microsecond => n,
                TimeUnit::Nanosecond => n / 1_000,
            };
            Cell::Temporal(
                chrono::DateTime::from_timestamp_micros(micros)
                    .map(|t| t.naive_utc().to_string())
                    .unwrap_or_else(|| n.to_string()),
            )
        }
        other => Cell::Other(format!("{other:?}")),
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

#[cfg(test)]
mod tests {
    use super::DuckDbConnection;

    #[test]
    fn a_file_that_is_not_a_duckdb_database_is_refused_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("people.csv");
        std::fs::write(&csv, "id,name\n1,ann\n").unwrap();
        let err = DuckDbConnection::open(Some(&csv))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("exists but is not a DuckDB database"), "{err}");
        assert_eq!(std::fs::read_to_string(&csv).unwrap(), "id,name\n1,ann\n");
    }
}
