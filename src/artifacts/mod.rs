//! dbt's artifacts under the target folder: `manifest.json` (schema v12) and
//! `run_results.json` (schema v6), with dbt's field names, so that tools reading dbt's
//! artifacts (docs sites, observability, CI bots) read Mallard's.

pub mod catalog;
pub mod docs_site;
pub mod lineage;
pub mod results;
use std::collections::BTreeMap;
use std::io::Write;

mod junit;
pub use junit::write_junit;
use std::path::Path;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use rayon::prelude::*;
use serde_json::{json, Map, Value};

use crate::manifest::json::{source_json, unit_test_json, NodeJson, PARSED_AT};
use crate::manifest::{Manifest, Node, ResourceType};
use results::NodeResult;

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
    metadata["adapter_type"] = json!(manifest.adapter_type);
    let (parent_map, child_map) = parent_and_child_maps(manifest);
    write_atomically(&target_dir.join("manifest.json"), |w| {
        w.write_all(b"{\"metadata\":")?;
        serde_json::to_writer(&mut *w, &metadata)?;
        w.write_all(b",\"nodes\":{")?;
        write_nodes(w, manifest, target_path)?;
        w.write_all(b"},\"sources\":")?;
        let sources: Map<String, Value> = manifest
            .sources
            .values()
            .map(|s| (s.unique_id.clone(), source_json(s)))
            .collect();
        serde_json::to_writer(&mut *w, &sources)?;
        w.write_all(b",\"macros\":")?;
        serde_json::to_writer(&mut *w, &macros_json(manifest))?;
        w.write_all(b",\"docs\":")?;
        serde_json::to_writer(&mut *w, &docs_json(manifest))?;
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
        for (i, n) in manifest
            .nodes
            .values()
            .filter(|n| n.unit_test.is_some())
            .enumerate()
        {
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

/// The manifest's `nodes` entries (`"id":{...}` separated by commas), unit tests and exposures
/// left out (they have sections of their own). Each node's JSON is built on all cores, then
/// written in order (at 30,000 nodes building them was a tenth of `compile`'s time on one
/// core), in chunks, so that only one chunk's JSON is in memory at a time.
fn write_nodes(w: &mut dyn Write, manifest: &Manifest, target_path: &str) -> Result<()> {
    let nodes: Vec<&Node> = manifest
        .nodes
        .values()
        .filter(|n| n.unit_test.is_none() && n.resource_type != ResourceType::Exposure)
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
    Ok(())
}

/// The manifest's `macros`: every macro by `macro.<package>.<name>`, as dbt 1.11 writes them.
fn macros_json(manifest: &Manifest) -> Map<String, Value> {
    manifest
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
        .collect()
}

/// The manifest's `docs`: each `{% docs %}` block by `doc.<package>.<name>`.
fn docs_json(manifest: &Manifest) -> Map<String, Value> {
    manifest
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
        .collect()
}

/// Unique_ids and the unique_ids each relates to (parents or children).
type IdMap<'m> = BTreeMap<&'m str, Vec<&'m str>>;

/// The manifest's `parent_map` and `child_map`: for every node, source, exposure, metric and
/// semantic model, what it depends on and (sorted) what depends on it. Sources have no parents.
fn parent_and_child_maps(manifest: &Manifest) -> (IdMap<'_>, IdMap<'_>) {
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
    (parent_map, child_map)
}

/// Writes `target_dir/run_results.json` for `results` of a run that took `elapsed` seconds.
pub fn write_run_results(
    target_dir: &Path,
    manifest: &Manifest,
    results: &[NodeResult],
    elapsed: f64,
    inv: &Invocation,
) -> Result<()> {
    let results: Vec<Value> = results.iter().map(|r| run_result(manifest, r)).collect();
    write_run_results_of(target_dir, results, elapsed, inv)
}

/// One entry of `run_results.json`'s `results` for `r` (its relation looked up in `manifest`).
pub fn run_result(manifest: &Manifest, r: &NodeResult) -> Value {
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
}

/// Writes `run_results.json` in `target_dir` with `results` as built by [`run_result`].
///
/// Errors: the file cannot be written (the previous one stays whole).
pub fn write_run_results_of(
    target_dir: &Path,
    results: Vec<Value>,
    elapsed: f64,
    inv: &Invocation,
) -> Result<()> {
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
    let written = write_file_atomically(path, write);
    if written.is_err() {
        // A full disk leaves no half-written `.tmp` beside the previous artifact.
        let _ = std::fs::remove_file(path.with_extension("json.tmp"));
    }
    written.with_context(|| {
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
    if crate::log::has_secrets() {
        // No secret value reaches an artifact (a profile's or a package's error text can
        // hold one): written whole in memory, scrubbed, then to the file.
        let mut buffer: Vec<u8> = Vec::new();
        write(&mut buffer).with_context(|| format!("cannot write `{}`", tmp.display()))?;
        let text = String::from_utf8_lossy(&buffer);
        w.write_all(crate::log::scrub(&text).as_bytes())
            .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    } else {
        write(&mut w).with_context(|| format!("cannot write `{}`", tmp.display()))?;
    }
    w.flush()
        .with_context(|| format!("cannot write `{}`", tmp.display()))?;
    drop(w);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(())
}
