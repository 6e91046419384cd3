//! dbt's artifacts under the target folder: `manifest.json` (schema v12) and
//! `run_results.json` (schema v6), with dbt's field names, so that tools reading dbt's
//! artifacts (docs sites, observability, CI bots) read Mallard's.

use std::collections::BTreeMap;
use std::io::Write;

mod junit;
pub use junit::write_junit;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::manifest::{Column, Manifest, Node, ResourceType, Source};
use crate::runner::NodeResult;

/// Identifies one invocation in both artifacts, and when it started.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// A random UUID 4, unique per invocation.
    pub id: String,
    pub started_at: DateTime<Utc>,
    /// The command line's arguments, for `run_results.json` `args`.
    pub args: Value,
}

impl Invocation {
    pub fn new(args: Value) -> Invocation {
        let started_at = Utc::now();
        // The same id templates see as `invocation_id`.
        let id = crate::templating::builtins::invocation_id().to_string();
        Invocation { id, started_at, args }
    }

    fn metadata(&self, schema: &str) -> Value {
        json!({
            "dbt_schema_version": format!("https://schemas.getdbt.com/dbt/{schema}"),
            // The dbt-core version whose behaviour Mallard follows, with Mallard's own as a
            // PEP 440 local label: readers that parse it (dagster-dbt) see a dbt 1.11, and
            // anyone reading it sees that Mallard wrote the file.
            "dbt_version": DBT_VERSION,
            "generated_at": timestamp(Utc::now()),
            "invocation_id": self.id,
            "invocation_started_at": timestamp(self.started_at),
            "env": {},
        })
    }
}

/// `metadata.dbt_version` of every artifact: `1.11.0+mallard.<version>`.
pub const DBT_VERSION: &str = concat!("1.11.0+mallard.", env!("CARGO_PKG_VERSION"));

