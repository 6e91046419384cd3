//! The manifest's JSON form (`manifest.json`, dbt's schema v12): each node, source and
//! column as dbt writes it, and the parent and child maps. The `model` object templates see is
//! a node's JSON too (see `runner::compile`), and `state:modified` compares fingerprints of it.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{Column, Manifest, Node, ResourceType, Source, TestMetadata};

mod defaults;
pub use defaults::{config_defaults, node_config_defaults};

pub fn columns_json(columns: &[Column]) -> Value {
    serde_json::to_value(ColumnsJson(columns)).unwrap_or(Value::Null)
}

/// A node's `columns` as dbt writes them, by name, serialised without building JSON values:
/// a project's columns are many, and most have only the defaults.
struct ColumnsJson<'a>(&'a [Column]);

impl Serialize for ColumnsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for c in self.0 {
            map.serialize_entry(&c.name, &ColumnJson(c))?;
        }
        map.end()
    }
}

struct ColumnJson<'a>(&'a Column);

impl Serialize for ColumnJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let c = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &c.name)?;
        map.serialize_entry("description", &c.description)?;
        map.serialize_entry("data_type", &c.data_type)?;
        if c.properties.is_empty() {
            let empty = Map::new();
            map.serialize_entry("meta", &empty)?;
            map.serialize_entry("constraints", &[(); 0])?;
            map.serialize_entry("quote", &())?;
            map.serialize_entry("config", &json!({"meta": {}, "tags": []}))?;
            map.serialize_entry("tags", &[(); 0])?;
            map.serialize_entry("granularity", &())?;
            map.serialize_entry("doc_blocks", &[(); 0])?;
        } else {
            for (k, v) in &c.properties {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// What `state:modified` compares between a node now and the same node in a previous
/// `manifest.json`: its file's checksum, config, relation, and a generic test's arguments.
/// `node_value` is the node as `manifest.json` records it.
pub fn state_fingerprint(node_value: &Value) -> Value {
    json!({
        "checksum": node_value["checksum"],
        "config": node_value["config"],
        "relation_name": node_value["relation_name"],
        "test_metadata": node_value.get("test_metadata").cloned().unwrap_or(Value::Null),
        "raw_code": node_value["raw_code"],
    })
}

/// A unit test as `manifest.json` records it (dbt's `UnitTestDefinition`): the model it
/// tests by name, its fixtures as written, its overrides.
pub fn unit_test_json(n: &Node) -> Value {
    let Some(spec) = n.unit_test.as_ref() else {
        return Value::Null;
    };
    let rows = |r: &crate::manifest::FixtureRows| match r {
        crate::manifest::FixtureRows::Dict(rows) => (json!(rows), "dict"),
        crate::manifest::FixtureRows::Csv(text) => (json!(text), "csv"),
        crate::manifest::FixtureRows::Sql(text) => (json!(text), "sql"),
    };
    let given: Vec<Value> = spec
        .given
        .iter()
        .map(|f| {
            let (rows, format) = rows(&f.rows);
            json!({"input": f.input.shown(), "rows": rows, "format": format, "fixture": null})
        })
        .collect();
    let (expect_rows, expect_format) = rows(&spec.expect);
    let model = spec.model.splitn(3, '.').nth(2).unwrap_or(&spec.model);
    let overrides = if spec.vars.is_empty() && spec.macros.is_empty() && !spec.is_incremental {
        Value::Null
    } else {
        let mut macros = spec.macros.clone();
        if spec.is_incremental {
            macros.insert("is_incremental".into(), Value::Bool(true));
        }
        json!({"macros": macros, "vars": spec.vars, "env_vars": {}})
    };
    json!({
        "model": model, "given": given,
        "expect": {"rows": expect_rows, "format": expect_format, "fixture": null},
        "name": n.name, "resource_type": "unit_test", "package_name": n.package_name,
        "path": n.path, "original_file_path": n.original_file_path, "unique_id": n.unique_id,
        "fqn": n.fqn, "description": n.description, "overrides": overrides,
        "depends_on": {"macros": n.depends_on_macros, "nodes": n.depends_on},
        "config": {"tags": n.config.tags(), "meta": n.config.0.get("meta").cloned().unwrap_or_else(|| json!({})),
                   "enabled": n.config.enabled()},
        "checksum": n.checksum, "schema": null, "versions": null, "version": null,
    })
}

/// A node as `manifest.json` records it (`target_path` is the configured target folder).
pub fn node_json(n: &Node, target_path: &str) -> Value {
    serde_json::to_value(NodeJson::new(n, target_path)).unwrap_or(Value::Null)
}

/// A node's `manifest.json` entry, serialised straight from the node: building it as a
/// serde_json `Value` first (a copy of its config and every field) was a tenth of compiling
/// 30,000 nodes. Fields in dbt's order; tests add `test_metadata`, `column_name` and
/// `attached_node`.
#[derive(Serialize)]
pub struct NodeJson<'a> {
    database: Option<&'a str>,
    schema: Option<&'a str>,
    name: &'a str,
    resource_type: &'a str,
    package_name: &'a str,
    path: &'a str,
    original_file_path: &'a str,
    unique_id: &'a str,
    fqn: &'a [String],
    alias: &'a str,
    checksum: ChecksumJson<'a>,
    config: ConfigJson<'a>,
    tags: Vec<String>,
    description: &'a str,
    columns: ColumnsJson<'a>,
    meta: MetaJson<'a>,
    docs: DocsJson,
    patch_path: Option<String>,
    build_path: (),
    unrendered_config: EmptyMap,
    created_at: f64,
    doc_blocks: [(); 0],
    relation_name: Option<String>,
    raw_code: &'a str,
    /// Not for seeds, which dbt writes without `language`, `refs`, `sources`, `metrics`,
    /// `compiled_path` and `depends_on.nodes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refs: Option<Vec<RefJson<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sources: Option<Vec<[&'a str; 2]>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<[(); 0]>,
    depends_on: DependsOnJson<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compiled_path: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    test_metadata: Option<TestMetadataJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column_name: Option<Option<&'a Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attached_node: Option<Option<&'a str>>,
    /// Models only: `version` and `latest_version` (null for an unversioned model).
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<Option<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_version: Option<Option<Value>>,
    /// Models only: `access` (`protected` unless configured), `contract` and `constraints`,
    /// as dbt lifts them from the config; `group` for every kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    access: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contract: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    constraints: Option<[(); 0]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deprecation_date: Option<Option<String>>,
    /// Models, tests and snapshots: the user-defined functions they call (none: Mallard has
    /// no functions).
    #[serde(skip_serializing_if = "Option::is_none")]
    functions: Option<[(); 0]>,
    /// Models: the primary key dbt infers from constraints and tests.
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_key: Option<&'a [String]>,
    /// Generic tests: `<yaml key>.<entry name>` they were written under.
    #[serde(skip_serializing_if = "Option::is_none")]
    file_key_name: Option<String>,
    /// Models only: MetricFlow's time spine from property YAML, else null.
    #[serde(skip_serializing_if = "Option::is_none")]
    time_spine: Option<Value>,
}

impl<'a> NodeJson<'a> {
    pub fn new(n: &'a Node, target_path: &str) -> NodeJson<'a> {
        // A test's database, schema and alias are where its failures would be stored.
        let relation = n.relation.as_ref().or(n.audit_relation.as_ref());
        let test = n.test_metadata.as_ref();
        let model = n.resource_type == ResourceType::Model;
        let seed = n.resource_type == ResourceType::Seed;
        NodeJson {
            database: relation.map(|r| r.database.as_str()),
            schema: relation.map(|r| r.schema.as_str()),
            name: &n.name,
            resource_type: n.resource_type.as_str(),
            package_name: &n.package_name,
            path: &n.path,
            original_file_path: &n.original_file_path,
            unique_id: &n.unique_id,
            fqn: &n.fqn,
            alias: relation.map_or(n.name.as_str(), |r| r.identifier.as_str()),
            checksum: ChecksumJson {
                name: if n.checksum.is_empty() { "none" } else { "sha256" },
                checksum: &n.checksum,
            },
            config: ConfigJson {
                config: &n.config.0,
                tags: n.config.tags(),
                defaults: config_defaults(n.resource_type),
            },
            tags: n.config.tags(),
            description: &n.description,
            columns: ColumnsJson(&n.columns),
            meta: MetaJson(n.config.0.get("meta")),
            docs: DocsJson,
            build_path: (),
            unrendered_config: EmptyMap,
            created_at: *PARSED_AT,
            doc_blocks: [],
            patch_path: n.patch_path.as_ref().map(|p| format!("{}://{p}", n.package_name)),
            // dbt gives ephemeral models no relation: they exist only as CTEs.
            relation_name: n
                .relation
                .as_ref()
                .filter(|_| !n.materialization.is_ephemeral())
                .map(|r| r.to_string()),
            // dbt strips the file's text at both ends (Mallard renders it with its leading
            // lines, so that line numbers in messages are the file's).
            raw_code: n.raw_code.trim_start(),
            language: (!seed).then_some(if n.python { "python" } else { "sql" }),
            refs: (!seed).then(|| {
                n.refs
                    .iter()
                    .map(|r| RefJson {
                        name: &r.value.name,
                        package: r.value.package.as_deref(),
                        version: r.value.version.as_deref(),
                    })
                    .collect()
            }),
            sources: (!seed).then(|| {
                n.sources
                    .iter()
                    .map(|s| [s.value.0.as_str(), s.value.1.as_str()])
                    .collect()
            }),
            metrics: (!seed).then_some([]),
            depends_on: DependsOnJson {
                macros: &n.depends_on_macros,
                nodes: (!seed).then_some(n.depends_on.as_slice()),
            },
            compiled_path: (!seed).then(|| Some(format!("{target_path}/{}", n.compiled_path()))),
            test_metadata: test.map(TestMetadataJson::new),
            column_name: test.map(|m| m.kwargs.get("column_name")),
            attached_node: test.map(|_| n.attached_node.as_deref()),
            version: (n.resource_type == ResourceType::Model).then(|| n.version.as_deref().map(version_value)),
            latest_version: (n.resource_type == ResourceType::Model)
                .then(|| n.latest_version.as_deref().map(version_value)),
            access: model.then(|| n.config.get_str("access").unwrap_or("protected")),
            group: (n.resource_type != ResourceType::UnitTest)
                .then_some(n.config.0.get("group").unwrap_or(&Value::Null)),
            contract: (model || n.resource_type == ResourceType::Test).then(|| {
                let c = n.config.0.get("contract");
                json!({
                    "enforced": c.and_then(|c| c.get("enforced")).and_then(Value::as_bool).unwrap_or(false),
                    "alias_types": c.and_then(|c| c.get("alias_types")).and_then(Value::as_bool).unwrap_or(true),
                    "checksum": null,
                })
            }),
            constraints: model.then_some([]),
            primary_key: model.then_some(n.primary_key.as_slice()),
            functions: (model || n.resource_type == ResourceType::Test || n.resource_type == ResourceType::Snapshot)
                .then_some([]),
            // `models.orders` (`sources.raw` for a source table): the property-file entry the
            // test was written under.
            file_key_name: test.and(n.attached_node.as_deref()).map(file_key_name),
            // dbt reads it as a date-time: a date alone is its midnight, in UTC here.
            deprecation_date: model.then(|| n.deprecation_date.as_deref().map(date_time)),
            time_spine: model.then(|| time_spine(n.time_spine.as_ref())),
        }
    }
}

/// The property-file entry a data test was written under, from its attached node's unique_id:
/// `models.orders` (`sources.raw` for a source table; a version's model without `.v2`).
fn file_key_name(attached: &str) -> String {
    let mut parts = attached.splitn(3, '.');
    let (kind, _, rest) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next().unwrap_or(""),
    );
    let name = match kind {
        "source" => rest.split('.').next().unwrap_or(rest),
        _ => rest.split(".v").next().unwrap_or(rest),
    };
    format!("{kind}s.{name}")
}

/// A `deprecation_date` as dbt reads it, a date-time: a date alone is its midnight, in UTC.
fn date_time(d: &str) -> String {
    if d.len() == 10 {
        format!("{d}T00:00:00+00:00")
    } else {
        d.to_string()
    }
}

/// A model's `time_spine` with `custom_granularities` (default `[]`); null when it has none.
fn time_spine(spine: Option<&Value>) -> Value {
    match spine {
        Some(Value::Object(t)) => {
            let mut t = t.clone();
            t.entry("custom_granularities").or_insert_with(|| json!([]));
            Value::Object(t)
        }
        _ => Value::Null,
    }
}

#[derive(Serialize)]
struct ChecksumJson<'a> {
    name: &'static str,
    checksum: &'a str,
}

