//! Materializations: the statements that turn a node's compiled SQL into a relation.
//!
//! Every change runs in one DuckDB transaction, so a failing statement leaves the previous
//! version of the relation as it was: a table is replaced by `create or replace table ... as`
//! inside the transaction, a view by `create or replace view`, and a relation of the other
//! kind under the same name is dropped in that same transaction.

pub mod contract;
pub mod external;
pub mod incremental;
pub mod microbatch;
pub mod seed_types;
pub mod snapshot;

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::adapter::{Adapter, RelationKind};
use crate::error::{did_you_mean, Diagnostic, Location};
use crate::relation::Relation;

/// A node's rendered `pre_hook` and `post_hook` statements, which run in the same transaction
/// as the node's own, before and after it (dbt's default, `transaction: true`).
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    pub pre: Vec<String>,
    pub post: Vec<String>,
    /// Post-hooks that use the database while they render (`run_query`, `statement`,
    /// `adapter.drop_relation`, ...), as written, with their 1-based position: dbt renders
    /// post-hooks after the node's statements ran, so these are rendered (and run) only once
    /// the node's transaction has committed.
    pub deferred_post: Vec<(usize, String)>,
}

/// dbt 1.12's latest version pointer: when `node` is the latest version of a versioned model
/// and its config sets `latest_version_pointer: {enabled: true}`, a view named after the model
/// (`dim_customers`, beside `dim_customers_v2`) that selects the latest version, replaced with
/// it. Nothing for other nodes.
///
/// Errors: DuckDB's (a table of that name in the way).
pub fn latest_version_pointer(adapter: &Adapter, node: &crate::manifest::Node) -> anyhow::Result<()> {
    let enabled = node
        .config
        .0
        .get("latest_version_pointer")
        .and_then(|p| p.get("enabled"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let (Some(relation), true) = (&node.relation, enabled) else {
        return Ok(());
    };
    if node.version.is_none() || node.version != node.latest_version {
        return Ok(());
    }
    let pointer = Relation::new(&relation.database, &relation.schema, &node.name);
    let select = format!("select * from {relation}");
    adapter.execute(
        &adapter
            .dialect()
            .create_or_replace(RelationKind::View, &pointer, &select),
    )
}

/// dbt-duckdb's `table_function`: replaces DuckDB table macro `relation` taking `parameters`
/// (names, or one string of them) by `sql`, hooks around it, in one transaction. Read as
/// `{{ ref('m') }}(args)`; late binding means upstream tables may gain columns without a
/// rebuild.
///
/// Errors: DuckDB's (a table or view of the same name, SQL that does not bind); the previous
/// function stays when one is returned.
pub fn table_function(
    adapter: &Adapter,
    relation: &Relation,
    sql: &str,
    parameters: &[String],
    hooks: &Hooks,
) -> anyhow::Result<()> {
    let mut statements = hooks.pre.clone();
    statements.push(format!(
        "create or replace function {relation}({}) as table (\n{}\n)",
        parameters.join(", "),
        strip_trailing_semicolon(sql)
    ));
    statements.extend(hooks.post.iter().cloned());
    adapter.in_transaction(&statements)
}

/// Builds a `view` or `table` model from `sql` (a `select`), with its hooks around it; a table
/// is partitioned by `partition_by` where the engine partitions tables (Spark). The schema
/// must exist: [`crate::runner::run_nodes`] creates every schema before the workers start.
///
/// Errors: the engine's error; nothing has changed in the database when it is returned.
pub fn model(
    adapter: &Adapter,
    materialized: &str,
    relation: &Relation,
    sql: &str,
    hooks: &Hooks,
    partition_by: &[String],
) -> anyhow::Result<()> {
    let body = strip_trailing_semicolon(sql);
    let existing = adapter.relation_kind(relation)?;
    let mut statements = hooks.pre.clone();
    let kind = match materialized {
        "table" => RelationKind::Table,
        _ => RelationKind::View,
    };
    let dialect = adapter.dialect();
    if kind == RelationKind::Table && !dialect.replaces_tables_in_place() && !partition_by.is_empty() {
        statements.extend(copied_partitioned_table(
            adapter,
            relation,
            existing,
            body,
            partition_by,
        ));
    } else if kind == RelationKind::Table && !dialect.replaces_tables_in_place() {
        let build = |staging: &Relation| Ok(vec![dialect.create_table_as(staging, body, partition_by)]);
        statements.extend(staged_table(adapter, relation, existing, build)?);
    } else {
        match existing {
            Some(RelationKind::View) if kind == RelationKind::Table => {
                statements.push(dialect.drop_if_exists(RelationKind::View, relation))
            }
            Some(RelationKind::Table) if kind == RelationKind::View => {
                statements.push(dialect.drop_if_exists(RelationKind::Table, relation))
            }
            _ => {}
        }
        statements.push(dialect.create_or_replace(kind, relation, body));
    }
    statements.extend(hooks.post.iter().cloned());
    adapter.in_transaction(&statements)?;
    adapter.set_relation_kind(relation, kind);
    Ok(())
}

/// `relation` with `__mallard_<suffix>` after its name: where a table is staged (`new`) or the
/// previous one waits during a swap (`old`).
fn swap_partner(relation: &Relation, suffix: &str) -> Relation {
    Relation::new(
        &relation.database,
        &relation.schema,
        &format!("{}__mallard_{suffix}", relation.identifier),
    )
}

/// The statements that make table `relation` anew on an engine that cannot replace a table
/// in place (Spark): `build` gives the statements that create and fill the staging table
/// `<name>__mallard_new` (given to it), which then takes the name by two renames, the
/// previous table becoming `<name>__mallard_old` in between and being dropped after. A failure
/// before the renames leaves the previous table as it was; a run killed between the two renames leaves it as `<name>__mallard_old` with no
/// table under the name, and the next build renames it back before anything else. `existing`
/// is what the name holds now; a view there is dropped just before the renames.
///
/// Errors: the engine's, reading its catalog.
fn staged_table(
    adapter: &Adapter,
    relation: &Relation,
    mut existing: Option<RelationKind>,
    build: impl Fn(&Relation) -> Result<Vec<String>>,
) -> Result<Vec<String>> {
    let dialect = adapter.dialect();
    let (new, old) = (swap_partner(relation, "new"), swap_partner(relation, "old"));
    let mut statements = Vec::new();
    if existing.is_none() && adapter.relation_kind(&old)? == Some(RelationKind::Table) {
        statements.push(dialect.rename_table(&old, relation));
        existing = Some(RelationKind::Table);
    }
    statements.push(dialect.drop_if_exists(RelationKind::Table, &new));
    statements.extend(build(&new)?);
    match existing {
        Some(RelationKind::View) => {
            statements.push(dialect.drop_if_exists(RelationKind::View, relation));
            statements.push(dialect.rename_table(&new, relation));
        }
        Some(RelationKind::Table) => {
            statements.push(dialect.drop_if_exists(RelationKind::Table, &old));
            statements.push(dialect.rename_table(relation, &old));
            statements.push(dialect.rename_table(&new, relation));
            statements.push(dialect.drop_if_exists(RelationKind::Table, &old));
        }
        None => statements.push(dialect.rename_table(&new, relation)),
    }
    adapter.forget_relation(&old);
    Ok(statements)
}

/// The statements that make partitioned table `relation` anew on an engine that cannot replace
/// a table in place (Spark). Renaming would not do: Spark's session catalog renames a
/// partitioned table's folder but leaves its partitions' locations at the old name (measured
/// on Spark 4.3: the renamed table read no rows). So the model's rows are built into
/// `<name>__mallard_new` first, which a failing `select` stops before the previous table is
/// touched; then the previous relation is dropped and the table created again from the
/// staging copy, and the copy dropped. A run killed between that drop and the end of the
/// copy leaves no table under the name (dbt-spark, which drops first, leaves none for the
/// whole build); the next build makes it.
fn copied_partitioned_table(
    adapter: &Adapter,
    relation: &Relation,
    existing: Option<RelationKind>,
    body: &str,
    partition_by: &[String],
) -> Vec<String> {
    let dialect = adapter.dialect();
    let new = swap_partner(relation, "new");
    let mut statements = vec![
        dialect.drop_if_exists(RelationKind::Table, &new),
        dialect.create_table_as(&new, body, partition_by),
    ];
    if let Some(kind) = existing {
        statements.push(dialect.drop_if_exists(kind, relation));
    }
    statements.push(dialect.create_table_as(relation, &format!("select * from {new}"), partition_by));
    statements.push(dialect.drop_if_exists(RelationKind::Table, &new));
    statements
}

/// Builds table model `node` under its enforced contract, as dbt does: the table is created
/// with the declared column types and constraints, then filled from `sql`, in one transaction
/// with the hooks, so a violated constraint leaves the previous table as it was.
///
/// Errors: DuckDB's, e.g. a `NOT NULL` or `UNIQUE` violation by the model's rows.
pub fn contracted_table(
    adapter: &Adapter,
    node: &crate::manifest::Node,
    relation: &Relation,
    sql: &str,
    hooks: &Hooks,
) -> anyhow::Result<()> {
    let body = strip_trailing_semicolon(sql);
    let (definition, names) = contract::table_definition(node);
    let mut statements = hooks.pre.clone();
    let dialect = adapter.dialect();
    if adapter.relation_kind(relation)? == Some(RelationKind::View) {
        statements.push(dialect.drop_if_exists(RelationKind::View, relation));
    }
    let names = names.join(", ");
    statements.push(dialect.create_table_with_columns(relation, &format!("\n    {definition}\n")));
    statements.push(format!(
        "insert into {relation} ({names})\nselect {names} from (\n{body}\n) as model_subq"
    ));
    statements.extend(hooks.post.iter().cloned());
    adapter.in_transaction(&statements)?;
    adapter.set_relation_kind(relation, RelationKind::Table);
    Ok(())
}

/// A seed to load: its CSV file and the configured types of some of its columns.
pub struct SeedLoad<'a> {
    pub csv: std::path::PathBuf,
    /// The CSV path as the user knows it (`seeds/x.csv`), for messages.
    pub shown_path: &'a str,
    pub relation: &'a Relation,
    /// `column_types` config: column name to DuckDB type.
    pub column_types: Option<&'a serde_json::Map<String, Value>>,
    pub delimiter: Option<&'a str>,
    /// `quote_columns` (dbt's default: true).
    pub quote_columns: bool,
    pub hooks: &'a Hooks,
}

impl<'a> SeedLoad<'a> {
    /// The load of seed node `seed`, its CSV read from its package's folder (the project's,
    /// `project_root`, for the project's own seeds), `hooks` around it.
    ///
    /// Panics if `seed` has no relation (every seed node has one).
    pub fn for_node(
        manifest: &'a crate::manifest::Manifest,
        seed: &'a crate::manifest::Node,
        project_root: &'a Path,
        hooks: &'a Hooks,
    ) -> SeedLoad<'a> {
        SeedLoad {
            csv: manifest
                .package_root(&seed.package_name, project_root)
                .join(&seed.original_file_path),
            shown_path: &seed.original_file_path,
            relation: seed.relation.as_ref().expect("seeds have relations"),
            column_types: seed.config.0.get("column_types").and_then(|v| v.as_object()),
            delimiter: seed.config.get_str("delimiter"),
            quote_columns: seed
                .config
                .0
                .get("quote_columns")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            hooks,
        }
    }
}

