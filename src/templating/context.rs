//! dbt's runtime context beyond `ref`, `source` and `config`: `run_query`, `statement` blocks
//! with `load_result`, the `adapter` object, `return`, `modules.datetime` and `run_started_at`.
//!
//! Queries run on the connection of the worker rendering the node (see
//! [`super::NodeContext::database`]); in the parse phase (`execute` false) they run nothing and
//! return `none`, as dbt's do.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

use super::agate::Table;
use super::{node_context, Phase};
use crate::adapter::SharedAdapter;

/// The value of a `return(...)` call, carried up to the macro call that catches it.
#[derive(Debug)]
struct Returned(Value);

impl fmt::Display for Returned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "returned {}", self.0)
    }
}

impl std::error::Error for Returned {}

/// `return(value)`: ends the macro being called, which then evaluates to `value` instead of
/// its text. Outside a macro it is an error.
pub fn return_fn(value: Option<Value>) -> Result<Value, Error> {
    Err(
        Error::new(ErrorKind::InvalidOperation, "`return()` used outside a macro")
            .with_source(Returned(value.unwrap_or(Value::from(())))),
    )
}

/// The value of the `return(...)` that ended a macro with `err`, if that is what `err` is.
pub fn returned_value(err: &Error) -> Option<Value> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(r) = e.downcast_ref::<Returned>() {
            return Some(r.0.clone());
        }
        cur = e.source();
    }
    None
}

/// The error of a template that uses the database where there is none.
pub const NEEDS_DATABASE: &str =
    "this needs the database, which does not exist yet (or another run is writing it): \
     build the project first, or guard the call with `{% if execute %}`";

pub(super) fn database(state: &State) -> Result<Option<SharedAdapter>, Error> {
    let node = node_context(state)?;
    if node.phase == Phase::Parse {
        return Ok(None);
    }
    match &node.database {
        Some(db) => Ok(Some(db.clone())),
        None => Err(Error::new(ErrorKind::InvalidOperation, NEEDS_DATABASE)),
    }
}

/// The error of `run_query` and `statement` in static analysis (see
/// [`super::NodeContext::shapes_only`]): the node's SQL depends on data.
pub const READS_DATA: &str = "static analysis: this reads data while compiling";

/// The database of a data-reading call: as [`database`], but an error in static analysis.
fn database_for_data(state: &State) -> Result<Option<SharedAdapter>, Error> {
    if node_context(state)?.shapes_only {
        return Err(Error::new(ErrorKind::InvalidOperation, READS_DATA));
    }
    database(state)
}

pub(super) fn sql_error(e: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("query failed: {e}"))
}

/// `run_query(sql)`: runs `sql` and returns its result as a [`Table`]; `none` in the parse phase.
pub fn run_query(state: &State, sql: String) -> Result<Value, Error> {
    let Some(db) = database_for_data(state)? else {
        return Ok(Value::from(()));
    };
    let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
    let (columns, rows) = adapter.query_rows(&sql).map_err(sql_error)?;
    Ok(Value::from_object(Table::new(columns, rows)))
}

/// `{% call statement('name', fetch_result=True) %} sql {% endcall %}`: runs the block's SQL and,
/// with `fetch_result`, keeps its result for `load_result('name')`.
pub fn statement(state: &State, name: Option<String>, kwargs: Kwargs) -> Result<Value, Error> {
    let caller: Value = kwargs.get("caller")?;
    let fetch: Option<bool> = kwargs.get("fetch_result")?;
    for ignored in ["auto_begin", "language"] {
        let _: Option<Value> = kwargs.get(ignored)?;
    }
    kwargs.assert_all_used()?;
    let sql = caller.call(state, &[])?.to_string();
    let Some(db) = database_for_data(state)? else {
        return Ok(Value::from(""));
    };
    let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
    let (columns, rows) = adapter.query_rows(&sql).map_err(sql_error)?;
    drop(adapter);
    if let Some(name) = name.filter(|_| fetch.unwrap_or(false)) {
        let node = node_context(state)?;
        let table = Table::new(columns, rows);
        let data: Vec<Value> = table.rows.iter().map(|r| Value::from(r.values.clone())).collect();
        let result = minijinja::context! {
            response => "OK",
            data => data,
            table => Value::from_object(table),
        };
        node.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name, result);
    }
    Ok(Value::from(""))
}

/// `load_result('name')`: what the `statement` block of that name fetched, as
/// `{response, data, table}`; `none` if it has not run.
pub fn load_result(state: &State, name: String) -> Result<Value, Error> {
    let node = node_context(state)?;
    let results = node.results.lock().unwrap_or_else(|p| p.into_inner());
    Ok(results.get(&name).cloned().unwrap_or(Value::from(())))
}

/// `modules`: `modules.datetime` with `datetime.now()`, `datetime.utcnow()`,
/// `datetime.strptime(text, format)` and `date.today()`.
#[derive(Debug)]
pub struct Modules;

impl Object for Modules {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "datetime" => Some(Value::from_object(super::pydatetime::DatetimeModule)),
            "pytz" => Some(Value::from_object(super::pydatetime::PytzModule)),
            "re" => Some(Value::from_object(super::pyre::ReModule)),
            _ => None,
        }
    }
}

/// The per-node results of `statement` blocks, by name.
pub type StatementResults = Mutex<BTreeMap<String, Value>>;