#[derive(Serialize)]
struct RefJson<'a> {
    name: &'a str,
    package: Option<&'a str>,
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct DependsOnJson<'a> {
    macros: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<&'a [String]>,
}

#[derive(Serialize)]
struct TestMetadataJson<'a> {
    name: &'a str,
    kwargs: KwargsJson<'a>,
    namespace: Option<&'a str>,
}

impl<'a> TestMetadataJson<'a> {
    /// `dbt_utils.equality` is name `equality` in namespace `dbt_utils`, as in dbt.
    fn new(m: &'a TestMetadata) -> TestMetadataJson<'a> {
        let (namespace, name) = match m.name.split_once('.') {
            Some((ns, name)) => (Some(ns), name),
            None => (None, m.name.as_str()),
        };
        TestMetadataJson {
            name,
            kwargs: KwargsJson(&m.kwargs, &m.model),
            namespace,
        }
    }
}

/// A generic test's arguments with the `model` argument dbt adds, without copying them.
struct KwargsJson<'a>(&'a Map<String, Value>, &'a str);

impl Serialize for KwargsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len() + 1))?;
        for (k, v) in self.0 {
            map.serialize_entry(k, v)?;
        }
        map.serialize_entry("model", self.1)?;
        map.end()
    }
}

/// A node's config with `enabled` (default true) and `tags` (always a list) as dbt writes
/// them: keys in the config's order, then a missing `enabled`, then a missing `tags`.
struct ConfigJson<'a> {
    config: &'a Map<String, Value>,
    tags: Vec<String>,
    /// dbt's default of every config key of the node's kind, written for keys not set.
    defaults: &'static Map<String, Value>,
}

