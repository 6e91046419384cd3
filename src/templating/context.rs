//! dbt's runtime context beyond `ref`, `source` and `config`: `run_query`, `statement` blocks
//! with `load_result`, the `adapter` object, `return`, `modules.datetime` and `run_started_at`.
//!
//! Queries run on the connection of the worker rendering the node (see
//! [`super::NodeContext::database`]); in the parse phase (`execute` false) they run nothing and
//! return `none`, as dbt's do.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::{node_context, Phase};
use crate::adapter::{Cell, SharedAdapter};

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

fn database(state: &State) -> Result<Option<SharedAdapter>, Error> {
    let node = node_context(state)?;
    if node.phase == Phase::Parse {
        return Ok(None);
    }
    match &node.database {
        Some(db) => Ok(Some(db.clone())),
        None => Err(Error::new(ErrorKind::InvalidOperation, NEEDS_DATABASE)),
    }
}

fn sql_error(e: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("query failed: {e}"))
}

/// `run_query(sql)`: runs `sql` and returns its result as a [`Table`]; `none` in the parse phase.
pub fn run_query(state: &State, sql: String) -> Result<Value, Error> {
    let Some(db) = database(state)? else {
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
    let Some(db) = database(state)? else {
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

/// A query result in the shape of dbt's agate table: iterable over rows, `rows`, `columns`
/// (each with `name` and `values()`), `column_names`; a row is indexed by position or name.
#[derive(Debug)]
pub struct Table {
    column_names: Arc<Vec<String>>,
    rows: Vec<Arc<Row>>,
}

#[derive(Debug)]
struct Row {
    names: Arc<Vec<String>>,
    values: Vec<Value>,
}

#[derive(Debug)]
struct TableColumn {
    name: String,
    values: Vec<Value>,
}

#[derive(Debug)]
struct Columns(Vec<Arc<TableColumn>>);

impl Table {
    fn new(columns: Vec<String>, rows: Vec<Vec<Cell>>) -> Table {
        let names = Arc::new(columns);
        Table {
            rows: rows
                .into_iter()
                .map(|r| {
                    Arc::new(Row {
                        names: names.clone(),
                        values: r.into_iter().map(to_jinja).collect(),
                    })
                })
                .collect(),
            column_names: names,
        }
    }

    fn columns(&self) -> Columns {
        Columns(
            self.column_names
                .iter()
                .enumerate()
                .map(|(i, name)| {
                    Arc::new(TableColumn {
                        name: name.clone(),
                        values: self.rows.iter().map(|r| r.values[i].clone()).collect(),
                    })
                })
                .collect(),
        )
    }
}

impl Object for Table {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.rows.get(i).map(|r| Value::from_dyn_object(r.clone()));
        }
        match key.as_str()? {
            "rows" => Some(Value::from(
                self.rows
                    .iter()
                    .map(|r| Value::from_dyn_object(r.clone()))
                    .collect::<Vec<_>>(),
            )),
            "columns" => Some(Value::from_object(self.columns())),
            "column_names" => Some(Value::from(self.column_names.as_ref().clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.rows.len())
    }
}

impl Object for Row {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        let name = key.as_str()?;
        let i = self.names.iter().position(|n| n == name)?;
        self.values.get(i).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.values.len())
    }
}

impl Object for Columns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    /// agate's mapped sequence: also `keys()` (names), `values()` (columns) and `items()`
    /// (name, column pairs), as dbt_utils' `get_query_results_as_dict` uses them.
    fn call_method(self: &Arc<Self>, _state: &State, method: &str, _args: &[Value]) -> Result<Value, Error> {
        let column = |c: &Arc<TableColumn>| Value::from_dyn_object(c.clone());
        match method {
            "keys" => Ok(Value::from(
                self.0.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            )),
            "values" => Ok(Value::from(self.0.iter().map(column).collect::<Vec<_>>())),
            "items" => Ok(Value::from(
                self.0
                    .iter()
                    .map(|c| Value::from(vec![Value::from(c.name.clone()), column(c)]))
                    .collect::<Vec<_>>(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let column = match key.as_usize() {
            Some(i) => self.0.get(i)?,
            None => self.0.iter().find(|c| Some(c.name.as_str()) == key.as_str())?,
        };
        Some(Value::from_dyn_object(column.clone()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }
}

impl Object for TableColumn {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            _ => None,
        }
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, _args: &[Value]) -> Result<Value, Error> {
        match method {
            "values" => Ok(Value::from(self.values.clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A query's value as Jinja sees it: numbers, booleans and strings as themselves, a decimal
/// as a float, dates and timestamps as ISO text, anything else as the engine's text form.
fn to_jinja(v: Cell) -> Value {
    match v {
        Cell::Null => Value::from(()),
        Cell::Bool(b) => Value::from(b),
        Cell::Int(n) => i64::try_from(n)
            .map(Value::from)
            .unwrap_or_else(|_| Value::from(n)),
        Cell::UInt(n) => Value::from(n),
        Cell::Float(f) => Value::from(f),
        Cell::Decimal(d) => d.parse::<f64>().map(Value::from).unwrap_or(Value::from(d)),
        Cell::List(items) => Value::from(items.into_iter().map(to_jinja).collect::<Vec<_>>()),
        Cell::Text(s) | Cell::Temporal(s) | Cell::Other(s) => Value::from(s),
    }
}

/// The `adapter` object: `get_relation`, `get_columns_in_relation`, `dispatch`, `quote`,
/// `type`, as dbt-duckdb offers them.
#[derive(Debug)]
pub struct AdapterObject;

impl Object for AdapterObject {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(self: &Arc<Self>, state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "get_relation" => {
                let (positional, kwargs): (&[Value], Kwargs) = from_args(args)?;
                let arg = |i: usize, name: &str| -> Result<String, Error> {
                    match positional.get(i) {
                        Some(v) => Ok(v.to_string()),
                        None => kwargs.get::<String>(name),
                    }
                };
                let (catalog, schema, identifier) =
                    (arg(0, "database")?, arg(1, "schema")?, arg(2, "identifier")?);
                let Some(db) = database(state)? else {
                    return Ok(Value::from(()));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                let found = adapter
                    .find_relation(&catalog, &schema, &identifier)
                    .map_err(sql_error)?;
                Ok(found.map(Value::from_object).unwrap_or(Value::from(())))
            }
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                let Some(db) = database(state)? else {
                    return Ok(Value::from_object(MutableList::default()));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                // As dbt-duckdb: a relation that does not exist has no columns.
                let columns = match adapter.columns(&relation.to_string()) {
                    Ok(columns) => columns,
                    Err(e) if e.to_string().contains("does not exist") => Vec::new(),
                    Err(e) => return Err(sql_error(e)),
                };
                Ok(Value::from_object(MutableList::from_items(
                    columns
                        .into_iter()
                        .map(|c| {
                            Value::from_object(super::api::Column {
                                name: c.name,
                                dtype: c.data_type,
                            })
                        })
                        .collect(),
                )))
            }
            "get_missing_columns" => {
                // The columns of the first relation that the second lacks (by name, any case).
                let (from, to): (Value, Value) = from_args(args)?;
                let Some(db) = database(state)? else {
                    return Ok(Value::from_object(MutableList::default()));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                let have: Vec<String> = adapter
                    .columns(&to.to_string())
                    .map_err(sql_error)?
                    .into_iter()
                    .map(|c| c.name.to_lowercase())
                    .collect();
                let missing = adapter
                    .columns(&from.to_string())
                    .map_err(sql_error)?
                    .into_iter()
                    .filter(|c| !have.contains(&c.name.to_lowercase()))
                    .map(|c| {
                        Value::from_object(super::api::Column {
                            name: c.name,
                            dtype: c.data_type,
                        })
                    })
                    .collect();
                Ok(Value::from_object(MutableList::from_items(missing)))
            }
            "load_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                load_relation(state, &relation)
            }
            "already_exists" => {
                let (schema, identifier): (String, String) = from_args(args)?;
                let Some(db) = database(state)? else {
                    return Ok(Value::from(false));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                let catalog = node_context(state)?.target_database.clone();
                Ok(Value::from(
                    adapter
                        .find_relation(&catalog, &schema, &identifier)
                        .map_err(sql_error)?
                        .is_some(),
                ))
            }
            "drop_relation" | "truncate_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                let Some(db) = database(state)? else {
                    return Ok(Value::from(""));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                let Some(found) = relation_of(&relation)
                    .map(|r| adapter.find_relation(&r.database, &r.schema, &r.identifier))
                    .transpose()
                    .map_err(sql_error)?
                    .flatten()
                else {
                    return Ok(Value::from(""));
                };
                let kind = adapter.relation_kind(&found).map_err(sql_error)?;
                let sql = match (method, kind) {
                    ("truncate_relation", _) => format!("delete from {found}"),
                    (_, Some(crate::adapter::RelationKind::View)) => format!("drop view if exists {found}"),
                    _ => format!("drop table if exists {found}"),
                };
                adapter.execute(&sql).map_err(sql_error)?;
                adapter.forget_relation(&found);
                Ok(Value::from(""))
            }
            "rename_relation" => {
                let (from, to): (Value, Value) = from_args(args)?;
                let Some(db) = database(state)? else {
                    return Ok(Value::from(""));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                let (Some(from), Some(to)) = (relation_of(&from), relation_of(&to)) else {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "rename_relation needs two relations",
                    ));
                };
                let kind = match adapter.relation_kind(&from).map_err(sql_error)? {
                    Some(crate::adapter::RelationKind::View) => "view",
                    _ => "table",
                };
                adapter
                    .execute(&format!(
                        "alter {kind} {from} rename to {}",
                        crate::relation::quote(&to.identifier)
                    ))
                    .map_err(sql_error)?;
                adapter.forget_relation(&from);
                adapter.forget_relation(&to);
                Ok(Value::from(""))
            }
            "list_relations_without_caching" => {
                let (schema_relation,): (Value,) = from_args(args)?;
                let Some(db) = database(state)? else {
                    return Ok(Value::from_object(MutableList::default()));
                };
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                let schema = schema_relation.get_attr("schema")?.to_string();
                let catalog = schema_relation.get_attr("database")?.to_string();
                let found = adapter
                    .relations_in_schema(&catalog, &schema)
                    .map_err(sql_error)?;
                Ok(Value::from_object(MutableList::from_items(
                    found.into_iter().map(Value::from_object).collect(),
                )))
            }
            "expand_target_column_types" | "cache_added" | "cache_dropped" | "cache_renamed" | "commit" => {
                Ok(Value::from(""))
            }
            "dispatch" => {
                let (name, positional_namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let namespace: Option<String> = match positional_namespace {
                    Some(ns) => Some(ns),
                    None => kwargs.get("macro_namespace")?,
                };
                kwargs.assert_all_used()?;
                let bare = name.rsplit('.').next().unwrap_or(&name).to_string();
                let candidates = [format!("duckdb__{bare}"), format!("default__{bare}")];
                // dbt searches the namespace's packages (`dispatch:` in dbt_project.yml can
                // put others, such as the root project, before it), each for the adapter's
                // implementation, then the default one.
                let search_order: Vec<String> = match &namespace {
                    Some(ns) => state
                        .lookup("__mallard_dispatch")
                        .and_then(|d| d.get_attr(ns).ok())
                        .filter(|v| !v.is_undefined())
                        .and_then(|v| v.try_iter().ok().map(|it| it.map(|p| p.to_string()).collect()))
                        // Unconfigured, dbt looks in the root project first, then the
                        // namespace's package (dbt's own namespace only in itself).
                        .unwrap_or_else(|| match state.lookup("__mallard_root") {
                            Some(root) if ns != "dbt" && !root.to_string().is_empty() => {
                                vec![root.to_string(), ns.clone()]
                            }
                            _ => vec![ns.clone()],
                        }),
                    None => Vec::new(),
                };
                for package in &search_order {
                    let Some(ns) = state.lookup(package) else { continue };
                    for candidate in &candidates {
                        if let Ok(f) = ns.get_attr(candidate) {
                            if !f.is_undefined() {
                                return Ok(f);
                            }
                        }
                    }
                }
                for candidate in &candidates {
                    if let Some(f) = state.lookup(candidate) {
                        return Ok(f);
                    }
                }
                Err(Error::new(
                    ErrorKind::UnknownFunction,
                    format!(
                        "adapter.dispatch found no macro for `{name}`{}: define `duckdb__{bare}` or `default__{bare}`",
                        namespace.map(|n| format!(" in `{n}`")).unwrap_or_default()
                    ),
                ))
            }
            "quote" => {
                let (ident,): (String,) = from_args(args)?;
                Ok(Value::from(crate::relation::quote(&ident)))
            }
            "type" => Ok(Value::from("duckdb")),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("adapter.{method} is not available in Mallard"),
            )),
        }
    }
}

/// `value` as a Jinja value whose lists and dicts (at any depth) can be changed in place, as
/// Python's can: [`MutableList`] and [`MutableDict`].
pub fn mutable_value(value: &serde_json::Value) -> Value {
    match value {
        serde_json::Value::Array(items) => {
            Value::from_object(MutableList::from_items(items.iter().map(mutable_value).collect()))
        }
        serde_json::Value::Object(map) => Value::from_object(MutableDict(Mutex::new(
            map.iter()
                .map(|(k, v)| (Value::from(k.clone()), mutable_value(v)))
                .collect(),
        ))),
        other => Value::from_serialize(other),
    }
}

/// A relation value (one of Mallard's, or any mapping with `database`, `schema` and
/// `identifier`) as a [`Relation`].
fn relation_of(value: &Value) -> Option<super::Relation> {
    if let Some(r) = value.downcast_object_ref::<super::Relation>() {
        return Some(r.clone());
    }
    let part = |k: &str| {
        value
            .get_attr(k)
            .ok()
            .filter(|v| !v.is_undefined() && !v.is_none())
            .map(|v| v.to_string())
    };
    Some(super::Relation::new(
        &part("database").unwrap_or_default(),
        &part("schema")?,
        &part("identifier").or_else(|| part("name"))?,
    ))
}

/// `load_relation(relation)` (also `adapter.load_relation`): the relation as the database has
/// it, or none when it does not exist (or at parse time).
pub fn load_relation(state: &State, relation: &Value) -> Result<Value, Error> {
    let Some(db) = database(state)? else {
        return Ok(Value::from(()));
    };
    let Some(r) = relation_of(relation) else {
        return Ok(Value::from(()));
    };
    let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
    let found = adapter
        .find_relation(&r.database, &r.schema, &r.identifier)
        .map_err(sql_error)?;
    Ok(found.map(Value::from_object).unwrap_or(Value::from(())))
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

/// A list that `append`, `extend`, `insert` and `pop` change in place, as Python's does.
/// minijinja's own lists are immutable, so `{% set x = [] %}` in a template is rendered as
/// `{% set x = mallard_list() %}` (see [`super::mutable_literals`]).
#[derive(Debug, Default)]
pub struct MutableList(Mutex<Vec<Value>>);

impl MutableList {
    /// A list holding `items`.
    pub fn from_items(items: Vec<Value>) -> MutableList {
        MutableList(Mutex::new(items))
    }

    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Object for MutableList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = key.as_i64()?;
        let i = if i < 0 { items.len() as i64 + i } else { i };
        items.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let mut items = self.items();
        match method {
            "append" => {
                let (v,): (Value,) = from_args(args)?;
                items.push(v);
            }
            "extend" => {
                let (vs,): (Value,) = from_args(args)?;
                items.extend(vs.try_iter()?);
            }
            "insert" => {
                let (i, v): (usize, Value) = from_args(args)?;
                let i = i.min(items.len());
                items.insert(i, v);
            }
            // Python's set methods, for the sorted lists `set()` gives.
            "add" => {
                let (v,): (Value,) = from_args(args)?;
                if !items.contains(&v) {
                    items.push(v);
                    items.sort();
                }
            }
            "union" | "difference" | "intersection" | "issubset" | "issuperset" => {
                let (other,): (Value,) = from_args(args)?;
                let other: Vec<Value> = other.try_iter()?.collect();
                let mut out: Vec<Value> = match method {
                    "union" => items.iter().chain(&other).cloned().collect(),
                    "difference" => items.iter().filter(|v| !other.contains(v)).cloned().collect(),
                    "intersection" => items.iter().filter(|v| other.contains(v)).cloned().collect(),
                    "issubset" => return Ok(Value::from(items.iter().all(|v| other.contains(v)))),
                    _ => return Ok(Value::from(other.iter().all(|v| items.contains(v)))),
                };
                out.sort();
                out.dedup();
                return Ok(Value::from_object(MutableList::from_items(out)));
            }
            "pop" => {
                let (i,): (Option<i64>,) = from_args(args)?;
                let len = items.len() as i64;
                let i = i.map(|i| if i < 0 { len + i } else { i }).unwrap_or(len - 1);
                if i < 0 || i >= len {
                    return Err(Error::new(ErrorKind::InvalidOperation, "pop index out of range"));
                }
                return Ok(items.remove(i as usize));
            }
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        }
        Ok(Value::from(()))
    }
}

/// A dict that `update`, `pop` and `setdefault` change in place (and `d[k] = v` cannot, as in
/// Jinja). `{% set x = {} %}` is rendered as `{% set x = mallard_dict() %}`.
#[derive(Debug, Default)]
pub struct MutableDict(Mutex<Entries>);

/// An insertion-ordered map of Jinja values (templates keep few entries: a vector is fine).
type Entries = Vec<(Value, Value)>;

impl MutableDict {
    /// This dict with `other`'s entries laid over it.
    pub fn merged(self, other: MutableDict) -> MutableDict {
        {
            let mut entries = self.entries();
            for (k, v) in other.entries().drain(..) {
                match entries.iter_mut().find(|(key, _)| *key == k) {
                    Some(slot) => slot.1 = v,
                    None => entries.push((k, v)),
                }
            }
        }
        self
    }

    /// A dict holding `map`'s entries (none for `None`).
    ///
    /// Errors: `map` is not a mapping.
    pub fn from_map(map: Option<&Value>) -> Result<MutableDict, Error> {
        let mut entries = Vec::new();
        if let Some(map) = map {
            for key in map.try_iter()? {
                let value = map.get_item(&key)?;
                entries.push((key, value));
            }
        }
        Ok(MutableDict(Mutex::new(entries)))
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Object for MutableDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.entries()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.entries().iter().map(|(k, _)| k.clone()).collect())
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let mut entries = self.entries();
        let set =
            |entries: &mut Entries, k: Value, v: Value| match entries.iter_mut().find(|(key, _)| *key == k) {
                Some(slot) => slot.1 = v,
                None => entries.push((k, v)),
            };
        match method {
            "update" => {
                let (other,): (Value,) = from_args(args)?;
                for k in other.try_iter()? {
                    let v = other.get_item(&k)?;
                    set(&mut entries, k, v);
                }
                Ok(Value::from(()))
            }
            "setdefault" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                if let Some((_, v)) = entries.iter().find(|(key, _)| *key == k) {
                    return Ok(v.clone());
                }
                let v = default.unwrap_or(Value::from(()));
                set(&mut entries, k, v.clone());
                Ok(v)
            }
            "pop" => {
                let (k, default): (Value, Option<Value>) = from_args(args)?;
                match entries.iter().position(|(key, _)| *key == k) {
                    Some(i) => Ok(entries.remove(i).1),
                    None => default
                        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("key {k} not found"))),
                }
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
