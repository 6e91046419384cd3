//! How a node is built, parsed once from its config at parse time: dbt's `materialized`, with
//! the settings of the two materializations that have their own (`incremental`, snapshots).

use crate::config::{as_string_list, NodeConfig};
use crate::error::Diagnostic;

/// A node's materialization, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Materialization {
    View,
    Table,
    /// Inlined as a CTE into what reads it; builds nothing.
    Ephemeral,
    Incremental(IncrementalConfig),
    Snapshot(SnapshotConfig),
    /// dbt-duckdb's `external`: the rows written to files, a view over them.
    External(ExternalConfig),
    /// dbt-duckdb's `table_function`: a DuckDB table macro taking `parameters`, read as
    /// `{{ ref('m') }}(args)`.
    TableFunction {
        parameters: Vec<String>,
    },
    /// A model whose `materialized` names a project's or package's `{% materialization %}`.
    Custom(String),
    /// What seeds, data tests, unit tests and the other resources have (`seed`, `test`, ...).
    Other(String),
}

/// The model materializations Mallard builds itself; any other runs a project's or package's
/// `{% materialization %}` block.
pub const BUILT_IN: &[&str] = &[
    "view",
    "table",
    "ephemeral",
    "incremental",
    "external",
    "table_function",
];

impl Materialization {
    /// Reads `materialized` from `config` (the node's final config); for a snapshot, its
    /// settings (`snapshot` true) and for an incremental model, its own.
    ///
    /// Errors: a snapshot's settings are missing or unsupported (see
    /// [`SnapshotConfig::from_config`]).
    pub fn from_config(config: &NodeConfig, snapshot: bool) -> Result<Materialization, Diagnostic> {
        if snapshot {
            return SnapshotConfig::from_config(config).map(Materialization::Snapshot);
        }
        Ok(match config.materialized() {
            "view" => Materialization::View,
            "table" => Materialization::Table,
            "ephemeral" => Materialization::Ephemeral,
            "incremental" => Materialization::Incremental(IncrementalConfig::from_config(config)),
            "external" => Materialization::External(ExternalConfig::from_config(config)),
            // `parameters`: a list, or one string (commas allowed), as dbt-duckdb takes them.
            "table_function" => Materialization::TableFunction {
                parameters: config.0.get("parameters").map(as_string_list).unwrap_or_default(),
            },
            "seed" | "test" | "unit" | "snapshot" => {
                Materialization::Other(config.materialized().to_string())
            }
            other => Materialization::Custom(other.to_string()),
        })
    }

    /// The name as dbt writes it in `materialized` (`view`, `incremental`, `snapshot`, ...).
    pub fn name(&self) -> &str {
        match self {
            Materialization::View => "view",
            Materialization::Table => "table",
            Materialization::Ephemeral => "ephemeral",
            Materialization::Incremental(_) => "incremental",
            Materialization::Snapshot(_) => "snapshot",
            Materialization::External(_) => "external",
            Materialization::TableFunction { .. } => "table_function",
            Materialization::Custom(name) | Materialization::Other(name) => name,
        }
    }

    /// One of the model materializations Mallard builds itself ([`BUILT_IN`]).
    pub fn is_built_in(&self) -> bool {
        matches!(
            self,
            Materialization::View
                | Materialization::Table
                | Materialization::Ephemeral
                | Materialization::Incremental(_)
                | Materialization::External(_)
                | Materialization::TableFunction { .. }
        )
    }

    pub fn is_ephemeral(&self) -> bool {
        *self == Materialization::Ephemeral
    }
}

/// An `external` model's settings (dbt-duckdb's): where and how its files are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExternalConfig {
    /// `location`: the file or folder written; default `<external_root>/<alias>.<format>`.
    pub location: Option<String>,
    /// `format`: parquet, csv or json; default from the location's extension, else parquet.
    pub format: Option<String>,
    /// `delimiter` (CSV).
    pub delimiter: Option<String>,
    /// `options`: passed to DuckDB's `COPY ... TO` (`partition_by`, `compression`, ...), as
    /// written (checked to be a mapping when the model builds, as dbt-duckdb does).
    pub options: Option<serde_json::Value>,
}

impl ExternalConfig {
    /// Reads `location`, `format`, `delimiter` and `options` (a `partition_by` beside
    /// `options` is not read, as dbt-duckdb does not: the parse warns of it).
    pub fn from_config(config: &NodeConfig) -> ExternalConfig {
        let text = |key: &str| {
            config.0.get(key).and_then(|v| match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Null => None,
                serde_json::Value::Array(items) => Some(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                other => Some(other.to_string()),
            })
        };
        ExternalConfig {
            location: text("location"),
            format: text("format"),
            delimiter: text("delimiter"),
            options: config.0.get("options").cloned(),
        }
    }
}

