//! The `adapter` object: `get_relation`, `get_columns_in_relation`, `dispatch`, `quote`,
//! `type`, ... as dbt-duckdb offers them, and `load_relation`.

use std::sync::Arc;

use minijinja::value::{from_args, Kwargs, Object, Value};
use minijinja::{Error, ErrorKind, State};

use super::context::{database, sql_error};
use super::mutable::MutableList;
use super::node_context;

/// The target's adapter type (`target.type`, e.g. `duckdb`), from the Jinja global
/// `target`; `duckdb` where there is none.
pub fn adapter_type(target: Option<Value>) -> String {
    target
        .and_then(|t| t.get_attr("type").ok())
        .filter(|t| !t.is_undefined() && !t.is_none())
        .map_or_else(|| "duckdb".to_string(), |t| t.to_string())
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
            "get_relation"
            | "get_columns_in_relation"
            | "get_missing_columns"
            | "already_exists"
            | "list_relations_without_caching" => catalog_method(state, method, args),
            "load_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                load_relation(state, &relation)
            }
            "drop_relation" | "truncate_relation" => drop_or_truncate(state, method, args),
            "rename_relation" => rename_relation(state, args),
            "expand_target_column_types" | "cache_added" | "cache_dropped" | "cache_renamed" | "commit" => {
                Ok(Value::from(""))
            }
            "dispatch" => dispatch(state, args),
            "quote" => {
                let (ident,): (String,) = from_args(args)?;
                Ok(Value::from(crate::relation::quote(&ident)))
            }
            "type" => Ok(Value::from(adapter_type(state.lookup("target")))),
            _ => other_method(state, method, args),
        }
    }
}

/// The adapter's methods that read the database's catalog: `get_relation`,
/// `get_columns_in_relation`, `get_missing_columns` (the columns of the first relation that
/// the second lacks, by name in any case), `already_exists` and
/// `list_relations_without_caching`. Without a database (parse time): none, no columns, false.
fn catalog_method(state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
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
            Ok(column_list(columns))
        }
        "get_missing_columns" => {
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
                .collect();
            Ok(column_list(missing))
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
        _ => Err(unknown_method(method)),
    }
}

/// `adapter.drop_relation(r)` (the engine's `drop`) and `adapter.truncate_relation(r)`
/// (`delete from`); nothing when the relation does not exist or there is no database.
fn drop_or_truncate(state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
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
        (_, kind) => adapter
            .dialect()
            .drop_if_exists(kind.unwrap_or(crate::adapter::RelationKind::Table), &found),
    };
    adapter.execute(&sql).map_err(sql_error)?;
    adapter.forget_relation(&found);
    Ok(Value::from(""))
}