impl SeedLoad<'_> {
    /// The delimiter byte (dbt's default is a comma).
    fn delimiter_byte(&self) -> u8 {
        self.delimiter.and_then(|d| d.bytes().next()).unwrap_or(b',')
    }

    /// The seed's columns with the types dbt-duckdb gives them: `column_types` where
    /// configured, else inferred from the file as dbt's agate does ([`seed_types`]).
    ///
    /// A `column_types` entry for a column the file lacks is ignored with a warning on stderr.
    ///
    /// Errors: the CSV does not exist or is malformed (named at its `file:line`).
    pub fn columns(&self) -> Result<Vec<(String, String)>> {
        if !self.csv.is_file() {
            return Err(Diagnostic::new(format!("seed file `{}` does not exist", self.shown_path)).into());
        }
        let inferred = seed_types::infer(&self.csv, self.shown_path, self.delimiter_byte())?;
        let configured = self.column_types.cloned().unwrap_or_default();
        // dbt ignores a `column_types` entry for a column the file lacks; so does Mallard, but
        // it says so.
        for col in configured.keys() {
            if !inferred.names.contains(col) {
                let header = &inferred.names;
                let hint = did_you_mean(col, header.iter().map(String::as_str))
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                eprintln!(
                    "warning: `column_types` of seed `{}` names column `{col}`, which `{}` does not have: ignored, as dbt does{hint}",
                    self.relation.identifier, self.shown_path
                );
            }
        }
        Ok(inferred
            .names
            .into_iter()
            .zip(inferred.types)
            .map(|(name, ty)| {
                let ty = match configured.get(&name) {
                    Some(Value::String(t)) => t.clone(),
                    Some(other) => other.to_string(),
                    None => ty.sql().to_string(),
                };
                (name, ty)
            })
            .collect())
    }

    /// A `select` of no rows with the seed's columns and types, for typing unit test rows.
    ///
    /// Errors: as [`SeedLoad::columns`].
    pub fn select_sql(&self) -> Result<String> {
        let cols: Vec<String> = self
            .columns()?
            .iter()
            .map(|(name, ty)| format!("cast(null as {ty}) as {}", crate::relation::quote(name)))
            .collect();
        Ok(format!("select {} limit 0", cols.join(", ")))
    }

    /// Loads the seed as dbt-duckdb does, replacing the table in one transaction: `create
    /// table` with the columns of [`SeedLoad::columns`] (quoted unless `quote_columns` is
    /// false), then DuckDB's `COPY ... FROM` the file. Returns the row count. The schema
    /// must exist.
    ///
    /// The CSV dialect is the one DuckDB's sniffer finds, as under dbt-duckdb, whose `COPY`
    /// sniffs (see [`crate::adapter::Connection::load_csv`]).
    ///
    /// Errors: as [`SeedLoad::columns`], before the database is touched; DuckDB's reader
    /// rejecting a value (one that does not fit its column's type), with DuckDB's line number.
    /// Either way the previous table stays as it was.
    pub fn load(&self, adapter: &Adapter) -> Result<i64> {
        let dialect = adapter.dialect();
        let columns: Vec<(String, String)> = self
            .columns()?
            .into_iter()
            .map(|(name, ty)| {
                let ty = dialect.column_type(&ty);
                (name, ty)
            })
            .collect();
        let defs: Vec<String> = columns
            .iter()
            .map(|(name, ty)| {
                let name = if self.quote_columns {
                    crate::relation::quote(name)
                } else {
                    name.clone()
                };
                format!("{name} {ty}")
            })
            .collect();
        let mut statements = self.hooks.pre.clone();
        let dialect = adapter.dialect();
        let delimiter = self.delimiter_byte() as char;
        let existing = adapter.relation_kind(self.relation)?;
        if dialect.replaces_tables_in_place() {
            if existing == Some(RelationKind::View) {
                statements.push(dialect.drop_if_exists(RelationKind::View, self.relation));
            }
            statements.push(dialect.create_table_with_columns(self.relation, &defs.join(", ")));
            statements.push(adapter.load_csv(self.relation, &self.csv, delimiter, &columns)?);
        } else {
            let build = |staging: &Relation| -> Result<Vec<String>> {
                Ok(vec![
                    dialect.create_table_with_columns(staging, &defs.join(", ")),
                    adapter
                        .load_csv(staging, &self.csv, delimiter, &columns)
                        .map_err(|e| self.load_error(&e.to_string()))?,
                ])
            };
            statements.extend(staged_table(adapter, self.relation, existing, build)?);
        }
        statements.extend(self.hooks.post.iter().cloned());
        adapter
            .in_transaction(&statements)
            .map_err(|e| self.load_error(&e.to_string()))?;
        adapter.set_relation_kind(self.relation, RelationKind::Table);
        // A post-hook may have dropped the seed (dbt_utils' integration tests do).
        Ok(adapter
            .query_i64(&format!("select count(*) from {}", self.relation))
            .unwrap_or(0))
    }
}

