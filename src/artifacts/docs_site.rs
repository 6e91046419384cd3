//! The documentation site `mallard docs generate` writes into the target folder: `index.html`
//! (the page, its styles and script, no other file it needs) and `mallard_docs_data.js` (the
//! fields of `manifest.json` the pages show, `catalog.json`, the last `run_results.json`, each
//! node's compiled SQL and column lineage). A script file rather than `fetch()`, so that the site works opened
//! from disk (`file://`, where browsers refuse `fetch`) as well as served. `--static` writes
//! `static_index.html`, one file with the data inline, as dbt's `--static` does.
//!
//! The page loads nothing from any other host, and its Content-Security-Policy forbids it to.
//! Descriptions are markdown rendered after escaping, so their HTML is shown, never run.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};

use crate::manifest::{Manifest, Node, ResourceType};

/// The page: HTML, CSS and JavaScript in one file.
const PAGE: &str = include_str!("docs_site.html");

/// Where the page loads its data.
const DATA_TAG: &str = "<script src=\"mallard_docs_data.js\"></script>";

/// The project as the site reads it: manifest.json's fields the pages show, for every node,
/// source, exposure and macro, in manifest.json's names (`nodes`, `sources`, `exposures`,
/// `macros`, each by unique_id). Data tests keep what links them to their column; their
/// config and other fields are left out: at 10,000 models the whole manifest (58 MiB) took
/// Chromium 2.5 s to load.
pub fn site_manifest(manifest: &Manifest, generated_at: &str) -> Value {
    let node = |n: &Node| -> Value {
        let columns: Map<String, Value> = n
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    json!({"name": c.name, "description": c.description, "data_type": c.data_type}),
                )
            })
            .collect();
        let mut v = json!({
            "unique_id": n.unique_id, "name": n.name, "resource_type": n.resource_type.as_str(),
            "package_name": n.package_name, "path": n.path, "original_file_path": n.original_file_path,
            "fqn": n.fqn, "description": n.description, "columns": columns,
            "depends_on": {"nodes": n.depends_on}, "tags": n.config.tags(),
            "relation_name": n.relation.as_ref().filter(|r| !r.is_cte()).map(|r| r.to_string()),
            "database": n.relation.as_ref().map(|r| r.database.clone()),
            "schema": n.relation.as_ref().map(|r| r.schema.clone()),
            "raw_code": n.raw_code,
        });
        match (&n.test_metadata, n.resource_type) {
            (Some(t), _) => {
                v["test_metadata"] =
                    json!({"name": t.name, "kwargs": {"column_name": t.kwargs.get("column_name")}});
                v["attached_node"] = json!(n.attached_node);
                v["column_name"] = t.kwargs.get("column_name").cloned().unwrap_or(Value::Null);
            }
            (None, ResourceType::Test | ResourceType::UnitTest) => {
                v["attached_node"] = json!(n.attached_node)
            }
            _ => v["config"] = Value::Object(n.config.0.clone()),
        }
        v
    };
    let nodes: Map<String, Value> = manifest
        .nodes
        .values()
        .map(|n| (n.unique_id.clone(), node(n)))
        .collect();
    let sources: Map<String, Value> = manifest
        .sources
        .values()
        .map(|s| {
            let columns: Map<String, Value> = s
                .columns
                .iter()
                .map(|c| (c.name.clone(), json!({"name": c.name, "description": c.description, "data_type": c.data_type})))
                .collect();
            let v = json!({
                "unique_id": s.unique_id, "name": s.name, "source_name": s.source_name, "resource_type": "source",
                "package_name": s.package_name, "original_file_path": s.original_file_path,
                "description": s.description, "columns": columns, "relation_name": s.relation.to_string(),
                "database": s.relation.database, "schema": s.relation.schema,
                "tags": s.properties.get("tags"), "config": s.properties.get("config"),
            });
            (s.unique_id.clone(), v)
        })
        .collect();
    let macros: Map<String, Value> = manifest
        .macros
        .iter()
        .map(|m| {
            let id = format!("macro.{}.{}", m.package_name, m.name);
            let v = json!({"unique_id": id, "name": m.name, "resource_type": "macro", "package_name": m.package_name,
                           "original_file_path": m.original_file_path, "macro_sql": m.macro_sql, "description": ""});
            (id, v)
        })
        .collect();
    json!({
        "metadata": {"project_name": manifest.project_name, "generated_at": generated_at},
        "nodes": nodes,
        "sources": sources,
        "exposures": manifest.exposures,
        "macros": macros,
    })
}

