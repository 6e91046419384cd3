//! Apache Spark over Spark Connect, the second engine: [`SparkConnection`] implements
//! [`Connection`] with the `apache-spark-connect` client (gRPC; Spark 3.4+), and
//! [`SparkDialect`] (in `spark_dialect.rs`) gives Spark SQL's statements for materializations.
//!
//! Spark has no transactions. A table is replaced the way [`Dialect::replaces_tables_in_place`]
//! describes for such engines: built under a staging name, then swapped in by two renames
//! (see `crate::materialization`), so a failing model leaves the previous table readable.

use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::OnceLock;

use anyhow::Result;
use spark_connect::row::Value as SparkValue;
use spark_connect::session::SparkSession;
use spark_connect::types::{DataType, StructField};

use super::dialect::Dialect;
use super::engine::{Cell, Column, Connection, RelationKind, Rows};
use super::spark_dialect::SparkDialect;
use crate::config::connection::SparkConnect;
use crate::error::Diagnostic;
use crate::relation::{quote, Relation};

/// One Spark Connect session; each worker has its own ([`Connection::try_clone`]).
pub struct SparkConnection {
    session: SparkSession,
    target: SparkConnect,
}

impl std::fmt::Debug for SparkConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SparkConnection({}:{})", self.target.host, self.target.port)
    }
}

/// The file format tables are created with (the target's `file_format`), set when the first
/// connection opens: a process runs one target.
static DIALECT: OnceLock<SparkDialect> = OnceLock::new();

/// The error of Spark's client or server, without the token.
fn spark_error(target: &SparkConnect, e: impl std::fmt::Display) -> anyhow::Error {
    let mut text = e.to_string();
    if let Some(token) = target.token.as_deref().filter(|t| !t.is_empty()) {
        text = text.replace(token, "***");
    }
    anyhow::anyhow!("{text}")
}

impl SparkConnection {
    /// Connects to the Spark Connect server of `target`, sets its `server_side_parameters`
    /// and runs `select 1`, so that an unreachable server or a refused token is said here.
    ///
    /// Errors (exit code 2 upstream): the host does not resolve; nothing accepts a connection
    /// within `connect_timeout`; the server refuses the session (a wrong token) or a conf.
    pub fn open(target: &SparkConnect) -> Result<SparkConnection> {
        let unreachable = |why: String| -> anyhow::Error {
            Diagnostic::new(format!(
                "cannot reach the Spark Connect server at {}:{}: {why}",
                target.host, target.port
            ))
            .at(target.at.clone())
            .help("start the server (`bash scripts/spark-server start` runs one locally), or fix `host`/`port` of the target in profiles.yml")
            .into()
        };
        let addrs: Vec<_> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| unreachable(format!("the host does not resolve ({e})")))?
            .collect();
        let reachable = addrs
            .iter()
            .any(|a| TcpStream::connect_timeout(a, target.connect_timeout).is_ok());
        if !reachable {
            return Err(unreachable(format!(
                "no connection within {} s (`connect_timeout`)",
                target.connect_timeout.as_secs()
            )));
        }
        let session = SparkSession::builder()
            .remote(&target.url())
            .get_or_create()
            .map_err(|e| unreachable(spark_error(target, e).to_string()))?;
        let conn = SparkConnection {
            session,
            target: target.clone(),
        };
        for (key, value) in &target.server_side_parameters {
            conn.session.conf().set(key, value).map_err(|e| {
                Diagnostic::new(format!(
                    "Spark refused `server_side_parameters` `{key}: {value}`: {}",
                    spark_error(target, e)
                ))
                .at(target.at.clone())
            })?;
        }
        conn.query("select 1").map_err(|e| {
            Diagnostic::new(format!(
                "the Spark Connect server at {}:{} refused the session: {e}",
                target.host, target.port
            ))
            .at(target.at.clone())
            .help("check `token` and `use_ssl` of the target in profiles.yml")
        })?;
        DIALECT.get_or_init(|| SparkDialect::new(&target.file_format));
        Ok(conn)
    }

    fn rows(&self, sql: &str) -> Result<Vec<spark_connect::row::Row>> {
        let fail = |e| anyhow::anyhow!("{}", quoting_line(&spark_error(&self.target, e).to_string(), sql));
        self.session.sql(sql).map_err(fail)?.collect().map_err(fail)
    }

    /// The columns of query `sql` as Spark analyzes it (no rows are read).
    fn schema(&self, sql: &str) -> Result<Vec<StructField>> {
        let fail = |e| spark_error(&self.target, e);
        let schema = self.session.sql(sql).map_err(fail)?.schema().map_err(fail)?;
        match schema {
            DataType::Struct { fields } => Ok(fields),
            other => anyhow::bail!("Spark described `{sql}` as {other}, not as columns"),
        }
    }

    /// The name of every table or view of `schema` (`show tables`), and which are views
    /// (`show views`). A schema that does not exist (or that another session drops meanwhile)
    /// has none.
    fn tables_in(&self, schema: &str) -> Result<Vec<(String, RelationKind)>> {
        match self.tables_or_views_in(schema) {
            Err(e) if e.to_string().contains("SCHEMA_NOT_FOUND") => Ok(Vec::new()),
            other => other,
        }
    }

    fn tables_or_views_in(&self, schema: &str) -> Result<Vec<(String, RelationKind)>> {
        let text = |row: &spark_connect::row::Row, i: usize| match row.get(i) {
            Some(SparkValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let views: Vec<String> = self
            .rows(&format!("show views in {}", quote(schema)))?
            .iter()
            .filter(|r| matches!(r.get(2), Some(SparkValue::Bool(false))))
            .map(|r| text(r, 1))
            .collect();
        Ok(self
            .rows(&format!("show tables in {}", quote(schema)))?
            .iter()
            .filter(|r| matches!(r.get(2), Some(SparkValue::Bool(false))))
            .map(|r| {
                let name = text(r, 1);
                let kind = if views.contains(&name) {
                    RelationKind::View
                } else {
                    RelationKind::Table
                };
                (name, kind)
            })
            .collect())
    }

    /// Sends the rows of CSV file `csv` (a header; `delimiter`) to the session as an Arrow
    /// batch of text columns (`create_dataframe`: one gRPC message, not row inserts), named
    /// `view`. An empty field is NULL, as dbt's seeds read it.
    fn upload_csv(&self, csv: &Path, delimiter: char, view: &str) -> Result<()> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter as u8)
            .from_path(csv)
            .map_err(|e| anyhow::anyhow!("cannot read `{}`: {e}", csv.display()))?;
        let names: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record?;
            let values = (0..names.len())
                .map(|i| match record.get(i) {
                    Some("") | None => SparkValue::Null,
                    Some(v) => SparkValue::String(v.to_string()),
                })
                .collect();
            rows.push(spark_connect::row::Row::new(names.clone(), values));
        }
        let schema = DataType::Struct {
            fields: names
                .iter()
                .map(|n| StructField {
                    name: n.clone(),
                    data_type: DataType::String {
                        collation: "UTF8_BINARY".into(),
                    },
                    nullable: true,
                    metadata: Default::default(),
                })
                .collect(),
        };
        let fail = |e| spark_error(&self.target, e);
        self.session
            .create_dataframe(rows, schema)
            .map_err(fail)?
            .create_or_replace_temp_view(view)
            .map_err(fail)
    }
}

