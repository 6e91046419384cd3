//! `mallard docs generate` and `mallard docs serve`: the project's documentation site, as
//! dbt's `docs` commands make it (`target/catalog.json`, `target/manifest.json`,
//! `target/index.html`), and the column lineage beyond dbt Core (`target/lineage.json`, see
//! [`artifacts::lineage`]), served from the target folder.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::artifacts::{self, Invocation};
use crate::error::Diagnostic;
use crate::log;
use crate::manifest::ResourceType;
use crate::session::{Selection, Session};

/// What `docs generate` does besides the catalog.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Compile every model, test and snapshot first (dbt's default; `--no-compile` skips it).
    pub compile: bool,
    /// `--static`: one self-contained `static_index.html`.
    pub single_file: bool,
    /// `--empty-catalog`: do not read the database; the catalog has no entries.
    pub empty_catalog: bool,
}

/// Writes `manifest.json`, compiles the project (unless told not to; writing its
/// `run_results.json`, as dbt does), reads the database's catalog into `catalog.json` and
/// writes the site (see [`artifacts::docs_site`]). The site shows the statuses of the last
/// run that built something, read before compiling replaces `run_results.json`.
///
/// Returns exit code 1 when a node failed to compile. A database that does not exist yet
/// gives an empty catalog, as dbt's does.
///
/// Errors: the catalog cannot be read (the database is held by a writer); a file cannot be
/// written.
pub fn generate(session: &Session, options: GenerateOptions, invocation: &Invocation) -> Result<ExitCode> {
    let started = Instant::now();
    let target_dir = session.project.target_dir();
    let last_run = std::fs::read_to_string(target_dir.join("run_results.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .filter(|r| {
            !matches!(
                r["args"]["command"].as_str(),
                Some("compile" | "docs generate" | "parse")
            )
        });
    session.write_manifest(invocation)?;
    // One read-only connection serves the compile's `run_query` calls and the catalog.
    // A DuckDB file that does not exist yet gives an empty catalog; a Spark target is a server.
    let adapter = crate::adapter::target::open_existing(&session.target.engine, &session.target.setup)?;
    // The catalog is read on a connection of its own while the project compiles: it reads
    // only what the last build left, which compiling (read-only) does not change.
    let catalog_conn = match adapter.as_ref().filter(|_| !options.empty_catalog) {
        Some(a) => Some(a.try_clone()?),
        None if !options.empty_catalog => analysed_catalog(session)?,
        None => None,
    };
    let (compiled_code, catalog) = std::thread::scope(|scope| {
        let manifest = &session.manifest;
        let reading =
            scope.spawn(move || artifacts::catalog::catalog(manifest, catalog_conn.as_ref(), invocation));
        let code = compile_all(session, options, adapter.as_ref(), started, invocation);
        let catalog = reading
            .join()
            .map_err(|_| anyhow::anyhow!("the catalog read stopped unexpectedly"));
        (code, catalog)
    });
    let code = compiled_code?;
    let catalog = catalog??;
    log::blank();
    log::info("Note", "Building catalog");
    let compiled = compiled_sql(session);
    let (lineage, manifest) =
        lineage_and_site_manifest(session, adapter.as_ref(), &catalog, &compiled, invocation)?;
    artifacts::catalog::write(&target_dir, &catalog)?;
    let data = artifacts::docs_site::SiteData {
        manifest_json: &manifest,
        catalog: &catalog,
        run_results: last_run.as_ref(),
        compiled: &Value::Object(compiled),
        lineage: &lineage["nodes"],
    };
    let page = artifacts::docs_site::write(&target_dir, &data, options.single_file)?;
    log::info(
        "Note",
        &format!("Catalog written to {}", target_dir.join("catalog.json").display()),
    );
    log::info(
        "Note",
        &format!("Documentation site written to {}", page.display()),
    );
    Ok(code)
}