/// How new rows reach the table (`incremental_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrementalStrategy {
    /// Insert every new row.
    Append,
    /// Delete the rows whose unique key comes again, then insert (dbt-duckdb's default).
    DeleteInsert,
    /// `MERGE INTO`: update rows whose key matches, insert the others.
    Merge,
    /// `INSERT OVERWRITE`: replace the partitions the new rows fall in, or the whole table
    /// when it has none (dbt-spark's; not dbt-duckdb's).
    InsertOverwrite,
}

/// What to do when the model's columns differ from the table's (`on_schema_change`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSchemaChange {
    /// Insert into the table's columns as they are.
    Ignore,
    /// Stop with an error naming the differences.
    Fail,
    /// Add the model's new columns to the table; keep the ones it dropped.
    AppendNewColumns,
    /// Add new columns, drop removed ones, change changed types.
    SyncAllColumns,
}

/// An incremental model's settings, read from its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncrementalConfig {
    pub strategy: IncrementalStrategy,
    /// Whether `incremental_strategy` names one (not absent or `default`): the adapter's
    /// default applies otherwise (`delete+insert` on DuckDB, `append` on Spark).
    pub strategy_named: bool,
    /// An `incremental_strategy` Mallard does not know, as written: like dbt, the error comes
    /// only when the model builds incrementally (a first build or a full refresh is a table).
    pub unknown_strategy: Option<String>,
    /// `unique_key`: no column, one, or several.
    pub unique_key: Vec<String>,
    pub on_schema_change: OnSchemaChange,
    /// An `on_schema_change` that is not one of the four, as written: taken as `ignore`, with
    /// dbt's warning when the model builds incrementally.
    pub invalid_on_schema_change: Option<String>,
    /// `partition_by` (see [`partition_by`]).
    pub partition_by: Vec<String>,
    /// `incremental_strategy: microbatch` (dbt 1.9): the model is built in batches of
    /// `event_time` (see `materialization::microbatch`); `None` for the other strategies.
    pub microbatch: Option<MicrobatchConfig>,
    /// `incremental_predicates`: conditions added to the merge's `on` and to delete+insert's
    /// delete, as in dbt.
    pub predicates: Vec<String>,
    /// `merge`'s matched rows update only these: `merge_update_columns`, or every column but
    /// `merge_exclude_columns`, with `merge_update_set_expressions` (`column -> expression`)
    /// over them; all empty: every column by name.
    pub merge_update_columns: Vec<String>,
    pub merge_exclude_columns: Vec<String>,
    pub merge_update_set_expressions: Vec<(String, String)>,
    /// A dbt-duckdb merge option Mallard does not build (`merge_on_using_columns`,
    /// `merge_clauses`, `merge_returning_columns`), as named: refused when the model merges.
    pub unsupported_merge_option: Option<String>,
}

/// A microbatch model's settings as written (validated when it builds, as dbt validates them).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MicrobatchConfig {
    /// `event_time`: the model's column that places each row in a batch.
    pub event_time: Option<String>,
    /// `batch_size`: `hour`, `day`, `month` or `year`.
    pub batch_size: Option<String>,
    /// `begin`: where the first build starts, as written (`2024-01-01`, ...).
    pub begin: Option<String>,
    /// `lookback`: how many batches before the latest an incremental build redoes (default 1).
    pub lookback: Option<i64>,
}

impl MicrobatchConfig {
    /// Reads `event_time`, `batch_size`, `begin` (as written) and `lookback`.
    fn from_config(config: &NodeConfig) -> MicrobatchConfig {
        MicrobatchConfig {
            event_time: config.get_str("event_time").map(str::to_string),
            batch_size: config.get_str("batch_size").map(str::to_string),
            begin: config.0.get("begin").and_then(|v| match v {
                serde_json::Value::Null => None,
                serde_json::Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            }),
            lookback: config.0.get("lookback").and_then(serde_json::Value::as_i64),
        }
    }
}

/// A model's `partition_by`: the columns its table is partitioned by on Spark (a column or a
/// list, as dbt-spark reads it); empty when not set. DuckDB tables have no partitions
/// (dbt-duckdb reads `partition_by` only for `external` models' files).
pub fn partition_by(config: &NodeConfig) -> Vec<String> {
    names(config, "partition_by")
}

