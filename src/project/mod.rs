//! The dbt project on disk: `dbt_project.yml`, `profiles.yml`, property YAML and the files
//! under the model, seed, macro and test paths.
//!
//! This is the first phase: it reads files and checks their shape, but renders no model
//! and knows nothing of the graph. Every path it keeps is relative to the project directory
//! (dbt's `original_file_path`), so messages and artifacts read the same on every machine.

pub mod duckdb_profile;
pub mod profile;
pub mod properties;
pub mod spark_profile;
pub mod starter;
mod vars;
pub mod yaml;

use crate::config::{self, ConfigContext};
use std::path::{Path, PathBuf};
use vars::{project_vars, read_vars_file};

use anyhow::{Context, Result};
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::error::{did_you_mean, Diagnostic, Location};

/// Top-level keys that `dbt_project.yml` may hold (dbt 1.8+); any other key is an error.
const PROJECT_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "source-paths",
    "seed-paths",
    "data-paths",
    "test-paths",
    "analysis-paths",
    "macro-paths",
    "snapshot-paths",
    "docs-paths",
    "asset-paths",
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "require-dbt-version",
    "quoting",
    "query-comment",
    "vars",
    "models",
    "seeds",
    "snapshots",
    "sources",
    "tests",
    "data_tests",
    "unit_tests",
    "metrics",
    "semantic-models",
    "saved-queries",
    "exposures",
    "analyses",
    "on-run-start",
    "on-run-end",
    "dispatch",
    "restrict-access",
    "flags",
    "dbt-cloud",
    "function-paths",
    "functions",
];

