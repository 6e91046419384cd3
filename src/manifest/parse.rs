//! The parse phase: render every node once with `execute = false` to record its `ref`,
//! `source` and `config` calls, lay its config layers, name its relation, turn property YAML
//! tests into test nodes, and resolve every dependency to a `unique_id`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Result;
use minijinja::Environment;
use rayon::prelude::*;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{test_names, Located, Manifest, Node, ResourceType, TestMetadata};
use crate::config::{project_level_config, NodeConfig};
use crate::error::{did_you_mean, Diagnostic, Location};
use crate::project::profile::Target;
use crate::project::properties::{NodeProps, Properties};
use crate::project::{Project, ProjectFile};
use crate::relation::Relation;
use crate::templating::{self, find_call_line, NodeContext, Recorded, RefCall, RenderInput};

use crate::config::materialized::BUILT_IN;

/// Builds the manifest of `project` for `target`, rendering with `env`.
///
/// Errors (the first one found): property YAML errors; Jinja errors in a model or test;
/// two models or seeds with one name; an unknown ref or source (with the closest name);
/// an unsupported materialization.
pub fn parse(project: &Project, target: &Target, env: &Environment<'static>) -> Result<Manifest> {
    let mut p = Parser {
        project,
        root: project,
        target,
        env,
        vars: Arc::new(project.vars.clone()),
        manifest: Manifest {
            project_name: project.name.clone(),
            adapter_type: target.adapter_type().to_string(),
            ..Manifest::default()
        },
        names: BTreeMap::new(),
        tests: Vec::new(),
        semantic_pending: Vec::new(),
        orphan_props: BTreeMap::new(),
        macro_packages: {
            let mut m = BTreeMap::new();
            for pkg in [project].into_iter().chain(&project.packages) {
                for f in &pkg.macros {
                    for block in macro_blocks(&f.contents).into_iter().filter(|b| !b.is_test) {
                        m.entry(block.name).or_insert_with(|| pkg.name.clone());
                    }
                }
            }
            m
        },
        generate_overrides: project
            .packages
            .iter()
            .chain([project])
            .flat_map(|pkg| {
                pkg.macros
                    .iter()
                    .flat_map(|f| macro_blocks(&f.contents))
                    .filter(|b| !b.is_test)
                    .map(|b| b.name)
                    .filter(|m| m.contains("generate_") && m.ends_with("_name"))
                    .map(|m| (pkg.name.clone(), m))
            })
            .collect(),
    };
    // Packages first, then the root project; refs are resolved once all are in.
    for package in project.packages.iter().chain([project]) {
        p.project = package;
        p.manifest
            .package_roots
            .insert(package.name.clone(), package.root.clone());
        p.package()?;
    }
    p.project = project;
    // Sorted as boxes (moving pointers, not nodes), then both sorted runs are built into the
    // map in one pass; a test whose unique_id a node already has replaces it, as an insert did.
    let mut tests = std::mem::take(&mut p.tests);
    tests.sort_by(|a, b| a.unique_id.cmp(&b.unique_id));
    let nodes = std::mem::take(&mut p.manifest.nodes);
    p.manifest.nodes = nodes
        .into_iter()
        .chain(tests.into_iter().map(|t| (t.unique_id.clone(), *t)))
        .collect();
    for ((what, name), np) in std::mem::take(&mut p.orphan_props) {
        p.manifest.warnings.push(format!(
            "`{}` has properties for {what} `{name}`, but no such {what} exists (or it is disabled)",
            np.file
        ));
    }
    warn_of_grants(&mut p.manifest);
    p.resolve()?;
    p.resolve_semantic()?;
    // Once every node is in (exposures come from resolve_semantic) with its final config.
    type_materializations(&mut p.manifest)?;
    refuse_shared_relations(&p.manifest)?;
    infer_primary_keys(&mut p.manifest);
    p.render_descriptions()?;
    p.manifest.macros = project
        .packages
        .iter()
        .chain([project])
        .flat_map(|pkg| pkg.macros.iter().map(move |f| (pkg, f)))
        .flat_map(|(pkg, f)| {
            macro_blocks(&f.contents).into_iter().map(|b| super::MacroEntry {
                macro_sql: f.contents[b.range].to_string(),
                name: b.name,
                package_name: pkg.name.clone(),
                original_file_path: f.original_file_path.clone(),
                arguments: b.arguments,
            })
        })
        .collect();
    Ok(p.manifest)
}