/// dbt's timestamp format: RFC 3339 in UTC with microseconds and `Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Writes `target_dir/manifest.json`, creating the folder. The file is compact JSON, as dbt
/// writes it, streamed node by node so that a project of 10,000 models never holds its whole
/// manifest as one JSON tree in memory.
pub fn write_manifest(
    target_dir: &Path,
    target_path: &str,
    manifest: &Manifest,
    inv: &Invocation,
) -> Result<()> {
    let mut metadata = inv.metadata("manifest/v12.json");
    metadata["project_name"] = json!(manifest.project_name);
    metadata["adapter_type"] = json!("duckdb");
    let macros: Map<String, Value> = manifest
        .macros
        .iter()
        .map(|m| {
            let id = format!("macro.{}.{}", m.package_name, m.name);
            let file = &m.original_file_path;
            (
                id.clone(),
                json!({
                    "name": m.name, "resource_type": "macro", "package_name": m.package_name,
                    "path": file, "original_file_path": file, "unique_id": id,
                    "macro_sql": m.macro_sql, "depends_on": {"macros": []},
                    "description": "", "meta": {}, "docs": {"show": true, "node_color": null},
                    "patch_path": null,
                    "arguments": m.arguments.iter().map(|a| json!({"name": a, "type": null, "description": ""})).collect::<Vec<_>>(),
                    "supported_languages": null,
                    "config": {"meta": {}, "docs": {"show": true, "node_color": null}},
                    "created_at": *PARSED_AT,
                }),
            )
        })
        .collect();
    let mut parent_map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut child_map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for id in manifest.nodes.keys().chain(manifest.sources.keys()) {
        child_map.insert(id, Vec::new());
    }
    for id in manifest.sources.keys() {
        parent_map.insert(id, Vec::new());
    }
    let semantic: Vec<(&String, &Value)> = manifest
        .exposures
        .iter()
        .chain(&manifest.metrics)
        .chain(&manifest.semantic_models)
        .collect();
    for (id, _) in &semantic {
        child_map.insert(id.as_str(), Vec::new());
    }
    let semantic_deps = semantic.iter().map(|(id, v)| {
        let deps: Vec<&str> = v
            .pointer("/depends_on/nodes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        (id.as_str(), deps)
    });
    let node_deps = manifest
        .nodes
        .values()
        .filter(|n| n.resource_type != ResourceType::Exposure)
        .map(|n| {
            (
                n.unique_id.as_str(),
                n.depends_on.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        });
    for (id, deps) in node_deps.chain(semantic_deps) {
        for dep in &deps {
            if let Some(children) = child_map.get_mut(dep) {
                children.push(id);
            }
        }
        parent_map.insert(id, deps);
    }
    for children in child_map.values_mut() {
        children.sort();
    }
    write_atomically(&target_dir.join("manifest.json"), |w| {
        w.write_all(b"{\"metadata\":")?;
        serde_json::to_writer(&mut *w, &metadata)?;
        w.write_all(b",\"nodes\":{")?;
        let is_unit = |n: &&Node| n.unit_test.is_some();
        // Each node's JSON is built on all cores, then written in order: at 30,000 nodes
        // building them was a tenth of `compile`'s time, on one core.
        // In chunks, so that only one chunk's JSON is in memory at a time.
        // Exposures have a section of their own (they are nodes only for `build`'s schedule).
        let nodes: Vec<&Node> = manifest
            .nodes
            .values()
            .filter(|n| !is_unit(n) && n.resource_type != ResourceType::Exposure)
            .collect();
        for (c, chunk) in nodes.chunks(4096).enumerate() {
            let entries: Vec<Vec<u8>> = chunk
                .par_iter()
                .map(|n| {
                    let mut entry = serde_json::to_vec(&n.unique_id)?;
                    entry.push(b':');
                    serde_json::to_writer(&mut entry, &NodeJson::new(n, target_path))?;
                    Ok(entry)
                })
                .collect::<serde_json::Result<_>>()?;
            for (i, entry) in entries.iter().enumerate() {
                if c > 0 || i > 0 {
                    w.write_all(b",")?;
                }
                w.write_all(entry)?;
            }
        }
        w.write_all(b"},\"sources\":")?;
        let sources: Map<String, Value> = manifest
            .sources
            .values()
            .map(|s| (s.unique_id.clone(), source_json(s)))
            .collect();
        serde_json::to_writer(&mut *w, &sources)?;
        w.write_all(b",\"macros\":")?;
        serde_json::to_writer(&mut *w, &macros)?;
        w.write_all(b",\"docs\":")?;
        let docs: Map<String, Value> = manifest
            .docs
            .iter()
            .map(|(id, (file, text))| {
                let mut parts = id.splitn(3, '.').skip(1);
                let (package, name) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                (
                    id.clone(),
                    json!({"name": name, "resource_type": "doc", "package_name": package,
                           "path": file.split_once('/').map(|(_, p)| p).unwrap_or(file),
                           "original_file_path": file, "unique_id": id, "block_contents": text}),
                )
            })
            .collect();
        serde_json::to_writer(&mut *w, &docs)?;
        w.write_all(b",\"exposures\":")?;
        serde_json::to_writer(&mut *w, &manifest.exposures)?;
        w.write_all(b",\"metrics\":")?;
        serde_json::to_writer(&mut *w, &manifest.metrics)?;
        w.write_all(b",\"groups\":{},\"selectors\":{},\"disabled\":{},\"functions\":{}")?;
        w.write_all(b",\"parent_map\":")?;
        serde_json::to_writer(&mut *w, &parent_map)?;
        w.write_all(b",\"child_map\":")?;
        serde_json::to_writer(&mut *w, &child_map)?;
        // Unit tests have a section of their own, as in dbt 1.8+.
        w.write_all(b",\"group_map\":{},\"saved_queries\":{},\"semantic_models\":")?;
        serde_json::to_writer(&mut *w, &manifest.semantic_models)?;
        w.write_all(b",\"unit_tests\":{")?;
        for (i, n) in manifest.nodes.values().filter(is_unit).enumerate() {
            if i > 0 {
                w.write_all(b",")?;
            }
            serde_json::to_writer(&mut *w, &n.unique_id)?;
            w.write_all(b":")?;
            serde_json::to_writer(&mut *w, &unit_test_json(n))?;
        }
        w.write_all(b"}}")?;
        Ok(())
    })
}

fn columns_json(columns: &[Column]) -> Value {
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
fn unit_test_json(n: &Node) -> Value {
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
struct NodeJson<'a> {
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
    version: Option<Option<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_version: Option<Option<&'a str>>,
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
    fn new(n: &'a Node, target_path: &str) -> NodeJson<'a> {
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
                .filter(|_| n.materialized() != "ephemeral")
                .map(|r| r.to_string()),
            // dbt strips the file's text at both ends (Mallard renders it with its leading
            // lines, so that line numbers in messages are the file's).
            raw_code: n.raw_code.trim_start(),
            language: (!seed).then_some("sql"),
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
            // `dbt_utils.equality` is name `equality` in namespace `dbt_utils`, as in dbt.
            test_metadata: test.map(|m| {
                let (namespace, name) = match m.name.split_once('.') {
                    Some((ns, name)) => (Some(ns), name),
                    None => (None, m.name.as_str()),
                };
                TestMetadataJson {
                    name,
                    kwargs: KwargsJson(&m.kwargs, &m.model),
                    namespace,
                }
            }),
            column_name: test.map(|m| m.kwargs.get("column_name")),
            attached_node: test.map(|_| n.attached_node.as_deref()),
            version: (n.resource_type == ResourceType::Model).then_some(n.version.as_deref()),
            latest_version: (n.resource_type == ResourceType::Model).then_some(n.latest_version.as_deref()),
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
            file_key_name: test.and(n.attached_node.as_deref()).map(|id| {
                let mut parts = id.splitn(3, '.');
                let (kind, _, rest) = (parts.next().unwrap_or(""), parts.next(), parts.next().unwrap_or(""));
                let name = match kind {
                    "source" => rest.split('.').next().unwrap_or(rest),
                    _ => rest.split(".v").next().unwrap_or(rest),
                };
                format!("{kind}s.{name}")
            }),
            // dbt reads it as a date-time: a date alone is its midnight, in UTC here.
            deprecation_date: model.then(|| {
                n.deprecation_date.as_ref().map(|d| {
                    if d.len() == 10 {
                        format!("{d}T00:00:00+00:00")
                    } else {
                        d.clone()
                    }
                })
            }),
            time_spine: model.then(|| match &n.time_spine {
                Some(Value::Object(t)) => {
                    let mut t = t.clone();
                    t.entry("custom_granularities").or_insert_with(|| json!([]));
                    Value::Object(t)
                }
                _ => Value::Null,
            }),
        }
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
static PARSED_AT: std::sync::LazyLock<f64> = std::sync::LazyLock::new(|| {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
});

/// dbt-core 1.11's config defaults per node kind, as its manifest writes them.
fn config_defaults(kind: ResourceType) -> &'static Map<String, Value> {
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
fn node_config_defaults() -> Map<String, Value> {
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

fn source_json(s: &Source) -> Value {
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

/// Writes `target_dir/run_results.json` for `results` of a run that took `elapsed` seconds.
pub fn write_run_results(
    target_dir: &Path,
    manifest: &Manifest,
    results: &[NodeResult],
    elapsed: f64,
    inv: &Invocation,
) -> Result<()> {
    let results: Vec<Value> = results
        .iter()
        .map(|r| {
            // `on-run-start` / `on-run-end` hooks are results without a manifest node.
            // A data test that stores its failures names the relation that holds them.
            let relation = manifest.nodes.get(&r.unique_id).and_then(|n| {
                n.relation.as_ref().or_else(|| {
                    n.audit_relation
                        .as_ref()
                        .filter(|_| matches!(crate::testing::store_failures_as(&n.config), Ok(Some(_))))
                })
            });
            json!({
                "status": r.status.as_str(),
                "timing": r.timing.iter().map(|t| json!({
                    "name": t.name,
                    "started_at": timestamp(t.started_at),
                    "completed_at": timestamp(t.completed_at),
                })).collect::<Vec<_>>(),
                "thread_id": r.thread_id,
                "execution_time": r.execution_time,
                "adapter_response": match r.rows_affected {
                    Some(n) => json!({"_message": format!("INSERT {n}"), "rows_affected": n}),
                    None => json!({}),
                },
                "message": r.message,
                "failures": r.failures,
                "unique_id": r.unique_id,
                "compiled": r.compiled_code.is_some(),
                "compiled_code": r.compiled_code,
                "relation_name": relation.map(|rel| rel.to_string()),
                "batch_results": null,
            })
        })
        .collect();
    let doc = json!({
        "metadata": inv.metadata("run-results/v6.json"),
        "results": results,
        "elapsed_time": elapsed,
        "args": inv.args,
    });
    write_json(&target_dir.join("run_results.json"), &doc)
}

/// Writes `sources.json` (dbt's schema sources/v3) at `path`: `results` as built by
/// `source freshness`, `elapsed` the run's wall time in seconds.
///
/// Errors: the file cannot be written (the previous one stays whole).
pub fn write_sources(path: &Path, results: Vec<Value>, elapsed: f64, inv: &Invocation) -> Result<()> {
    let doc = json!({
        "metadata": inv.metadata("sources/v3.json"),
        "results": results,
        "elapsed_time": elapsed,
    });
    write_json(path, &doc)
}

/// Writes `value` as JSON to `path`, atomically (see [`write_atomically`]).
fn write_json(path: &Path, value: &Value) -> Result<()> {
    write_atomically(path, |w| Ok(serde_json::to_writer(w, value)?))
}

/// Writes a file through `write` into a temporary file beside `path` and renames it over
/// `path`, so that a reader never sees half a file. Creates the folder.
fn write_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    write_file_atomically(path, write).with_context(|| {
        format!(
            "the artifact `{}` cannot be written: make sure the target folder (`target-path`) can be written",
            path.display()
        )
    })
}

fn write_file_atomically(path: &Path, write: impl FnOnce(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = path.parent().context("artifact path has no folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    let file = std::fs::File::create(&tmp).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    write(&mut w).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    w.flush()
        .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    drop(w);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}
