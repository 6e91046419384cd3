//! Node configuration: the layered `config` of a model, seed or test.
//!
//! dbt resolves a node's config from three layers, most specific last:
//! `dbt_project.yml` (walking the folder tree along the node's fqn), the node's entry in
//! property YAML (`config:`), and the `config(...)` call inside the file. `tags`, `meta` and
//! the hooks (`pre_hook`, `post_hook`: the project's run first) accumulate across layers; every
//! other key is replaced by the more specific layer.

pub mod connection;
pub mod materialized;
pub mod run;
pub mod yaml;

use serde_json::{Map, Value};

/// The dbt-core version Mallard stands for: `dbt_version` in templates, and the version whose
/// `require-dbt-version` it satisfies when it picks hub versions.
pub const DBT_VERSION: &str = "1.11.0";

/// What config values are rendered with (`dbt_project.yml`, `profiles.yml`, property YAML),
/// as in dbt: `var()` over `vars` (for `dbt_project.yml` only the command line's `--vars`) and
/// `target` (JSON `Null` before the profile is read).
#[derive(Debug, Clone, Default)]
pub struct ConfigContext {
    pub vars: Map<String, Value>,
    pub target: Value,
}

/// A node's resolved configuration, kept as JSON so that keys Mallard does not interpret
/// (dbt allows any) still reach `manifest.json`. Keys are stored without a leading `+` and
/// with dashes turned into underscores (`pre-hook` is `pre_hook`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeConfig(pub Map<String, Value>);

/// Config keys that dbt recognises without a `+` prefix in `dbt_project.yml`. Any other
/// key without `+` there names a subfolder (or a node).
pub const KNOWN_CONFIG_KEYS: &[&str] = &[
    "materialized",
    "schema",
    "database",
    "alias",
    "tags",
    "enabled",
    "column_types",
    "quote_columns",
    "delimiter",
    "meta",
    "docs",
    "persist_docs",
    "pre_hook",
    "post_hook",
    "full_refresh",
    "unique_key",
    "incremental_strategy",
    "on_schema_change",
    "severity",
    "where",
    "warn_if",
    "error_if",
    "limit",
    "store_failures",
    "grants",
    "contract",
    "group",
    "access",
    "sql_header",
    "fail_calc",
];

/// Normalises a config key as written in YAML or Jinja: strips `+`, dashes to underscores.
pub fn normalize_key(key: &str) -> String {
    key.trim_start_matches('+').replace('-', "_")
}

/// Where a data test keeps its failing rows (`store_failures_as`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailuresKept {
    InTable,
    InView,
}

impl NodeConfig {
    /// Whether and how a data test keeps its failing rows, as dbt decides it:
    /// `store_failures_as` (`table`, `view`, or `ephemeral` for not at all) wins over
    /// `store_failures: true`, which means a table. `None` when the test keeps nothing.
    ///
    /// Errors: a `store_failures_as` other than those three, naming the value.
    pub fn stores_failures_as(&self) -> Result<Option<FailuresKept>, crate::error::Diagnostic> {
        match self
            .get_str("store_failures_as")
            .map(str::to_lowercase)
            .as_deref()
        {
            Some("table") => Ok(Some(FailuresKept::InTable)),
            Some("view") => Ok(Some(FailuresKept::InView)),
            Some("ephemeral") => Ok(None),
            Some(other) => Err(crate::error::Diagnostic::new(format!(
                "`store_failures_as: {other}` is not one of `table`, `view` or `ephemeral`"
            ))),
            None => Ok(self
                .0
                .get("store_failures")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .then_some(FailuresKept::InTable)),
        }
    }

