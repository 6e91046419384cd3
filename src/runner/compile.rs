//! The run-phase render of a node: its final SQL, with every `ref` and `source` resolved to
//! a relation, written under `target/compiled/`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use minijinja::Environment;
use serde_json::json;

use crate::error::Diagnostic;
use crate::manifest::{Manifest, Node, ResourceType};
use crate::project::profile::Target;
use crate::templating::{self, NodeContext, Phase, Recorded, RefCall, Relation, RenderInput, Resolver};
use crate::testing;

/// Resolves refs and sources against a manifest.
#[derive(Debug)]
pub struct ManifestResolver {
    refs: BTreeMap<String, Relation>,
    sources: BTreeMap<(String, String), Relation>,
}

impl ManifestResolver {
    pub fn new(manifest: &Manifest) -> ManifestResolver {
        ManifestResolver {
            refs: manifest
                .nodes
                .values()
                .filter_map(|n| n.relation.clone().map(|r| (n.name.clone(), r)))
                .collect(),
            sources: manifest
                .sources
                .values()
                .map(|s| ((s.source_name.clone(), s.name.clone()), s.relation.clone()))
                .collect(),
        }
    }
}

impl Resolver for ManifestResolver {
    fn resolve_ref(&self, call: &RefCall) -> Option<Relation> {
        self.refs.get(&call.name).cloned()
    }

    fn resolve_source(&self, source: &str, table: &str) -> Option<Relation> {
        self.sources
            .get(&(source.to_string(), table.to_string()))
            .cloned()
    }
}

/// What compiling needs, shared by all workers.
pub struct Compiler<'a> {
    pub env: &'a Environment<'static>,
    pub manifest: &'a Manifest,
    pub target: &'a Target,
    pub resolver: Arc<dyn Resolver>,
    pub vars: Arc<serde_json::Map<String, serde_json::Value>>,
    /// Absolute target folder; compiled SQL goes under `compiled/`.
    pub target_dir: std::path::PathBuf,
    /// The target folder as configured (`target`), for messages.
    pub target_path: String,
}

impl Compiler<'_> {
    /// The node's SQL with all Jinja rendered: for a model, its `select`; for a test, the
    /// query returning its failing rows. Also written to `target/compiled/...`.
    ///
    /// Errors: a Jinja error at its file and line; the compiled file cannot be written.
    pub fn compile(&self, node: &Node) -> Result<String, Diagnostic> {
        let sql = match (&node.resource_type, &node.test_metadata) {
            (ResourceType::Seed, _) => return Ok(String::new()),
            (ResourceType::Test, Some(meta)) => self.generic_test(node, meta)?,
            _ => {
                let input = RenderInput {
                    file: &node.original_file_path,
                    source: &node.raw_code,
                    this: node.relation.clone(),
                    model: json!({
                        "name": node.name, "unique_id": node.unique_id,
                        "resource_type": node.resource_type.as_str(),
                        "original_file_path": node.original_file_path,
                        "package_name": node.package_name,
                        "schema": node.relation.as_ref().map(|r| r.schema.clone()),
                        "alias": node.relation.as_ref().map(|r| r.identifier.clone()),
                        "config": node.config.0,
                        "fqn": node.fqn,
                    }),
                };
                templating::render(self.env, &input, self.context(node))?.0
            }
        };
        let path = self.target_dir.join(node.compiled_path());
        let written = path
            .parent()
            .map(std::fs::create_dir_all)
            .unwrap_or(Ok(()))
            .and_then(|_| std::fs::write(&path, &sql));
        written.map_err(|e| Diagnostic::new(format!("cannot write `{}`: {e}", path.display())))?;
        Ok(sql)
    }

    fn context(&self, node: &Node) -> NodeContext {
        NodeContext {
            phase: Phase::Run,
            vars: self.vars.clone(),
            recorded: Mutex::new(Recorded::default()),
            resolver: Some(self.resolver.clone()),
            config: node.config.0.clone(),
            target_schema: self.target.schema.clone(),
            target_database: self.target.database.clone(),
        }
    }

    fn generic_test(&self, node: &Node, meta: &crate::manifest::TestMetadata) -> Result<String, Diagnostic> {
        let attached = node.attached_node.as_deref().unwrap_or_default();
        let relation = self.manifest.relation_of(attached).ok_or_else(|| {
            Diagnostic::new(format!(
                "test `{}` is attached to unknown node `{attached}`",
                node.name
            ))
        })?;
        let model = testing::model_with_where(&relation.to_string(), &node.config);
        let to = match meta.kwargs.get("to").and_then(|v| v.as_str()) {
            Some(expr) => {
                let (value, _) =
                    templating::eval_expression(self.env, expr, self.context(node)).map_err(|e| {
                        Diagnostic::new(format!(
                            "cannot resolve `to: {expr}` of test `{}`: {e}",
                            node.name
                        ))
                    })?;
                Some(value.to_string())
            }
            None => None,
        };
        testing::generic_test_sql(&meta.name, &meta.kwargs, &model, to.as_deref())
            .ok_or_else(|| Diagnostic::new(format!("unknown generic test `{}`", meta.name)))
    }
}