/// Refuses two models, seeds or snapshots that build the same relation (by `alias` or
/// `schema`), as dbt refuses nodes with the same database representation: the second would
/// overwrite the first. Ephemeral models build no relation. Names compare as DuckDB compares
/// identifiers, without case.
///
/// Errors: both files named, at the second's file.
fn refuse_shared_relations(manifest: &Manifest) -> Result<()> {
    let mut seen: BTreeMap<(String, String, String), &Node> = BTreeMap::new();
    for node in manifest.nodes.values() {
        if node.materialization.is_ephemeral() {
            continue;
        }
        let Some(relation) = &node.relation else { continue };
        let key = (
            relation.database.to_lowercase(),
            relation.schema.to_lowercase(),
            relation.identifier.to_lowercase(),
        );
        if let Some(first) = seen.insert(key, node) {
            return Err(Diagnostic::new(format!(
                "`{}` and `{}` both build the relation {relation}: the second would overwrite the first",
                first.unique_id, node.unique_id
            ))
            .at(Location::in_source(&node.original_file_path, "", 1, None))
            .help(format!(
                "give one of them another `alias` or `schema` (the other is defined in `{}`)",
                first.original_file_path
            ))
            .into());
        }
    }
    Ok(())
}

/// Types every node's materialization from its final config.
fn type_materializations(manifest: &mut Manifest) -> Result<()> {
    for node in manifest.nodes.values_mut() {
        node.type_materialization()?;
    }
    Ok(())
}

fn index_props<'a>(all: &'a [NodeProps], what: &str) -> Result<BTreeMap<&'a str, &'a NodeProps>> {
    let mut out: BTreeMap<&str, &NodeProps> = BTreeMap::new();
    for np in all {
        if let Some(prev) = out.insert(np.name.as_str(), np) {
            return Err(Diagnostic::new(format!(
                "{what} `{}` has properties in two places: `{}` and `{}`",
                np.name, prev.file, np.file
            ))
            .at(np.location.clone())
            .help("keep one entry per model or seed")
            .into());
        }
    }
    Ok(out)
}

mod columns;
mod data_tests;
mod docs;
mod models;
mod naming;
mod python;
mod resolve;
mod semantic;
mod snapshots;
mod sources;
mod unapplied;
mod unit_tests;
mod versions;

use crate::templating::macro_blocks;
use columns::infer_primary_keys;
use snapshots::find_tag;
use unapplied::warn_of_grants;
use versions::{model_versions, ModelId};

struct Parser<'a> {
    /// The package being parsed (the root project or one of its packages).
    project: &'a Project,
    /// The root project, whose `dbt_project.yml` configs are laid over every package's.
    root: &'a Project,
    target: &'a Target,
    env: &'a Environment<'static>,
    vars: Arc<Map<String, Value>>,
    manifest: Manifest,
    /// Model, seed and snapshot names (with their package) to their `unique_id` and defining
    /// file, for refs and duplicates.
    names: BTreeMap<(String, String), (String, String)>,
    /// Generic test nodes, put into `manifest.nodes` in one go before refs are resolved:
    /// inserting 20,000 of these large values one by one into the B-tree moved them around
    /// for 4% of a repeated `compile`'s time. Boxed, so that sorting them moves pointers.
    #[allow(clippy::vec_box)]
    tests: Vec<Box<Node>>,
    /// `(package, macro)` for each `generate_*_name` macro a package or the root project
    /// defines, overriding dbt's.
    generate_overrides: BTreeSet<(String, String)>,
    /// Exposures, metrics and semantic models of every package, resolved after the nodes.
    semantic_pending: Vec<semantic::Pending>,
    /// The package defining each macro name (the root project's first, then the packages').
    macro_packages: BTreeMap<String, String>,
    /// Property entries (`("model" | "seed", name)`) of a package that has no enabled node of
    /// that name: as dbt's `parse_patch` falls back to a node of that name in any package, a
    /// later package's (the root project's) node adopts them.
    orphan_props: BTreeMap<(String, String), NodeProps>,
}

