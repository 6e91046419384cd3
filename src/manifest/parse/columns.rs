//! Columns of models, seeds and sources as dbt records them: their rendered `data_type`s,
//! their other properties (`meta`, `constraints`, ...), and the primary key dbt infers.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::Parser;
use crate::error::Location;
use crate::manifest::{Column, Manifest, ResourceType};
use crate::project::properties::ColumnProps;

impl Parser<'_> {
    /// The columns of property YAML, a Jinja `data_type` rendered as dbt renders it
    /// (`"{{ 'int' if target.type == 'duckdb' else 'integer' }}"`).
    ///
    /// Errors: a Jinja error in a `data_type`.
    pub(super) fn columns(&self, cols: &[ColumnProps]) -> Result<Vec<Column>> {
        cols.iter()
            .map(|c| {
                let loc = Location::in_source("", "", 1, None);
                let data_type = match &c.data_type {
                    Some(t) => Some(self.render_source_field(t, "property YAML", &loc)?),
                    None => None,
                };
                Ok(Column {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    data_type,
                    properties: column_properties(&c.raw),
                })
            })
            .collect()
    }
}

/// dbt's fields of a column beyond name, description and type, from its entry as written;
/// empty when the entry has none of them (see [`Column::properties`]).
fn column_properties(raw: &Map<String, Value>) -> Map<String, Value> {
    if raw.is_empty() {
        return Map::new();
    }
    let from_config = |key: &str| {
        raw.get(key)
            .or_else(|| raw.get("config").and_then(|c| c.get(key)))
            .cloned()
    };
    let meta = from_config("meta").unwrap_or_else(|| json!({}));
    let tags = from_config("tags")
        .map(|t| json!(crate::config::as_string_list(&t)))
        .unwrap_or_else(|| json!([]));
    let constraints: Vec<Value> = raw
        .get("constraints")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let mut out = json!({"type": null, "name": null, "expression": null, "warn_unenforced": true,
                                 "warn_unsupported": true, "to": null, "to_columns": []});
            if let (Some(out), Some(c)) = (out.as_object_mut(), c.as_object()) {
                out.extend(c.clone());
            }
            out
        })
        .collect();
    let mut out = Map::new();
    out.insert("meta".into(), meta.clone());
    out.insert("constraints".into(), Value::Array(constraints));
    out.insert("quote".into(), raw.get("quote").cloned().unwrap_or(Value::Null));
    out.insert("config".into(), json!({"meta": meta, "tags": tags}));
    out.insert("tags".into(), tags);
    out.insert(
        "granularity".into(),
        raw.get("granularity").cloned().unwrap_or(Value::Null),
    );
    out.insert("doc_blocks".into(), json!([]));
    out
}

/// Sets each model's `primary_key` as dbt-core's `ModelNode.infer_primary_key` does: a column
/// with a `primary_key` constraint; else the columns with both a `unique` (or
/// `unique_combination_of_columns`) and a `not_null` test; else the columns of `unique` tests.
/// (dbt reads Python sets there, in no stable order; Mallard sorts the columns. Disabled tests
/// are not parsed, so they do not count.)
pub(super) fn infer_primary_keys(manifest: &mut Manifest) {
    let mut unique: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut not_null: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for test in manifest.nodes.values() {
        let (Some(meta), Some(model)) = (&test.test_metadata, &test.attached_node) else {
            continue;
        };
        let columns: Vec<String> = match (
            meta.kwargs.get("column_name"),
            meta.kwargs.get("combination_of_columns"),
        ) {
            (Some(Value::String(c)), _) => vec![c.clone()],
            (_, Some(Value::Array(cs))) => cs.iter().filter_map(|c| c.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        let name = meta.name.rsplit('.').next().unwrap_or(&meta.name);
        let set = match name {
            "unique" | "unique_combination_of_columns" => &mut unique,
            "not_null" => &mut not_null,
            _ => continue,
        };
        set.entry(model.clone()).or_default().extend(columns);
    }
    for node in manifest
        .nodes
        .values_mut()
        .filter(|n| n.resource_type == ResourceType::Model)
    {
        let constrained = node.columns.iter().find(|c| {
            c.properties
                .get("constraints")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|k| k.get("type").and_then(Value::as_str) == Some("primary_key"))
                })
        });
        if let Some(c) = constrained {
            node.primary_key = vec![c.name.clone()];
            continue;
        }
        let unique = unique.get(&node.unique_id);
        let both: Vec<String> = not_null
            .get(&node.unique_id)
            .into_iter()
            .flatten()
            .filter(|c| unique.is_some_and(|u| u.contains(*c)))
            .cloned()
            .collect();
        node.primary_key = if both.is_empty() {
            unique.map(|u| u.iter().cloned().collect()).unwrap_or_default()
        } else {
            both
        };
    }
}
