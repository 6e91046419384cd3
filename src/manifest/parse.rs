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
                    for name in macro_names(&f.contents) {
                        m.entry(name).or_insert_with(|| pkg.name.clone());
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
                    .flat_map(|f| macro_names(&f.contents))
                    .filter(|m| m.starts_with("generate_") && m.ends_with("_name"))
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
    type_materializations(&mut p.manifest)?;
    p.resolve()?;
    p.resolve_semantic()?;
    type_materializations(&mut p.manifest)?;
    infer_primary_keys(&mut p.manifest);
    p.render_descriptions()?;
    p.manifest.macros = project
        .packages
        .iter()
        .chain([project])
        .flat_map(|pkg| pkg.macros.iter().map(move |f| (pkg, f)))
        .flat_map(|(pkg, f)| {
            macro_blocks(&f.contents)
                .into_iter()
                .map(|(name, sql, arguments)| super::MacroEntry {
                    name,
                    package_name: pkg.name.clone(),
                    original_file_path: f.original_file_path.clone(),
                    macro_sql: sql,
                    arguments,
                })
        })
        .collect();
    Ok(p.manifest)
}

/// Types every node's materialization from its final config (nodes added since the last call
/// too; the others get the same answer again).
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
mod macro_blocks;
mod semantic;
mod snapshots;
mod sources;
mod unit_tests;
mod versions;