/// `created_at` of every node: when this process started writing artifacts, in seconds since
/// the Unix epoch, as dbt stamps each node when it parses it.
pub static PARSED_AT: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
});

/// `{}`.
struct EmptyMap;

impl Serialize for EmptyMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_map(Some(0))?.end()
    }
}

/// dbt's `docs` of a node: shown, no colour.
struct DocsJson;

impl Serialize for DocsJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("show", &true)?;
        map.serialize_entry("node_color", &())?;
        map.end()
    }
}

impl Serialize for ConfigJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.config {
            match k.as_str() {
                "tags" => map.serialize_entry(k, &self.tags)?,
                // dbt writes hooks as `pre-hook`/`post-hook`, each `{sql, transaction, index}`.
                "pre_hook" | "post_hook" => {
                    let items = match v {
                        Value::Array(items) => items.as_slice(),
                        other => std::slice::from_ref(other),
                    };
                    let hooks: Vec<Value> = items
                        .iter()
                        .filter_map(|h| match h {
                            Value::String(sql) => {
                                Some(json!({"sql": sql, "transaction": true, "index": null}))
                            }
                            Value::Object(m) => Some(json!({
                                "sql": m.get("sql").cloned().unwrap_or(Value::Null),
                                "transaction": m.get("transaction").cloned().unwrap_or(Value::Bool(true)),
                                "index": null,
                            })),
                            _ => None,
                        })
                        .collect();
                    map.serialize_entry(&k.replace('_', "-"), &hooks)?
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        if !self.config.contains_key("enabled") {
            map.serialize_entry("enabled", &true)?;
        }
        if !self.config.contains_key("tags") {
            map.serialize_entry("tags", &self.tags)?;
        }
        for (k, v) in self.defaults {
            let set = |key: &str| self.config.contains_key(key);
            let hook_set = match k.as_str() {
                "pre-hook" => set("pre_hook"),
                "post-hook" => set("post_hook"),
                _ => false,
            };
            if !set(k) && !hook_set && k != "enabled" && k != "tags" {
                map.serialize_entry(k, v)?;
            }
        }
        map.end()
    }
}

/// `meta` from the config, `{}` without one.
struct MetaJson<'a>(Option<&'a Value>);