    /// Lays `layer` over `self`: tags and hooks accumulate, `meta`, `column_types`,
    /// `persist_docs`, `docs`, `quoting` and `contract` are updated key by key (dbt's merge
    /// behaviours), other keys are replaced.
    pub fn merge(&mut self, layer: &Map<String, Value>) {
        for (key, value) in layer {
            let key = normalize_key(key);
            match key.as_str() {
                "tags" => {
                    let mut tags = self.tags();
                    for tag in as_string_list(value) {
                        if !tags.contains(&tag) {
                            tags.push(tag);
                        }
                    }
                    self.0.insert(key, Value::from(tags));
                }
                "pre_hook" | "post_hook" => {
                    let mut hooks = match self.0.get(&key) {
                        Some(Value::Array(items)) => items.clone(),
                        _ => Vec::new(),
                    };
                    match value {
                        Value::Array(items) => hooks.extend(items.iter().cloned()),
                        Value::Null => {}
                        other => hooks.push(other.clone()),
                    }
                    self.0.insert(key, Value::Array(hooks));
                }
                // dbt's `MergeBehavior.Update` keys: a more specific layer's entries are laid
                // over the less specific one's, key by key.
                "meta" | "column_types" | "persist_docs" | "docs" | "quoting" | "contract" => {
                    let mut map = self
                        .0
                        .get(&key)
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    match value.as_object() {
                        Some(obj) => {
                            map.extend(obj.clone());
                            self.0.insert(key, Value::Object(map));
                        }
                        None => {
                            self.0.insert(key, value.clone());
                        }
                    }
                }
                _ => {
                    self.0.insert(key, value.clone());
                }
            }
        }
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// The materialization; dbt's default is `view` for models, `seed` for seeds and
    /// `test` for tests, set by the caller as the first layer.
    pub fn materialized(&self) -> &str {
        self.get_str("materialized").unwrap_or("view")
    }

    /// `enabled`, true unless set to false.
    pub fn enabled(&self) -> bool {
        self.0.get("enabled").and_then(Value::as_bool).unwrap_or(true)
    }

    /// Tags in the order first seen, without duplicates; a single string counts as one tag.
    pub fn tags(&self) -> Vec<String> {
        self.0.get("tags").map(as_string_list).unwrap_or_default()
    }

    /// The SQL templates of hook `key` (`pre_hook` or `post_hook`) in the order they run: each
    /// given as a string or as `{sql: ..., transaction: ...}`. Empty when there is none.
    pub fn hooks(&self, key: &str) -> Vec<String> {
        let items = match self.0.get(key) {
            Some(Value::Array(items)) => items.clone(),
            Some(other) => vec![other.clone()],
            None => Vec::new(),
        };
        items
            .into_iter()
            .filter_map(|h| match h {
                Value::String(s) => Some(s),
                Value::Object(m) => m.get("sql").and_then(Value::as_str).map(str::to_string),
                _ => None,
            })
            .filter(|s| !s.trim().is_empty())
            .collect()
    }

    /// Data test severity, lower-cased: `error` (the default) or `warn`.
    pub fn severity(&self) -> String {
        self.get_str("severity").unwrap_or("error").to_lowercase()
    }
}

/// A YAML/JSON value as a list of strings: a string is a one-item list, a list keeps its
/// string-convertible items, anything else is empty.
pub fn as_string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                Value::Bool(b) => Some(b.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// The config that the `models:`/`seeds:`/`data_tests:` tree of `dbt_project.yml` gives a
/// node whose fqn is `fqn` (`[project, folder..., name]`). Returns an empty map for a `Null`
/// tree. Keys with `+`, and known config keys, are configs at their level; other keys
/// with mapping values are folders (or node names) descended into when they match the fqn.
pub fn project_level_config(tree: &Value, fqn: &[String]) -> Map<String, Value> {
    let mut out = NodeConfig::default();
    let mut level = tree;
    out.merge(&configs_at_level(level));
    for part in fqn {
        match level.as_object().and_then(|m| m.get(part)) {
            Some(next) if next.is_object() => {
                level = next;
                out.merge(&configs_at_level(level));
            }
            _ => break,
        }
    }
    out.0
}

fn configs_at_level(level: &Value) -> Map<String, Value> {
    let mut configs = Map::new();
    if let Some(map) = level.as_object() {
        for (key, value) in map {
            let is_config = key.starts_with('+')
                || (KNOWN_CONFIG_KEYS.contains(&normalize_key(key).as_str()) && !value.is_object())
                || (normalize_key(key) == "meta" || normalize_key(key) == "column_types");
            if is_config {
                configs.insert(normalize_key(key), value.clone());
            }
        }
    }
    configs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fqn(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn folder_configs_nest_and_tags_accumulate() {
        let tree = json!({
            "+tags": ["all"],
            "retention": {
                "+materialized": "view",
                "marts": {"+materialized": "table", "+tags": "marts", "+schema": "marts"},
                "staging": {"materialized": "view"}
            }
        });
        let cfg = project_level_config(&tree, &fqn(&["retention", "marts", "ltv"]));
        assert_eq!(cfg["materialized"], json!("table"));
        assert_eq!(cfg["tags"], json!(["all", "marts"]));
        assert_eq!(cfg["schema"], json!("marts"));
        let cfg = project_level_config(&tree, &fqn(&["retention", "staging", "stg"]));
        assert_eq!(cfg["materialized"], json!("view"));
        assert!(!cfg.contains_key("schema"));
    }

    #[test]
    fn later_layers_replace_except_tags_and_meta() {
        let mut c = NodeConfig::default();
        c.merge(
            json!({"materialized": "view", "tags": ["a"], "meta": {"x": 1}})
                .as_object()
                .unwrap(),
        );
        c.merge(
            json!({"+materialized": "table", "tags": "b", "meta": {"y": 2}})
                .as_object()
                .unwrap(),
        );
        assert_eq!(c.materialized(), "table");
        assert_eq!(c.tags(), vec!["a", "b"]);
        assert_eq!(c.0["meta"], json!({"x": 1, "y": 2}));
    }

    #[test]
    fn hooks_accumulate_project_first() {
        let mut c = NodeConfig::default();
        c.merge(
            json!({"+pre-hook": "select 1", "post-hook": ["select 2"]})
                .as_object()
                .unwrap(),
        );
        c.merge(
            json!({"pre_hook": [{"sql": "select 3", "transaction": true}]})
                .as_object()
                .unwrap(),
        );
        assert_eq!(c.hooks("pre_hook"), vec!["select 1", "select 3"]);
        assert_eq!(c.hooks("post_hook"), vec!["select 2"]);
        assert!(c.hooks("nothing").is_empty());
    }
}