/// The names config `key` gives (one or a list), blank ones left out; empty when not set.
fn names(config: &NodeConfig, key: &str) -> Vec<String> {
    config
        .0
        .get(key)
        .map(as_string_list)
        .unwrap_or_default()
        .into_iter()
        .filter(|c| !c.trim().is_empty())
        .collect()
}

/// The strategies Mallard knows, as written in `incremental_strategy`.
pub const STRATEGIES: &[&str] = &["append", "delete+insert", "merge", "microbatch"];

impl IncrementalConfig {
    /// Reads `incremental_strategy` (default `delete+insert`, as dbt-duckdb), `unique_key` (a
    /// string or a list of strings) and `on_schema_change` (default `ignore`).
    ///
    /// Never fails: an unknown `incremental_strategy` is kept in `unknown_strategy` and an
    /// unknown `on_schema_change` in `invalid_on_schema_change`, for the build to refuse or
    /// warn about, as dbt does only then.
    pub fn from_config(config: &NodeConfig) -> IncrementalConfig {
        let mut unknown_strategy = None;
        let mut invalid_on_schema_change = None;
        let named = config.get_str("incremental_strategy");
        let strategy_named = !matches!(named, None | Some("default"));
        let strategy = match named {
            None | Some("default") | Some("delete+insert") => IncrementalStrategy::DeleteInsert,
            Some("append") => IncrementalStrategy::Append,
            Some("merge") => IncrementalStrategy::Merge,
            Some("insert_overwrite") => IncrementalStrategy::InsertOverwrite,
            // Each batch is a delete+insert on its `event_time` window (dbt-duckdb's).
            Some("microbatch") => IncrementalStrategy::DeleteInsert,
            Some(other) => {
                unknown_strategy = Some(other.to_string());
                IncrementalStrategy::DeleteInsert
            }
        };
        let on_schema_change = match config.get_str("on_schema_change") {
            None | Some("ignore") => OnSchemaChange::Ignore,
            Some("fail") => OnSchemaChange::Fail,
            Some("append_new_columns") => OnSchemaChange::AppendNewColumns,
            Some("sync_all_columns") => OnSchemaChange::SyncAllColumns,
            Some(other) => {
                invalid_on_schema_change = Some(other.to_string());
                OnSchemaChange::Ignore
            }
        };
        let unique_key = names(config, "unique_key");
        let microbatch = (named == Some("microbatch")).then(|| MicrobatchConfig::from_config(config));
        let list = |key: &str| names(config, key);
        let set_expressions = config
            .0
            .get("merge_update_set_expressions")
            .and_then(serde_json::Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        (
                            k.clone(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let unsupported_merge_option = [
            "merge_on_using_columns",
            "merge_clauses",
            "merge_returning_columns",
        ]
        .into_iter()
        .find(|k| {
            config
                .0
                .get(*k)
                .is_some_and(|v| !v.is_null() && v != &serde_json::json!([]) && v != &serde_json::json!({}))
        })
        .map(str::to_string);
        IncrementalConfig {
            predicates: list("incremental_predicates"),
            merge_update_columns: list("merge_update_columns"),
            merge_exclude_columns: list("merge_exclude_columns"),
            merge_update_set_expressions: set_expressions,
            unsupported_merge_option,
            microbatch,
            partition_by: partition_by(config),
            strategy,
            strategy_named,
            unknown_strategy,
            unique_key,
            on_schema_change,
            invalid_on_schema_change,
        }
    }
}

/// How a changed row is recognised (`strategy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotStrategy {
    /// The `updated_at` column is later than the current version's `dbt_valid_from`.
    Timestamp { updated_at: String },
    /// One of `check_cols` (or every column, for `all`) differs; versions are stamped with
    /// `updated_at` if given, else the run's time.
    Check {
        columns: CheckCols,
        updated_at: Option<String>,
    },
}

/// The columns a `check` snapshot compares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckCols {
    All,
    Listed(Vec<String>),
}

/// A snapshot's settings, read from its config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotConfig {
    pub strategy: SnapshotStrategy,
    /// `unique_key`: one column (or expression) or several.
    pub unique_key: Vec<String>,
    /// `hard_deletes: invalidate` or `new_record` (or the older `invalidate_hard_deletes:
    /// true`): a key gone from the query has its current version closed.
    pub invalidate_hard_deletes: bool,
    /// `hard_deletes: new_record` (dbt 1.9): a key gone from the query also gets a new current
    /// version with `dbt_is_deleted = 'True'`, and every version a `dbt_is_deleted` column.
    pub new_record: bool,
    /// `dbt_valid_to_current`: what `dbt_valid_to` holds for current versions instead of NULL.
    pub valid_to_current: Option<String>,
    /// `snapshot_meta_column_names` (dbt 1.9): the names the snapshot's meta columns take
    /// instead of dbt's, as `(dbt's name, this snapshot's)`; empty when not set.
    pub meta_column_names: Vec<(String, String)>,
}