impl Parser<'_> {
    /// Adds every node of the current package (`self.project`).
    fn package(&mut self) -> Result<()> {
        let project = self.project;
        let props = Properties::load(&project.property_files)?;
        let orphans = std::mem::take(&mut self.orphan_props);
        let orphan = |what: &str, name: &str| orphans.get(&(what.to_string(), name.to_string()));
        self.manifest.warnings.extend(props.warnings.iter().cloned());
        let model_props = index_props(&props.models, "model")?;
        let seed_props = index_props(&props.seeds, "seed")?;
        let versions = model_versions(&props.models);
        // Each model file's name, version and properties (a version's laid over its model's).
        let identity = |f: &ProjectFile| -> (ModelId, Option<&NodeProps>) {
            match versions.get(f.stem()) {
                Some((np, v, latest)) => (
                    ModelId {
                        name: np.name.clone(),
                        version: Some(v.clone()),
                        latest_version: Some(latest.clone()),
                    },
                    Some(np),
                ),
                None => (
                    ModelId {
                        name: f.stem().to_string(),
                        version: None,
                        latest_version: None,
                    },
                    model_props
                        .get(f.stem())
                        .copied()
                        .filter(|np| np.versions.is_empty())
                        .or_else(|| orphan("model", f.stem())),
                ),
            }
        };
        for f in &project.seeds {
            self.seed(
                f,
                seed_props
                    .get(f.stem())
                    .copied()
                    .or_else(|| orphan("seed", f.stem())),
            )?;
        }
        // Rendering is most of the parse phase and each model's is independent: render them in
        // parallel, then record them one by one, in file order, so errors and names stay stable.
        let rendered: Vec<Result<(NodeConfig, Recorded), Diagnostic>> = {
            let p = &*self;
            project
                .models
                .par_iter()
                .map(|f| {
                    let (id, props) = identity(f);
                    p.render_model(f, &id, props)
                })
                .collect()
        };
        for (f, rendered) in project.models.iter().zip(rendered) {
            let (config, recorded) = rendered?;
            let (id, props) = identity(f);
            self.model(f, &id, props, config, recorded)?;
        }
        for f in &project.python_models {
            let (id, props) = identity(f);
            self.python_model(f, &id, props)?;
        }
        self.warn_of_unapplied(project);
        self.snapshots(&project.snapshots, &props.snapshots)?;
        self.sources(&props)?;
        self.semantic(&props.semantic)?;
        for f in &project.singular_tests {
            self.singular_test(f)?;
        }
        self.generic_tests_of_package(&props, orphans, &versions)?;
        // As in dbt, only the root project's unit tests run.
        if std::ptr::eq(project, self.root) {
            for def in &props.unit_tests {
                self.unit_test(def)?;
            }
        }
        for f in &project.docs {
            self.doc_blocks(f)?;
        }
        self.source_tests(&props)
    }

    /// The generic data tests of the package's property files (`props`): of models and seeds,
    /// of another package's properties (`orphans`) this package's nodes adopted (the others
    /// wait for a later package), and of each version of a versioned model (named after
    /// `<model>_v<version>`).
    fn generic_tests_of_package(
        &mut self,
        props: &Properties,
        orphans: BTreeMap<(String, String), NodeProps>,
        versions: &BTreeMap<String, (NodeProps, String, String)>,
    ) -> Result<()> {
        for (what, all) in [("model", &props.models), ("seed", &props.seeds)] {
            for np in all.iter().filter(|np| np.versions.is_empty()) {
                self.generic_tests_of(np, what, &np.name, &np.name)?;
            }
        }
        for ((what, name), np) in orphans {
            let own = (self.project.name.clone(), name.clone());
            let adopted = self.names.contains_key(&own)
                && !props.models.iter().chain(&props.seeds).any(|p| p.name == name);
            if adopted {
                self.generic_tests_of(&np, &what, &name, &name)?;
            } else {
                self.orphan_props.insert((what, name), np);
            }
        }
        for (np, v, _) in versions.values() {
            self.generic_tests_of(
                np,
                "model",
                &format!("{}.v{v}", np.name),
                &format!("{}_v{v}", np.name),
            )?;
        }
        Ok(())
    }

    /// The config that `dbt_project.yml` gives a node with `fqn`: the package's own tree, with
    /// the root project's laid over it (which reaches package nodes under the package's name).
    fn tree_config(&self, tree: fn(&Project) -> &Value, fqn: &[String]) -> Map<String, Value> {
        let mut config = NodeConfig(project_level_config(tree(self.project), fqn));
        if !std::ptr::eq(self.project, self.root) {
            config.merge(&project_level_config(tree(self.root), fqn));
        }
        config.0
    }

    /// A node's config before its properties and its own `config()` calls: dbt's `defaults`
    /// for its kind (a JSON object), then what `dbt_project.yml` gives it (see
    /// [`Parser::tree_config`]).
    fn base_config(&self, defaults: Value, tree: fn(&Project) -> &Value, fqn: &[String]) -> NodeConfig {
        let mut config = NodeConfig::default();
        config.merge(defaults.as_object().expect("defaults are an object"));
        config.merge(&self.tree_config(tree, fqn));
        config
    }

    /// What the parse-phase render of file `f` as node `name` (`unique_id`, a
    /// `resource_type`) reads: its text, `this` and the `model` context.
    fn parse_input<'f>(
        &self,
        f: &'f ProjectFile,
        name: &str,
        unique_id: &str,
        resource_type: &str,
        this: Option<Relation>,
    ) -> RenderInput<'f> {
        RenderInput {
            file: &f.original_file_path,
            source: &f.contents,
            this,
            model: crate::manifest::parse_model_context(
                name,
                unique_id,
                resource_type,
                &f.original_file_path,
                &self.project.name,
            ),
            extra: None,
        }
    }

    /// Puts `node` into the manifest under its `unique_id`.
    fn add(&mut self, node: Node) {
        self.manifest.nodes.insert(node.unique_id.clone(), node);
    }

    /// A node defined by file `f` of the package being parsed: its paths, its code and the
    /// code's checksum set; the rest as [`Node::new`] leaves it.
    fn file_node(
        &self,
        f: &ProjectFile,
        resource_type: ResourceType,
        unique_id: String,
        name: String,
    ) -> Node {
        Node {
            path: f.path.clone(),
            original_file_path: f.original_file_path.clone(),
            // dbt keeps a file's text without its trailing whitespace (it strips the
            // leading too; Mallard keeps that, so that lines in messages stay the file's).
            raw_code: f.contents.trim_end().to_string(),
            checksum: file_text_checksum(&f.contents),
            ..Node::new(resource_type, unique_id, name, self.project.name.clone())
        }
    }

    fn parse_context(&self) -> NodeContext {
        NodeContext::parse_phase(self.vars.clone(), &self.target.schema, &self.target.database)
    }

    fn fqn(&self, f: &ProjectFile, name: &str) -> Vec<String> {
        let mut fqn = vec![self.project.name.clone()];
        fqn.extend(f.folders());
        fqn.push(name.to_string());
        fqn
    }

    /// The `unique_id` a `ref` from a node of package `from` names: `ref('pkg', 'name')` looks
    /// in `pkg`; `ref('name')` in `from` first, then in the root project, then in any package.
    fn find_named(
        names: &BTreeMap<(String, String), (String, String)>,
        root: &str,
        from: &str,
        package: Option<&str>,
        name: &str,
    ) -> Option<String> {
        let get = |pkg: &str| {
            names
                .get(&(pkg.to_string(), name.to_string()))
                .map(|(id, _)| id.clone())
        };
        match package {
            Some(pkg) => get(pkg),
            None => get(from).or_else(|| get(root)).or_else(|| {
                names
                    .iter()
                    .find(|((_, n), _)| n == name)
                    .map(|(_, (id, _))| id.clone())
            }),
        }
    }

    fn claim_name(&mut self, name: &str, unique_id: &str, f: &ProjectFile) -> Result<()> {
        let key = (self.project.name.clone(), name.to_string());
        if let Some((_, prev_file)) = self.names.get(&key) {
            return Err(Diagnostic::new(format!(
                "two resources are named `{name}`: `{prev_file}` and `{}`",
                f.original_file_path
            ))
            .at(Location::in_source(&f.original_file_path, &f.contents, 1, None))
            .help("model and seed names must be unique across the project: rename one file")
            .into());
        }
        self.names
            .insert(key, (unique_id.to_string(), f.original_file_path.clone()));
        Ok(())
    }
}

