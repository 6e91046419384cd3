//! The `incremental` materialization, with dbt-duckdb's semantics (its
//! `materializations/incremental.sql`, `incremental_strategy/*.sql`, and dbt-core's
//! `on_schema_change.sql`):
//!
//! - no relation yet, a view in its place, or a full refresh: the model's `select` becomes
//!   the table, as for `table`;
//! - otherwise the `select` (which sees `is_incremental()` true) goes into a temporary table
//!   `<identifier>__dbt_tmp` on the worker's own connection, schema changes are handled as
//!   `on_schema_change` says, and the strategy moves the new rows into the table.
//!
//! Everything happens in one transaction: a failure leaves the previous table as it was.
//!
//! One deliberate difference from dbt: unique keys are compared NULL-safely (`is not distinct
//! from`), so a row whose key is NULL replaces its earlier version instead of piling up beside
//! it (dbt-core#7873, where `=` never matches NULL and each run adds another copy).

use anyhow::Result;

use crate::adapter::dialect::Dialect;
use crate::adapter::{Adapter, Column, RelationKind};
pub use crate::config::materialized::{
    IncrementalConfig, IncrementalStrategy as Strategy, OnSchemaChange, STRATEGIES,
};
use crate::error::Diagnostic;
use crate::relation::{quote, Relation};

/// Whether the model's `select` is rendered as an increment: `is_incremental()` in dbt. True
/// when the relation exists as a table and this is not a full refresh.
pub fn is_incremental(existing: Option<RelationKind>, full_refresh: bool) -> bool {
    existing == Some(RelationKind::Table) && !full_refresh
}

/// Builds incremental model `relation` from `sql` (its `select`, rendered with
/// [`is_incremental`]'s answer), `hooks` around it in the same transaction. `full_refresh`
/// rebuilds the table from `sql` alone.
///
/// Errors: DuckDB's error, or `on_schema_change: fail` meeting a changed schema; nothing has
/// changed in the database when either is returned.
pub fn build(
    adapter: &Adapter,
    relation: &Relation,
    sql: &str,
    config: &IncrementalConfig,
    full_refresh: bool,
    hooks: &super::Hooks,
) -> Result<()> {
    if let Some(other) = &config.invalid_on_schema_change {
        eprintln!(
            "warning: invalid value for on_schema_change ({other}) specified; using `ignore` \
             (valid: ignore, fail, append_new_columns, sync_all_columns)"
        );
    }
    let existing = adapter.relation_kind(relation)?;
    if !is_incremental(existing, full_refresh) {
        super::model(adapter, "table", relation, sql, hooks, &config.partition_by)?;
        return Ok(());
    }
    if let Some(unknown) = &config.unknown_strategy {
        return Err(Diagnostic::new(format!(
            "incremental_strategy `{unknown}` is not one Mallard knows; nothing was changed"
        ))
        .help(format!(
            "use one of: {} (the first build and --full-refresh build a table whatever the strategy, as in dbt)",
            STRATEGIES.join(", ")
        ))
        .into());
    }
    let body = super::strip_trailing_semicolon(sql);
    let dialect = adapter.dialect();
    let mut config = config.clone();
    if !config.strategy_named {
        config.strategy = dialect.default_incremental_strategy();
    }
    let config = &config;
    let changes_rows = match config.strategy {
        Strategy::Merge => true,
        Strategy::DeleteInsert => !config.unique_key.is_empty(),
        Strategy::Append | Strategy::InsertOverwrite => false,
    };
    if let (true, Some(why)) = (changes_rows, dialect.row_changes()) {
        return Err(Diagnostic::new(format!(
            "incremental_strategy `{}` {why}; nothing was changed",
            strategy_name(config.strategy)
        ))
        .help("use `append` or `insert_overwrite` (with `partition_by`), or set `file_format: delta` (or `iceberg`) on a cluster that has its jars")
        .into());
    }
    if let (Strategy::Merge, Some(option)) = (config.strategy, &config.unsupported_merge_option) {
        return Err(Diagnostic::new(format!(
            "`{option}` (a dbt-duckdb merge option) is not supported by Mallard; nothing was changed"
        ))
        .help("use `unique_key` with `merge_update_columns`, `merge_exclude_columns`, `merge_update_set_expressions` or `incremental_predicates`")
        .into());
    }
    if config.strategy == Strategy::InsertOverwrite && dialect.insert_overwrite("", "", "", false).is_none() {
        return Err(Diagnostic::new(
            "incremental_strategy `insert_overwrite` is not valid on DuckDB (dbt-duckdb refuses it too); nothing was changed",
        )
        .help(format!("use one of: {}", STRATEGIES.join(", ")))
        .into());
    }
    let temp = dialect.temp_table(relation);
    let target = relation.to_string();
    adapter.transaction(|a| {
        for hook in &hooks.pre {
            a.execute(hook)?;
        }
        a.execute(&dialect.create_temp_table(&temp, body))?;
        let source_columns = a.columns(&temp)?;
        let target_columns = a.columns(&target)?;
        let dest_columns = match config.on_schema_change {
            OnSchemaChange::Ignore => target_columns,
            mode => {
                let changes = SchemaChanges::between(&source_columns, &target_columns);
                if !changes.is_empty() {
                    if mode == OnSchemaChange::Fail {
                        return Err(changes.out_of_sync_error().into());
                    }
                    for statement in changes.statements(dialect, &target, &target_columns, mode) {
                        a.execute(&statement)?;
                    }
                }
                source_columns
            }
        };
        let columns: Vec<String> = dest_columns.iter().map(|c| quote(&c.name)).collect();
        for statement in strategy_sql(dialect, config, &target, &temp, &columns) {
            a.execute(&statement)?;
        }
        for hook in &hooks.post {
            a.execute(hook)?;
        }
        a.execute(&dialect.drop_temp_table(&temp))?;
        Ok(())
    })
}

