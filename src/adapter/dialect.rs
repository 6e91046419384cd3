//! The SQL that differs between engines: the statements materializations issue to create,
//! replace, fill and drop relations. An engine gives its [`Dialect`] through
//! [`super::Connection::dialect`]; materializations compose these statements and never spell
//! engine-specific DDL themselves. The SQL of a model, test or hook is the project's own and
//! passes through untouched; where engines differ there, dbt's `adapter.dispatch` picks the
//! engine's macro by `target.type`.

use crate::relation::Relation;

use super::RelationKind;

/// The statements an engine's materializations need, each returned as one SQL statement.
/// Relations arrive rendered (`"db"."schema"."name"`); `select` is a query without a trailing
/// semicolon.
pub trait Dialect: Send + Sync {
    /// Creates `relation` as a `kind` over `select`, replacing a relation of the same kind.
    fn create_or_replace(&self, kind: RelationKind, relation: &Relation, select: &str) -> String;

    /// Drops `relation` of `kind` if it exists.
    fn drop_if_exists(&self, kind: RelationKind, relation: &Relation) -> String;

    /// Creates (or replaces) empty table `relation` with `columns`: the column definitions as
    /// written inside the parentheses (`"id" INTEGER, "name" VARCHAR`, constraints included).
    fn create_table_with_columns(&self, relation: &Relation, columns: &str) -> String;

    /// The name of the temporary table that holds an incremental model's new rows while it
    /// is merged into `relation`: a table of the session, gone when the connection closes.
    fn temp_table(&self, relation: &Relation) -> String;

    /// Creates temporary table `temp` (from [`Dialect::temp_table`]) over `select`.
    fn create_temp_table(&self, temp: &str, select: &str) -> String;

    /// Drops temporary table `temp`.
    fn drop_temp_table(&self, temp: &str) -> String;

    /// Merges the rows of `source` into `target` where `on` (a condition over the aliases
    /// `DBT_INTERNAL_SOURCE` and `DBT_INTERNAL_DEST`) matches: matched rows updated (every
    /// column by name, or only `update_set`'s `col = expr` assignments when given), the others
    /// inserted, columns matched by name.
    fn merge_rows(&self, target: &str, source: &str, on: &str, update_set: Option<&str>) -> String;

    /// Deletes the rows of `target` that `condition` (over the aliases
    /// `DBT_INCREMENTAL_TARGET` and `DBT_INCREMENTAL_SOURCE`) matches with a row of `source`.
    fn delete_matching(&self, target: &str, source: &str, condition: &str) -> String;

    /// Replaces table `table` by the query `select <select_list> from <table>` over its own
    /// rows, in one statement (for a change of column types or order).
    fn rebuild_table(&self, table: &str, select_list: &str) -> String;

    /// Sets `dbt_valid_to` of the snapshot rows of `target` that staging table `staging`
    /// closes: those whose `dbt_scd_id` a staging row of `dbt_change_type` `update` or
    /// `delete` has, and that `current` (a condition over alias `DBT_INTERNAL_TARGET`) says
    /// are current (dbt's `snapshot_merge_sql`, its `when matched` arm).
    fn close_snapshot_versions(&self, target: &str, staging: &str, current: &str) -> String;

    /// Adds column `column` (quoted) of `data_type` to table `table`.
    fn add_column(&self, table: &str, column: &str, data_type: &str) -> String;

    /// Drops column `column` (quoted) of table `table`.
    fn drop_column(&self, table: &str, column: &str) -> String;

    /// Sets the comment of `relation` (a `kind`) to `literal`, an already-quoted SQL string.
    fn comment_on_relation(&self, kind: RelationKind, relation: &Relation, literal: &str) -> String;

    /// Sets the comment of column `column` of `relation` to `literal`.
    fn comment_on_column(&self, relation: &Relation, column: &str, literal: &str) -> String;

    /// The engine's type of text values (`cast(x as <this>)`).
    fn string_type(&self) -> &'static str;

    /// Whether [`Dialect::create_or_replace`] replaces a table atomically (in a transaction,
    /// DuckDB). Where it cannot (Spark's file tables), materializations build the table under
    /// a staging name and swap it in with [`Dialect::rename_table`].
    fn replaces_tables_in_place(&self) -> bool {
        true
    }

    /// Renames table `from` to `to` (same schema).
    fn rename_table(&self, from: &Relation, to: &Relation) -> String {
        format!(
            "alter table {from} rename to {}",
            crate::relation::quote(&to.identifier)
        )
    }

    /// The engine's name for a seed column's type `ty` (inferred as DuckDB names types, or
    /// configured by `column_types`): as it is, except where the engine lacks the name.
    fn column_type(&self, ty: &str) -> String {
        ty.to_string()
    }

    /// The `incremental_strategy` of a model that names none, as the adapter's dbt plugin
    /// defaults it.
    fn default_incremental_strategy(&self) -> crate::config::materialized::IncrementalStrategy {
        crate::config::materialized::IncrementalStrategy::DeleteInsert
    }

    /// The statements of `insert overwrite table <target> select <columns> from <source>`,
    /// where the engine has it (Spark; of a `partitioned` table only the partitions the rows
    /// fall in are replaced); `None` where it has not (DuckDB, whose dbt plugin refuses the
    /// strategy).
    fn insert_overwrite(
        &self,
        _target: &str,
        _source: &str,
        _columns: &str,
        _partitioned: bool,
    ) -> Option<Vec<String>> {
        None
    }