/// `message` with the statement's line it names quoted as DuckDB quotes it (`LINE n: text`):
/// Spark ends a parse or analysis error with `line N pos M` of `sql`, and the runner finds the
/// model's `file:line` from the quoted text (see `compile::error_location`). Unchanged when the
/// message names no line of `sql`.
fn quoting_line(message: &str, sql: &str) -> String {
    let line = message.rsplit_once("line ").and_then(|(_, rest)| {
        let (n, rest) = rest.split_once(' ')?;
        rest.starts_with("pos ").then_some(())?;
        n.parse::<usize>().ok()
    });
    match line.and_then(|n| Some((n, sql.lines().nth(n.checked_sub(1)?)?))) {
        Some((n, text)) if !text.trim().is_empty() => format!("{message}\nLINE {n}: {}", text.trim()),
        _ => message.to_string(),
    }
}

/// A Spark value as a [`Cell`]: dates and timestamps as ISO text (timestamps in UTC).
fn cell(v: &SparkValue) -> Cell {
    match v {
        SparkValue::Null => Cell::Null,
        SparkValue::Bool(b) => Cell::Bool(*b),
        SparkValue::Byte(n) => Cell::Int(*n as i128),
        SparkValue::Short(n) => Cell::Int(*n as i128),
        SparkValue::Integer(n) => Cell::Int(*n as i128),
        SparkValue::Long(n) => Cell::Int(*n as i128),
        SparkValue::Float(f) => Cell::Float(*f as f64),
        SparkValue::Double(f) => Cell::Float(*f),
        SparkValue::String(s) => Cell::Text(s.clone()),
        SparkValue::Decimal { value, .. } => Cell::Decimal(value.clone()),
        SparkValue::Date(days) => Cell::Temporal(
            (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
                + chrono::Duration::days(*days as i64))
            .to_string(),
        ),
        SparkValue::Timestamp(micros) => Cell::Temporal(
            chrono::DateTime::from_timestamp_micros(*micros)
                .map(|t| t.naive_utc().to_string())
                .unwrap_or_default(),
        ),
        SparkValue::List(items) => Cell::List(items.iter().map(cell).collect()),
        other => Cell::Other(format!("{other:?}")),
    }
}

/// Whether `sql` is a query rather than a relation's name.
fn is_query(sql: &str) -> bool {
    let head = sql.trim_start().to_lowercase();
    head.starts_with("select") || head.starts_with("with") || head.starts_with('(')
}

