//! Exposures, metrics and semantic models: dbt builds nothing for them, but records them in
//! the manifest (and the `graph` templates read) with their fields filled as dbt-core 1.11
//! fills them, and with `depends_on` resolved: an exposure on the models and sources of its
//! `depends_on:`, a semantic model on its `model:`, a metric on the semantic model that
//! defines its measure (or the metrics it is computed from).

use serde_json::{json, Map, Value};

use super::Parser;
use crate::error::Diagnostic;
use crate::project::properties::{SemanticEntry, SemanticKind};
use crate::templating::{self, RefCall};
use anyhow::Result;

/// A parsed entry waiting for refs to resolve: its manifest JSON and what it refers to.
pub(super) struct Pending {
    kind: SemanticKind,
    json: Map<String, Value>,
    package: String,
    refs: Vec<RefCall>,
    sources: Vec<(String, String)>,
    location: crate::error::Location,
}

impl Parser<'_> {
    /// Turns the current package's exposures, metrics and semantic models into manifest
    /// entries (resolved later by [`Parser::resolve_semantic`]).
    ///
    /// Errors: a `depends_on:` or `model:` that is not a `ref()`/`source()` call.
    pub(super) fn semantic(&mut self, entries: &[SemanticEntry]) -> Result<()> {
        for e in entries {
            let package = self.project.name.clone();
            let prefix = match e.kind {
                SemanticKind::Exposure => "exposure",
                SemanticKind::Metric => "metric",
                SemanticKind::SemanticModel => "semantic_model",
            };
            let mut fqn = vec![package.clone()];
            fqn.extend(super::folders_of(&e.file));
            fqn.push(e.name.clone());
            let path = e.file.split_once('/').map_or(e.file.as_str(), |(_, rest)| rest);
            let mut json = Map::new();
            json.insert("name".into(), json!(e.name));
            json.insert("resource_type".into(), json!(prefix));
            json.insert("package_name".into(), json!(package));
            json.insert("path".into(), json!(path));
            json.insert("original_file_path".into(), json!(e.file));
            json.insert(
                "unique_id".into(),
                json!(format!("{prefix}.{package}.{}", e.name)),
            );
            json.insert("fqn".into(), json!(fqn));
            let calls: Vec<String> = match e.kind {
                SemanticKind::Exposure => e
                    .entry
                    .get("depends_on")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
                SemanticKind::SemanticModel => e
                    .entry
                    .get("model")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .into_iter()
                    .collect(),
                SemanticKind::Metric => Vec::new(),
            };
            let mut refs = Vec::new();
            let mut sources = Vec::new();
            for call in &calls {
                let expr = call.trim().trim_start_matches("{{").trim_end_matches("}}").trim();
                let recorded = templating::eval_expression(self.env, expr, self.parse_context())
                    .ok()
                    .map(|(_, r)| r)
                    .filter(|r| !r.refs.is_empty() || !r.sources.is_empty())
                    .ok_or_else(|| {
                        Diagnostic::new(format!(
                            "`{call}` in {prefix} `{}` is not a `ref()` or `source()` call",
                            e.name
                        ))
                        .at(e.location.clone())
                    })?;
                refs.extend(recorded.refs);
                sources.extend(recorded.sources);
            }
            match e.kind {
                SemanticKind::Exposure => exposure_fields(&mut json, &e.entry),
                SemanticKind::Metric => metric_fields(&mut json, &e.entry),
                SemanticKind::SemanticModel => semantic_model_fields(&mut json, &e.entry),
            }
            json.insert(
                "refs".into(),
                Value::Array(
                    refs.iter()
                        .map(|r| json!({"name": r.name, "package": r.package, "version": r.version}))
                        .collect(),
                ),
            );
            if e.kind != SemanticKind::SemanticModel {
                json.insert(
                    "sources".into(),
                    Value::Array(sources.iter().map(|(s, t)| json!([s, t])).collect()),
                );
                json.insert("metrics".into(), json!([]));
            }
            self.semantic_pending.push(Pending {
                kind: e.kind,
                json,
                package,
                refs,
                sources,
                location: e.location.clone(),
            });
        }
        Ok(())
    }

    /// Fills each pending entry's `depends_on` and adds it to the manifest.
    ///
    /// Errors: a ref or source that names nothing, at the entry's line.
    pub(super) fn resolve_semantic(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.semantic_pending);
        // Which semantic model defines each measure, for the metrics.
        let mut measures: Map<String, Value> = Map::new();
        for p in pending.iter().filter(|p| p.kind == SemanticKind::SemanticModel) {
            for m in p
                .json
                .get("measures")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = m.get("name").and_then(Value::as_str) {
                    measures.insert(name.to_string(), p.json["unique_id"].clone());
                }
            }
        }
        for mut p in pending {
            let nodes = self.semantic_depends_on(&p, &measures)?;
            if p.kind == SemanticKind::SemanticModel {
                let relation = nodes
                    .first()
                    .and_then(|id| self.manifest.nodes.get(id))
                    .and_then(|n| n.relation.clone());
                p.json.insert(
                    "node_relation".into(),
                    match relation {
                        Some(r) => json!({"alias": r.identifier, "schema_name": r.schema,
                                          "database": r.database, "relation_name": r.to_string()}),
                        None => Value::Null,
                    },
                );
            }
            if p.kind == SemanticKind::Exposure {
                self.exposure_node(&p, &nodes);
            }
            p.json
                .insert("depends_on".into(), json!({"macros": [], "nodes": nodes}));
            let id = p.json["unique_id"].as_str().unwrap_or_default().to_string();
            let map = match p.kind {
                SemanticKind::Exposure => &mut self.manifest.exposures,
                SemanticKind::Metric => &mut self.manifest.metrics,
                SemanticKind::SemanticModel => &mut self.manifest.semantic_models,
            };
            map.insert(id, Value::Object(p.json));
        }
        Ok(())
    }

    /// What pending entry `p` depends on, in order and once each: its sources, its refs, and
    /// for a metric the semantic models of its measures (`measures`: measure name -> unique_id)
    /// and the metrics it is built from.
    ///
    /// Errors: a ref or source that names nothing, at the entry's line.
    fn semantic_depends_on(&self, p: &Pending, measures: &Map<String, Value>) -> Result<Vec<String>> {
        let mut nodes: Vec<String> = Vec::new();
        for (src, table) in &p.sources {
            let id = self
                .manifest
                .sources
                .values()
                .find(|s| s.source_name == *src && s.name == *table)
                .map(|s| s.unique_id.clone())
                .ok_or_else(|| {
                    Diagnostic::new(format!(
                        "source `{src}.{table}` of `{}` is not declared",
                        p.json["name"]
                    ))
                    .at(p.location.clone())
                })?;
            if !nodes.contains(&id) {
                nodes.push(id);
            }
        }
        for r in &p.refs {
            let id = Self::find_named(
                &self.names,
                &self.root.name,
                &p.package,
                r.package.as_deref(),
                &r.key(),
            )
            .ok_or_else(|| {
                Diagnostic::new(format!(
                    "`{}` refers to `{}`, which is not a model or seed of this project",
                    p.json["name"].as_str().unwrap_or_default(),
                    r.name
                ))
                .at(p.location.clone())
            })?;
            if !nodes.contains(&id) {
                nodes.push(id);
            }
        }
        if p.kind == SemanticKind::Metric {
            let tp = &p.json["type_params"];
            let measure_names = tp["input_measures"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.get("name").and_then(Value::as_str));
            for m in measure_names {
                if let Some(Value::String(id)) = measures.get(m) {
                    if !nodes.contains(id) {
                        nodes.push(id.clone());
                    }
                }
            }
            for m in tp["metrics"].as_array().into_iter().flatten() {
                if let Some(name) = m.get("name").and_then(Value::as_str) {
                    let id = format!("metric.{}.{name}", p.package);
                    if !nodes.contains(&id) {
                        nodes.push(id);
                    }
                }
            }
        }
        Ok(nodes)
    }

    /// Adds exposure `p` as a node depending on `nodes`: `build` lists an exposure as a no-op
    /// after the nodes it depends on.
    fn exposure_node(&mut self, p: &Pending, nodes: &[String]) {
        // `build` lists an exposure as a no-op after the nodes it depends on.
        let mut config = crate::config::NodeConfig::default();
        config.merge(&Map::from_iter([("materialized".to_string(), json!("exposure"))]));
        let text = |k: &str| {
            p.json
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let node = crate::manifest::Node {
            path: text("path"),
            original_file_path: text("original_file_path"),
            fqn: p.json["fqn"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            config,
            depends_on: nodes.to_vec(),
            ..crate::manifest::Node::new(
                crate::manifest::ResourceType::Exposure,
                text("unique_id"),
                text("name"),
                p.package.clone(),
            )
        };
        self.manifest.nodes.insert(node.unique_id.clone(), node);
    }
}

/// `key` of `entry`, or of its `config:`, else `default`.
fn setting(entry: &Map<String, Value>, key: &str, default: Value) -> Value {
    entry
        .get("config")
        .and_then(|c| c.get(key))
        .or_else(|| entry.get(key))
        .cloned()
        .unwrap_or(default)
}

fn field(entry: &Map<String, Value>, key: &str) -> Value {
    entry.get(key).cloned().unwrap_or(Value::Null)
}

/// `tags` of the entry and of its config, in order, without repeats.
fn tags(entry: &Map<String, Value>) -> Value {
    let mut out: Vec<String> = Vec::new();
    for v in [entry.get("tags"), entry.get("config").and_then(|c| c.get("tags"))]
        .into_iter()
        .flatten()
    {
        for t in crate::config::as_string_list(v) {
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    json!(out)
}

fn exposure_fields(json: &mut Map<String, Value>, e: &Map<String, Value>) {
    let owner = e.get("owner").and_then(Value::as_object);
    let tags = tags(e);
    let meta = setting(e, "meta", json!({}));
    let mut unrendered = Map::new();
    if let Some(Value::Object(c)) = e.get("config") {
        unrendered.extend(c.clone());
    }
    json.insert("type".into(), field(e, "type"));
    json.insert(
        "owner".into(),
        json!({
            "email": owner.and_then(|o| o.get("email")).cloned().unwrap_or(Value::Null),
            "name": owner.and_then(|o| o.get("name")).cloned().unwrap_or(Value::Null),
        }),
    );
    json.insert(
        "description".into(),
        json!(e.get("description").and_then(Value::as_str).unwrap_or("")),
    );
    json.insert("label".into(), field(e, "label"));
    json.insert("maturity".into(), field(e, "maturity"));
    json.insert("meta".into(), meta.clone());
    json.insert("tags".into(), tags.clone());
    json.insert(
        "config".into(),
        json!({"enabled": setting(e, "enabled", json!(true)), "tags": tags, "meta": meta}),
    );
    json.insert("unrendered_config".into(), Value::Object(unrendered));
    json.insert("url".into(), field(e, "url"));
}

/// A measure reference as dbt writes it: `name` or a mapping, with its defaults.
fn measure_input(v: &Value) -> Value {
    let (name, m) = match v {
        Value::String(s) => (json!(s), None),
        Value::Object(m) => (field(m, "name"), Some(m)),
        _ => return Value::Null,
    };
    let get = |k: &str, d: Value| m.and_then(|m| m.get(k)).cloned().unwrap_or(d);
    json!({
        "name": name, "filter": get("filter", Value::Null).as_str().map_or(Value::Null, where_filters),
        "alias": get("alias", Value::Null), "join_to_timespine": get("join_to_timespine", json!(false)),
        "fill_nulls_with": get("fill_nulls_with", Value::Null),
    })
}

/// A metric reference (of a ratio or derived metric), with its defaults.
fn metric_input(v: &Value) -> Value {
    let (name, m) = match v {
        Value::String(s) => (json!(s), None),
        Value::Object(m) => (field(m, "name"), Some(m)),
        _ => return Value::Null,
    };
    let get = |k: &str| m.and_then(|m| m.get(k)).cloned().unwrap_or(Value::Null);
    json!({
        "name": name, "filter": get("filter").as_str().map_or(Value::Null, where_filters),
        "alias": get("alias"), "offset_window": get("offset_window").as_str().map_or(Value::Null, window),
        "offset_to_grain": get("offset_to_grain"),
    })
}

/// `{"where_filters": [{"where_sql_template": ...}]}` for a filter string.
fn where_filters(sql: &str) -> Value {
    json!({"where_filters": [{"where_sql_template": sql}]})
}

/// A window as MetricFlow parses it: `30 days` is `{"count": 30, "granularity": "day"}`.
fn window(text: &str) -> Value {
    let mut parts = text.split_whitespace();
    let count = parts.next().and_then(|c| c.parse::<i64>().ok());
    let unit = parts.next().map(|u| u.trim_end_matches('s').to_lowercase());
    match (count, unit) {
        (Some(c), Some(u)) => json!({"count": c, "granularity": u}),
        _ => json!(text),
    }
}

fn metric_fields(json: &mut Map<String, Value>, e: &Map<String, Value>) {
    let tp = e
        .get("type_params")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let kind = e
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("simple")
        .to_lowercase();
    let measure = tp.get("measure").map(measure_input).unwrap_or(Value::Null);
    let mut input_measures: Vec<Value> = Vec::new();
    if !measure.is_null() {
        input_measures.push(measure.clone());
    }
    let cumulative = (kind == "cumulative").then(|| {
        let c = tp.get("cumulative_type_params").and_then(Value::as_object);
        let get = |k: &str| c.and_then(|c| c.get(k)).cloned().unwrap_or(Value::Null);
        json!({
            "window": get("window").as_str().map_or(Value::Null, window),
            "grain_to_date": get("grain_to_date"),
            "period_agg": c.and_then(|c| c.get("period_agg")).cloned().unwrap_or(json!("first")),
            "metric": null,
        })
    });
    let metrics: Vec<Value> = tp
        .get("metrics")
        .and_then(Value::as_array)
        .map(|ms| ms.iter().map(metric_input).collect())
        .unwrap_or_default();
    let type_params = json!({
        "measure": measure,
        "input_measures": input_measures,
        "numerator": tp.get("numerator").map(metric_input).unwrap_or(Value::Null),
        "denominator": tp.get("denominator").map(metric_input).unwrap_or(Value::Null),
        "expr": field(&tp, "expr"),
        "window": tp.get("window").and_then(Value::as_str).map_or(Value::Null, window),
        "grain_to_date": field(&tp, "grain_to_date"),
        "metrics": metrics,
        "conversion_type_params": field(&tp, "conversion_type_params"),
        "cumulative_type_params": cumulative.unwrap_or(Value::Null),
        "metric_aggregation_params": null,
    });
    let meta = setting(e, "meta", json!({}));
    json.insert(
        "description".into(),
        json!(e.get("description").and_then(Value::as_str).unwrap_or("")),
    );
    json.insert("label".into(), field(e, "label"));
    json.insert("type".into(), json!(kind));
    json.insert("type_params".into(), type_params);
    json.insert(
        "filter".into(),
        e.get("filter")
            .and_then(Value::as_str)
            .map_or(Value::Null, where_filters),
    );
    json.insert("metadata".into(), Value::Null);
    json.insert("time_granularity".into(), field(e, "time_granularity"));
    json.insert("meta".into(), meta.clone());
    json.insert("tags".into(), tags(e));
    json.insert(
        "config".into(),
        json!({"enabled": setting(e, "enabled", json!(true)), "group": setting(e, "group", Value::Null), "meta": meta}),
    );
    json.insert("unrendered_config".into(), json!({}));
    json.insert("group".into(), setting(e, "group", Value::Null));
}

fn semantic_model_fields(json: &mut Map<String, Value>, e: &Map<String, Value>) {
    // MetricFlow reads an `expr` as SQL text: `expr: 1` is `"1"`.
    let list = |k: &str| {
        let mut items = e.get(k).cloned().unwrap_or_else(|| json!([]));
        for item in items.as_array_mut().into_iter().flatten() {
            if let Some(expr) = item.get_mut("expr") {
                if expr.is_number() || expr.is_boolean() {
                    *expr = json!(expr.to_string());
                }
            }
        }
        items
    };
    json.insert("model".into(), field(e, "model"));
    json.insert("description".into(), field(e, "description"));
    json.insert("label".into(), field(e, "label"));
    json.insert("defaults".into(), field(e, "defaults"));
    json.insert("entities".into(), list("entities"));
    json.insert("measures".into(), list("measures"));
    json.insert("dimensions".into(), list("dimensions"));
    json.insert("metadata".into(), Value::Null);
    json.insert(
        "config".into(),
        json!({"enabled": setting(e, "enabled", json!(true)), "group": setting(e, "group", Value::Null),
               "meta": setting(e, "meta", json!({}))}),
    );
    json.insert("unrendered_config".into(), json!({}));
    json.insert("primary_entity".into(), field(e, "primary_entity"));
    json.insert("group".into(), setting(e, "group", Value::Null));
}