    /// Creates table `relation` (which does not exist) over `select`, partitioned by the
    /// columns `partition_by` where the engine partitions tables (Spark); DuckDB's tables have
    /// no partitions, and it replaces the table as [`Dialect::create_or_replace`] does.
    fn create_table_as(&self, relation: &Relation, select: &str, _partition_by: &[String]) -> String {
        self.create_or_replace(RelationKind::Table, relation, select)
    }

    /// `None` where tables take `merge`, `update` and `delete`; otherwise why they do not
    /// (Spark's parquet tables), for the error of a materialization that needs them.
    fn row_changes(&self) -> Option<&'static str> {
        None
    }

    /// dbt's source freshness query: one row with the epoch seconds (a number) of the greatest
    /// `loaded_at_field` of `relation` (rendered) where `filter` holds, and of now.
    fn freshness_query(&self, relation: &str, loaded_at_field: &str, filter: Option<&str>) -> String;
}

/// DuckDB's SQL, as dbt-duckdb issues it.
#[derive(Debug, Clone, Copy)]
pub struct DuckDb;

/// `table` or `view`.
pub(super) fn kind_word(kind: RelationKind) -> &'static str {
    match kind {
        RelationKind::Table => "table",
        RelationKind::View => "view",
    }
}

impl Dialect for DuckDb {
    /// dbt-duckdb's: `epoch()` of both.
    fn freshness_query(&self, relation: &str, loaded_at_field: &str, filter: Option<&str>) -> String {
        let filter = filter.map(|f| format!(" where {f}")).unwrap_or_default();
        format!(
            "select epoch(max({loaded_at_field})) as max_loaded_at, epoch(now()) as snapshotted_at \
             from {relation}{filter}"
        )
    }

    fn create_or_replace(&self, kind: RelationKind, relation: &Relation, select: &str) -> String {
        format!(
            "create or replace {} {relation} as (\n{select}\n)",
            kind_word(kind)
        )
    }

    fn drop_if_exists(&self, kind: RelationKind, relation: &Relation) -> String {
        format!("drop {} if exists {relation}", kind_word(kind))
    }

    fn create_table_with_columns(&self, relation: &Relation, columns: &str) -> String {
        format!("create or replace table {relation} ({columns})")
    }

    fn temp_table(&self, relation: &Relation) -> String {
        format!(
            "temp.main.{}",
            crate::relation::quote(&format!("{}__dbt_tmp", relation.identifier))
        )
    }

    fn create_temp_table(&self, temp: &str, select: &str) -> String {
        format!("create or replace temp table {temp} as (\n{select}\n)")
    }

    fn drop_temp_table(&self, temp: &str) -> String {
        format!("drop table {temp}")
    }

    fn merge_rows(&self, target: &str, source: &str, on: &str, update_set: Option<&str>) -> String {
        let update = update_set.map_or("update by name".to_string(), |set| format!("update set {set}"));
        format!(
            "merge into {target} as DBT_INTERNAL_DEST\nusing {source} as DBT_INTERNAL_SOURCE\non ({on})\nwhen matched then {update}\nwhen not matched then insert by name"
        )
    }

    fn delete_matching(&self, target: &str, source: &str, condition: &str) -> String {
        format!(
            "delete from {target} as DBT_INCREMENTAL_TARGET\nusing {source} as DBT_INCREMENTAL_SOURCE\nwhere {condition}"
        )
    }

    fn rebuild_table(&self, table: &str, select_list: &str) -> String {
        format!("create or replace table {table} as select {select_list} from {table}")
    }

    fn close_snapshot_versions(&self, target: &str, staging: &str, current: &str) -> String {
        format!(
            "update {target} as DBT_INTERNAL_TARGET\nset dbt_valid_to = DBT_INTERNAL_SOURCE.dbt_valid_to\nfrom {staging} as DBT_INTERNAL_SOURCE\nwhere DBT_INTERNAL_SOURCE.dbt_scd_id::text = DBT_INTERNAL_TARGET.dbt_scd_id::text\n  and DBT_INTERNAL_SOURCE.dbt_change_type::text in ('update', 'delete')\n  and {current}"
        )
    }

    fn add_column(&self, table: &str, column: &str, data_type: &str) -> String {
        format!("alter table {table} add column {column} {data_type}")
    }

    fn drop_column(&self, table: &str, column: &str) -> String {
        format!("alter table {table} drop column {column}")
    }

    fn comment_on_relation(&self, kind: RelationKind, relation: &Relation, literal: &str) -> String {
        format!("comment on {} {relation} is {literal}", kind_word(kind))
    }

    fn comment_on_column(&self, relation: &Relation, column: &str, literal: &str) -> String {
        format!("comment on column {relation}.{column} is {literal}")
    }

    fn string_type(&self) -> &'static str {
        "varchar"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duckdb_replaces_a_table_in_one_statement_and_names_its_temp_table_in_temp_main() {
        let r = Relation::new("db", "main", "orders");
        assert_eq!(
            DuckDb.create_or_replace(RelationKind::Table, &r, "select 1"),
            "create or replace table \"db\".\"main\".\"orders\" as (\nselect 1\n)"
        );
        assert_eq!(DuckDb.temp_table(&r), "temp.main.\"orders__dbt_tmp\"");
        assert_eq!(
            DuckDb.drop_if_exists(RelationKind::View, &r),
            "drop view if exists \"db\".\"main\".\"orders\""
        );
    }
}