/// The profile `dbt_project.yml` in `root` names (`profile:`, else `name:`), read before the
/// project is rendered, since rendering needs the profile's target.
///
/// Errors: a missing or unparsable `dbt_project.yml`.
pub fn profile_name(root: &Path) -> Result<String> {
    let file = "dbt_project.yml";
    let text = std::fs::read_to_string(root.join(file)).map_err(|_| {
        Diagnostic::new(format!("no `dbt_project.yml` in `{}`", root.display()))
            .help("run mallard in a dbt project folder, or point at one with `--project-dir`")
    })?;
    let doc = crate::config::yaml::parse_mapping(file, &text)?;
    Ok(doc
        .get("profile")
        .or_else(|| doc.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string())
}

/// Whether `f` (under a test path) lies in a `fixtures/` folder.
fn is_fixture(f: &ProjectFile) -> bool {
    f.path.starts_with("fixtures/") || f.path.contains("/fixtures/")
}

/// A file of the project, read into memory.
#[derive(Debug, Clone)]
pub struct ProjectFile {
    /// Path relative to the project directory, with `/` separators (`models/marts/ltv.sql`).
    pub original_file_path: String,
    /// Path relative to the resource folder it was found in (`marts/ltv.sql`).
    pub path: String,
    /// The file's text; empty for seeds, which DuckDB reads itself.
    pub contents: String,
}

impl ProjectFile {
    /// File name without its extension (`ltv` for `marts/ltv.sql`).
    pub fn stem(&self) -> &str {
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        name.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(name)
    }

    /// The folders between the resource folder and the file (`["marts"]` for `marts/ltv.sql`).
    pub fn folders(&self) -> Vec<String> {
        let mut parts: Vec<String> = self.path.split('/').map(str::to_string).collect();
        parts.pop();
        parts
    }
}

/// A loaded project: its settings from `dbt_project.yml` and the files it consists of.
#[derive(Debug, Clone)]
pub struct Project {
    /// Absolute project directory.
    pub root: PathBuf,
    pub name: String,
    /// `version:` as written (JSON `Null` when absent): a package's, read by templates through
    /// `builtins.ref.config.dependencies`.
    pub version: Value,
    pub profile_name: String,
    pub target_path: String,
    /// Folders `clean` deletes, relative to the project (`clean-targets`; default the target folder).
    pub clean_targets: Vec<String>,
    /// Project vars, global and scoped to this project, with `--vars` laid over them.
    pub vars: Map<String, Value>,
    /// The `models:`, `seeds:` and `data_tests:` config trees (JSON `Null` when absent).
    pub models_tree: Value,
    pub seeds_tree: Value,
    pub snapshots_tree: Value,
    pub tests_tree: Value,
    pub models: Vec<ProjectFile>,
    /// Python models (`models/**/*.py`): nodes of the graph, as in dbt, which Mallard cannot
    /// run (selecting one to build is an error when it runs).
    pub python_models: Vec<ProjectFile>,
    /// `flags:` of dbt_project.yml, as written (see `manifest`'s warning about those Mallard
    /// does not honour).
    pub flags: Map<String, Value>,
    /// dbt 1.11's user-defined functions (`functions/**/*.sql|py`, `function-paths`), which
    /// Mallard does not build: a parse warning names them (dbt-duckdb 1.11 cannot create them
    /// either), and `function()` in a template is an error at its line.
    pub function_files: Vec<ProjectFile>,
    pub seeds: Vec<ProjectFile>,
    pub macros: Vec<ProjectFile>,
    /// Singular data tests (`tests/**/*.sql`, but not under `fixtures/`).
    pub singular_tests: Vec<ProjectFile>,
    /// Unit test fixture files (`tests/**/fixtures/*.csv` or `.sql`), named by `fixture:`.
    pub unit_test_fixtures: Vec<ProjectFile>,
    /// Files of `{% snapshot %}` blocks (`snapshots/**/*.sql`).
    pub snapshots: Vec<ProjectFile>,
    /// Markdown files that may hold `{% docs %}` blocks.
    pub docs: Vec<ProjectFile>,
    /// Property YAML files under the model, seed and test paths.
    pub property_files: Vec<ProjectFile>,
    /// `on-run-start` and `on-run-end`: SQL templates run before the first node and after the
    /// last, in order.
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    /// `dispatch:`: for a macro namespace, the packages `adapter.dispatch` searches, in order.
    pub dispatch: Vec<(String, Vec<String>)>,
    /// `packages-install-path` (default `dbt_packages`), relative to the project.
    pub packages_install_path: String,
    /// The packages this project uses (see [`Project::load_packages`]); empty for a package.
    pub packages: Vec<Project>,
}

/// `file` (`dbt_project.yml`) of the project in `root`, read and rendered, with the vars of
/// dbt 1.12's `vars.yml` as its `vars:` (read first: its vars are `var()`'s in the project
/// file too). Returns the file's text and its mapping.
///
/// Errors: the files' own; vars in both files (dbt requires one).
fn read_with_vars_file(root: &Path, file: &str, ctx: &ConfigContext) -> Result<(String, Map<String, Value>)> {
    // dbt 1.12's `vars.yml`, read first: its vars are `var()`'s in dbt_project.yml too.
    let vars_file = read_vars_file(root)?;
    let mut file_ctx = ctx.clone();
    if let Some(vars) = &vars_file {
        let mut seen: Map<String, Value> = vars
            .iter()
            .filter(|(_, v)| !v.is_object())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        seen.extend(ctx.vars.clone());
        file_ctx.vars = seen;
    }
    let (text, mut doc) = read_project_file(root, file, &file_ctx)?;
    if let Some(vars) = vars_file {
        if doc
            .get("vars")
            .is_some_and(|v| v.as_object().is_some_and(|m| !m.is_empty()))
        {
            return Err(
                Diagnostic::new("vars are defined in both `vars.yml` and `dbt_project.yml`")
                    .at(crate::config::yaml::key_location(file, &text, "vars"))
                    .help("keep them in one of the two files, as dbt requires")
                    .into(),
            );
        }
        doc.insert("vars".into(), Value::Object(vars));
    }
    Ok((text, doc))
}

impl Project {
    /// Loads the project in `root` (the folder holding `dbt_project.yml`). `cli_vars` are
    /// the `--vars` given on the command line; they win over `vars:` in the project file.
    ///
    /// Errors: a missing or unreadable `dbt_project.yml`, YAML syntax errors (with line and
    /// column), unknown top-level keys (with a did-you-mean), and unreadable project files.
    pub fn load(root: &Path, ctx: &ConfigContext) -> Result<Project> {
        let root = root
            .canonicalize()
            .with_context(|| format!("project directory `{}` does not exist", root.display()))?;
        let file = "dbt_project.yml";
        let (text, doc) = read_with_vars_file(&root, file, ctx)?;
        let name = match doc.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => {
                return Err(Diagnostic::new(format!("`{file}` has no `name`"))
                    .at(Location::in_source(file, &text, 1, None))
                    .help("add `name: my_project` at the top")
                    .into())
            }
        };
        let profile_name = doc
            .get("profile")
            .and_then(Value::as_str)
            .unwrap_or(&name)
            .to_string();
        let target_path = doc
            .get("target-path")
            .and_then(Value::as_str)
            .unwrap_or("target")
            .to_string();
        let hooks = |key: &str| -> Vec<String> {
            doc.get(key)
                .map(config::as_string_list)
                .unwrap_or_default()
                .into_iter()
                .filter(|h| !h.trim().is_empty())
                .collect()
        };
        let (on_run_start, on_run_end) = (hooks("on-run-start"), hooks("on-run-end"));
        let packages_install_path = doc
            .get("packages-install-path")
            .and_then(Value::as_str)
            .unwrap_or("dbt_packages")
            .to_string();
        let files = ProjectFiles::read(&root, &doc)?;
        let clean_targets = doc
            .get("clean-targets")
            .map(config::as_string_list)
            .unwrap_or_else(|| vec![target_path.clone()]);
        let tree = |key: &str| doc.get(key).cloned().unwrap_or(Value::Null);
        Ok(Project {
            vars: project_vars(&doc, &name, ctx),
            dispatch: dispatch_of(&doc),
            version: tree("version"),
            models_tree: tree("models"),
            seeds_tree: tree("seeds"),
            snapshots_tree: tree("snapshots"),
            tests_tree: doc
                .get("data_tests")
                .or_else(|| doc.get("tests"))
                .cloned()
                .unwrap_or(Value::Null),
            root,
            name,
            profile_name,
            target_path,
            clean_targets,
            models: files.models,
            python_models: files.python_models,
            function_files: files.functions,
            flags: doc
                .get("flags")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
            seeds: files.seeds,
            macros: files.macros,
            singular_tests: files.singular_tests,
            unit_test_fixtures: files.unit_test_fixtures,
            snapshots: files.snapshots,
            docs: files.docs,
            property_files: files.property_files,
            on_run_start,
            on_run_end,
            packages_install_path,
            packages: Vec::new(),
        })
    }

    /// Loads the packages the project uses, as dbt finds them after `dbt deps`: each folder
    /// of the packages install path (`dbt_packages/`) that holds a `dbt_project.yml`, whatever
    /// its name and whichever repository it came from, and each `local:` entry of
    /// `packages.yml` (or `dependencies.yml`) whose folder exists, relative to the project
    /// (dbt needs `dbt deps` for those; Mallard reads them where they are). A package found
    /// both ways is loaded once. As dbt, a hub, git or tarball package must already be
    /// installed (by `mallard deps`, see [`crate::deps`]): fewer packages found than
    /// `packages.yml` lists is an error.
    ///
    /// Errors: a `local:` folder or an installed package that is not a dbt project; fewer
    /// packages installed than listed (naming those whose name matches none installed).
    pub fn load_packages(&self, ctx: &ConfigContext) -> Result<Vec<Project>> {
        let mut found: Vec<Project> = Vec::new();
        // Every entry of packages.yml, by what names it (for the error of one not installed).
        let mut listed: Vec<String> = Vec::new();
        for file in ["packages.yml", "dependencies.yml"] {
            let Ok(text) = std::fs::read_to_string(self.root.join(file)) else {
                continue;
            };
            let doc = crate::config::yaml::parse_mapping(file, &text)?;
            for entry in doc
                .get("packages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let names = ["local", "name", "package", "git", "tarball"]
                    .iter()
                    .find_map(|k| entry.get(*k).and_then(Value::as_str));
                listed.push(names.unwrap_or("?").to_string());
                let Some(local) = entry.get("local").and_then(Value::as_str) else {
                    continue;
                };
                let dir = self.root.join(local);
                if !dir.exists() {
                    // Installed under dbt_packages/ by `deps`, or missing: counted below.
                    continue;
                }
                let pkg = Project::load(&dir, ctx).map_err(|e| {
                    Diagnostic::new(format!(
                        "local package `{local}` of `{file}` cannot be loaded: {e}"
                    ))
                    .at(crate::config::yaml::key_location(file, &text, "local"))
                })?;
                if !found.iter().any(|p| p.name == pkg.name) {
                    found.push(pkg);
                }
            }
        }
        let installed = self.root.join(&self.packages_install_path);
        if let Ok(dirs) = std::fs::read_dir(&installed) {
            let mut dirs: Vec<std::path::PathBuf> = dirs.filter_map(|d| d.ok().map(|d| d.path())).collect();
            dirs.sort();
            for dir in dirs.into_iter().filter(|d| d.join("dbt_project.yml").is_file()) {
                let pkg = Project::load(&dir, ctx)?;
                if !found.iter().any(|p| p.name == pkg.name) {
                    found.push(pkg);
                }
            }
        }
        if found.len() < listed.len() {
            // `dbt-labs/dbt_utils` or `https://github.com/org/repo.git` usually installs as
            // the project named like its last part: those matching none are named.
            let missing: Vec<&String> = listed
                .iter()
                .filter(|name| {
                    let last = name.trim_end_matches('/').trim_end_matches(".git");
                    let last = last.rsplit('/').next().unwrap_or(last);
                    let stem = last.trim_start_matches("dbt-").replace('-', "_");
                    !found.iter().any(|p| p.name == last || p.name == stem)
                })
                .collect();
            let what = match missing.as_slice() {
                [one] => format!("package `{one}` of packages.yml is not installed"),
                _ => format!(
                    "packages.yml lists {} packages, but only {} are installed in `{}/`",
                    listed.len(),
                    found.len(),
                    self.packages_install_path
                ),
            };
            return Err(Diagnostic::new(what)
                .help(format!(
                    "run `mallard deps` to install the packages into `{}/`",
                    self.packages_install_path
                ))
                .into());
        }
        Ok(found)
    }

    /// Absolute path of the target folder (`target/` unless `target-path` says otherwise).
    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.target_path)
    }
}

