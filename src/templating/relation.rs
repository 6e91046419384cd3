//! A relation (`database.schema.identifier`) as templates see it: `{{ ref('m') }}` prints it
//! quoted, and `.database`, `.schema`, `.identifier` (alias `.name`) read its parts.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value};

/// A table or view in DuckDB, named by catalog (`database`), schema and identifier.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Relation {
    pub database: String,
    pub schema: String,
    pub identifier: String,
}

impl Relation {
    pub fn new(database: &str, schema: &str, identifier: &str) -> Relation {
        Relation {
            database: database.to_string(),
            schema: schema.to_string(),
            identifier: identifier.to_string(),
        }
    }

    /// `schema.identifier`, unquoted, as dbt prints relations in its log lines.
    pub fn short(&self) -> String {
        format!("{}.{}", self.schema, self.identifier)
    }
}

/// Quotes an identifier for DuckDB: wrapped in double quotes, inner quotes doubled.
pub fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            quote(&self.database),
            quote(&self.schema),
            quote(&self.identifier)
        )
    }
}

impl Object for Relation {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "database" => Some(Value::from(self.database.clone())),
            "schema" => Some(Value::from(self.schema.clone())),
            "identifier" | "name" | "table" => Some(Value::from(self.identifier.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["database", "schema", "identifier"])
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_ref(), f)
    }
}
