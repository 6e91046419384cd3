//! `target/catalog.json` (dbt's catalog schema v1): what the database holds for each model,
//! seed, snapshot and source of the project, read from the engine's catalog
//! ([`Adapter::catalog`]: DuckDB's as dbt-duckdb's `duckdb__get_catalog` reads it), or, on an
//! engine without one, by describing each relation.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use super::Invocation;
use crate::adapter::engine::CatalogRelation;
use crate::adapter::Adapter;
use crate::manifest::{Manifest, ResourceType};
use crate::relation::Relation;

/// A relation as the catalog describes it.
#[derive(Debug, Clone, Default)]
struct Entry {
    kind: String,
    comment: Option<String>,
    /// DuckDB's `estimated_size` of a table: its row count, as DuckDB keeps it.
    rows: Option<i64>,
    /// (name, type, comment) in column order.
    columns: Vec<(String, String, Option<String>)>,
}

/// The key a relation is matched by: database, schema and name, lower-cased, as dbt matches
/// catalog rows to nodes.
fn key(database: &str, schema: &str, name: &str) -> (String, String, String) {
    (
        database.to_lowercase(),
        schema.to_lowercase(),
        name.to_lowercase(),
    )
}

/// The engine's catalog listing as entries by key.
fn entries(list: Vec<CatalogRelation>) -> BTreeMap<(String, String, String), Entry> {
    list.into_iter()
        .map(|r| {
            let entry = Entry {
                kind: r.kind,
                comment: r.comment,
                rows: r.rows,
                columns: r.columns,
            };
            (key(&r.database, &r.schema, &r.name), entry)
        })
        .collect()
}

/// The project's relations as an engine without DuckDB's catalog functions (Spark) gives them:
/// which exist and as what ([`Adapter::relation_kind`]), and each one's columns and types
/// (`describe`), one query per relation. No comments or row counts.
fn described(adapter: &Adapter, manifest: &Manifest) -> Result<BTreeMap<(String, String, String), Entry>> {
    let relations = manifest
        .nodes
        .values()
        .filter(|n| {
            matches!(
                n.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            )
        })
        .filter_map(|n| n.relation.as_ref())
        .chain(manifest.sources.values().map(|s| &s.relation))
        .filter(|r| !r.is_cte() && r.external.is_none());
    let mut out = BTreeMap::new();
    for r in relations {
        let Some(kind) = adapter.relation_kind(r)? else {
            continue;
        };
        let columns = adapter
            .columns(&r.to_string())?
            .into_iter()
            .map(|c| (c.name, c.data_type, None))
            .collect();
        let kind = match kind {
            crate::adapter::RelationKind::Table => "table",
            crate::adapter::RelationKind::View => "view",
        };
        out.insert(
            key(&r.database, &r.schema, &r.identifier),
            Entry {
                kind: kind.into(),
                comment: None,
                rows: None,
                columns,
            },
        );
    }
    Ok(out)
}

/// The catalog entry of node `unique_id` at `relation`, in dbt's shape. A table's row count
/// is given as a `row_count` stat (DuckDB's estimate, exact for a table at rest); dbt-duckdb
/// gives none, only `has_stats: false`.
fn node_json(unique_id: &str, relation: &Relation, e: &Entry) -> Value {
    let columns: Map<String, Value> = e
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, ty, comment))| {
            (
                name.clone(),
                json!({"type": ty, "index": i + 1, "name": name, "comment": comment}),
            )
        })
        .collect();
    let mut stats = Map::new();
    stats.insert(
        "has_stats".into(),
        json!({"id": "has_stats", "label": "Has Stats?", "value": e.rows.is_some(), "include": false,
               "description": "Indicates whether there are statistics for this table"}),
    );
    if let Some(n) = e.rows {
        stats.insert(
            "row_count".into(),
            json!({"id": "row_count", "label": "Row Count", "value": n, "include": true,
                   "description": "The number of rows in the table, as DuckDB counts it (estimated_size)"}),
        );
    }
    json!({
        "metadata": {
            "type": e.kind, "schema": relation.schema, "name": relation.identifier,
            "database": relation.database, "comment": e.comment, "owner": null,
        },
        "columns": columns,
        "stats": stats,
        "unique_id": unique_id,
    })
}

/// The catalog of `manifest` as `adapter`'s database holds it: every model, seed and snapshot
/// and every source whose relation exists (sources read from files have none). `None` for
/// `adapter` (no database yet) gives a catalog without entries, as dbt's on an empty database.
///
/// Errors: the engine's, reading its catalog.
pub fn catalog(manifest: &Manifest, adapter: Option<&Adapter>, inv: &Invocation) -> Result<Value> {
    let mut databases: Vec<String> = manifest
        .nodes
        .values()
        .filter_map(|n| n.relation.as_ref())
        .chain(manifest.sources.values().map(|s| &s.relation))
        .filter(|r| !r.is_cte())
        .map(|r| r.database.clone())
        .collect();
    databases.sort();
    databases.dedup();
    let entries = match adapter {
        Some(_) if databases.is_empty() => BTreeMap::new(),
        Some(a) => match a.catalog(&databases)? {
            Some(list) => entries(list),
            None => described(a, manifest)?,
        },
        None => BTreeMap::new(),
    };
    let mut nodes = Map::new();
    for n in manifest.nodes.values() {
        if !matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) {
            continue;
        }
        let Some(r) = n.relation.as_ref().filter(|r| !r.is_cte()) else {
            continue;
        };
        if let Some(e) = entries.get(&key(&r.database, &r.schema, &r.identifier)) {
            nodes.insert(n.unique_id.clone(), node_json(&n.unique_id, r, e));
        }
    }
    let mut sources = Map::new();
    for s in manifest.sources.values() {
        let r = &s.relation;
        if r.external.is_some() {
            continue;
        }
        if let Some(e) = entries.get(&key(&r.database, &r.schema, &r.identifier)) {
            sources.insert(s.unique_id.clone(), node_json(&s.unique_id, r, e));
        }
    }
    Ok(json!({
        "metadata": inv.metadata("catalog/v1.json"),
        "nodes": nodes,
        "sources": sources,
        "errors": null,
    }))
}

/// Writes `catalog` to `target_dir/catalog.json`.
///
/// Errors: the file cannot be written.
pub fn write(target_dir: &Path, catalog: &Value) -> Result<()> {
    let path = target_dir.join("catalog.json");
    std::fs::write(&path, serde_json::to_vec(catalog)?)
        .with_context(|| format!("cannot write `{}`", path.display()))
}
