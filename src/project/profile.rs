//! `profiles.yml`: which DuckDB database a run writes, in which schema, with how many threads.
//!
//! The file is looked for as dbt does: `--profiles-dir`, then `DBT_PROFILES_DIR`, then the
//! current directory, then (Mallard's addition, so `--project-dir` alone suffices) the project
//! directory, then `~/.dbt/`. String values may use `env_var()`.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value};

use super::yaml;
use crate::config::connection::{DuckDbFile, Engine};
use crate::error::{did_you_mean, Diagnostic};

/// The resolved target a run writes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub profile_name: String,
    /// The target's name (`dev`).
    pub name: String,
    /// The engine and its settings: DuckDB's database file, or a Spark Connect server.
    pub engine: Engine,
    /// The catalog name DuckDB gives the database: the file's stem, or `memory`
    /// (`spark_catalog` on Spark).
    pub database: String,
    /// The default schema (`main` unless the profile says otherwise).
    pub schema: String,
    /// Worker threads, at least 1.
    pub threads: usize,
    /// Where `profiles.yml` was found, for messages.
    pub profiles_file: PathBuf,
    /// What every connection of the run runs first: dbt-duckdb's `config_options`,
    /// `extensions`, `secrets`, `attach` and `settings` (see [`super::duckdb_profile`]).
    pub setup: crate::config::connection::ConnectionSetup,
    /// Keys of the target that have no effect in Mallard (`disable_transactions`, ...), as
    /// messages naming each with `file:line`: accepted, but never silently.
    pub warnings: Vec<String>,
}

impl Target {
    /// The adapter type (`target.type`): `duckdb` or `spark`.
    pub fn adapter_type(&self) -> &'static str {
        self.engine.adapter_type()
    }

    /// The value of `target` in Jinja: dbt's fields for a DuckDB target.
    pub fn jinja_value(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "target_name": self.name,
            "profile_name": self.profile_name,
            "type": self.adapter_type(),
            "schema": self.schema,
            "database": self.database,
            "threads": self.threads,
            "path": match &self.engine {
                Engine::DuckDb(DuckDbFile { path: Some(p), .. }) => p.to_string_lossy().to_string(),
                _ => ":memory:".into(),
            },
        })
    }
}

/// Where to look for `profiles.yml`, in order.
pub fn profile_dirs(explicit: Option<&Path>, project_root: &Path) -> Vec<PathBuf> {
    if let Some(dir) = explicit {
        return vec![dir.to_path_buf()];
    }
    if let Some(dir) = std::env::var_os("DBT_PROFILES_DIR") {
        return vec![PathBuf::from(dir)];
    }
    let mut dirs = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        dirs.push(cwd);
    }
    dirs.push(project_root.to_path_buf());
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".dbt"));
    }
    dirs
}