impl SeedLoad<'_> {
    /// DuckDB's error on loading the CSV, cut to its first paragraph (the rest restates the
    /// reader's settings) and placed at the CSV line it names.
    fn load_error(&self, duckdb_message: &str) -> Diagnostic {
        let first_paragraph: Vec<&str> = duckdb_message
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .collect();
        let mut d = Diagnostic::new(format!(
            "cannot load seed `{}`: {}",
            self.shown_path,
            first_paragraph.join("\n")
        ));
        let line = duckdb_message
            .split("on Line: ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(line) = line {
            let text = std::fs::read_to_string(&self.csv).unwrap_or_default();
            d = d.at(Location::in_source(self.shown_path, &text, line, None));
            d = d.help(format!(
                "fix line {line} of `{}`, or set the column's type with `column_types`",
                self.shown_path
            ));
        }
        d
    }
}

/// dbt's `persist_docs`: after a model or seed is built, writes its description as the
/// relation's comment (`persist_docs: {relation: true}`) and each documented column's as the
/// column's (`columns: true`, only columns the relation has, names unquoted), as dbt-duckdb's
/// `alter_relation_comment` / `alter_column_comment` do, in one transaction of its own after
/// the build's, as dbt runs them. Does nothing without `persist_docs`.
///
/// Errors: DuckDB's; a description containing dbt's comment delimiter
/// `$dbt_comment_literal_block$`, which dbt refuses too.
pub fn persist_docs(adapter: &Adapter, node: &crate::manifest::Node, kind: RelationKind) -> Result<()> {
    let Some(relation) = node.relation.as_ref() else {
        return Ok(());
    };
    let flag = |key: &str| {
        node.config
            .0
            .get("persist_docs")
            .and_then(|p| p.get(key))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };
    const MAGIC: &str = "$dbt_comment_literal_block$";
    let literal = |text: &str| -> Result<String> {
        if text.contains(MAGIC) {
            return Err(Diagnostic::new(format!(
                "the description of `{}` contains `{MAGIC}`, which cannot be written as a comment",
                node.name
            ))
            .into());
        }
        Ok(format!("{MAGIC}{text}{MAGIC}"))
    };
    let mut statements = Vec::new();
    if flag("relation") && !node.description.is_empty() {
        statements.push(
            adapter
                .dialect()
                .comment_on_relation(kind, relation, &literal(&node.description)?),
        );
    }
    if flag("columns") && !node.columns.is_empty() {
        let existing: Vec<String> = adapter
            .columns(&relation.to_string())?
            .into_iter()
            .map(|c| c.name)
            .collect();
        for c in node.columns.iter().filter(|c| existing.contains(&c.name)) {
            statements.push(adapter.dialect().comment_on_column(
                relation,
                &c.name,
                &literal(&c.description)?,
            ));
        }
    }
    if !statements.is_empty() {
        adapter.in_transaction(&statements)?;
    }
    Ok(())
}