impl Connection for SparkConnection {
    fn try_clone(&self) -> Result<Box<dyn Connection>> {
        Ok(Box::new(SparkConnection::open(&self.target)?))
    }

    fn execute(&self, sql: &str) -> Result<()> {
        for statement in statements(sql) {
            self.rows(statement)?;
        }
        Ok(())
    }

    fn query(&self, sql: &str) -> Result<Rows> {
        let rows = self.rows(sql)?;
        let names = match rows.first() {
            Some(r) => r.fields().to_vec(),
            None if is_query(sql) => self.schema(sql)?.into_iter().map(|f| f.name).collect(),
            None => Vec::new(),
        };
        Ok((
            names,
            rows.iter()
                .map(|r| r.values().iter().map(cell).collect())
                .collect(),
        ))
    }

    fn describe(&self, sql: &str) -> Result<Vec<Column>> {
        let query = if is_query(sql) {
            sql.to_string()
        } else {
            format!("select * from {sql}")
        };
        Ok(self
            .schema(&query)?
            .into_iter()
            .map(|f| Column {
                name: f.name,
                data_type: f.data_type.simple_string(),
            })
            .collect())
    }

    fn relations(&self) -> Result<Vec<(Relation, RelationKind)>> {
        let mut out = Vec::new();
        for row in self.rows("show schemas")? {
            let Some(SparkValue::String(schema)) = row.get(0) else {
                continue;
            };
            for (name, kind) in self.tables_in(schema)? {
                out.push((Relation::new("spark_catalog", schema, &name), kind));
            }
        }
        Ok(out)
    }

    fn relations_in_schema(&self, _database: &str, schema: &str) -> Result<Vec<Relation>> {
        let mut found = self.tables_in(schema)?;
        found.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(found
            .iter()
            .map(|(n, kind)| {
                Relation::new("spark_catalog", schema, n).of_kind(super::dialect::kind_word(*kind))
            })
            .collect())
    }

    fn schema_exists(&self, _database: &str, schema: &str) -> Result<bool> {
        let pattern = schema.replace('\'', "");
        Ok(!self.rows(&format!("show schemas like '{pattern}'"))?.is_empty())
    }

    fn find_relation(&self, database: &str, schema: &str, identifier: &str) -> Result<Option<Relation>> {
        Ok(self
            .relations_in_schema(database, schema)?
            .into_iter()
            .find(|r| r.identifier.eq_ignore_ascii_case(identifier)))
    }

    fn load_csv(
        &self,
        relation: &Relation,
        csv: &Path,
        delimiter: char,
        columns: &[(String, String)],
    ) -> Result<String> {
        let view = format!("mallard_seed_{}", relation.identifier);
        self.upload_csv(csv, delimiter, &view)?;
        // The table's declared types decide: each text value is cast to its column's type.
        let casts: Vec<String> = columns
            .iter()
            .map(|(name, ty)| format!("cast({} as {ty})", quote(name)))
            .collect();
        Ok(format!(
            "insert into {relation} select {} from {}",
            casts.join(", "),
            quote(&view)
        ))
    }

    fn adapter_type(&self) -> &'static str {
        "spark"
    }

    fn transactional(&self) -> bool {
        false
    }

    fn dialect(&self) -> &'static dyn Dialect {
        DIALECT.get_or_init(|| SparkDialect::new("parquet"))
    }
}

/// `sql` split into its statements at each `;` outside quotes and comments (Spark takes one
/// statement per call); empty statements dropped.
pub fn statements(sql: &str) -> Vec<&str> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < bytes.len() && bytes[i] != q {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                out.push(&sql[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&sql[start.min(sql.len())..]);
    out.into_iter()
        .filter(|s| {
            let code: String = s.lines().map(|l| l.split("--").next().unwrap_or("")).collect();
            !code.trim().is_empty()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_spark_names_is_quoted_for_the_runner_to_place() {
        let sql = "create table t\nusing parquet\nas\nselect strftime(d, '%Y') from x";
        assert_eq!(
            quoting_line("[UNRESOLVED_ROUTINE] Cannot resolve `strftime`. SQLSTATE: 42883; line 4 pos 7", sql),
            "[UNRESOLVED_ROUTINE] Cannot resolve `strftime`. SQLSTATE: 42883; line 4 pos 7\nLINE 4: select strftime(d, '%Y') from x"
        );
        assert_eq!(quoting_line("no line here", sql), "no line here");
        assert_eq!(quoting_line("x; line 9 pos 1", sql), "x; line 9 pos 1");
    }

    #[test]
    fn statements_split_at_semicolons_outside_quotes_and_comments() {
        assert_eq!(
            statements("select ';' as a; -- x; y\nselect `b;c` /* ; */ from t;\n  ; "),
            vec!["select ';' as a", " -- x; y\nselect `b;c` /* ; */ from t"]
        );
        assert_eq!(statements("select 1"), vec!["select 1"]);
        assert!(statements(" -- only a comment; \n").is_empty());
    }
}