use columns::infer_primary_keys;
use macro_blocks::{macro_blocks, macro_names};
use snapshots::{find_tag, snapshot_blocks};
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
        for f in &project.snapshots {
            for block in snapshot_blocks(f)? {
                self.snapshot(&block)?;
            }
        }
        self.sources(&props)?;
        self.semantic(&props.semantic)?;
        for f in &project.singular_tests {
            self.singular_test(f)?;
        }
        for (what, all) in [("model", &props.models), ("seed", &props.seeds)] {
            for np in all.iter().filter(|np| np.versions.is_empty()) {
                self.generic_tests_of(np, what, &np.name, &np.name)?;
            }
        }
        // Another package's properties this package's nodes adopted bring their tests; the
        // others wait for a later package.
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
        // A versioned model's tests run on each version (named after `<model>_v<version>`).
        for (np, v, _) in versions.values() {
            self.generic_tests_of(
                np,
                "model",
                &format!("{}.v{v}", np.name),
                &format!("{}_v{v}", np.name),
            )?;
        }
        // As in dbt, only the root project's unit tests run.
        if std::ptr::eq(project, self.root) {
            for def in &props.unit_tests {
                self.unit_test(def)?;
            }
        }
        for f in &project.docs {
            let mut from = 0;
            while let Some((start, end, args)) = find_tag(&f.contents, from, "docs") {
                let Some((close, close_end, _)) = find_tag(&f.contents, end, "enddocs") else {
                    let line = f.contents[..start].matches('\n').count() + 1;
                    return Err(Diagnostic::new(format!(
                        "`{{% docs {} %}}` has no `{{% enddocs %}}`",
                        args.trim()
                    ))
                    .at(Location::in_source(
                        &f.original_file_path,
                        &f.contents,
                        line,
                        None,
                    ))
                    .into());
                };
                let id = format!("doc.{}.{}", project.name, args.trim());
                let text = f.contents[end..close].trim().to_string();
                self.manifest
                    .docs
                    .insert(id, (f.original_file_path.clone(), text));
                from = close_end;
            }
        }
        self.source_tests(&props)
    }

    /// Renders the descriptions that use `{{ doc('name') }}` (or `doc('package', 'name')`) with
    /// the text of that `{% docs %}` block, as dbt does at parse time.
    ///
    /// Errors: a description naming a doc block that does not exist, or with a Jinja error.
    fn render_descriptions(&mut self) -> Result<()> {
        let mut env = Environment::new();
        let docs = Arc::new(self.manifest.docs.clone());
        let root = self.root.name.clone();
        env.add_function(
            "doc",
            move |a: String, b: Option<String>| -> Result<String, minijinja::Error> {
                let (package, name) = match b {
                    Some(name) => (Some(a), name),
                    None => (None, a),
                };
                let found = docs.iter().find(|(id, _)| {
                    let mut parts = id.splitn(3, '.').skip(1);
                    let (pkg, n) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                    n == name && package.as_deref().is_none_or(|p| p == pkg)
                });
                let preferred = docs
                    .get(&format!("doc.{root}.{name}"))
                    .filter(|_| package.is_none());
                match preferred.or(found.map(|(_, v)| v)) {
                    Some((_, text)) => Ok(text.clone()),
                    None => Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!(
                            "no `{{% docs {name} %}}` block: write one in a .md file under the models folder"
                        ),
                    )),
                }
            },
        );
        // `what` names the description in an error; it is only built for one that fails.
        let render = |text: &mut String, what: &dyn Fn() -> String| -> Result<(), Diagnostic> {
            if text.contains("{{") || text.contains("{%") {
                *text = env.render_str(text, ()).map_err(|e| {
                    Diagnostic::new(format!(
                        "cannot render the description of {}: {}",
                        what(),
                        e.detail().unwrap_or(&e.to_string())
                    ))
                })?;
            }
            Ok(())
        };
        for node in self.manifest.nodes.values_mut() {
            let file = node.patch_path.as_deref().unwrap_or(&node.original_file_path);
            let what = || format!("`{}` ({file})", node.name);
            render(&mut node.description, &what)?;
            for c in &mut node.columns {
                render(&mut c.description, &|| {
                    format!("column `{}` of {}", c.name, what())
                })?;
            }
        }
        for source in self.manifest.sources.values_mut() {
            let what = || {
                format!(
                    "source `{}.{}` ({})",
                    source.source_name, source.name, source.original_file_path
                )
            };
            render(&mut source.description, &what)?;
            for c in &mut source.columns {
                render(&mut c.description, &|| {
                    format!("column `{}` of {}", c.name, what())
                })?;
            }
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
            checksum: sha256_hex(f.contents.as_bytes()),
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

    /// The relation of a node of the package being parsed, named as dbt names it: by the
    /// `generate_database_name`, `generate_schema_name` and `generate_alias_name` macros of the
    /// root project, else of the node's own package, called with dbt's arguments (the custom
    /// name from config, or none, and `node`, built by `node` only when a macro is called);
    /// else by dbt's default rules: the target's database and schema, `<target
    /// schema>_<custom schema>`, the alias or the node's name.
    ///
    /// Errors: a Jinja error in an overriding macro, at its file and line.
    fn relation(
        &self,
        config: &NodeConfig,
        name: &str,
        node: impl Fn() -> Value,
    ) -> Result<Relation, Diagnostic> {
        let custom = |key: &str| config.0.get(key).filter(|v| !v.is_null()).cloned();
        let database = match self.generate_macro("generate_database_name") {
            Some(call) => self.call_generate(&call, custom("database"), &node)?,
            None => config
                .get_str("database")
                .unwrap_or(&self.target.database)
                .to_string(),
        };
        let schema = match self.generate_macro("generate_schema_name") {
            Some(call) => self.call_generate(&call, custom("schema"), &node)?,
            None => match config.get_str("schema").map(str::trim) {
                Some(custom) if !custom.is_empty() => format!("{}_{}", self.target.schema, custom),
                _ => self.target.schema.clone(),
            },
        };
        let alias = match self.generate_macro("generate_alias_name") {
            Some(call) => self.call_generate(&call, custom("alias"), &node)?,
            None => config.get_str("alias").map(str::trim).unwrap_or(name).to_string(),
        };
        Ok(Relation::new(&database, &schema, &alias))
    }

    /// How to call the project's override of dbt macro `macro_name` for a node of the
    /// package being parsed: the root project's (a global), else the package's own
    /// (`package.macro_name`); `None` when neither defines one.
    fn generate_macro(&self, macro_name: &str) -> Option<String> {
        let defines = |pkg: &str| {
            self.generate_overrides
                .contains(&(pkg.to_string(), macro_name.to_string()))
        };
        if defines(&self.root.name) {
            Some(macro_name.to_string())
        } else if defines(&self.project.name) {
            Some(format!("{}.{macro_name}", self.project.name))
        } else {
            None
        }
    }

    /// Renders `{{ call(custom, node) }}` and returns the trimmed result.
    fn call_generate(
        &self,
        call: &str,
        custom: Option<Value>,
        node: &dyn Fn() -> Value,
    ) -> Result<String, Diagnostic> {
        let source = format!("{{{{ {call}(__custom, node) }}}}");
        let file = format!(
            "<{call} for {}>",
            node()["unique_id"].as_str().unwrap_or_default()
        );
        let input = RenderInput {
            file: &file,
            source: &source,
            this: None,
            model: node(),
            extra: Some(minijinja::context! {
                __custom => minijinja::Value::from_serialize(custom.unwrap_or(Value::Null)),
                node => minijinja::Value::from_serialize(node()),
            }),
        };
        let (out, _) = templating::render(self.env, &input, self.parse_context())?;
        Ok(out.trim().to_string())
    }

    /// The `node` a `generate_*_name` macro sees: dbt's fields of the node being parsed.
    fn node_for_macros(
        &self,
        resource_type: &str,
        name: &str,
        fqn: &[String],
        f: Option<&ProjectFile>,
        config: &NodeConfig,
    ) -> Value {
        json!({
            "name": name,
            "unique_id": format!("{resource_type}.{}.{name}", self.project.name),
            "resource_type": resource_type,
            "package_name": self.project.name,
            "fqn": fqn,
            "path": f.map(|f| f.path.as_str()),
            "original_file_path": f.map(|f| f.original_file_path.as_str()),
            "config": config.0,
            "tags": config.tags(),
        })
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

    fn seed(&mut self, f: &ProjectFile, props: Option<&NodeProps>) -> Result<()> {
        let name = f.stem().to_string();
        let unique_id = format!("seed.{}.{}", self.project.name, name);
        let fqn = self.fqn(f, &name);
        let mut config = NodeConfig::default();
        config.merge(
            json!({"materialized": "seed", "on_schema_change": "ignore"})
                .as_object()
                .expect("object"),
        );
        config.merge(&self.tree_config(|p| &p.seeds_tree, &fqn));
        if let Some(np) = props {
            config.merge(&self.rendered_config(&np.config, &np.file)?);
        }
        if !config.enabled() {
            return Ok(());
        }
        self.claim_name(&name, &unique_id, f)?;
        let checksum = file_checksum(&self.project.root.join(&f.original_file_path));
        let relation = self.relation(&config, &name, || {
            self.node_for_macros("seed", &name, &fqn, Some(f), &config)
        })?;
        self.add(Node {
            path: f.path.clone(),
            original_file_path: f.original_file_path.clone(),
            patch_path: props.map(|p| p.file.clone()),
            fqn,
            config,
            description: props.map(|p| p.description.clone()).unwrap_or_default(),
            columns: props
                .map(|p| self.columns(&p.columns))
                .transpose()?
                .unwrap_or_default(),
            relation: Some(relation),
            checksum,
            ..Node::new(ResourceType::Seed, unique_id, name, self.project.name.clone())
        });
        Ok(())
    }

    /// The parse-phase render of model file `f`: its config with the file's own `config()`
    /// calls applied, and what the render recorded. Reads `self` only, so models render in
    /// parallel.
    fn render_model(
        &self,
        f: &ProjectFile,
        id: &ModelId,
        props: Option<&NodeProps>,
    ) -> Result<(NodeConfig, Recorded), Diagnostic> {
        let name = id.name.as_str();
        let fqn = id.fqn(self.fqn(f, name));
        let mut config = NodeConfig::default();
        config.merge(
            json!({"materialized": "view", "on_schema_change": "ignore"})
                .as_object()
                .expect("object"),
        );
        config.merge(&self.tree_config(|p| &p.models_tree, &fqn));
        if let Some(np) = props {
            config.merge(&self.rendered_config(&np.config, &np.file)?);
        }
        let placeholder = self.relation(&config, &id.default_alias(), || {
            id.with_version(self.node_for_macros("model", name, &fqn, Some(f), &config))
        })?;
        let unique_id = id.unique_id(&self.project.name);
        let input = RenderInput {
            file: &f.original_file_path,
            source: &f.contents,
            this: Some(placeholder),
            model: super::parse_model_context(
                name,
                &unique_id,
                "model",
                &f.original_file_path,
                &self.project.name,
            ),
            extra: None,
        };
        let (_, mut recorded) = templating::render(self.env, &input, self.parse_context())?;
        for layer in &recorded.configs {
            config.merge(layer);
        }
        // dbt renders the hooks at parse time too: the macros they call are the model's
        // dependencies, after the body's. A hook that fails here fails when it runs.
        for hook in config
            .hooks("pre_hook")
            .into_iter()
            .chain(config.hooks("post_hook"))
        {
            let input = RenderInput {
                file: input.file,
                source: &hook,
                this: input.this.clone(),
                model: input.model.clone(),
                extra: None,
            };
            for m in templating::record_calls(self.env, &input, self.parse_context()).macros {
                if !recorded.macros.contains(&m) {
                    recorded.macros.push(m);
                }
            }
        }
        Ok((config, recorded))
    }

    /// Adds model file `f`, rendered by [`Parser::render_model`], to the manifest.
    fn model(
        &mut self,
        f: &ProjectFile,
        id: &ModelId,
        props: Option<&NodeProps>,
        config: NodeConfig,
        recorded: Recorded,
    ) -> Result<()> {
        let name = id.name.clone();
        let unique_id = id.unique_id(&self.project.name);
        let fqn = id.fqn(self.fqn(f, &name));
        if !config.enabled() {
            return Ok(());
        }
        if f.contents.trim().is_empty() {
            return Err(
                Diagnostic::new(format!("model file `{}` is empty", f.original_file_path))
                    .at(Location::in_source(&f.original_file_path, "", 1, None))
                    .help("write a `select` statement in it, or delete the file")
                    .into(),
            );
        }
        let materialized = config.materialized().to_string();
        // Looked up only for a materialization that is not built in: a scan of the globals.
        if !BUILT_IN.contains(&materialized.as_str())
            && templating::materialization_macro(self.env, &materialized).is_none()
        {
            let loc = find_call_line(&f.contents, "config", &materialized)
                .map(|(l, c)| Location::in_source(&f.original_file_path, &f.contents, l, Some(c)))
                .unwrap_or_else(|| Location::in_source(&f.original_file_path, &f.contents, 1, None));
            return Err(Diagnostic::new(format!(
                "model `{name}` has materialization `{materialized}`, which mallard does not build yet"
            ))
            .at(loc)
            .help("use `view`, `table`, `incremental` or `ephemeral`")
            .into());
        }
        match &id.version {
            // Each version is `name.v<v>` for `ref('name', v=...)`; the latest also `name`.
            Some(v) => {
                self.claim_name(&format!("{name}.v{v}"), &unique_id, f)?;
                if id.latest_version.as_ref() == Some(v) {
                    self.names.insert(
                        (self.project.name.clone(), name.clone()),
                        (unique_id.clone(), f.original_file_path.clone()),
                    );
                }
            }
            None => self.claim_name(&name, &unique_id, f)?,
        }
        let relation = self.relation(&config, &id.default_alias(), || {
            id.with_version(self.node_for_macros("model", &name, &fqn, Some(f), &config))
        })?;
        // Not silently: constraints Mallard does not apply (on a view or an incremental model,
        // or a `foreign_key` or `custom` one) are recorded with a warning.
        let enforced = config
            .0
            .get("contract")
            .and_then(|c| c.get("enforced"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let kinds: Vec<String> = props
            .map(|p| p.columns.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.raw.get("constraints").and_then(Value::as_array))
            .flatten()
            .filter_map(|c| c.get("type").and_then(Value::as_str).map(str::to_string))
            .collect();
        let table = config.materialized() == "table";
        let unapplied: Vec<&String> = kinds
            .iter()
            .filter(|k| {
                !table || !enforced || !matches!(k.as_str(), "not_null" | "unique" | "primary_key" | "check")
            })
            .collect();
        if !unapplied.is_empty() {
            self.manifest.warnings.push(format!(
                "model `{name}` ({}) declares constraints Mallard does not apply ({}): only a table with an enforced contract gets `not_null`, `unique`, `primary_key` and `check`; the others are recorded only",
                f.original_file_path,
                unapplied.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        let (refs, sources) = located_calls(f, &recorded);
        self.add(Node {
            patch_path: props.map(|p| p.file.clone()),
            fqn,
            config,
            description: props.map(|p| p.description.clone()).unwrap_or_default(),
            columns: props
                .map(|p| self.columns(&p.columns))
                .transpose()?
                .unwrap_or_default(),
            refs,
            sources,
            relation: Some(relation),
            depends_on_macros: recorded.macros.clone(),
            version: id.version.clone(),
            latest_version: id.latest_version.clone(),
            time_spine: props.and_then(|p| p.time_spine.clone()),
            deprecation_date: props.and_then(|p| p.deprecation_date.clone()),
            ..self.file_node(f, ResourceType::Model, unique_id, name)
        });
        Ok(())
    }

    /// A `config:` block of property YAML with its Jinja values rendered as dbt renders
    /// them (`enabled: "{{ target.type != 'bigquery' }}"` becomes a boolean): `var`,
    /// `env_var` and `target`, native values; hooks are left for when they run.
    ///
    /// Errors: a Jinja error in a value, in `file`.
    pub(super) fn rendered_config(
        &self,
        config: &Map<String, Value>,
        file: &str,
    ) -> Result<Map<String, Value>, Diagnostic> {
        let has_jinja = config.values().any(|v| {
            let text = v.to_string();
            text.contains("{{") || text.contains("{%")
        });
        if !has_jinja {
            return Ok(config.clone());
        }
        let ctx = crate::config::ConfigContext {
            vars: (*self.vars).clone(),
            target: self.target.jinja_value(),
        };
        crate::project::yaml::render_config_values(file, "", config.clone(), &ctx)
    }

    fn singular_test(&mut self, f: &ProjectFile) -> Result<()> {
        let name = f.stem().to_string();
        let unique_id = format!("test.{}.{}", self.project.name, name);
        let fqn = self.fqn(f, &name);
        let mut config = test_config_base();
        config.merge(&self.tree_config(|p| &p.tests_tree, &fqn));
        let input = RenderInput {
            file: &f.original_file_path,
            source: &f.contents,
            this: None,
            model: super::parse_model_context(
                &name,
                &unique_id,
                "test",
                &f.original_file_path,
                &self.project.name,
            ),
            extra: None,
        };
        let (_, recorded) = templating::render(self.env, &input, self.parse_context())?;
        for layer in &recorded.configs {
            config.merge(layer);
        }
        if !config.enabled() {
            return Ok(());
        }
        let (refs, sources) = located_calls(f, &recorded);
        let audit_relation = Some(self.relation(&config, &name, || {
            self.node_for_macros("test", &name, &fqn, Some(f), &config)
        })?);
        self.add(Node {
            fqn,
            config,
            refs,
            sources,
            audit_relation,
            ..self.file_node(f, ResourceType::Test, unique_id, name)
        });
        Ok(())
    }

    /// Resolves every recorded ref and source to a `unique_id` and fills `depends_on`.
    fn resolve(&mut self) -> Result<()> {
        let source_ids: BTreeMap<(String, String), String> = self
            .manifest
            .sources
            .values()
            .map(|s| ((s.source_name.clone(), s.name.clone()), s.unique_id.clone()))
            .collect();
        for node in self.manifest.nodes.values_mut() {
            let mut deps: BTreeSet<String> = node.depends_on.drain(..).collect();
            for r in &node.refs {
                if let Some(pkg) = &r.value.package {
                    if !self.manifest.package_roots.contains_key(pkg) {
                        let known: Vec<&str> =
                            self.manifest.package_roots.keys().map(String::as_str).collect();
                        return Err(Diagnostic::new(format!(
                            "unknown package `{pkg}` in `ref('{pkg}', '{}')`",
                            r.value.name
                        ))
                        .at(r.location.clone())
                        .help(format!(
                            "the project and its packages are: {}; add the package to packages.yml (a `local:` one) or to {}/",
                            known.join(", "),
                            self.root.packages_install_path
                        ))
                        .into());
                    }
                }
                let found = Self::find_named(
                    &self.names,
                    &self.root.name,
                    &node.package_name,
                    r.value.package.as_deref(),
                    &r.value.key(),
                );
                match found {
                    Some(id) => {
                        deps.insert(id);
                    }
                    None => {
                        let mut d = Diagnostic::new(format!(
                            "`{}` refers to `{}`, which is not a model or seed of this project",
                            node.name, r.value.name
                        ))
                        .at(r.location.clone());
                        d = match did_you_mean(&r.value.name, self.names.keys().map(|(_, n)| n.as_str())) {
                            Some(s) => d.help(format!("did you mean `{s}`?")),
                            None => d.help("check the name, or add the model (or seed) it refers to"),
                        };
                        return Err(d.into());
                    }
                }
            }
            for s in &node.sources {
                match source_ids.get(&s.value) {
                    Some(id) => {
                        deps.insert(id.clone());
                    }
                    None => {
                        let (src, table) = &s.value;
                        let known: Vec<String> = source_ids.keys().map(|(a, b)| format!("{a}.{b}")).collect();
                        let wanted = format!("{src}.{table}");
                        let mut d = Diagnostic::new(format!(
                            "`{}` refers to source `{wanted}`, which is not declared",
                            node.name
                        ))
                        .at(s.location.clone());
                        d = match did_you_mean(&wanted, known.iter().map(String::as_str)) {
                            Some(sug) => d.help(format!("did you mean `{sug}`?")),
                            None => d.help(format!("declare it under `sources:` in a property file: `- name: {src}` with `tables: [{{name: {table}}}]`")),
                        };
                        return Err(d.into());
                    }
                }
            }
            node.depends_on = deps.into_iter().collect();
        }
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

fn test_config_base() -> NodeConfig {
    let mut c = NodeConfig::default();
    c.merge(
        json!({"materialized": "test", "severity": "ERROR", "schema": "dbt_test__audit"})
            .as_object()
            .expect("object"),
    );
    c
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

/// A seed file's checksum: the SHA-256 of its bytes up to 1 MiB; above that, of its size and
/// modification time, so that every command (even `ls`) does not read every large seed.
/// (dbt falls back to the path alone above 1 MiB, which never notices an edit.) Empty when
/// the file cannot be read: the seed load reports that.
fn file_checksum(path: &std::path::Path) -> String {
    const HASHED_UP_TO: u64 = 1 << 20;
    let Ok(meta) = std::fs::metadata(path) else {
        return String::new();
    };
    if meta.len() <= HASHED_UP_TO {
        return std::fs::read(path).map(|b| sha256_hex(&b)).unwrap_or_default();
    }
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    sha256_hex(format!("size {} modified {modified}", meta.len()).as_bytes())
}