/// The statements of `config.strategy`, moving the rows of `temp` into `target`, both in
/// `columns` (quoted names).
fn strategy_sql(
    dialect: &dyn Dialect,
    config: &IncrementalConfig,
    target: &str,
    temp: &str,
    columns: &[String],
) -> Vec<String> {
    let cols = columns.join(", ");
    let insert = format!("insert into {target} ({cols})\n(\n    select {cols}\n    from {temp}\n)");
    let keys = &config.unique_key;
    match config.strategy {
        Strategy::Append => vec![insert],
        Strategy::InsertOverwrite => dialect
            .insert_overwrite(target, temp, &cols, !config.partition_by.is_empty())
            .unwrap_or_default(),
        Strategy::DeleteInsert if keys.is_empty() => vec![insert],
        Strategy::DeleteInsert => {
            // `incremental_predicates` narrow the delete, as in dbt.
            let narrowed: String = config
                .predicates
                .iter()
                .map(|p| format!("\n  and ({p})"))
                .collect();
            let delete = match keys.as_slice() {
                // One key may be an expression (dbt puts it in `(...) in (select (...))`); the
                // second branch makes a NULL key match a NULL key.
                [key] => format!(
                    "delete from {target}\nwhere (({key}) in (select ({key}) from {temp})\n   or (({key}) is null and exists (select 1 from {temp} where ({key}) is null))){narrowed}"
                ),
                keys => dialect.delete_matching(
                    target,
                    temp,
                    &keys
                        .iter()
                        .map(|k| format!(
                            "DBT_INCREMENTAL_SOURCE.{k} is not distinct from DBT_INCREMENTAL_TARGET.{k}"
                        ))
                        .chain(config.predicates.iter().map(|p| format!("({p})")))
                        .collect::<Vec<_>>()
                        .join("\n  and "),
                ),
            };
            vec![delete, insert]
        }
        Strategy::Merge => {
            let mut on: Vec<String> = if keys.is_empty() {
                vec!["FALSE".to_string()]
            } else {
                keys.iter()
                    .map(|k| format!("DBT_INTERNAL_SOURCE.{k} is not distinct from DBT_INTERNAL_DEST.{k}"))
                    .collect()
            };
            on.extend(config.predicates.iter().map(|p| format!("({p})")));
            let update_set = merge_update_set(config, columns);
            vec![dialect.merge_rows(target, temp, &on.join(" and "), update_set.as_deref())]
        }
    }
}