/// `sql` without trailing whitespace and semicolons, so that it can be wrapped in `( ... )`.
fn strip_trailing_semicolon(sql: &str) -> &str {
    sql.trim_end().trim_end_matches(';').trim_end()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seed file that disappears between parse and load (a deploy replacing the folder, a
    /// cleanup job): a clear error naming it, and the table loaded before stays as it was.
    #[test]
    fn a_seed_file_removed_before_loading_leaves_the_table() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("people.csv");
        std::fs::write(&csv, "id,name\n1,ann\n2,bob\n").unwrap();
        let adapter = Adapter::open(None).unwrap();
        let relation = Relation::new("memory", "main", "people");
        let hooks = Hooks::default();
        let load = SeedLoad {
            csv: csv.clone(),
            shown_path: "seeds/people.csv",
            relation: &relation,
            column_types: None,
            delimiter: None,
            quote_columns: true,
            hooks: &hooks,
        };
        assert_eq!(load.load(&adapter).unwrap(), 2);
        std::fs::remove_file(&csv).unwrap();
        let err = load.load(&adapter).unwrap_err().to_string();
        assert!(
            err.contains("seed file `seeds/people.csv` does not exist"),
            "{err}"
        );
        assert_eq!(adapter.query_i64("select count(*) from main.people").unwrap(), 2);
    }
}