/// The meta columns `snapshot_meta_column_names` may rename.
pub const SNAPSHOT_META_COLUMNS: &[&str] = &[
    "dbt_valid_to",
    "dbt_valid_from",
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_is_deleted",
];

impl SnapshotConfig {
    /// Reads `strategy`, `unique_key`, `updated_at`, `check_cols`, `hard_deletes` /
    /// `invalidate_hard_deletes` and `dbt_valid_to_current`.
    ///
    /// Errors (each saying what to set): no `strategy` or an unknown one; no `unique_key`;
    /// `timestamp` without `updated_at`; `check` without `check_cols`; a `hard_deletes` other
    /// than `ignore`, `invalidate`, `new_record`; a `snapshot_meta_column_names` that is not a
    /// mapping of dbt's meta columns.
    pub fn from_config(config: &NodeConfig) -> Result<SnapshotConfig, Diagnostic> {
        let unique_key: Vec<String> = config.0.get("unique_key").map(as_string_list).unwrap_or_default();
        if unique_key.is_empty() {
            return Err(Diagnostic::new("a snapshot needs a `unique_key`")
                .help("add `unique_key='id'` (or a list of columns) to its config"));
        }
        let updated_at = config.get_str("updated_at").map(str::to_string);
        let strategy = match config.get_str("strategy") {
            Some("timestamp") => SnapshotStrategy::Timestamp {
                updated_at: updated_at.ok_or_else(|| {
                    Diagnostic::new("a `timestamp` snapshot needs `updated_at`")
                        .help("name the column that says when a row last changed: `updated_at='updated_at'`")
                })?,
            },
            Some("check") => {
                let columns = match config.0.get("check_cols") {
                    Some(serde_json::Value::String(s)) if s == "all" => CheckCols::All,
                    Some(v @ serde_json::Value::Array(_)) if !as_string_list(v).is_empty() => {
                        CheckCols::Listed(as_string_list(v))
                    }
                    _ => {
                        return Err(Diagnostic::new("a `check` snapshot needs `check_cols`")
                            .help("set `check_cols=['status', ...]` or `check_cols='all'`"))
                    }
                };
                SnapshotStrategy::Check { columns, updated_at }
            }
            other => return Err(Diagnostic::new(match other {
                Some(s) => format!("snapshot strategy `{s}` is not `timestamp` or `check`"),
                None => "a snapshot needs a `strategy`".to_string(),
            })
            .help(
                "set `strategy='timestamp'` (with `updated_at`) or `strategy='check'` (with `check_cols`)",
            )),
        };
        let invalidate_legacy = config
            .0
            .get("invalidate_hard_deletes")
            .and_then(serde_json::Value::as_bool);
        let invalidate_hard_deletes = match (config.get_str("hard_deletes"), invalidate_legacy) {
            (Some(_), Some(_)) => {
                return Err(Diagnostic::new(
                    "a snapshot cannot set both `hard_deletes` and `invalidate_hard_deletes`",
                )
                .help("keep `hard_deletes`"))
            }
            (None | Some("ignore"), legacy) => legacy.unwrap_or(false),
            (Some("invalidate" | "new_record"), _) => true,
            (Some(other), _) => {
                return Err(
                    Diagnostic::new(format!("`hard_deletes: {other}` is not one dbt knows"))
                        .help("use `ignore` (the default), `invalidate` or `new_record`"),
                )
            }
        };
        let new_record = config.get_str("hard_deletes") == Some("new_record");
        let meta_column_names = meta_column_names(config)?;
        Ok(SnapshotConfig {
            new_record,
            meta_column_names,
            strategy,
            unique_key,
            invalidate_hard_deletes,
            valid_to_current: config.get_str("dbt_valid_to_current").map(str::to_string),
        })
    }
}

