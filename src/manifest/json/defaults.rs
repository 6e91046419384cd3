//! The config defaults dbt-core 1.11 writes into `manifest.json` for each kind of node.

use serde_json::{json, Map, Value};

use crate::manifest::ResourceType;

/// dbt-core 1.11's config defaults per node kind, as its manifest writes them.
pub fn config_defaults(kind: ResourceType) -> &'static Map<String, Value> {
    use std::sync::LazyLock;
    static MODEL: LazyLock<Map<String, Value>> = LazyLock::new(|| {
        let mut m = node_config_defaults();
        m.insert("access".into(), json!("protected"));
        m.insert("freshness".into(), Value::Null);
        m
    });
    static SEED: LazyLock<Map<String, Value>> = LazyLock::new(|| {
        let mut m = node_config_defaults();
        m.insert("materialized".into(), json!("seed"));
        m.insert("delimiter".into(), json!(","));
        m.insert("quote_columns".into(), Value::Null);
        m
    });
    static SNAPSHOT: LazyLock<Map<String, Value>> = LazyLock::new(|| {
        let mut m = node_config_defaults();
        m.insert("materialized".into(), json!("snapshot"));
        for k in [
            "strategy",
            "target_schema",
            "target_database",
            "updated_at",
            "check_cols",
            "dbt_valid_to_current",
        ] {
            m.insert(k.into(), Value::Null);
        }
        m
    });
    static TEST: LazyLock<Map<String, Value>> = LazyLock::new(|| {
        json!({
            "enabled": true, "alias": null, "schema": "dbt_test__audit", "database": null, "tags": [],
            "meta": {}, "group": null, "static_analysis": null, "materialized": "test",
            "severity": "ERROR", "store_failures": null, "store_failures_as": null, "where": null,
            "limit": null, "fail_calc": "count(*)", "warn_if": "!= 0", "error_if": "!= 0",
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    });
    static NONE: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
    match kind {
        ResourceType::Model => &MODEL,
        ResourceType::Seed => &SEED,
        ResourceType::Snapshot => &SNAPSHOT,
        ResourceType::Test => &TEST,
        _ => &NONE,
    }
}

/// The defaults dbt's `NodeConfig` gives models, seeds and snapshots.
pub fn node_config_defaults() -> Map<String, Value> {
    json!({
        "enabled": true, "alias": null, "schema": null, "database": null, "tags": [], "meta": {},
        "group": null, "static_analysis": null, "materialized": "view", "incremental_strategy": null,
        "batch_size": null, "lookback": 1, "begin": null, "persist_docs": {}, "post-hook": [],
        "pre-hook": [], "quoting": {}, "column_types": {}, "full_refresh": null, "unique_key": null,
        "on_schema_change": "ignore", "on_configuration_change": "apply", "grants": {},
        "packages": [], "docs": {"show": true, "node_color": null},
        "contract": {"enforced": false, "alias_types": true}, "event_time": null,
        "concurrent_batches": null,
    })
    .as_object()
    .cloned()
    .unwrap_or_default()
}
