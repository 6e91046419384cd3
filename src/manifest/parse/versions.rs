//! Model versions: which file is which version of a versioned model, and the identity
//! (`unique_id`, fqn, default alias) each version gets.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::project::properties::NodeProps;

/// A model's identity: its name and, for a version of a versioned model, the version and the
/// model's latest version (as text).
pub(super) struct ModelId {
    pub(super) name: String,
    pub(super) version: Option<String>,
    pub(super) latest_version: Option<String>,
}

impl ModelId {
    /// `model.<package>.<name>`, with `.v<version>` for a version.
    pub(super) fn unique_id(&self, package: &str) -> String {
        match &self.version {
            Some(v) => format!("model.{package}.{}.v{v}", self.name),
            None => format!("model.{package}.{}", self.name),
        }
    }

    /// The fqn of the file with `v<version>` after the name, as dbt's.
    pub(super) fn fqn(&self, mut fqn: Vec<String>) -> Vec<String> {
        if let Some(v) = &self.version {
            fqn.push(format!("v{v}"));
        }
        fqn
    }

    /// dbt's default alias: the name, `<name>_v<version>` for a version (dots as `_`).
    pub(super) fn default_alias(&self) -> String {
        match &self.version {
            Some(v) => format!("{}_v{}", self.name, v.replace('.', "_")),
            None => self.name.clone(),
        }
    }

    /// `node` (a `generate_*_name` macro's view of it) with `version` set.
    pub(super) fn with_version(&self, mut node: Value) -> Value {
        if let (Some(v), Some(map)) = (&self.version, node.as_object_mut()) {
            map.insert("version".into(), Value::from(v.clone()));
        }
        node
    }
}

/// For each file stem of a version of a versioned model: the model's properties with the
/// version's laid over them (config, columns, tests, description), the version and the
/// latest version.
pub(super) fn model_versions(models: &[NodeProps]) -> BTreeMap<String, (NodeProps, String, String)> {
    let mut out = BTreeMap::new();
    for np in models.iter().filter(|np| !np.versions.is_empty()) {
        let latest = np.latest().unwrap_or_default();
        for v in &np.versions {
            let stem = v
                .defined_in
                .clone()
                .unwrap_or_else(|| format!("{}_v{}", np.name, v.v));
            let mut merged = np.clone();
            merged.versions = Vec::new();
            merged.config.extend(v.config.clone());
            for c in &v.columns {
                match merged.columns.iter_mut().find(|m| m.name == c.name) {
                    Some(m) => *m = c.clone(),
                    None => merged.columns.push(c.clone()),
                }
            }
            merged.tests.extend(v.tests.iter().cloned());
            if let Some(d) = &v.description {
                merged.description = d.clone();
            }
            if let Some(d) = &v.deprecation_date {
                merged.deprecation_date = Some(d.clone());
            }
            out.insert(stem, (merged, v.v.clone(), latest.clone()));
        }
    }
    out
}