/// Column lineage (`lineage.json`'s content, also written) and the site's manifest (as JSON
/// text, serialized while the lineage is parsed). Lineage starts from DuckDB's parse of the
/// models' compiled SQL, which needs no database: an in-memory one serves when there is none,
/// or when the engine cannot parse SQL to a tree (`Adapter::parse_to_json`). An entry of the
/// last `lineage.json` whose SQL and catalog are unchanged is kept as it is.
fn lineage_and_site_manifest(
    session: &Session,
    adapter: Option<&crate::adapter::Adapter>,
    catalog: &Value,
    compiled: &Map<String, Value>,
    invocation: &Invocation,
) -> Result<(Value, String)> {
    let target_dir = session.project.target_dir();
    // An entry of the last lineage.json whose SQL and catalog are unchanged is kept as it is.
    let catalog_md5 = artifacts::lineage::catalog_columns_md5(catalog);
    let previous = std::fs::read_to_string(target_dir.join("lineage.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or(Value::Null);
    let reuse = artifacts::lineage::reusable(&session.manifest, &previous, &catalog_md5, compiled);
    // Column lineage starts from DuckDB's parse of the other models' compiled SQL, which needs
    // no database (an in-memory one serves when there is none, or it is not DuckDB); the site's
    // manifest is serialized beside it.
    // (Adapter::parse_to_json: an engine that cannot parse SQL to a tree hands it to DuckDB.)
    let in_memory;
    let parser = match adapter {
        Some(a) => a,
        None => {
            in_memory = crate::adapter::Adapter::open(None)?;
            &in_memory
        }
    };
    let (parsed, manifest) = std::thread::scope(|scope| {
        let serializing = scope.spawn(|| {
            serde_json::to_string(&artifacts::docs_site::site_manifest(
                &session.manifest,
                &artifacts::timestamp(chrono::Utc::now()),
            ))
        });
        let parsed = artifacts::lineage::parse(&session.manifest, &reuse.to_parse, parser);
        (parsed, serializing.join())
    });
    let parsed = parsed?;
    let manifest = manifest.map_err(|_| anyhow::anyhow!("the site's manifest stopped unexpectedly"))??;
    let lineage = artifacts::lineage::with_reused(
        artifacts::lineage::lineage(&parsed, catalog, invocation),
        reuse,
        &catalog_md5,
    );
    let path = target_dir.join("lineage.json");
    std::fs::write(&path, serde_json::to_vec(&lineage)?)
        .map_err(|e| Diagnostic::new(format!("cannot write `{}`: {e}", path.display())))?;
    Ok((lineage, manifest))
}

/// With no database yet, the catalog of static analysis: every model, snapshot, seed and
/// source it could shape, as an empty table of its bound columns (a connection to the shapes
/// database). `None` on a target static analysis does not bind.
///
/// Errors: the analysis database cannot start.
fn analysed_catalog(session: &Session) -> Result<Option<crate::adapter::Adapter>> {
    if !crate::adapter::target::binds_with_duckdb(&session.target.engine) {
        return Ok(None);
    }
    let all: Vec<String> = session
        .manifest
        .nodes
        .values()
        .filter(|n| matches!(n.resource_type, ResourceType::Model | ResourceType::Snapshot))
        .map(|n| n.unique_id.clone())
        .collect();
    let analysis = crate::analysis::analyse(session, &all, None)?;
    let Some(shapes) = analysis.shapes else {
        return Ok(None);
    };
    let shapes = shapes.lock().unwrap_or_else(|p| p.into_inner());
    Ok(Some(shapes.try_clone()?))
}

/// Compiles every model, snapshot and data test as `compile` does (reading through
/// `read_only`), unless `options.compile` is off. Returns the compile's exit code.
fn compile_all(
    session: &Session,
    options: GenerateOptions,
    read_only: Option<&crate::adapter::Adapter>,
    started: Instant,
    invocation: &Invocation,
) -> Result<ExitCode> {
    if !options.compile {
        session.report_header();
        return Ok(ExitCode::SUCCESS);
    }
    let kinds = [ResourceType::Model, ResourceType::Snapshot, ResourceType::Test];
    let plan = session.plan(&Selection::default(), &kinds, false, false)?;
    let run_options = super::run::RunOptions {
        read_only,
        ..Default::default()
    };
    super::run::run_plan(session, &plan, None, &run_options, None, started, invocation)
}

/// The compiled SQL of models, snapshots and data tests as the last compile left it in the
/// target folder, by unique_id (a node without a compiled file is left out).
fn compiled_sql(session: &Session) -> Map<String, Value> {
    let target_dir = session.project.target_dir();
    let mut compiled = Map::new();
    for n in session.manifest.nodes.values() {
        if !matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Snapshot | ResourceType::Test
        ) {
            continue;
        }
        if let Ok(sql) = std::fs::read_to_string(target_dir.join(n.compiled_path())) {
            compiled.insert(n.unique_id.clone(), Value::String(sql));
        }
    }
    compiled
}

/// The content type of a file the site serves, by its extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

/// The file of `target_dir` that URL path `url` names (`/` is `index.html`), or `None` for a
/// path that leaves the folder or names no file.
fn file_for(target_dir: &Path, url: &str) -> Option<PathBuf> {
    let path = url.split(['?', '#']).next().unwrap_or("/");
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "index.html" } else { rel };
    if rel.split('/').any(|part| part == ".." || part.starts_with('.')) {
        return None;
    }
    let file = target_dir.join(rel);
    file.is_file().then_some(file)
}