/// A snapshot's `snapshot_meta_column_names` as `(dbt's column, the user's name)` pairs (blank
/// names left out). Errors: a key that is not one of dbt's meta columns; not a mapping.
fn meta_column_names(config: &NodeConfig) -> Result<Vec<(String, String)>, Diagnostic> {
    let mut meta_column_names = Vec::new();
    match config.0.get("snapshot_meta_column_names") {
        None | Some(serde_json::Value::Null) => {}
        Some(serde_json::Value::Object(names)) => {
            for (key, name) in names {
                let Some(name) = name.as_str().filter(|n| !n.trim().is_empty()) else {
                    continue;
                };
                if !SNAPSHOT_META_COLUMNS.contains(&key.as_str()) {
                    return Err(Diagnostic::new(format!(
                        "`snapshot_meta_column_names` has `{key}`, which is not one of dbt's meta columns"
                    ))
                    .help(format!("use {}", SNAPSHOT_META_COLUMNS.join(", "))));
                }
                meta_column_names.push((key.clone(), name.to_string()));
            }
        }
        Some(other) => {
            return Err(Diagnostic::new(format!(
                "`snapshot_meta_column_names` must map dbt's column names to yours, not `{other}`"
            )))
        }
    }
    Ok(meta_column_names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: serde_json::Value) -> NodeConfig {
        NodeConfig(value.as_object().unwrap().clone())
    }

    fn snapshot(value: serde_json::Value) -> Result<SnapshotConfig, Diagnostic> {
        SnapshotConfig::from_config(&config(value))
    }

    #[test]
    fn reads_dbt_duckdb_defaults_and_key_lists() {
        let c = IncrementalConfig::from_config(&config(json!({})));
        assert_eq!(c.strategy, IncrementalStrategy::DeleteInsert);
        assert_eq!(c.on_schema_change, OnSchemaChange::Ignore);
        assert!(c.unique_key.is_empty());
        let c = IncrementalConfig::from_config(&config(
            json!({"incremental_strategy": "merge", "unique_key": ["a", "b"], "on_schema_change": "fail"}),
        ));
        assert_eq!(c.strategy, IncrementalStrategy::Merge);
        assert_eq!(c.unique_key, vec!["a", "b"]);
        assert_eq!(c.on_schema_change, OnSchemaChange::Fail);
        // Kept for the incremental branch to refuse (see `build`), not refused here.
        let odd = IncrementalConfig::from_config(&config(json!({"incremental_strategy": "upsert"})));
        assert_eq!(odd.unknown_strategy.as_deref(), Some("upsert"));
    }

    #[test]
    fn reads_strategies_and_refuses_what_is_missing() {
        let c = snapshot(json!({"strategy": "timestamp", "unique_key": "id", "updated_at": "u"})).unwrap();
        assert_eq!(
            c.strategy,
            SnapshotStrategy::Timestamp {
                updated_at: "u".into()
            }
        );
        let c = snapshot(json!({"strategy": "check", "unique_key": ["a", "b"], "check_cols": "all", "invalidate_hard_deletes": true})).unwrap();
        assert!(c.invalidate_hard_deletes);
        assert_eq!(c.unique_key, vec!["a", "b"]);
        for (bad, says) in [
            (
                json!({"strategy": "timestamp", "unique_key": "id"}),
                "`updated_at`",
            ),
            (json!({"strategy": "check", "unique_key": "id"}), "`check_cols`"),
            (json!({"unique_key": "id"}), "needs a `strategy`"),
            (
                json!({"strategy": "timestamp", "updated_at": "u"}),
                "`unique_key`",
            ),
            (
                json!({"strategy": "timestamp", "unique_key": "id", "updated_at": "u", "hard_deletes": "drop"}),
                "`hard_deletes: drop` is not one dbt knows",
            ),
            (
                json!({"strategy": "timestamp", "unique_key": "id", "updated_at": "u", "snapshot_meta_column_names": {"dbt_valid_until": "x"}}),
                "`dbt_valid_until`, which is not one of dbt's meta columns",
            ),
        ] {
            let err = snapshot(bad).unwrap_err();
            assert!(err.message.contains(says), "{} lacks {says}", err.message);
        }
    }

    #[test]
    fn the_materialization_is_typed_once() {
        let m = |v| Materialization::from_config(&config(v), false).unwrap();
        assert_eq!(m(json!({})), Materialization::View);
        assert_eq!(m(json!({"materialized": "ephemeral"})).name(), "ephemeral");
        assert!(matches!(
            m(json!({"materialized": "incremental"})),
            Materialization::Incremental(_)
        ));
        assert_eq!(
            m(json!({"materialized": "my_mat"})),
            Materialization::Custom("my_mat".into())
        );
        assert_eq!(
            m(json!({"materialized": "seed"})),
            Materialization::Other("seed".into())
        );
        assert!(Materialization::from_config(&config(json!({})), true).is_err());
    }
}
