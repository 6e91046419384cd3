//! Snapshots: type-2 slowly changing dimensions, with dbt-core's semantics (its
//! `materializations/snapshots/{snapshot,helpers,strategies}.sql` and dbt-duckdb's
//! `snapshot_merge_sql`).
//!
//! The first run copies the snapshot's `select` with four columns added: `dbt_scd_id` (an MD5
//! of the unique key and `dbt_updated_at`), `dbt_updated_at`, `dbt_valid_from` and
//! `dbt_valid_to` (NULL: the current version). Later runs compare the `select` with the current
//! versions: a changed row closes its current version (`dbt_valid_to`) and opens a new one; a
//! new key gets its first version; with `hard_deletes: invalidate` a key that is gone has its
//! current version closed. Each run is one transaction. `snapshot_meta_column_names` renames the
//! four columns (see [`with_meta_names`]).

use anyhow::Result;

use crate::adapter::dialect::Dialect;
use crate::adapter::{Adapter, RelationKind};
pub use crate::config::materialized::{CheckCols, SnapshotConfig, SnapshotStrategy as Strategy};
use crate::relation::{quote, Relation};

/// The time a `check` snapshot stamps versions with, dbt-duckdb's `snapshot_get_time()`: the
/// transaction's start, so one run stamps every row alike.
const NOW: &str = "current_timestamp::timestamp";

/// Where the snapshot's own query goes in a statement while its meta columns are renamed (see
/// [`with_meta_names`]), so that the query's text is left as written.
const QUERY: &str = "__mallard_snapshot_query__";

/// `sql` (a statement of Mallard's, the snapshot's query not in it yet) with dbt's meta column
/// names replaced, as whole words, by those `snapshot_meta_column_names` gives.
fn with_meta_names(sql: &str, config: &SnapshotConfig) -> String {
    let mut out = sql.to_string();
    for (dbt, ours) in &config.meta_column_names {
        let mut renamed = String::with_capacity(out.len());
        let mut rest = out.as_str();
        let word = |c: char| c.is_alphanumeric() || c == '_';
        while let Some(at) = rest.find(dbt.as_str()) {
            let before = rest[..at].chars().next_back();
            let after = rest[at + dbt.len()..].chars().next();
            renamed.push_str(&rest[..at]);
            if before.is_some_and(word) || after.is_some_and(word) {
                renamed.push_str(dbt);
            } else {
                renamed.push_str(ours);
            }
            rest = &rest[at + dbt.len()..];
        }
        renamed.push_str(rest);
        out = renamed;
    }
    out
}

/// The dbt columns and helper columns that the staging table has but the snapshot does not take.
const STAGING_ONLY: &[&str] = &["dbt_change_type", "dbt_unique_key"];

/// Builds or updates snapshot `relation` from `sql` (its rendered `select`), `hooks` around it,
/// in one transaction.
///
/// Errors: DuckDB's; nothing has changed in the database when it is returned.
pub fn build(
    adapter: &Adapter,
    relation: &Relation,
    sql: &str,
    config: &SnapshotConfig,
    hooks: &super::Hooks,
) -> Result<()> {
    // Spark: dbt-spark's snapshots need `merge` (Delta or Iceberg tables); Mallard's are not
    // built there yet, and say so rather than send DuckDB's statements.
    if !adapter.dialect().replaces_tables_in_place() {
        let why = adapter
            .dialect()
            .row_changes()
            .map(|why| format!(" (and a snapshot {why})"))
            .unwrap_or_default();
        return Err(crate::error::Diagnostic::new(format!(
            "snapshots are not supported on this engine by Mallard yet{why}; nothing was changed"
        ))
        .help("build snapshots on a DuckDB target; on Spark they will need `file_format: delta` (or `iceberg`) on a cluster that has its jars, as under dbt-spark")
        .into());
    }
    let body = super::strip_trailing_semicolon(sql);
    let exists = adapter.relation_kind(relation)?.is_some();
    adapter.transaction(|a| {
        for hook in &hooks.pre {
            a.execute(hook)?;
        }
        if exists {
            update(a, relation, body, config)?;
        } else {
            let plan = Plan::new(a.dialect(), config, None);
            let select = format!(
                "select *,\n    {} as dbt_scd_id,\n    {u} as dbt_updated_at,\n    {u} as dbt_valid_from,\n    {}{}\nfrom (\n{QUERY}\n) sbq",
                plan.scd_id,
                plan.valid_to_current(),
                if config.new_record { ",\n    'False' as dbt_is_deleted" } else { "" },
                u = plan.updated_at,
            );
            let select = with_meta_names(&select, config).replace(QUERY, body);
            a.execute(&a.dialect().create_or_replace(RelationKind::Table, relation, &select))?;
        }
        for hook in &hooks.post {
            a.execute(hook)?;
        }
        Ok(())
    })?;
    adapter.set_relation_kind(relation, RelationKind::Table);
    Ok(())
}