/// The assignments of a merge's matched rows when `merge_update_columns`,
/// `merge_exclude_columns` or `merge_update_set_expressions` narrow them (`None`: every column
/// by name), as dbt-duckdb writes them: the expressions first, then `col =
/// DBT_INTERNAL_SOURCE.col` for the columns kept (`columns`, quoted, less those excluded,
/// compared without case) that no expression sets.
fn merge_update_set(config: &IncrementalConfig, columns: &[String]) -> Option<String> {
    let narrowed = !config.merge_update_columns.is_empty()
        || !config.merge_exclude_columns.is_empty()
        || !config.merge_update_set_expressions.is_empty();
    if !narrowed {
        return None;
    }
    let bare = |c: &str| c.replace(['"', '`', '\''], "").to_lowercase();
    let kept: Vec<String> = if config.merge_update_columns.is_empty() {
        let excluded: Vec<String> = config.merge_exclude_columns.iter().map(|c| bare(c)).collect();
        columns
            .iter()
            .filter(|c| !excluded.contains(&bare(c)))
            .cloned()
            .collect()
    } else {
        config.merge_update_columns.clone()
    };
    let expressions = &config.merge_update_set_expressions;
    let assignments: Vec<String> = expressions
        .iter()
        .map(|(column, expression)| format!("{column} = {expression}"))
        .chain(
            kept.iter()
                .filter(|c| !expressions.iter().any(|(e, _)| bare(e) == bare(c)))
                .map(|c| format!("{c} = DBT_INTERNAL_SOURCE.{c}")),
        )
        .collect();
    Some(assignments.join(", "))
}

/// `strategy` as `incremental_strategy` writes it.
fn strategy_name(strategy: Strategy) -> &'static str {
    match strategy {
        Strategy::Append => "append",
        Strategy::DeleteInsert => "delete+insert",
        Strategy::Merge => "merge",
        Strategy::InsertOverwrite => "insert_overwrite",
    }
}

/// How the model's columns (source) differ from the table's (target), by name, compared
/// without regard to case as DuckDB resolves names.
#[derive(Debug, Default)]
struct SchemaChanges {
    source_not_in_target: Vec<Column>,
    target_not_in_source: Vec<Column>,
    /// Columns in both whose type differs: (name, the model's type).
    new_types: Vec<(String, String)>,
}

impl SchemaChanges {
    fn between(source: &[Column], target: &[Column]) -> SchemaChanges {
        let find =
            |cols: &[Column], name: &str| cols.iter().find(|c| c.name.eq_ignore_ascii_case(name)).cloned();
        let mut changes = SchemaChanges::default();
        for s in source {
            match find(target, &s.name) {
                None => changes.source_not_in_target.push(s.clone()),
                Some(t) if t.data_type != s.data_type => {
                    changes.new_types.push((t.name.clone(), s.data_type.clone()))
                }
                Some(_) => {}
            }
        }
        changes.target_not_in_source = target
            .iter()
            .filter(|t| find(source, &t.name).is_none())
            .cloned()
            .collect();
        changes
    }

    fn is_empty(&self) -> bool {
        self.source_not_in_target.is_empty()
            && self.target_not_in_source.is_empty()
            && self.new_types.is_empty()
    }