/// `dbt_project.yml` (named `file`) of the project at `root`: its text and its mapping with the
/// config values rendered (see `yaml::render_config_values`).
///
/// Errors: the file is missing; a YAML error; a key dbt does not know (with a did-you-mean).
fn read_project_file(root: &Path, file: &str, ctx: &ConfigContext) -> Result<(String, Map<String, Value>)> {
    let text = std::fs::read_to_string(root.join(file)).map_err(|_| {
        Diagnostic::new(format!("no `dbt_project.yml` in `{}`", root.display()))
            .help("run mallard in a dbt project folder, or point at one with `--project-dir`")
    })?;
    let doc = crate::config::yaml::parse_mapping(file, &text)?;
    for (key, _) in &doc {
        if !PROJECT_KEYS.contains(&key.as_str()) {
            let mut d = Diagnostic::new(format!("unknown key `{key}` in `{file}`"))
                .at(crate::config::yaml::key_location(file, &text, key));
            if let Some(s) = did_you_mean(key, PROJECT_KEYS.iter().copied()) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            return Err(d.into());
        }
    }
    let doc = yaml::render_config_values(file, &text, doc, ctx)?;
    Ok((text, doc))
}

/// `dispatch:` of dbt_project.yml: for each macro namespace, the packages `adapter.dispatch`
/// searches, in order (none when the key is absent).
fn dispatch_of(doc: &Map<String, Value>) -> Vec<(String, Vec<String>)> {
    let Some(entries) = doc.get("dispatch").and_then(Value::as_array) else {
        return Vec::new();
    };
    entries
        .iter()
        .filter_map(|e| {
            let ns = e.get("macro_namespace")?.as_str()?.to_string();
            let order = e
                .get("search_order")
                .map(config::as_string_list)
                .unwrap_or_default();
            Some((ns, order))
        })
        .collect()
}