/// The SQL pieces a strategy gives: dbt's `strategy` dict.
struct Plan<'a> {
    config: &'a SnapshotConfig,
    updated_at: String,
    scd_id: String,
    row_changed: String,
}

impl<'a> Plan<'a> {
    /// `check_columns` are, for `check_cols: all`, the snapshot's columns also in the table
    /// (`None` on the first run), and whether the query has a column the table lacks.
    fn new(
        dialect: &dyn Dialect,
        config: &'a SnapshotConfig,
        check_columns: Option<(Vec<String>, bool)>,
    ) -> Plan<'a> {
        let (updated_at, row_changed) = match &config.strategy {
            Strategy::Timestamp { updated_at } => (
                updated_at.clone(),
                format!("(snapshotted_data.dbt_valid_from < source_data.{updated_at})"),
            ),
            Strategy::Check { columns, updated_at } => {
                let cols: Vec<String> = match (columns, &check_columns) {
                    (CheckCols::Listed(cols), _) => cols.clone(),
                    (CheckCols::All, Some((cols, _))) => cols.iter().map(|c| quote(c)).collect(),
                    (CheckCols::All, None) => Vec::new(),
                };
                let added = matches!(check_columns, Some((_, true)));
                let changed = if added || cols.is_empty() {
                    "TRUE".to_string()
                } else {
                    cols.iter()
                        .map(|c| {
                            format!(
                                "snapshotted_data.{c} != source_data.{c} or ((snapshotted_data.{c} is null) and not (source_data.{c} is null)) or ((not snapshotted_data.{c} is null) and (source_data.{c} is null))"
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" or ")
                };
                (
                    updated_at.clone().unwrap_or_else(|| NOW.to_string()),
                    format!("({changed})"),
                )
            }
        };
        let mut scd_args = config.unique_key.clone();
        scd_args.push(updated_at.clone());
        let scd_id = format!(
            "md5({})",
            scd_args
                .iter()
                .map(|a| format!("coalesce(cast({a} as {}), '')", dialect.string_type()))
                .collect::<Vec<_>>()
                .join(" || '|' || ")
        );
        Plan {
            config,
            updated_at,
            scd_id,
            row_changed,
        }
    }

    /// `dbt_valid_to` of a new version: NULL typed like `updated_at`, or `dbt_valid_to_current`.
    fn valid_to_current(&self) -> String {
        format!(
            "coalesce(nullif({u}, {u}), {}) as dbt_valid_to",
            self.config.valid_to_current.as_deref().unwrap_or("null"),
            u = self.updated_at
        )
    }

    /// `<key> as dbt_unique_key`, or `<k1> as dbt_unique_key_1, ...` for several.
    fn key_fields(&self) -> String {
        match self.config.unique_key.as_slice() {
            [key] => format!("{key} as dbt_unique_key"),
            keys => keys
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} as dbt_unique_key_{}", i + 1))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    fn key_join(&self, a: &str, b: &str) -> String {
        match self.config.unique_key.as_slice() {
            [_] => format!("{a}.dbt_unique_key = {b}.dbt_unique_key"),
            keys => (1..=keys.len())
                .map(|i| format!("{a}.dbt_unique_key_{i} = {b}.dbt_unique_key_{i}"))
                .collect::<Vec<_>>()
                .join(" and "),
        }
    }

    fn key_is_null(&self, side: &str) -> String {
        match self.config.unique_key.as_slice() {
            [_] => format!("{side}.dbt_unique_key is null"),
            _ => format!("{side}.dbt_unique_key_1 is null"),
        }
    }

    /// dbt's `snapshot_staging_table`: the versions to insert and the current versions to close.
    /// `query_columns` are the snapshot query's columns and `existing` the table's, which
    /// `hard_deletes: new_record` needs for the versions that record a deletion.
    fn staging_sql(
        &self,
        source_sql: &str,
        target: &str,
        query_columns: &[String],
        existing: &[String],
    ) -> String {
        let current_of = |side: &str| match &self.config.valid_to_current {
            Some(v) => format!("({side}dbt_valid_to = {v} or {side}dbt_valid_to is null)"),
            None => format!("{side}dbt_valid_to is null"),
        };
        let keys = self.key_fields();
        let u = &self.updated_at;
        let new_record = self.config.new_record;
        let mut sql = format!(
            "with snapshot_query as (\n{source_sql}\n),\n\
             snapshotted_data as (\n    select *, {keys}\n    from {target}\n    where {}\n),\n\
             insertions_source_data as (\n    select *, {keys},\n        {u} as dbt_updated_at,\n        {u} as dbt_valid_from,\n        {},\n        {} as dbt_scd_id\n    from snapshot_query\n),\n\
             updates_source_data as (\n    select *, {keys},\n        {u} as dbt_updated_at,\n        {u} as dbt_valid_from,\n        {u} as dbt_valid_to\n    from snapshot_query\n),\n",
            current_of(""),
            self.valid_to_current(),
            self.scd_id,
        );
        if self.config.invalidate_hard_deletes {
            sql.push_str(&format!(
                "deletes_source_data as (\n    select *, {keys}\n    from snapshot_query\n),\n"
            ));
        }
        // With new_record, a key whose current version records its deletion comes back as a
        // change, and each version carries `dbt_is_deleted`.
        let (changed, is_deleted, inserted_flag) = if new_record {
            (
                format!("{} or snapshotted_data.dbt_is_deleted = 'True'", self.row_changed),
                ", snapshotted_data.dbt_is_deleted",
                ", 'False' as dbt_is_deleted",
            )
        } else {
            (self.row_changed.clone(), "", "")
        };
        sql.push_str(&format!(
            "insertions as (\n    select 'insert' as dbt_change_type, source_data.*{inserted_flag}\n    from insertions_source_data as source_data\n    left outer join snapshotted_data\n        on {join}\n    where {snap_null}\n       or ({snap_not_null} and ({changed}))\n),\n\
             updates as (\n    select 'update' as dbt_change_type, source_data.*, snapshotted_data.dbt_scd_id{is_deleted}\n    from updates_source_data as source_data\n    join snapshotted_data\n        on {join}\n    where ({changed})\n)",
            join = self.key_join("snapshotted_data", "source_data"),
            snap_null = self.key_is_null("snapshotted_data"),
            snap_not_null = self.key_is_null("snapshotted_data").replace(" is null", " is not null"),
        ));
        // A deletion already recorded is not recorded again.
        let not_recorded = if new_record {
            format!(
                "\n      and not (snapshotted_data.dbt_is_deleted = 'True' and {})",
                current_of("snapshotted_data.")
            )
        } else {
            String::new()
        };
        if self.config.invalidate_hard_deletes {
            sql.push_str(&format!(
                ",\ndeletes as (\n    select 'delete' as dbt_change_type, source_data.*,\n        {NOW} as dbt_valid_from,\n        {NOW} as dbt_updated_at,\n        {NOW} as dbt_valid_to,\n        snapshotted_data.dbt_scd_id{is_deleted}\n    from snapshotted_data\n    left join deletes_source_data as source_data\n        on {join}\n    where {source_null}{not_recorded}\n)",
                join = self.key_join("snapshotted_data", "source_data"),
                source_null = self.key_is_null("source_data"),
            ));
        }
        if new_record {
            // The version that records a deletion: the last values, `dbt_is_deleted` true.
            let values: Vec<String> = query_columns
                .iter()
                .map(|c| {
                    let side = if existing.contains(c) {
                        "snapshotted_data"
                    } else {
                        "source_data"
                    };
                    format!("{side}.{}", quote(c))
                })
                .collect();
            let key_values = match self.config.unique_key.as_slice() {
                [_] => "snapshotted_data.dbt_unique_key as dbt_unique_key".to_string(),
                keys => (1..=keys.len())
                    .map(|i| format!("snapshotted_data.dbt_unique_key_{i} as dbt_unique_key_{i}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            sql.push_str(&format!(
                ",\ndeletion_records as (\n    select 'insert' as dbt_change_type, {}, {key_values},\n        {NOW} as dbt_valid_from,\n        {NOW} as dbt_updated_at,\n        snapshotted_data.dbt_valid_to as dbt_valid_to,\n        md5(coalesce(cast(snapshotted_data.dbt_scd_id as varchar), '') || '|' || coalesce(cast({NOW} as varchar), '')) as dbt_scd_id,\n        'True' as dbt_is_deleted\n    from snapshotted_data\n    left join deletes_source_data as source_data\n        on {join}\n    where {source_null}{not_recorded}\n)",
                values.join(", "),
                join = self.key_join("snapshotted_data", "source_data"),
                source_null = self.key_is_null("source_data"),
            ));
        }
        sql.push_str("\nselect * from insertions\nunion all\nselect * from updates");
        if self.config.invalidate_hard_deletes {
            sql.push_str("\nunion all\nselect * from deletes");
        }
        if new_record {
            sql.push_str("\nunion all\nselect * from deletion_records");
        }
        sql
    }
}

/// A later run: stage the changes in a temporary table, add columns the query gained, close
/// the changed and deleted current versions, insert the new ones.
fn update(a: &Adapter, relation: &Relation, body: &str, config: &SnapshotConfig) -> Result<()> {
    let target = relation.to_string();
    let existing: Vec<String> = a.columns(&target)?.into_iter().map(|c| c.name).collect();
    let check_columns = match &config.strategy {
        Strategy::Check {
            columns: CheckCols::All,
            ..
        } => {
            let query_columns: Vec<String> = a
                .columns(&format!("select * from (\n{body}\n) subq"))?
                .into_iter()
                .map(|c| c.name)
                .collect();
            let added = query_columns.iter().any(|c| !existing.contains(c));
            let common = query_columns
                .into_iter()
                .filter(|c| existing.contains(c))
                .collect();
            Some((common, added))
        }
        _ => None,
    };
    let query_columns: Vec<String> = if config.new_record {
        a.columns(&format!("select * from (\n{body}\n) subq"))?
            .into_iter()
            .map(|c| c.name)
            .collect()
    } else {
        Vec::new()
    };
    let dialect = a.dialect();
    let plan = Plan::new(dialect, config, check_columns);
    let staging = dialect.temp_table(relation);
    let staging_sql = plan.staging_sql(QUERY, &target, &query_columns, &existing);
    let staging_sql = with_meta_names(&staging_sql, config).replace(QUERY, body);
    a.execute(&dialect.create_temp_table(&staging, &staging_sql))?;
    let is_helper = |name: &str| STAGING_ONLY.contains(&name) || name.starts_with("dbt_unique_key_");
    let staging_columns: Vec<crate::adapter::Column> = a
        .columns(&staging)?
        .into_iter()
        .filter(|c| !is_helper(&c.name))
        .collect();
    for c in staging_columns.iter().filter(|c| !existing.contains(&c.name)) {
        a.execute(&dialect.add_column(&target, &quote(&c.name), &c.data_type))?;
    }
    let current = match &config.valid_to_current {
        Some(v) => {
            format!("(DBT_INTERNAL_TARGET.dbt_valid_to = {v} or DBT_INTERNAL_TARGET.dbt_valid_to is null)")
        }
        None => "DBT_INTERNAL_TARGET.dbt_valid_to is null".to_string(),
    };
    a.execute(&with_meta_names(
        &dialect.close_snapshot_versions(&target, &staging, &current),
        config,
    ))?;
    let cols: Vec<String> = staging_columns.iter().map(|c| quote(&c.name)).collect();
    a.execute(&format!(
        "insert into {target} ({})\nselect {}\nfrom {staging} as DBT_INTERNAL_SOURCE\nwhere DBT_INTERNAL_SOURCE.dbt_change_type::text = 'insert'",
        cols.join(", "),
        cols.iter().map(|c| format!("DBT_INTERNAL_SOURCE.{c}")).collect::<Vec<_>>().join(", ")
    ))?;
    a.execute(&dialect.drop_temp_table(&staging))?;
    Ok(())
}