    /// The statements that bring table `target` (with columns `target_columns`) in line:
    /// `alter table ... add column` for `append_new_columns`; for `sync_all_columns` also the
    /// removed columns dropped and the changed types changed.
    ///
    /// A changed type ends up where dbt-core's `alter_column_type` puts it (a new column at the
    /// end, filled from the old one, which is dropped). DuckDB 1.5 refuses to commit a
    /// transaction that updates a table between two `alter`s of it, so when types change the
    /// table is rebuilt in that final column order with one `create or replace table`.
    fn statements(
        &self,
        dialect: &dyn Dialect,
        target: &str,
        target_columns: &[Column],
        mode: OnSchemaChange,
    ) -> Vec<String> {
        let add = |c: &Column| dialect.add_column(target, &quote(&c.name), &c.data_type);
        if mode != OnSchemaChange::SyncAllColumns {
            return self.source_not_in_target.iter().map(add).collect();
        }
        if self.new_types.is_empty() {
            let drop = |c: &Column| dialect.drop_column(target, &quote(&c.name));
            let adds = self.source_not_in_target.iter().map(add);
            return adds.chain(self.target_not_in_source.iter().map(drop)).collect();
        }
        let changed = |name: &str| self.new_types.iter().any(|(n, _)| n == name);
        let kept = target_columns
            .iter()
            .filter(|c| !changed(&c.name) && !self.target_not_in_source.contains(c))
            .map(|c| quote(&c.name));
        let added = self
            .source_not_in_target
            .iter()
            .map(|c| format!("cast(null as {}) as {}", c.data_type, quote(&c.name)));
        let retyped = self
            .new_types
            .iter()
            .map(|(n, t)| format!("cast({} as {t}) as {}", quote(n), quote(n)));
        let select: Vec<String> = kept.chain(added).chain(retyped).collect();
        vec![dialect.rebuild_table(target, &select.join(", "))]
    }

    /// dbt's message for `on_schema_change: fail`.
    fn out_of_sync_error(&self) -> Diagnostic {
        let names = |cols: &[Column]| {
            cols.iter()
                .map(|c| format!("{} {}", c.name, c.data_type))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let types = self
            .new_types
            .iter()
            .map(|(n, t)| format!("{n} to {t}"))
            .collect::<Vec<_>>()
            .join(", ");
        Diagnostic::new(format!(
            "the source and target schemas on this incremental model are out of sync\n  \
             columns of the model not in the table: [{}]\n  \
             columns of the table not in the model: [{}]\n  \
             changed types: [{}]",
            names(&self.source_not_in_target),
            names(&self.target_not_in_source),
            types
        ))
        .help(
            "set `on_schema_change` to `append_new_columns` or `sync_all_columns`, rebuild the table with \
             `--full-refresh`, or change the table by hand and run again",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::dialect::DuckDb;

    #[test]
    fn schema_changes_by_name_and_type() {
        let col = |n: &str, t: &str| Column {
            name: n.into(),
            data_type: t.into(),
        };
        let source = vec![
            col("id", "BIGINT"),
            col("Amount", "DOUBLE"),
            col("new", "VARCHAR"),
        ];
        let target = vec![col("id", "INTEGER"), col("amount", "DOUBLE"), col("old", "DATE")];
        let ch = SchemaChanges::between(&source, &target);
        assert_eq!(ch.source_not_in_target, vec![col("new", "VARCHAR")]);
        assert_eq!(ch.target_not_in_source, vec![col("old", "DATE")]);
        assert_eq!(ch.new_types, vec![("id".to_string(), "BIGINT".to_string())]);
        assert_eq!(
            ch.statements(&DuckDb, "t", &target, OnSchemaChange::AppendNewColumns),
            vec!["alter table t add column \"new\" VARCHAR"]
        );
        assert_eq!(
            ch.statements(&DuckDb, "t", &target, OnSchemaChange::SyncAllColumns),
            vec![
                "create or replace table t as select \"amount\", cast(null as VARCHAR) as \"new\", \
                 cast(\"id\" as BIGINT) as \"id\" from t"
            ]
        );
        let no_retype = SchemaChanges::between(&source[1..], &target[1..]);
        assert_eq!(
            no_retype.statements(&DuckDb, "t", &target[1..], OnSchemaChange::SyncAllColumns),
            vec![
                "alter table t add column \"new\" VARCHAR",
                "alter table t drop column \"old\""
            ]
        );
        assert!(SchemaChanges::between(&source, &source).is_empty());
    }
}
