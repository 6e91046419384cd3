//! The agate table `run_query` and `load_result` return, as dbt's macros read it: `rows`,
//! `columns`, `column_names`, `print_table()`, rows by index or by name.

use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use crate::adapter::Cell;

/// A query result in the shape of dbt's agate table: iterable over rows, `rows`, `columns`
/// (each with `name` and `values()`), `column_names`; a row is indexed by position or name.
#[derive(Debug)]
pub struct Table {
    column_names: Arc<Vec<String>>,
    /// Each column's agate type name (see [`agate_type`]).
    column_types: Vec<&'static str>,
    pub(super) rows: Vec<Arc<Row>>,
}

#[derive(Debug)]
pub(super) struct Row {
    names: Arc<Vec<String>>,
    pub(super) values: Vec<Value>,
}

#[derive(Debug)]
struct TableColumn {
    name: String,
    values: Vec<Value>,
}

#[derive(Debug)]
struct Columns(Vec<Arc<TableColumn>>);

impl Table {
    pub(super) fn new(columns: Vec<String>, rows: Vec<Vec<Cell>>) -> Table {
        let column_types = (0..columns.len())
            .map(|i| agate_type(rows.iter().filter_map(|r| r.get(i))))
            .collect();
        let names = Arc::new(columns);
        Table {
            column_types,
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

    /// As agate prints a table (`str(table)`, its `print_structure()`): a Markdown table of
    /// each column's name and type, cells padded to the widest, one line per column.
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name_width = self
            .column_names
            .iter()
            .map(|n| n.chars().count())
            .fold(6, usize::max);
        let type_width = self.column_types.iter().map(|t| t.len()).fold(9, usize::max);
        let line = |f: &mut std::fmt::Formatter<'_>, a: &str, b: &str| {
            writeln!(f, "| {a:<name_width$} | {b:<type_width$} |")
        };
        line(f, "column", "data_type")?;
        line(f, &"-".repeat(name_width), &"-".repeat(type_width))?;
        for (name, kind) in self.column_names.iter().zip(&self.column_types) {
            line(f, name, kind)?;
        }
        Ok(())
    }

    /// agate's `rename(column_names)`: the table with its columns renamed by a dict (old name
    /// to new; others kept) or a list of new names, in order.
    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        if method != "rename" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let (names,): (Value,) = minijinja::value::from_args(args)?;
        let renamed: Vec<String> = match names.kind() {
            minijinja::value::ValueKind::Map => self
                .column_names
                .iter()
                .map(|n| match names.get_item(&Value::from(n.as_str())) {
                    Ok(v) if !v.is_undefined() && !v.is_none() => v.to_string(),
                    _ => n.clone(),
                })
                .collect(),
            _ => names.try_iter()?.map(|v| v.to_string()).collect(),
        };
        if renamed.len() != self.column_names.len() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "rename: {} names for a table of {} columns",
                    renamed.len(),
                    self.column_names.len()
                ),
            ));
        }
        let names = Arc::new(renamed);
        Ok(Value::from_object(Table {
            rows: self
                .rows
                .iter()
                .map(|r| {
                    Arc::new(Row {
                        names: names.clone(),
                        values: r.values.clone(),
                    })
                })
                .collect(),
            column_names: names,
            column_types: self.column_types.clone(),
        }))
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

    /// agate's row is a mapped sequence: `keys()` (column names), `values()`, `items()`
    /// (name, value pairs) and `get(name, default)`, as packages read rows (elementary's
    /// `agate_to_dicts`).
    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let tuple = |items: Vec<Value>| Value::from_object(super::mutable::Tuple(items));
        match method {
            "keys" => Ok(tuple(self.names.iter().map(|n| Value::from(n.clone())).collect())),
            "values" => Ok(tuple(self.values.clone())),
            "items" => Ok(Value::from(
                self.names
                    .iter()
                    .zip(&self.values)
                    .map(|(n, v)| tuple(vec![Value::from(n.clone()), v.clone()]))
                    .collect::<Vec<_>>(),
            )),
            "get" => {
                let (key, default): (Value, Option<Value>) = minijinja::value::from_args(args)?;
                Ok(self.get_value(&key).or(default).unwrap_or(Value::from(())))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
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
            // agate's column values are a tuple.
            "values" => Ok(Value::from_object(super::mutable::Tuple(self.values.clone()))),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// The agate type dbt gives a column of these values: `Integer` (dbt's own, for whole numbers),
/// `Number`, `Boolean`, `Date`, `DateTime`, `Text`; a column of nulls only (or no rows) is
/// `Integer`, the first type dbt's type tester tries.
fn agate_type<'a>(cells: impl Iterator<Item = &'a Cell>) -> &'static str {
    let mut kind = "Integer";
    for cell in cells {
        kind = match cell {
            Cell::Null => continue,
            Cell::Int(_) | Cell::UInt(_) => "Integer",
            Cell::Float(_) | Cell::Decimal(_) => "Number",
            Cell::Bool(_) => "Boolean",
            Cell::Temporal(t) if t.len() == 10 => "Date",
            Cell::Temporal(_) => "DateTime",
            Cell::List(_) | Cell::Text(_) | Cell::Other(_) => "Text",
        };
        if kind != "Integer" {
            break;
        }
    }
    kind
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