/// A node's `ref` calls and `source` calls, each with the place it is written.
type LocatedCalls = (Vec<Located<RefCall>>, Vec<Located<(String, String)>>);

/// The recorded `ref` and `source` calls of file `f`, each with the line where it is written.
fn located_calls(f: &ProjectFile, recorded: &Recorded) -> LocatedCalls {
    let locate = |func: &str, arg: &str| {
        let (line, col) = find_call_line(&f.contents, func, arg).unwrap_or((1, 1));
        Location::in_source(&f.original_file_path, &f.contents, line, Some(col))
    };
    let refs = recorded
        .refs
        .iter()
        .map(|r| Located {
            location: locate("ref", &r.name),
            value: r.clone(),
        })
        .collect();
    let sources = recorded
        .sources
        .iter()
        .map(|s| Located {
            location: locate("source", &s.0),
            value: s.clone(),
        })
        .collect();
    (refs, sources)
}

/// dbt's config defaults of a data test.
fn test_defaults() -> Value {
    json!({"materialized": "test", "severity": "ERROR", "schema": "dbt_test__audit"})
}

/// The folders of a project file below its resource folder: `models/marts/x.yml` -> `["marts"]`.
fn folders_of(original_file_path: &str) -> Vec<String> {
    let parts: Vec<&str> = original_file_path.split('/').collect();
    if parts.len() <= 2 {
        return Vec::new();
    }
    parts[1..parts.len() - 1].iter().map(|s| s.to_string()).collect()
}

