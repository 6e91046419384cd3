//! Spark SQL's statements for materializations ([`SparkDialect`]), as dbt-spark issues them;
//! the connection that runs them is [`super::spark`].

use super::dialect::{kind_word, Dialect};
use super::engine::RelationKind;
use crate::relation::{quote, Relation};

/// Spark SQL's statements, as dbt-spark issues them, for tables of `file_format`.
#[derive(Debug)]
pub struct SparkDialect {
    file_format: String,
}

impl SparkDialect {
    /// The dialect for tables of `file_format` (`parquet`, `delta`, ...).
    pub fn new(file_format: &str) -> SparkDialect {
        SparkDialect {
            file_format: file_format.to_string(),
        }
    }
}

/// The reason an operation Spark's built-in file formats refuse cannot run.
const NEEDS_TABLE_FORMAT: &str = "needs `merge`, `update` or `delete`, which Spark refuses on tables of file_format parquet, csv, json or orc";

impl Dialect for SparkDialect {
    /// A timestamp cast to `double` is its epoch seconds in Spark.
    fn freshness_query(&self, relation: &str, loaded_at_field: &str, filter: Option<&str>) -> String {
        let filter = filter.map(|f| format!(" where {f}")).unwrap_or_default();
        format!(
            "select cast(max({loaded_at_field}) as double) as max_loaded_at, \
             cast(current_timestamp() as double) as snapshotted_at from {relation}{filter}"
        )
    }

    fn create_or_replace(&self, kind: RelationKind, relation: &Relation, select: &str) -> String {
        match kind {
            RelationKind::View => format!("create or replace view {relation} as\n{select}"),
            // Spark's file tables cannot be replaced in place: materializations create the
            // table under a staging name and swap it in (`replaces_tables_in_place`).
            RelationKind::Table => format!(
                "create table {relation}\nusing {}\nas\n{select}",
                self.file_format
            ),
        }
    }

    fn drop_if_exists(&self, kind: RelationKind, relation: &Relation) -> String {
        format!("drop {} if exists {relation}", kind_word(kind))
    }

    fn create_table_with_columns(&self, relation: &Relation, columns: &str) -> String {
        format!("create table {relation} ({columns}) using {}", self.file_format)
    }

    fn temp_table(&self, relation: &Relation) -> String {
        quote(&format!("{}__dbt_tmp", relation.identifier))
    }

    fn create_temp_table(&self, temp: &str, select: &str) -> String {
        format!("create or replace temporary view {temp} as\n{select}")
    }

    fn drop_temp_table(&self, temp: &str) -> String {
        format!("drop view if exists {temp}")
    }

    fn merge_rows(&self, target: &str, source: &str, on: &str, update_set: Option<&str>) -> String {
        let set = update_set.unwrap_or("*");
        format!(
            "merge into {target} as DBT_INTERNAL_DEST\nusing {source} as DBT_INTERNAL_SOURCE\non ({on})\nwhen matched then update set {set}\nwhen not matched then insert *"
        )
    }

    fn delete_matching(&self, target: &str, source: &str, condition: &str) -> String {
        format!(
            "delete from {target} as DBT_INCREMENTAL_TARGET where exists (select 1 from {source} as DBT_INCREMENTAL_SOURCE where {condition})"
        )
    }

    fn rebuild_table(&self, table: &str, select_list: &str) -> String {
        format!("insert overwrite table {table} select {select_list} from {table}")
    }

    fn close_snapshot_versions(&self, target: &str, staging: &str, current: &str) -> String {
        format!(
            "merge into {target} as DBT_INTERNAL_TARGET\nusing {staging} as DBT_INTERNAL_SOURCE\non DBT_INTERNAL_SOURCE.dbt_scd_id = DBT_INTERNAL_TARGET.dbt_scd_id\nwhen matched and DBT_INTERNAL_SOURCE.dbt_change_type in ('update', 'delete') and {current}\n  then update set dbt_valid_to = DBT_INTERNAL_SOURCE.dbt_valid_to"
        )
    }

    fn add_column(&self, table: &str, column: &str, data_type: &str) -> String {
        format!("alter table {table} add columns ({column} {data_type})")
    }

    fn drop_column(&self, table: &str, column: &str) -> String {
        format!("alter table {table} drop column {column}")
    }

    fn comment_on_relation(&self, kind: RelationKind, relation: &Relation, literal: &str) -> String {
        match kind {
            RelationKind::Table => format!("comment on table {relation} is {literal}"),
            RelationKind::View => {
                format!("alter view {relation} set tblproperties ('comment' = {literal})")
            }
        }
    }

    fn comment_on_column(&self, relation: &Relation, column: &str, literal: &str) -> String {
        format!("alter table {relation} alter column {column} comment {literal}")
    }

    fn string_type(&self) -> &'static str {
        "string"
    }

    fn column_type(&self, ty: &str) -> String {
        // Spark's `varchar` needs a length; DuckDB's unbounded text is Spark's `string`.
        match ty.to_ascii_uppercase().as_str() {
            "VARCHAR" | "TEXT" => "string".into(),
            "HUGEINT" => "decimal(38,0)".into(),
            // A seed column of numbers with decimals: Spark has no `float8` (dbt-spark: `double`).
            "FLOAT8" => "double".into(),
            _ => ty.to_string(),
        }
    }

    fn default_incremental_strategy(&self) -> crate::config::materialized::IncrementalStrategy {
        crate::config::materialized::IncrementalStrategy::Append
    }

    fn insert_overwrite(
        &self,
        target: &str,
        source: &str,
        columns: &str,
        partitioned: bool,
    ) -> Option<Vec<String>> {
        let insert = format!("insert overwrite table {target}\nselect {columns} from {source}");
        // Only the partitions the new rows fall in, as dbt-spark sets it.
        let dynamic = "set spark.sql.sources.partitionOverwriteMode = dynamic".to_string();
        Some(if partitioned {
            vec![dynamic, insert]
        } else {
            vec![insert]
        })
    }

    fn create_table_as(&self, relation: &Relation, select: &str, partition_by: &[String]) -> String {
        if partition_by.is_empty() {
            return self.create_or_replace(RelationKind::Table, relation, select);
        }
        let columns: Vec<String> = partition_by.iter().map(|c| quote(c)).collect();
        format!(
            "create table {relation}\nusing {}\npartitioned by ({})\nas\n{select}",
            self.file_format,
            columns.join(", ")
        )
    }

    fn replaces_tables_in_place(&self) -> bool {
        false
    }

    fn rename_table(&self, from: &Relation, to: &Relation) -> String {
        format!(
            "alter table {from} rename to {}.{}",
            quote(&to.schema),
            quote(&to.identifier)
        )
    }

    fn row_changes(&self) -> Option<&'static str> {
        if matches!(self.file_format.as_str(), "delta" | "iceberg" | "hudi") {
            None
        } else {
            Some(NEEDS_TABLE_FORMAT)
        }
    }
}
