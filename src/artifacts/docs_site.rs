//! The documentation site `mallard docs generate` writes into the target folder: `index.html`
//! (the page, its styles and script, no other file it needs) and `mallard_docs_data.js` (the
//! project: `manifest.json`, `catalog.json`, the last `run_results.json`, each node's compiled
//! SQL and column lineage). A script file rather than `fetch()`, so that the site works opened
//! from disk (`file://`, where browsers refuse `fetch`) as well as served. `--static` writes
//! `static_index.html`, one file with the data inline, as dbt's `--static` does.
//!
//! The page loads nothing from any other host, and its Content-Security-Policy forbids it to.
//! Descriptions are markdown rendered after escaping, so their HTML is shown, never run.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

/// The page: HTML, CSS and JavaScript in one file.
const PAGE: &str = include_str!("docs_site.html");

/// Where the page loads its data.
const DATA_TAG: &str = "<script src=\"mallard_docs_data.js\"></script>";

/// What the site shows, as one JSON value: `{manifest, catalog, run_results, compiled,
/// lineage}`.
pub fn data(
    manifest: Value,
    catalog: Value,
    run_results: Option<Value>,
    compiled: Value,
    lineage: Value,
) -> Value {
    serde_json::json!({
        "manifest": manifest,
        "catalog": catalog,
        "run_results": run_results,
        "compiled": compiled,
        "lineage": lineage,
    })
}

/// `data` as a JavaScript statement that sets `window.MALLARD_DOCS`, safe inside an HTML
/// `<script>` element (`<` written as `\u003c`, so no `</script>` can end it).
fn script(data: &Value) -> Result<String> {
    let json = serde_json::to_string(data)?.replace('<', "\\u003c");
    Ok(format!("window.MALLARD_DOCS = {json};\n"))
}

/// Writes `index.html` and `mallard_docs_data.js` into `target_dir`, and with `single_file`
/// `static_index.html` instead of both. Returns the page written.
///
/// Errors: a file cannot be written.
pub fn write(target_dir: &Path, data: &Value, single_file: bool) -> Result<std::path::PathBuf> {
    let write = |name: &str, text: &str| -> Result<std::path::PathBuf> {
        let path = target_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(path)
    };
    let script = script(data)?;
    if single_file {
        return write(
            "static_index.html",
            &PAGE.replace(DATA_TAG, &format!("<script>{script}</script>")),
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
        let s = script(&serde_json::json!({"d": "</script><script>alert(1)</script>"})).unwrap();
        assert!(!s.contains("</script>"), "{s}");
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