impl Serialize for MetaJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            Some(meta) => meta.serialize(serializer),
            None => serializer.serialize_map(Some(0))?.end(),
        }
    }
}

/// dbt's `graph` context variable: the parsed project as templates see it, `nodes` and
/// `sources`, `exposures`, `metrics` and `semantic_models` by `unique_id` with their manifest
/// fields (`groups` and `saved_queries` are empty: Mallard does not record those yet).
pub fn graph_json(manifest: &Manifest, target_path: &str) -> Value {
    let nodes: Map<String, Value> = manifest
        .nodes
        .iter()
        .filter(|(_, n)| n.resource_type != ResourceType::Exposure)
        .map(|(id, n)| (id.clone(), node_json(n, target_path)))
        .collect();
    let sources: Map<String, Value> = manifest
        .sources
        .iter()
        .map(|(id, s)| (id.clone(), source_json(s)))
        .collect();
    let collect = |m: &std::collections::BTreeMap<String, Value>| -> Map<String, Value> {
        m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    serde_json::json!({
        "nodes": nodes, "sources": sources, "exposures": collect(&manifest.exposures),
        "metrics": collect(&manifest.metrics), "groups": {},
        "semantic_models": collect(&manifest.semantic_models), "saved_queries": {}, "unit_tests": {},
    })
}

pub fn source_json(s: &Source) -> Value {
    let mut out = json!({
        "database": s.relation.database,
        "schema": s.relation.schema,
        "name": s.name,
        "resource_type": "source",
        "package_name": s.package_name,
        "path": s.original_file_path,
        "original_file_path": s.original_file_path,
        "unique_id": s.unique_id,
        "fqn": s.fqn,
        "source_name": s.source_name,
        "identifier": s.relation.identifier,
        "description": s.description,
        "columns": columns_json(&s.columns),
        "relation_name": s.relation.to_string(),
        "created_at": *PARSED_AT,
        "doc_blocks": [],
    });
    if let Value::Object(map) = &mut out {
        map.extend(s.properties.clone());
    }
    out
}

/// A model version as YAML most likely gave it (Mallard keeps it as text): `1` and `1.5`
/// numbers, `prod` text, as dbt writes it into the manifest and `graph`.
fn version_value(v: &str) -> Value {
    serde_json::from_str::<serde_json::Number>(v).map_or_else(|_| Value::from(v), Value::Number)
}
