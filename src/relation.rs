//! A relation (`database.schema.identifier`): the name of a table or view that every layer
//! passes around (the manifest records it, templates print it, the adapter builds it). It
//! sits below them all, so that none of them imports another for it.

use std::fmt;

/// A table or view in DuckDB, named by catalog (`database`), schema and identifier. Two
/// relations are equal when their names (and [`Relation::external`] expressions) are: the
/// [`Relation::kind`] is what is known about it, not part of its name.
#[derive(Debug, Clone)]
pub struct Relation {
    pub database: String,
    pub schema: String,
    pub identifier: String,
    /// For a source read from files (dbt-duckdb's `external_location`): the expression that
    /// reads them (`'data/orders.csv'`, `read_parquet('x/*.parquet')`), which the relation
    /// prints as instead of its name.
    pub external: Option<String>,
    /// What the relation is, as dbt's `relation.type` names it (`table`, `view`, `cte`,
    /// `materialized_view`, `external`), when known: from the catalog that found it or from
    /// `api.Relation.create(type=...)`; `None` otherwise.
    pub kind: Option<String>,
}

impl Relation {
    fn key(&self) -> (&str, &str, &str, Option<&str>) {
        (
            &self.database,
            &self.schema,
            &self.identifier,
            self.external.as_deref(),
        )
    }
}

impl PartialEq for Relation {
    fn eq(&self, other: &Relation) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Relation {}

impl std::hash::Hash for Relation {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key().hash(state)
    }
}

impl PartialOrd for Relation {
    fn partial_cmp(&self, other: &Relation) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Relation {
    fn cmp(&self, other: &Relation) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl Relation {
    pub fn new(database: &str, schema: &str, identifier: &str) -> Relation {
        Relation {
            database: database.to_string(),
            schema: schema.to_string(),
            identifier: identifier.to_string(),
            external: None,
            kind: None,
        }
    }

    /// This relation, known to be a `kind` (see [`Relation::kind`]).
    pub fn of_kind(mut self, kind: &str) -> Relation {
        self.kind = Some(kind.to_string());
        self
    }

    /// This relation read through `expression` (see [`Relation::external`]).
    pub fn reading(mut self, expression: String) -> Relation {
        self.external = Some(expression);
        self
    }

    /// The common table expression an ephemeral model becomes, `__dbt__cte__<name>`: a relation
    /// with no database and no schema, which prints as its bare identifier.
    pub fn cte(model_name: &str) -> Relation {
        Relation::new("", "", &format!("__dbt__cte__{model_name}")).of_kind("cte")
    }

    /// Whether this is an ephemeral model's CTE (see [`Relation::cte`]).
    pub fn is_cte(&self) -> bool {
        self.database.is_empty() && self.schema.is_empty()
    }

    /// `schema.identifier`, unquoted, as dbt prints relations in its log lines.
    pub fn short(&self) -> String {
        format!("{}.{}", self.schema, self.identifier)
    }
}

/// How identifiers are quoted: with double quotes (DuckDB) or backticks (Spark SQL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    DoubleQuotes,
    Backticks,
}

/// The quoting of the process's target, set once when the target is loaded (a process runs
/// one target; `adapter::target::use_quoting_of` sets it); double quotes until then.
static QUOTING: std::sync::OnceLock<Quoting> = std::sync::OnceLock::new();

/// Sets how [`quote`] quotes for the rest of the process. The first call wins: a later one
/// (a second target in one process, as in tests) leaves the quoting as it was and returns
/// false, unless it asks for the same quoting.
pub fn set_quoting(quoting: Quoting) -> bool {
    QUOTING.set(quoting).is_ok() || QUOTING.get() == Some(&quoting)
}

/// Quotes an identifier for the target's engine: wrapped in double quotes with inner quotes
/// doubled (DuckDB), or in backticks with inner backticks doubled (Spark; see
/// [`set_quoting`]).
pub fn quote(ident: &str) -> String {
    match QUOTING.get().copied().unwrap_or(Quoting::DoubleQuotes) {
        Quoting::Backticks => format!("`{}`", ident.replace('`', "``")),
        Quoting::DoubleQuotes => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_cte() {
            // A CTE prints bare; another relation without database and schema (dbt-duckdb's
            // temporary relations) by its quoted identifier.
            return match self.kind.as_deref() {
                Some("cte") => write!(f, "{}", self.identifier),
                _ => f.write_str(&quote(&self.identifier)),
            };
        }
        if let Some(expression) = &self.external {
            return f.write_str(expression);
        }
        write!(
            f,
            "{}.{}.{}",
            quote(&self.database),
            quote(&self.schema),
            quote(&self.identifier)
        )
    }
}
