//! Python's methods on Jinja values that minijinja lacks (the environment's unknown-method
//! callback): minijinja-contrib's `pycompat` and, as Python has them, `list.index`/`count`,
//! `copy()`, `str.maketrans`/`translate`/`zfill`/`partition`/`rpartition`, and the dict views
//! `keys()`, `values()` and `items()` (printing as `dict_items([('a', 1)])`, items as tuples).
//! Measured by `tests/jinja.rs` against dbt's Jinja2.

use std::sync::Arc;

use minijinja::value::{from_args, Enumerator, Object, ObjectRepr, Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use super::mutable::{self, Tuple};
use super::pyrepr::py_repr;

/// Python's methods on Jinja values that minijinja lacks: minijinja-contrib's `pycompat`
/// (`.upper()`, `.items()`, `.get()`, ...), plus `list.index(x)`, `list.count(x)`,
/// `str.maketrans(x, y, z)` and `str.translate(table)`.
pub fn python_methods(state: &State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if value.as_str().is_some() && method == "maketrans" {
        let (from, to, delete): (String, Option<String>, Option<String>) = from_args(args)?;
        let to = to.unwrap_or_default();
        if from.chars().count() != to.chars().count() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "maketrans: the first two arguments must have equal length",
            ));
        }
        let mut table: Vec<(Value, Value)> = from
            .chars()
            .zip(to.chars())
            .map(|(a, b)| (Value::from(a as u32), Value::from(b.to_string())))
            .collect();
        table.extend(
            delete
                .unwrap_or_default()
                .chars()
                .map(|c| (Value::from(c as u32), Value::from(()))),
        );
        return Ok(Value::from_iter(table));
    }
    if let (Some(text), "translate") = (value.as_str(), method) {
        let (table,): (Value,) = from_args(args)?;
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            match table.get_item(&Value::from(c as u32)) {
                Ok(v) if v.is_undefined() => out.push(c),
                Ok(v) if v.is_none() => {}
                Ok(v) => out.push_str(&v.to_string()),
                Err(_) => out.push(c),
            }
        }
        return Ok(Value::from(out));
    }
    // `d.copy()` and `l.copy()`: a shallow copy that changes on its own, as Python's.
    if method == "copy" && args.is_empty() {
        match value.kind() {
            ValueKind::Map => {
                return Ok(Value::from_object(mutable::MutableDict::from_map(Some(value))?));
            }
            ValueKind::Seq => {
                return Ok(Value::from_object(mutable::MutableList::from_items(
                    value.try_iter()?.collect(),
                )));
            }
            _ => {}
        }
    }
    if value.kind() == ValueKind::Seq && matches!(method, "index" | "count") {
        let (needle,): (Value,) = from_args(args)?;
        let mut items = value.try_iter()?;
        return if method == "count" {
            Ok(Value::from(items.filter(|v| *v == needle).count()))
        } else {
            items
                .position(|v| v == needle)
                .map(Value::from)
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, format!("{needle} is not in list")))
        };
    }
    if let Some(result) = more_methods(value, method, args)? {
        return Ok(result);
    }
    let result = minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)?;
    // A list a method returns (`'a,b'.split(',')`) is Python's list: it prints as one
    // everywhere and `.append()` changes it.
    if result.kind() == ValueKind::Seq && result.as_object().is_none() {
        return Ok(Value::from_object(mutable::MutableList::from_items(
            result.try_iter()?.collect(),
        )));
    }
    Ok(result)
}

/// The methods of [`python_methods`] that pycompat does not have, `None` for others.
fn more_methods(value: &Value, method: &str, args: &[Value]) -> Result<Option<Value>, Error> {
    if let Some(s) = value.as_str() {
        return Ok(Some(match method {
            "zfill" => {
                let (width,): (usize,) = from_args(args)?;
                let (sign, digits) = match s.strip_prefix(['-', '+']) {
                    Some(rest) => (&s[..1], rest),
                    None => ("", s),
                };
                let pad = width.saturating_sub(s.chars().count());
                Value::from(format!("{sign}{}{digits}", "0".repeat(pad)))
            }
            "partition" | "rpartition" => {
                let (sep,): (String,) = from_args(args)?;
                if sep.is_empty() {
                    return Err(Error::new(ErrorKind::InvalidOperation, "empty separator"));
                }
                let found = if method == "partition" {
                    s.find(&sep)
                } else {
                    s.rfind(&sep)
                };
                let parts = match found {
                    Some(at) => [&s[..at], &sep[..], &s[at + sep.len()..]],
                    None if method == "partition" => [s, "", ""],
                    None => ["", "", s],
                };
                Value::from_object(Tuple(parts.iter().map(|p| Value::from(*p)).collect()))
            }
            _ => return Ok(None),
        }));
    }
    if value.kind() == ValueKind::Map && matches!(method, "keys" | "values" | "items") {
        let () = from_args(args)?;
        let mut items = Vec::new();
        for key in value.try_iter()? {
            let v = value.get_item(&key)?;
            items.push(match method {
                "keys" => key,
                "values" => v,
                _ => Value::from_object(Tuple(vec![key, v])),
            });
        }
        let kind = match method {
            "keys" => "dict_keys",
            "values" => "dict_values",
            _ => "dict_items",
        };
        return Ok(Some(Value::from_object(DictView { kind, items })));
    }
    Ok(None)
}

/// Python's `dict.keys()`, `values()` and `items()`: the entries (items as `(key, value)`
/// tuples) taken when the method is called, printing as Python prints the view.
#[derive(Debug)]
pub(super) struct DictView {
    /// `dict_keys`, `dict_values` or `dict_items`.
    pub(super) kind: &'static str,
    items: Vec<Value>,
}

impl Object for DictView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.items.get(usize::try_from(key.as_i64()?).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items.clone())
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = String::new();
        py_repr(
            &Value::from_object(mutable::MutableList::from_items(self.items.clone())),
            &mut list,
        );
        write!(f, "{}({list})", self.kind)
    }
}