/// Reads the profile `profile_name` from the first `profiles.yml` in `dirs` and resolves
/// `target_name` (or the profile's `target:`). A relative `path` is taken relative to
/// `project_root`. `threads_override` (from `--threads`) replaces the profile's `threads`.
///
/// Errors: no `profiles.yml` in any of `dirs`; YAML errors; a missing profile or target (with
/// the names that exist); a `type` other than `duckdb`; `threads` below 1.
pub fn load_target(
    dirs: &[PathBuf],
    profile_name: &str,
    target_name: Option<&str>,
    project_root: &Path,
    threads_override: Option<usize>,
    cli_vars: &Map<String, Value>,
) -> Result<Target> {
    let ctx = crate::config::ConfigContext {
        vars: cli_vars.clone(),
        target: Value::Null,
    };
    let Some(file_path) = dirs.iter().map(|d| d.join("profiles.yml")).find(|p| p.is_file()) else {
        let looked: Vec<String> = dirs.iter().map(|d| format!("`{}`", d.display())).collect();
        return Err(Diagnostic::new(format!("no `profiles.yml` found (looked in {})", looked.join(", ")))
            .help(format!(
                "create `profiles.yml` beside `dbt_project.yml` with a `{profile_name}:` profile of `type: duckdb`, or pass `--profiles-dir`"
            ))
            .into());
    };
    let shown = crate::error::display_path(&file_path, project_root);
    let text = std::fs::read_to_string(&file_path)
        .map_err(|e| Diagnostic::new(format!("cannot read `{shown}`: {e}")))?;
    let doc = crate::config::yaml::parse_mapping(&shown, &text)?;
    let Some(profile) = doc.get(profile_name) else {
        return Err(profile_not_found(profile_name, &shown, &doc, project_root).into());
    };
    let (target_name, output) = chosen_output(profile, profile_name, target_name, (&shown, &text))?;
    let output = yaml::render_config_values(&shown, &text, output.clone(), &ctx)?;
    let target_loc = crate::config::yaml::key_location(&shown, &text, &target_name);
    let locator = super::duckdb_profile::Locator {
        file: &shown,
        text: &text,
        from_line: target_loc.line,
    };
    let kind = output.get("type").and_then(Value::as_str).unwrap_or("");
    let threads = match threads_override {
        Some(t) => t,
        None => match output.get("threads") {
            None => 1,
            Some(v) => v.as_u64().map(|t| t as usize).unwrap_or(0),
        },
    };
    if threads == 0 {
        return Err(Diagnostic::new(format!(
            "target `{target_name}`: `threads` must be a whole number of at least 1"
        ))
        .at(target_loc)
        .into());
    }
    match kind {
        "duckdb" => {}
        "spark" => {
            let keys = super::spark_profile::read(&output, &target_name, &locator)?;
            return Ok(Target {
                warnings: keys.warnings,
                setup: Default::default(),
                profile_name: profile_name.to_string(),
                name: target_name,
                // Spark's session catalog: relations are `spark_catalog`.`schema`.`name`.
                database: "spark_catalog".into(),
                schema: keys.schema,
                threads,
                profiles_file: file_path,
                engine: Engine::Spark(keys.connect),
            });
        }
        _ => {
            return Err(Diagnostic::new(format!(
                "target `{target_name}` has type `{kind}`; mallard runs on DuckDB (`type: duckdb`) and on Spark over Spark Connect (`type: spark`)"
            ))
            .at(target_loc)
            .help("set `type: duckdb` or `type: spark`")
            .into());
        }
    }
    duckdb_target(
        &output,
        &locator,
        project_root,
        Target {
            warnings: Vec::new(),
            setup: Default::default(),
            profile_name: profile_name.to_string(),
            name: target_name,
            database: String::new(),
            schema: String::new(),
            threads,
            profiles_file: file_path,
            engine: Engine::DuckDb(DuckDbFile::default()),
        },
    )
}

/// The target's name (`target_name`, else the profile's `target:`, else `dev`) and its
/// unrendered output mapping, from `profile` of profiles.yml (`file`: its shown path and text).
///
/// Errors: the profile has no `outputs:`; the target is not among them (with a did-you-mean).
fn chosen_output<'p>(
    profile: &'p Value,
    profile_name: &str,
    target_name: Option<&str>,
    (shown, text): (&str, &str),
) -> Result<(String, &'p Map<String, Value>)> {
    let profile_loc = crate::config::yaml::key_location(shown, text, profile_name);
    let outputs = profile.get("outputs").and_then(Value::as_object).ok_or_else(|| {
        Diagnostic::new(format!("profile `{profile_name}` has no `outputs:`"))
            .at(profile_loc.clone())
            .help("add `outputs:` with at least one target, e.g. `dev: {type: duckdb, path: dev.duckdb}`")
    })?;
    // Where a missing target is named: `target:` of the profile, unless `--target` named it.
    let missing_loc = match target_name {
        None if profile.get("target").is_some() => crate::config::yaml::key_location(shown, text, "target"),
        _ => profile_loc.clone(),
    };
    let target_name = match target_name {
        Some(t) => t.to_string(),
        None => profile
            .get("target")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| "dev".to_string()),
    };
    let Some(output) = outputs.get(&target_name).and_then(Value::as_object) else {
        let names: Vec<&str> = outputs.keys().map(String::as_str).collect();
        let mut d = Diagnostic::new(format!(
            "target `{target_name}` not found in profile `{profile_name}`"
        ))
        .at(missing_loc);
        d = match did_you_mean(&target_name, names.iter().copied()) {
            Some(s) => d.help(format!("did you mean `{s}`?")),
            None => d.help(format!("targets there: {}", list_or_none(&names))),
        };
        return Err(d.into());
    };
    Ok((target_name, output))
}

