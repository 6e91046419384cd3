//! Lists and dicts that templates can change in place (`.append()`, `.update()`, ...), as
//! Python's are in dbt's Jinja; minijinja's own values are immutable.

use std::sync::{Arc, Mutex};

use minijinja::value::{from_args, Enumerator, Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

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

/// Writes Python's `repr(value)` (see [`super::pyrepr`]): how Jinja2 prints a list, dict or
/// tuple wherever it becomes text (`~`, `| string`, `| join`), not only in `{{ }}`.
fn python_repr(value: &Value, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    let mut text = String::new();
    super::pyrepr::py_repr(value, &mut text);
    f.write_str(&text)
}

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

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        python_repr(&Value::from_dyn_object(self.clone()), f)
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
            // Python's `sort(reverse=False)` (no `key`: a function cannot be passed in Jinja).
            "sort" => {
                let reverse = match args {
                    [] => false,
                    _ => {
                        let (kwargs,): (minijinja::value::Kwargs,) = from_args(args)?;
                        let reverse: Option<bool> = kwargs.get("reverse")?;
                        kwargs.assert_all_used()?;
                        reverse.unwrap_or(false)
                    }
                };
                items.sort();
                if reverse {
                    items.reverse();
                }
            }
            "reverse" => items.reverse(),
            "clear" => items.clear(),
            "copy" => return Ok(Value::from_object(MutableList::from_items(items.clone()))),
            "remove" => {
                let (v,): (Value,) = from_args(args)?;
                let at = items.iter().position(|x| *x == v).ok_or_else(|| {
                    Error::new(ErrorKind::InvalidOperation, "list.remove(x): x not in list")
                })?;
                items.remove(at);
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

/// An insertion-ordered map of Jinja values (templates keep few entries: a vector is fine).
type Entries = Vec<(Value, Value)>;

/// A dict that `update`, `pop` and `setdefault` change in place (and `d[k] = v` cannot, as in
/// Jinja). `{% set x = {} %}` is rendered as `{% set x = mallard_dict() %}`.
#[derive(Debug, Default)]
pub struct MutableDict(Mutex<Entries>);

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

    /// A dict holding `entries`, in their order (keys assumed distinct).
    pub fn from_entries(entries: Vec<(Value, Value)>) -> MutableDict {
        MutableDict(Mutex::new(entries))
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

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        python_repr(&Value::from_dyn_object(self.clone()), f)
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
        self.change(method, args)
    }
}

impl MutableDict {
    /// `update`, `setdefault` and `pop`, in place; an unknown-method error for others.
    fn change(&self, method: &str, args: &[Value]) -> Result<Value, Error> {
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

/// A tuple, `('a', 'b')` in a template: a list that prints as Python prints a tuple (see
/// [`super::pyrepr`]). Tuple literals are rendered as `mallard_tuple((...))` (see
/// [`super::mutable_literals`]); like Python's, it cannot be changed.
#[derive(Debug, Default)]
pub struct Tuple(pub Vec<Value>);

impl Object for Tuple {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        python_repr(&Value::from_dyn_object(self.clone()), f)
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let i = key.as_i64()?;
        let i = if i < 0 { self.0.len() as i64 + i } else { i };
        self.0.get(usize::try_from(i).ok()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.clone())
    }

    fn call_method(self: &Arc<Self>, _state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        let (needle,): (Value,) = from_args(args)?;
        match method {
            "count" => Ok(Value::from(self.0.iter().filter(|v| **v == needle).count())),
            "index" => self
                .0
                .iter()
                .position(|v| *v == needle)
                .map(Value::from)
                .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "tuple.index(x): x not in tuple")),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// dbt's `context`: the node's template context as a dict. `context.get(name, default)` reads
/// what `update` stored, else the variable or global `name` (a macro, `target`, ...), else
/// `default`; `context.update({...})` stores entries that every macro the node calls sees
/// through `context` (projects keep per-node caches there). A fresh one per render of a node.
#[derive(Debug, Default)]
pub struct TemplateContext(MutableDict);

impl Object for TemplateContext {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0
            .entries()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.entries().iter().map(|(k, _)| k.clone()).collect())
    }

    fn call_method(self: &Arc<Self>, state: &State, method: &str, args: &[Value]) -> Result<Value, Error> {
        match method {
            "get" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                if let Some(v) = self.get_value(&key) {
                    return Ok(v);
                }
                Ok(key
                    .as_str()
                    .and_then(|name| state.lookup(name))
                    .filter(|v| !v.is_undefined())
                    .unwrap_or_else(|| default.unwrap_or(Value::from(()))))
            }
            _ => self.0.change(method, args),
        }
    }
}
