//! dbt's `api` namespace and the column objects `adapter.get_columns_in_relation` returns,
//! as dbt-duckdb's `DuckDBColumn` behaves (dbt-adapters' `base/column.py`, dbt-duckdb's
//! `column.py`): `name`, `column`, `quoted`, `dtype`, `data_type`, `is_string()`,
//! `is_number()`, `is_numeric()`, `is_float()`, `is_integer()`, `string_size()`, ...; and
//! `api.Relation.create(...)`, `api.Column.translate_type(...)`, `api.Column.create(...)`.

use std::sync::Arc;

use minijinja::value::{from_args, Enumerator, Kwargs, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::Relation;

/// A column of a relation, as `adapter.get_columns_in_relation` returns it.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The type as DuckDB names it (`VARCHAR`, `DECIMAL(18,3)`, ...).
    pub dtype: String,
}

impl Column {
    fn lower(&self) -> String {
        self.dtype.to_ascii_lowercase()
    }

    fn is_string(&self) -> bool {
        matches!(
            self.lower().as_str(),
            "text" | "character varying" | "character" | "varchar"
        )
    }

    fn is_float(&self) -> bool {
        matches!(
            self.lower().as_str(),
            "real" | "float" | "float4" | "float8" | "double" | "double precision"
        )
    }

    fn is_integer(&self) -> bool {
        matches!(
            self.lower().as_str(),
            "tinyint"
                | "smallint"
                | "integer"
                | "bigint"
                | "hugeint"
                | "utinyint"
                | "usmallint"
                | "uinteger"
                | "ubigint"
                | "int1"
                | "int2"
                | "int4"
                | "int8"
                | "short"
                | "int"
                | "signed"
                | "long"
        )
    }

    fn is_numeric(&self) -> bool {
        matches!(self.lower().as_str(), "numeric" | "decimal")
    }

    /// dbt's `data_type`: strings as `character varying(256)` (DuckDB reports no size), the
    /// rest as DuckDB names them.
    fn data_type(&self) -> String {
        if self.is_string() {
            "character varying(256)".to_string()
        } else {
            self.dtype.clone()
        }
    }
}

impl Object for Column {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "quoted" => Value::from(crate::relation::quote(&self.name)),
            "dtype" => Value::from(self.dtype.clone()),
            "data_type" => Value::from(self.data_type()),
            "char_size" | "numeric_precision" | "numeric_scale" => Value::from(()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["name", "column", "quoted", "dtype", "data_type"])
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        Ok(match method {
            "is_string" => Value::from(self.is_string()),
            "is_float" => Value::from(self.is_float()),
            "is_integer" => Value::from(self.is_integer()),
            "is_numeric" => Value::from(self.is_numeric()),
            "is_number" => Value::from(self.is_integer() || self.is_numeric() || self.is_float()),
            "is_struct" => Value::from(self.lower().starts_with("struct")),
            "string_size" => {
                if !self.is_string() {
                    return Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!(
                            "string_size() called on column `{}` of type {}",
                            self.name, self.dtype
                        ),
                    ));
                }
                Value::from(256)
            }
            "literal" => {
                let (value,): (Value,) = from_args(args)?;
                Value::from(format!("{value}::{}", self.data_type()))
            }
            "can_expand_to" => Value::from(false),
            _ => return Err(Error::from(ErrorKind::UnknownMethod)),
        })
    }

    /// As dbt-duckdb prints one (its `DuckDBColumn` dataclass, by `str` and by `repr`):
    /// `DuckDBColumn(column='id', dtype='INTEGER', char_size=None, ...)`.
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut name = String::new();
        super::pyrepr::string_repr(&self.name, &mut name);
        let mut dtype = String::new();
        super::pyrepr::string_repr(&self.dtype, &mut dtype);
        write!(
            f,
            "DuckDBColumn(column={name}, dtype={dtype}, char_size=None, numeric_precision=None, \
             numeric_scale=None, fields=[])"
        )
    }
}

/// `api`: `api.Relation` and `api.Column`.
#[derive(Debug)]
pub struct Api;

impl Object for Api {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(RelationClass)),
            "Column" => Some(Value::from_object(ColumnClass)),
            _ => None,
        }
    }
}

/// `api.Relation`: `create(database=, schema=, identifier=, type=)` and
/// `add_ephemeral_prefix(name)`.
#[derive(Debug)]
struct RelationClass;

impl Object for RelationClass {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(self: &Arc<Self>, state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "create" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let target = state.lookup("target");
                let default = |key: &str| {
                    target
                        .as_ref()
                        .and_then(|t| t.get_attr(key).ok())
                        .filter(|v| !v.is_undefined() && !v.is_none())
                        .map(|v| v.to_string())
                        .unwrap_or_default()
                };
                let part = |key: &str, fallback: String| -> Result<String, Error> {
                    Ok(kwargs
                        .get::<Option<Value>>(key)?
                        .filter(|v| !v.is_none() && !v.is_undefined())
                        .map(|v| v.to_string())
                        .unwrap_or(fallback))
                };
                let database = part("database", default("database"))?;
                let schema = part("schema", default("schema"))?;
                let identifier = part("identifier", String::new())?;
                let kind: Option<Value> = kwargs.get("type")?;
                let _: Option<Value> = kwargs.get("quote_policy")?;
                kwargs.assert_all_used()?;
                let mut relation = Relation::new(&database, &schema, &identifier);
                relation.kind = kind.filter(|k| !k.is_none()).map(|k| k.to_string());
                Ok(Value::from_object(relation))
            }
            "add_ephemeral_prefix" => {
                let (name,): (String,) = from_args(args)?;
                Ok(Value::from(format!("__dbt__cte__{name}")))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("api.Relation.{method} is not available in Mallard"),
            )),
        }
    }
}

/// `api.Column`: `translate_type`, `create`, `string_type`, `numeric_type`.
#[derive(Debug)]
struct ColumnClass;

impl Object for ColumnClass {
    /// Truthy, as every Python object of its kind is.
    fn is_true(self: &Arc<Self>) -> bool {
        true
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let translate = |t: &str| {
            if t.eq_ignore_ascii_case("string") {
                "TEXT".to_string()
            } else {
                t.to_string()
            }
        };
        match method {
            "translate_type" => {
                let (t,): (String,) = from_args(args)?;
                Ok(Value::from(translate(&t)))
            }
            "create" => {
                let (name, t): (String, String) = from_args(args)?;
                Ok(Value::from_object(Column {
                    name,
                    dtype: translate(&t),
                }))
            }
            "string_type" => {
                let (size,): (i64,) = from_args(args)?;
                Ok(Value::from(format!("character varying({size})")))
            }
            "numeric_type" => {
                let (t, precision, scale): (String, Option<Value>, Option<Value>) = from_args(args)?;
                Ok(Value::from(
                    match (precision.filter(|p| !p.is_none()), scale.filter(|s| !s.is_none())) {
                        (Some(p), Some(s)) => format!("{t}({p},{s})"),
                        _ => t,
                    },
                ))
            }
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("api.Column.{method} is not available in Mallard"),
            )),
        }
    }
}