/// The files of a project, found under the folders dbt_project.yml names.
struct ProjectFiles {
    models: Vec<ProjectFile>,
    python_models: Vec<ProjectFile>,
    functions: Vec<ProjectFile>,
    seeds: Vec<ProjectFile>,
    macros: Vec<ProjectFile>,
    snapshots: Vec<ProjectFile>,
    docs: Vec<ProjectFile>,
    singular_tests: Vec<ProjectFile>,
    unit_test_fixtures: Vec<ProjectFile>,
    property_files: Vec<ProjectFile>,
}

impl ProjectFiles {
    /// Finds the files under the paths of `doc` (dbt's defaults where a key is absent) in the
    /// project at `root`: models, seeds, macros (with `tests/generic/`), snapshots, `{% docs %}`
    /// Markdown, singular tests, unit test fixtures and property YAML.
    ///
    /// Errors: a folder that cannot be read.
    fn read(root: &Path, doc: &Map<String, Value>) -> Result<ProjectFiles> {
        let paths = |keys: &[&str], default: &str| -> Vec<String> {
            keys.iter()
                .find_map(|k| doc.get(*k))
                .map(config::as_string_list)
                .unwrap_or_else(|| vec![default.to_string()])
        };
        let model_paths = paths(&["model-paths", "source-paths"], "models");
        let seed_paths = paths(&["seed-paths", "data-paths"], "seeds");
        let macro_paths = paths(&["macro-paths"], "macros");
        let test_paths = paths(&["test-paths"], "tests");
        let snapshot_paths = paths(&["snapshot-paths"], "snapshots");
        let read = |dirs: &[String], exts: &[&str], with_contents: bool| -> Result<Vec<ProjectFile>> {
            let mut out = Vec::new();
            for dir in dirs {
                out.extend(find_files(root, dir, exts, with_contents)?);
            }
            Ok(out)
        };
        // Each folder once, in the order given.
        let distinct = |lists: &[&Vec<String>]| -> Vec<String> {
            let mut all: Vec<String> = Vec::new();
            for p in lists.iter().flat_map(|l| l.iter()) {
                if !all.contains(p) {
                    all.push(p.clone());
                }
            }
            all
        };
        // `{% docs %}` blocks live in Markdown files under the docs paths (by default, every
        // resource folder).
        let docs_paths = match doc.get("docs-paths") {
            Some(v) => config::as_string_list(v),
            None => distinct(&[&model_paths, &seed_paths, &snapshot_paths, &test_paths]),
        };
        // `tests/generic/` holds generic test definitions (`{% test %}` blocks), read as macros.
        let (generic, singular_tests): (Vec<ProjectFile>, Vec<ProjectFile>) =
            read(&test_paths, &["sql"], true)?
                .into_iter()
                .filter(|f| !is_fixture(f))
                .partition(|f| f.path.starts_with("generic/"));
        let mut macros = read(&macro_paths, &["sql"], true)?;
        macros.extend(generic);
        let property_dirs = distinct(&[&model_paths, &seed_paths, &test_paths, &snapshot_paths]);
        Ok(ProjectFiles {
            models: read(&model_paths, &["sql"], true)?,
            python_models: read(&model_paths, &["py"], true)?,
            functions: read(&paths(&["function-paths"], "functions"), &["sql", "py"], false)?,
            seeds: read(&seed_paths, &["csv"], false)?,
            macros,
            snapshots: read(&snapshot_paths, &["sql"], true)?,
            docs: read(&docs_paths, &["md"], true)?,
            singular_tests,
            // `fixtures/` folders under the test paths hold unit test fixtures (`fixture:`),
            // as in dbt.
            unit_test_fixtures: read(&test_paths, &["sql", "csv"], true)?
                .into_iter()
                .filter(is_fixture)
                .collect(),
            property_files: read(&property_dirs, &["yml", "yaml"], true)?,
        })
    }
}

/// The files under `root/dir` (recursively) whose extension is one of `exts`, sorted by
/// path so that every run sees them in the same order. A missing folder has no files.
fn find_files(root: &Path, dir: &str, exts: &[&str], with_contents: bool) -> Result<Vec<ProjectFile>> {
    let base = root.join(dir);
    if !base.is_dir() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(&base).sort_by_file_name() {
        let entry = entry.with_context(|| format!("cannot read folder `{dir}`"))?;
        let p = entry.path();
        let ext_ok = p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| exts.contains(&e));
        if entry.file_type().is_file() && ext_ok {
            found.push(p.to_path_buf());
        }
    }
    // Reading thousands of small files is mostly waiting on the system: read them in parallel.
    let out = found
        .par_iter()
        .map(|p| {
            let rel = crate::error::display_path(p, &base);
            let original = format!("{}/{}", dir.trim_end_matches('/'), rel);
            let contents = if with_contents {
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read `{original}` as UTF-8 text"))?
            } else {
                String::new()
            };
            Ok(ProjectFile {
                original_file_path: original,
                path: rel,
                contents,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(out)
}
