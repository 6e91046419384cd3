//! A project's vars: `vars:` of dbt_project.yml, or of dbt 1.12's `vars.yml`, with `--vars`
//! laid over them.

use std::path::Path;

use anyhow::Result;
use serde_json::{Map, Value};

use crate::config::ConfigContext;
use crate::error::Diagnostic;

/// The `vars:` of the project's `vars.yml` (dbt 1.12), `None` when the file is absent, empty or
/// has no `vars`.
///
/// Errors: a YAML error, a key other than `vars`, or `vars` that is not a mapping, at its line.
pub(super) fn read_vars_file(root: &Path) -> Result<Option<Map<String, Value>>> {
    let file = "vars.yml";
    let Ok(text) = std::fs::read_to_string(root.join(file)) else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    let doc = crate::config::yaml::parse_mapping(file, &text)?;
    if let Some(other) = doc.keys().find(|k| *k != "vars") {
        return Err(Diagnostic::new(format!(
            "unknown key `{other}` in `{file}`: it holds `vars:` only"
        ))
        .at(crate::config::yaml::key_location(file, &text, other))
        .into());
    }
    match doc.get("vars") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(vars)) => Ok(Some(vars.clone())),
        Some(_) => Err(
            Diagnostic::new(format!("`vars` in `{file}` must be a mapping of names to values"))
                .at(crate::config::yaml::key_location(file, &text, "vars"))
                .into(),
        ),
    }
}

/// The project's vars: `vars:` of dbt_project.yml (or of `vars.yml`) (a mapping under the project's own `name`
/// applies here as well; another package's scope is kept as it is), then `--vars` over them.
pub(super) fn project_vars(doc: &Map<String, Value>, name: &str, ctx: &ConfigContext) -> Map<String, Value> {
    let mut vars = Map::new();
    if let Some(Value::Object(v)) = doc.get("vars") {
        for (key, value) in v {
            match value {
                Value::Object(scoped) if key == name => vars.extend(scoped.clone()),
                _ => {
                    vars.insert(key.clone(), value.clone());
                }
            }
        }
    }
    vars.extend(ctx.vars.clone());
    vars
}