/// Serves `target_dir` on `host:port` until the process is stopped; with `open_browser`,
/// opens the site with `xdg-open` (saying so when there is none).
///
/// Errors: the address is in use or cannot be bound (with what to do); the site has not been
/// generated.
pub fn serve(target_dir: &Path, host: &str, port: u16, open_browser: bool) -> Result<ExitCode> {
    if !target_dir.join("index.html").is_file() {
        return Err(Diagnostic::new(format!(
            "there is no documentation site in `{}`",
            target_dir.display()
        ))
        .help("run `mallard docs generate` first")
        .into());
    }
    let server = tiny_http::Server::http((host, port)).map_err(|e| {
        Diagnostic::new(format!("cannot serve the documentation on {host}:{port}: {e}"))
            .help("another program may use the port: pass another with `--port`")
    })?;
    let url = format!("http://{host}:{port}/");
    log::info("Note", &format!("Serving docs at {url}"));
    log::info("Note", "Press Ctrl+C to exit.");
    if open_browser {
        let opened = std::process::Command::new("xdg-open")
            .arg(&url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .is_ok();
        if !opened {
            log::info(
                "Note",
                &format!("No browser could be opened here: open {url} in one"),
            );
        }
    }
    for request in server.incoming_requests() {
        let response = match file_for(target_dir, request.url())
            .and_then(|f| std::fs::read(&f).ok().map(|b| (f, b)))
        {
            Some((file, bytes)) => tiny_http::Response::from_data(bytes).with_header(
                tiny_http::Header::from_bytes("Content-Type", content_type(&file)).expect("a valid header"),
            ),
            None => tiny_http::Response::from_data(b"not found".to_vec()).with_status_code(404),
        };
        let _ = request.respond(response);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_files_inside_the_target_folder_are_served() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "x").unwrap();
        assert_eq!(file_for(dir.path(), "/"), Some(dir.path().join("index.html")));
        assert_eq!(
            file_for(dir.path(), "/index.html?x=1"),
            Some(dir.path().join("index.html"))
        );
        assert_eq!(file_for(dir.path(), "/../secret"), None);
        assert_eq!(file_for(dir.path(), "/.hidden"), None);
        assert_eq!(file_for(dir.path(), "/missing.js"), None);
    }
}