/// SHA-256 of `bytes` as 64 hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// dbt's checksum of a file's text: the SHA-256 of the text without its leading and trailing
/// white space (as Python's `str.strip()` removes it; dbt reads files with `strip=True`), hex.
/// So a manifest of Mallard's and one of dbt's agree on which files changed.
pub fn file_text_checksum(text: &str) -> String {
    let python_space = |c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c);
    sha256_hex(text.trim_matches(python_space).as_bytes())
}

/// A seed file's checksum: [`file_text_checksum`] of its text up to 1 MiB; above that, of its size and
/// modification time, so that every command (even `ls`) does not read every large seed.
/// (dbt falls back to the path alone above 1 MiB, which never notices an edit.) Empty when
/// the file cannot be read: the seed load reports that.
fn file_checksum(path: &std::path::Path) -> String {
    const HASHED_UP_TO: u64 = 1 << 20;
    let Ok(meta) = std::fs::metadata(path) else {
        return String::new();
    };
    if meta.len() <= HASHED_UP_TO {
        return std::fs::read(path)
            .map(|b| match String::from_utf8(b) {
                Ok(text) => file_text_checksum(&text),
                Err(e) => sha256_hex(e.as_bytes()),
            })
            .unwrap_or_default();
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    sha256_hex(format!("size {} modified {modified}", meta.len()).as_bytes())
}