/// `adapter.rename_relation(from, to)`: the table or view renamed (same schema), both names
/// forgotten by the relation cache.
///
/// Errors: either is not a relation; the engine's.
fn rename_relation(state: &State, args: &[Value]) -> Result<Value, Error> {
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

/// `adapter.dispatch(name, macro_namespace=None)`: the macro implementing `name` for the
/// target's engine (`<engine>__name`, else `default__name`), searched in the namespace's
/// packages in dbt's order (see the comments).
///
/// Errors: no package has either macro.
fn dispatch(state: &State, args: &[Value]) -> Result<Value, Error> {
    let (name, positional_namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
    let namespace: Option<String> = match positional_namespace {
        Some(ns) => Some(ns),
        None => kwargs.get("macro_namespace")?,
    };
    kwargs.assert_all_used()?;
    let bare = name.rsplit('.').next().unwrap_or(&name).to_string();
    let engine = adapter_type(state.lookup("target"));
    let candidates = [format!("{engine}__{bare}"), format!("default__{bare}")];
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
            // namespace's package (for dbt's own namespace: a global name, so
            // the root project's `default__<name>` before dbt's).
            .unwrap_or_else(|| match state.lookup("__mallard_root") {
                Some(root) if !root.to_string().is_empty() => {
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
            "adapter.dispatch found no macro for `{name}`{}: define `{engine}__{bare}` or `default__{bare}`",
            namespace.map(|n| format!(" in `{n}`")).unwrap_or_default()
        ),
    ))
}

/// `columns` as the list of column objects (`name`, `dtype`, `is_string()`, ...) dbt's adapter
/// methods return; an empty list for none.
fn column_list(columns: Vec<crate::adapter::Column>) -> Value {
    Value::from_object(MutableList::from_items(
        columns
            .into_iter()
            .map(|c| {
                Value::from_object(super::api::Column {
                    name: c.name,
                    dtype: c.data_type,
                })
            })
            .collect(),
    ))
}

/// The adapter's methods for schemas, columns, quoting and dbt-duckdb's settings (see
/// [`AdapterObject`]); an error naming any other method.
fn other_method(state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
    let columns = column_list;
    match method {
        "create_schema" | "drop_schema" | "check_schema_exists" => schema_method(state, method, args),
        "get_columns_in_table" | "get_column_schema_from_query" => {
            let sql = match method {
                "get_columns_in_table" => {
                    let (schema, identifier): (String, String) = from_args(args)?;
                    let catalog = node_context(state)?.target_database.clone();
                    crate::relation::Relation::new(&catalog, &schema, &identifier).to_string()
                }
                _ => from_args::<(String,)>(args)?.0,
            };
            let Some(db) = database(state)? else {
                return Ok(columns(Vec::new()));
            };
            let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
            Ok(columns(adapter.columns(&sql).map_err(sql_error)?))
        }
        "quote_as_configured" => {
            let (ident, _quote_key): (String, String) = from_args(args)?;
            Ok(Value::from(crate::relation::quote(&ident)))
        }
        "quote_seed_column" => {
            let (column, quote_config): (String, Option<bool>) = from_args(args)?;
            Ok(Value::from(if quote_config.unwrap_or(true) {
                crate::relation::quote(&column)
            } else {
                column
            }))
        }
        "escape_sql_string" => {
            let (text,): (String,) = from_args(args)?;
            Ok(Value::from(text.replace('\'', "''")))
        }
        "get_binding_char" => Ok(Value::from("?")),
        "is_motherduck" | "is_ducklake" | "disable_transactions" => Ok(Value::from(false)),
        "valid_incremental_strategies" => Ok(Value::from(vec![
            "append",
            "delete+insert",
            "merge",
            "microbatch",
        ])),
        "get_hard_deletes_behavior" => {
            let (config,): (Value,) = from_args(args)?;
            let set = config.get_item(&Value::from("hard_deletes")).unwrap_or_default();
            Ok(if set.is_undefined() || set.is_none() {
                Value::from("ignore")
            } else {
                set
            })
        }
        "warn_once" => Ok(Value::from("")),
        // dbt-duckdb's folder for external models' files: the profile's `external_root`, `.`
        // when it sets none.
        "external_root" => Ok(state
            .lookup("target")
            .and_then(|t| t.get_attr("external_root").ok())
            .filter(|v| !v.is_undefined() && !v.is_none())
            .unwrap_or(Value::from("."))),
        _ => Err(unknown_method(method)),
    }
}

/// The error for an adapter method Mallard does not have.
fn unknown_method(method: &str) -> Error {
    Error::new(
        ErrorKind::UnknownMethod,
        format!("adapter.{method} is not available in Mallard"),
    )
}

/// `adapter.create_schema(r)`, `drop_schema(r)` and `check_schema_exists(db, schema)`. At
/// parse time there is no database: schemas are made and dropped only when run.
fn schema_method(state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
    match method {
        "create_schema" | "drop_schema" => {
            let (relation,): (Value,) = from_args(args)?;
            let part = |k: &str| -> Result<String, Error> {
                let v = relation.get_attr(k)?;
                Ok(if v.is_undefined() || v.is_none() {
                    String::new()
                } else {
                    v.to_string()
                })
            };
            let (catalog, schema) = (part("database")?, part("schema")?);
            let Some(db) = database(state)? else {
                return Ok(Value::from(""));
            };
            let catalog = if catalog.is_empty() {
                node_context(state)?.target_database.clone()
            } else {
                catalog
            };
            let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
            match method {
                "create_schema" => adapter.ensure_schema(&catalog, &schema),
                _ => adapter.drop_schema(&catalog, &schema),
            }
            .map_err(sql_error)?;
            Ok(Value::from(""))
        }
        "check_schema_exists" => {
            let (catalog, schema): (String, String) = from_args(args)?;
            let Some(db) = database(state)? else {
                return Ok(Value::from(false));
            };
            let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
            Ok(Value::from(
                adapter.schema_exists(&catalog, &schema).map_err(sql_error)?,
            ))
        }
        _ => Err(unknown_method(method)),
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
