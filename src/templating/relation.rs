//! A relation (`database.schema.identifier`, [`crate::relation::Relation`]) as templates see
//! it: `{{ ref('m') }}` prints it quoted, and `.database`, `.schema`, `.identifier` (alias
//! `.name`) read its parts.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value};

use crate::relation::{quote, Relation};

/// A `ref()` or `source()` under `--empty`: renders as `(select * from <relation> where false
/// limit 0)`, as dbt-duckdb renders a relation limited to zero rows (no alias: DuckDB needs
/// none; checked with dbt 1.11), so that models build with their columns and types but no
/// rows. Attributes and methods other than `render()` are the relation's.
#[derive(Debug)]
pub struct EmptyRelation(Arc<Relation>);

/// The value `ref()` and `source()` return in the run phase: the relation, or under `--empty`
/// an [`EmptyRelation`].
pub fn run_phase_value(relation: Relation, empty: bool) -> Value {
    if empty {
        Value::from_object(EmptyRelation(Arc::new(relation)))
    } else {
        Value::from_object(relation)
    }
}

impl EmptyRelation {
    fn limited(&self) -> String {
        format!("(select * from {} where false limit 0)", self.0)
    }
}

impl Object for EmptyRelation {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get_value(key)
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.0.enumerate()
    }

    fn call_method(
        self: &Arc<Self>,
        state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        match method {
            "render" => Ok(Value::from(self.limited())),
            "quote" | "incorporate" => Ok(Value::from_dyn_object(self.clone())),
            _ => self.0.call_method(state, method, args),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.limited())
    }
}

/// A relation's schema, as `without_identifier()` gives it: prints `"database"."schema"`;
/// its `identifier` is none.
#[derive(Debug)]
pub struct SchemaRelation(Arc<Relation>);

impl Object for SchemaRelation {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "identifier" | "name" | "table" => Some(Value::from(())),
            _ => self.0.get_value(key),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.0.enumerate()
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = [&self.0.database, &self.0.schema]
            .into_iter()
            .filter(|p| !p.is_empty())
            .map(|p| quote(p))
            .collect();
        f.write_str(&parts.join("."))
    }
}

