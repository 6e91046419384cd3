//! `deps --add-package name@version`: the package added to packages.yml (or
//! dependencies.yml), replacing an entry of the same package.

use super::*;

/// `--add-package name@version`: replaces any entry naming the same package (as dbt matches
/// them: `dbt-labs/dbt_utils` also removes a git `.../dbt-utils.git`) and appends the new one,
/// rewriting the packages file as dbt does (creating `packages.yml` when there is none).
///
/// Errors: no version for a hub or git package, an unreadable packages file.
pub(super) fn add_package(root: &Path, add: &str, source: AddSource) -> Result<()> {
    let (name, version) = match add.split_once('@') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (add.to_string(), None),
    };
    if version.is_none() && source != AddSource::Local {
        bail!("`--add-package {add}` needs a version (`name@version`) for a hub or git package");
    }
    let file = spec::spec_file(root).unwrap_or("packages.yml");
    let path = root.join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut doc = if text.trim().is_empty() {
        serde_json::Map::new()
    } else {
        crate::config::yaml::parse_mapping(file, &text)?
    };
    let mut entries: Vec<Value> = doc
        .get("packages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let variants = name_variants(&name);
    entries.retain(|e| {
        let id = ["package", "git", "local", "tarball", "private"]
            .iter()
            .find_map(|k| e.get(*k).and_then(Value::as_str));
        let duplicate = id.is_some_and(|id| variants.iter().any(|v| names_package(id, v)));
        if duplicate {
            println!(
                "Removed {} from {file}: --add-package replaces it",
                id.unwrap_or_default()
            );
        }
        !duplicate
    });
    let (key, version_key) = match source {
        AddSource::Hub => ("package", "version"),
        AddSource::Git => ("git", "revision"),
        AddSource::Local => ("local", "version"),
    };
    let mut entry = serde_json::Map::new();
    entry.insert(key.into(), Value::String(name.clone()));
    if let Some(v) = &version {
        let v = if v.contains(',') {
            Value::Array(v.split(',').map(|s| Value::String(s.to_string())).collect())
        } else {
            Value::String(v.clone())
        };
        entry.insert(version_key.into(), v);
    }
    entries.push(Value::Object(entry));
    doc.insert("packages".into(), Value::Array(entries));
    crate::config::yaml::write_file(&path, &dump_packages(&doc))?;
    println!(
        "Added new package {name}{} to {}",
        version.map(|v| format!("@{v}")).unwrap_or_default(),
        path.display()
    );
    Ok(())
}

/// The spellings dbt treats as the same package: `_` and `-` swapped, with or without the org.
pub(super) fn name_variants(name: &str) -> Vec<String> {
    let mut out = vec![name.to_string(), name.replace('_', "-"), name.replace('-', "_")];
    if let Some(short) = name.rsplit('/').next().filter(|_| name.contains('/')) {
        out.extend([
            short.to_string(),
            short.replace('_', "-"),
            short.replace('-', "_"),
        ]);
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `id` names `variant` between word boundaries (start, end, `/` or `.`).
pub(super) fn names_package(id: &str, variant: &str) -> bool {
    let Some(at) = id.find(variant) else { return false };
    let end = at + variant.len();
    let start_ok = at == 0 || id[..at].ends_with(['/', '.']);
    let end_ok = end == id.len() || id[end..].starts_with(['/', '.']);
    start_ok && end_ok
}

/// A packages file in PyYAML's `dump` layout (sorted keys, indented lists), as dbt rewrites it.
pub(super) fn dump_packages(doc: &serde_json::Map<String, Value>) -> String {
    fn scalar(v: &Value) -> String {
        match v {
            Value::String(s) => spec::yaml_scalar(s),
            other => other.to_string(),
        }
    }
    let mut out = String::new();
    let mut keys: Vec<&String> = doc.keys().collect();
    keys.sort();
    for key in keys {
        match &doc[key] {
            Value::Array(items) => {
                out.push_str(&format!("{key}:\n"));
                for item in items {
                    let Some(map) = item.as_object() else {
                        out.push_str(&format!("  - {}\n", scalar(item)));
                        continue;
                    };
                    let mut fields: Vec<&String> = map.keys().collect();
                    fields.sort();
                    for (i, f) in fields.into_iter().enumerate() {
                        let lead = if i == 0 { "  - " } else { "    " };
                        match &map[f] {
                            Value::Array(vs) => {
                                out.push_str(&format!("{lead}{f}:\n"));
                                for v in vs {
                                    out.push_str(&format!("      - {}\n", scalar(v)));
                                }
                            }
                            v => out.push_str(&format!("{lead}{f}: {}\n", scalar(v))),
                        }
                    }
                }
            }
            v => out.push_str(&format!("{key}: {}\n", scalar(v))),
        }
    }
    out
}
