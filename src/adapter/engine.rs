//! The engine interface: what a database engine gives Mallard, one connection at a time.
//! DuckDB ([`super::duckdb`]) is the first implementation; a second engine implements
//! [`Connection`] and is opened where [`super::database::Database`] opens DuckDB. Everything
//! above `adapter/` reaches the engine through [`super::Adapter`], which adds what is the same
//! for every engine (transactions, the statement log, the cache of which relations exist), and
//! sees its values as [`Cell`]s.

use std::fmt;
use std::path::Path;

use anyhow::Result;

use crate::relation::Relation;

/// What kind of relation already exists under a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// A column of a relation or query result as the engine describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The engine's type name, e.g. DuckDB's `BIGINT` or `DECIMAL(18,3)`.
    pub data_type: String,
}

/// One value of a query result, the same for every engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Bool(bool),
    /// Any signed integer type.
    Int(i128),
    /// An unsigned integer too large for `Int` (DuckDB's `UHUGEINT`).
    UInt(u128),
    Float(f64),
    /// A fixed-point number, as the engine writes it (`12.50`).
    Decimal(String),
    Text(String),
    /// A date (`YYYY-MM-DD`) or timestamp (`YYYY-MM-DD HH:MM:SS[.ffffff]`), as text.
    Temporal(String),
    List(Vec<Cell>),
    /// Any other type, in the engine's own text form.
    Other(String),
}

impl Cell {
    /// The value as a whole number: integers, and decimals and floats without a fraction;
    /// `None` otherwise.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Cell::Int(n) => i64::try_from(*n).ok(),
            Cell::UInt(n) => i64::try_from(*n).ok(),
            Cell::Float(f) if f.fract() == 0.0 => Some(*f as i64),
            Cell::Decimal(d) => d
                .parse::<f64>()
                .ok()
                .filter(|f| f.fract() == 0.0)
                .map(|f| f as i64),
            _ => None,
        }
    }

    /// The value as a number (integers, floats, decimals, numeric text); `None` otherwise.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Cell::Int(n) => Some(*n as f64),
            Cell::UInt(n) => Some(*n as f64),
            Cell::Float(f) => Some(*f),
            Cell::Decimal(t) | Cell::Text(t) => t.parse().ok(),
            _ => None,
        }
    }
}

/// The value as text for people: numbers and strings as themselves, dates and timestamps as
/// ISO text, NULL as `null`.
impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(n) => write!(f, "{n}"),
            Cell::UInt(n) => write!(f, "{n}"),
            Cell::Float(x) => write!(f, "{x}"),
            Cell::Decimal(t) | Cell::Text(t) | Cell::Temporal(t) | Cell::Other(t) => f.write_str(t),
            Cell::List(items) => write!(f, "{items:?}"),
        }
    }
}

/// A query's column names and its rows.
pub type Rows = (Vec<String>, Vec<Vec<Cell>>);

/// A table or view as an engine's catalog lists it (see [`Connection::catalog`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogRelation {
    pub database: String,
    pub schema: String,
    pub name: String,
    /// `BASE TABLE` or `VIEW`, as dbt-duckdb's catalog names them.
    pub kind: String,
    pub comment: Option<String>,
    /// The engine's row count of a table (DuckDB's `estimated_size`); `None` for a view.
    pub rows: Option<i64>,
    /// `(name, type, comment)` of each column, in column order.
    pub columns: Vec<(String, String, Option<String>)>,
}

/// One connection to an engine's database, used by one worker thread at a time. Errors are
/// the engine's, with its message.
pub trait Connection: Send + fmt::Debug {
    /// A second connection to the same database, for another worker.
    fn try_clone(&self) -> Result<Box<dyn Connection>>;

    /// Runs `sql`: one statement, or several separated by `;`.
    fn execute(&self, sql: &str) -> Result<()>;

    /// Runs the query `sql` and returns its column names and all its rows.
    fn query(&self, sql: &str) -> Result<Rows>;

    /// The result columns of `sql`, a query or a relation's name, with their types, without
    /// reading its rows.
    fn describe(&self, sql: &str) -> Result<Vec<Column>>;

    /// Every table and view of every database and schema the connection sees.
    fn relations(&self) -> Result<Vec<(Relation, RelationKind)>>;

    /// The tables and views of `database.schema` (names compared without case), sorted by name.
    fn relations_in_schema(&self, database: &str, schema: &str) -> Result<Vec<Relation>>;

    /// Whether schema `database.schema` exists (names compared without case).
    fn schema_exists(&self, database: &str, schema: &str) -> Result<bool>;

    /// The relation `database.schema.identifier` as the catalog spells it (names compared
    /// without case), or `None`.
    fn find_relation(&self, database: &str, schema: &str, identifier: &str) -> Result<Option<Relation>>;

    /// The statement that appends the rows of CSV file `csv` (with a header, fields separated
    /// by `delimiter`) to table `relation`, as seeds load it. An engine that reads the file
    /// itself (DuckDB) only names it; one whose server cannot see the client's files (Spark)
    /// sends the rows to the session first.
    ///
    /// Errors: the file cannot be read or sent.
    /// `columns` are the table's (name, type), in the file's order.
    fn load_csv(
        &self,
        relation: &Relation,
        csv: &Path,
        delimiter: char,
        columns: &[(String, String)],
    ) -> Result<String>;

    /// The adapter type, as `target.type` names it (`duckdb`, `spark`).
    fn adapter_type(&self) -> &'static str;

    /// Whether the engine has transactions (DuckDB does; Spark does not: each statement takes
    /// effect alone).
    fn transactional(&self) -> bool {
        true
    }

    /// The engine's SQL for what materializations issue.
    fn dialect(&self) -> &'static dyn super::dialect::Dialect;

    /// Every table and view of the databases `databases` (names compared without case) with
    /// its columns, read from the engine's own catalog in a few queries (dbt's `get_catalog`);
    /// `None` where the engine lists no such catalog (Spark: callers describe each relation).
    fn catalog(&self, _databases: &[String]) -> Result<Option<Vec<CatalogRelation>>> {
        Ok(None)
    }

    /// The engine's parse of each of `queries` as a JSON syntax tree (DuckDB's
    /// `json_serialize_sql`; a query it cannot parse gives its error as JSON), for column
    /// lineage; `None` where the engine has no such parse (Spark: DuckDB's parser serves).
    fn parse_to_json(&self, _queries: &[&str]) -> Result<Option<Vec<String>>> {
        Ok(None)
    }
}