impl Object for Relation {
    /// A mapping, as dbt's relations are (dbt_utils tells relations from strings by
    /// `is mapping` and `metadata.type`).
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            // A part a relation lacks (an ephemeral model's, a temporary table's) is none.
            "database" | "schema" => {
                let part = if key.as_str()? == "database" {
                    &self.database
                } else {
                    &self.schema
                };
                Some(if part.is_empty() {
                    Value::from(())
                } else {
                    Value::from(part.clone())
                })
            }
            "identifier" | "name" | "table" => Some(Value::from(self.identifier.clone())),
            "metadata" => Some(minijinja::context! { type => "DuckDBRelation" }),
            // dbt's `type` (none when not known) and its `is_<type>` properties.
            "type" => Some(Value::from(self.kind.clone())),
            "is_table" | "is_view" | "is_cte" | "is_materialized_view" => Some(Value::from(
                self.kind.as_deref() == key.as_str()?.strip_prefix("is_"),
            )),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["database", "schema", "identifier", "metadata", "type"])
    }

    /// `render()`: the quoted name; `include(database=, schema=, identifier=)`: the name
    /// without the parts set to false; `incorporate(path=...)` and `replace_path(...)`: the
    /// relation with those parts replaced; `without_identifier()`: `"database"."schema"`;
    /// `quote(...)`: the relation itself.
    fn call_method(
        self: &Arc<Self>,
        _state: &minijinja::State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, minijinja::Error> {
        match method {
            "render" => Ok(Value::from(self.to_string())),
            "include" => {
                let (kwargs,): (minijinja::value::Kwargs,) = minijinja::value::from_args(args)?;
                let keep = |k: &str| -> Result<bool, minijinja::Error> {
                    Ok(kwargs.get::<Option<bool>>(k)?.unwrap_or(true))
                };
                let (d, s, i) = (keep("database")?, keep("schema")?, keep("identifier")?);
                kwargs.assert_all_used()?;
                let parts: Vec<String> = [(d, &self.database), (s, &self.schema), (i, &self.identifier)]
                    .into_iter()
                    .filter(|(keep, part)| *keep && !part.is_empty())
                    .map(|(_, part)| quote(part))
                    .collect();
                Ok(Value::from(parts.join(".")))
            }
            // dbt's relations: `incorporate(path={...}, type=...)` and `replace_path(...)`
            // give the relation with the named parts (and type) replaced; other keywords
            // (quote policy) change nothing Mallard prints.
            "incorporate" | "replace_path" => {
                let (kwargs,): (minijinja::value::Kwargs,) = minijinja::value::from_args(args)?;
                let path: Value = match method {
                    "incorporate" => kwargs.get::<Option<Value>>("path")?.unwrap_or_default(),
                    _ => Value::from_serialize(
                        kwargs
                            .args()
                            .map(|k| Ok((k.to_string(), kwargs.get::<Value>(k)?)))
                            .collect::<Result<std::collections::BTreeMap<String, Value>, minijinja::Error>>(
                            )?,
                    ),
                };
                let mut changed = self.as_ref().clone();
                if method == "incorporate" {
                    if let Some(kind) = kwargs.get::<Option<Value>>("type")? {
                        changed.kind = (!kind.is_none()).then(|| kind.to_string());
                    }
                }
                for k in kwargs.args().map(str::to_string).collect::<Vec<_>>() {
                    let _: Value = kwargs.get(&k)?;
                }
                for (key, part) in [
                    ("database", &mut changed.database),
                    ("schema", &mut changed.schema),
                    ("identifier", &mut changed.identifier),
                ] {
                    if let Ok(v) = path.get_item(&Value::from(key)) {
                        if !v.is_undefined() {
                            *part = if v.is_none() { String::new() } else { v.to_string() };
                        }
                    }
                }
                Ok(Value::from_object(changed))
            }
            // The schema this relation is in, printed `"database"."schema"`.
            "without_identifier" => Ok(Value::from_object(SchemaRelation(self.clone()))),
            "quote" => Ok(Value::from_dyn_object(self.clone())),
            // The schema dbt's catalog macros read this relation's tables from.
            "information_schema" => Ok(Value::from_object(InformationSchema(self.database.clone()))),
            _ => Err(minijinja::Error::from(minijinja::ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_ref(), f)
    }
}

/// `relation.information_schema()`: the information schema of the relation's database,
/// printed `"database".INFORMATION_SCHEMA`, with `database` as an attribute.
#[derive(Debug)]
pub struct InformationSchema(String);

impl Object for InformationSchema {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "database" => Some(Value::from(self.0.clone())),
            "schema" | "identifier" => Some(Value::from("INFORMATION_SCHEMA")),
            _ => None,
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.INFORMATION_SCHEMA", crate::relation::quote(&self.0))
    }
}

/// A microbatch model's batch, as its render sees it: `ref()`s and `source()`s of upstreams
/// with an `event_time` read only `start` (included) to `end` (excluded), both written as dbt
/// writes them (`2024-01-01 00:00:00+00:00`).
#[derive(Debug, Clone)]
pub struct EventTimeWindow {
    pub start: String,
    pub end: String,
}

impl EventTimeWindow {
    /// `relation` read through the window on `event_time`, as dbt renders an event-time
    /// filtered relation (`(select * from r where t >= 'start' and t < 'end')`; DuckDB needs no
    /// alias).
    pub fn filtered(&self, relation: Relation, event_time: &str) -> Relation {
        let filter = format!(
            "(select * from {relation} where {event_time} >= '{}' and {event_time} < '{}')",
            self.start, self.end
        );
        relation.reading(filter)
    }
}