/// What the site shows.
pub struct SiteData<'a> {
    /// The project, from [`site_manifest`], as JSON text.
    pub manifest_json: &'a str,
    pub catalog: &'a Value,
    /// The last `run_results.json` of a run that built something, if any.
    pub run_results: Option<&'a Value>,
    /// Compiled SQL by unique_id.
    pub compiled: &'a Value,
    /// Column lineage by unique_id (`lineage.json`'s `nodes`).
    pub lineage: &'a Value,
}

/// The data as a JavaScript statement that sets `window.MALLARD_DOCS` to
/// `{manifest, catalog, run_results, compiled, lineage}`. The manifest's text is copied as
/// it is (parsing 58 MiB again to write it back cost a second at 10,000 models).
fn script(data: &SiteData) -> Result<String> {
    let mut out = String::with_capacity(data.manifest_json.len() + 1024);
    out.push_str("window.MALLARD_DOCS = {\"manifest\": ");
    out.push_str(data.manifest_json.trim());
    for (key, value) in [
        ("catalog", data.catalog),
        ("compiled", data.compiled),
        ("lineage", data.lineage),
    ] {
        out.push_str(&format!(", \"{key}\": {}", serde_json::to_string(value)?));
    }
    out.push_str(&format!(
        ", \"run_results\": {}}};\n",
        serde_json::to_string(&data.run_results)?
    ));
    Ok(out)
}

/// `script` made safe inside an HTML `<script>` element: every `<` is written `\u003c`
/// (JSON text has `<` only inside strings, where that escape means the same), so no
/// `</script>` in a model's SQL or description can end the element.
fn inline(script: &str) -> String {
    script.replace('<', "\\u003c")
}

/// Writes `index.html` and `mallard_docs_data.js` into `target_dir`, and with `single_file`
/// `static_index.html` instead of both. Returns the page written.
///
/// Errors: a file cannot be written.
pub fn write(target_dir: &Path, data: &SiteData, single_file: bool) -> Result<std::path::PathBuf> {
    let write = |name: &str, text: &str| -> Result<std::path::PathBuf> {
        let path = target_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(path)
    };
    let script = script(data)?;
    if single_file {
        return write(
            "static_index.html",
            &PAGE.replace(DATA_TAG, &format!("<script>{}</script>", inline(&script))),
        );
    }
    write("mallard_docs_data.js", &script)?;
    write("index.html", PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_data_and_nothing_ends_the_inline_script_early() {
        assert!(PAGE.contains(DATA_TAG));
        let catalog = serde_json::json!({"d": "</script><script>alert(1)</script>"});
        let null = Value::Null;
        let data = SiteData {
            manifest_json: "{\"x\": \"</script>\"}",
            catalog: &catalog,
            run_results: None,
            compiled: &null,
            lineage: &null,
        };
        let s = inline(&script(&data).unwrap());
        assert!(!s.contains("</script>"), "{s}");
        assert!(
            s.starts_with("window.MALLARD_DOCS = {\"manifest\": {\"x\": \"\\u003c/script>\"}"),
            "{s}"
        );
        // Nothing is loaded from another host: no remote script, style, image or request.
        for remote in [
            "src=\"http",
            "href=\"http",
            "url(http",
            "fetch(",
            "XMLHttpRequest",
            "@import",
        ] {
            assert!(!PAGE.contains(remote), "{remote}");
        }
    }
}