/// The error for a profile that `profiles.yml` (`doc`, shown as `shown`) does not have: at
/// `profile:` of dbt_project.yml when that names it, with a did-you-mean or the names there.
fn profile_not_found(
    profile_name: &str,
    shown: &str,
    doc: &Map<String, Value>,
    project_root: &Path,
) -> Diagnostic {
    let mut d = Diagnostic::new(format!("profile `{profile_name}` not found in `{shown}`"));
    // Named by `profile:` in dbt_project.yml (unless `--profile` named it).
    if let Ok(project) = std::fs::read_to_string(project_root.join("dbt_project.yml")) {
        let at = crate::config::yaml::key_location("dbt_project.yml", &project, "profile");
        if at
            .source_line
            .as_deref()
            .is_some_and(|l| l.contains(profile_name))
        {
            d = d.at(at);
        }
    }
    let names: Vec<&str> = doc
        .keys()
        .map(String::as_str)
        .filter(|k| *k != "config")
        .collect();
    if let Some(s) = did_you_mean(profile_name, names.iter().copied()) {
        d = d.help(format!(
            "did you mean `{s}`? (`profile:` in dbt_project.yml names it)"
        ));
    } else {
        d = d.help(format!(
            "profiles there: {}; `profile:` in dbt_project.yml must name one",
            list_or_none(&names)
        ));
    }
    d
}

/// A DuckDB target from its rendered `output` (dbt-duckdb's keys): `base` with the engine's
/// settings, the catalog and schema filled in.
///
/// Errors: the keys' own (see [`super::duckdb_profile::read`]); `database` that is neither the
/// catalog of `path` nor an attached database's alias.
fn duckdb_target(
    output: &Map<String, Value>,
    locator: &super::duckdb_profile::Locator,
    project_root: &Path,
    base: Target,
) -> Result<Target> {
    let target_name = &base.name;
    let keys = super::duckdb_profile::read(output, target_name, locator, project_root)?;
    let path = match output.get("path").and_then(Value::as_str) {
        None | Some(":memory:") | Some("") => None,
        Some(p) => Some(project_root.join(p)),
    };
    let path_database = match &path {
        None => "memory".to_string(),
        Some(p) => catalog_name(p),
    };
    // dbt-duckdb: `database` must be the path's catalog, or an attached database's alias (the
    // run then writes there by default).
    let database = match output.get("database").and_then(Value::as_str) {
        None => path_database,
        Some(d) if d == path_database || keys.attach_aliases.iter().any(|a| a == d) => d.to_string(),
        Some(d) => {
            return Err(Diagnostic::new(format!(
                "target `{target_name}`: `database: {d}` is neither the catalog of `path` (`{path_database}`) nor an attached database's alias"
            ))
            .at(locator.at("database"))
            .help(format!("set `database: {path_database}` (or remove it), or attach a database with `alias: {d}`"))
            .into());
        }
    };
    Ok(Target {
        warnings: keys.warnings,
        setup: keys.setup,
        engine: Engine::DuckDb(DuckDbFile {
            path_at: path.as_ref().map(|_| locator.at("path")),
            path,
            publish: output.get("publish").and_then(Value::as_bool).unwrap_or(false),
            attached_files: keys.attached_files,
            external_root: keys.external_root,
        }),
        database,
        schema: output
            .get("schema")
            .and_then(Value::as_str)
            .unwrap_or("main")
            .to_string(),
        ..base
    })
}

/// The catalog name DuckDB gives the database file `path`: the first non-empty dot-separated
/// part of its file name (`my.db.duckdb` and `.my.duckdb` are `my`), as dbt-duckdb derives
/// it; `main` when there is none.
pub fn catalog_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .and_then(|n| n.trim_start_matches('.').split('.').next().map(str::to_string))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "main".to_string())
}

fn list_or_none(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}
