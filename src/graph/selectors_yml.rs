//! `selectors.yml`: dbt's named YAML selectors, evaluated with the same methods as
//! `--select`.

use std::collections::BTreeSet;

use super::selector::*;
use crate::error::{did_you_mean, Diagnostic};

/// The named selectors of `selectors.yml` (dbt's YAML selectors): each a definition made of
/// CLI-style strings, `{method, value, parents, children, ...}` mappings, `{method: value}`
/// shorthands, and `union` / `intersection` lists that may hold `exclude` entries.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    /// Name to (definition, default).
    defs: std::collections::BTreeMap<String, (serde_json::Value, bool)>,
}

impl Selectors {
    /// Reads `selectors.yml` in `root`; `None` if there is none.
    ///
    /// Errors: YAML errors; an entry without `name` or `definition`; two defaults.
    pub fn load(root: &std::path::Path) -> Result<Option<Selectors>, Diagnostic> {
        let path = root.join("selectors.yml");
        let Ok(text) = std::fs::read_to_string(&path) else {
            return Ok(None);
        };
        let doc = crate::config::yaml::parse_mapping("selectors.yml", &text)?;
        let mut defs = std::collections::BTreeMap::new();
        let entries = doc
            .get("selectors")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| {
                Diagnostic::new("selectors.yml has no `selectors:` list")
                    .help("write `selectors:` and under it `- name: ...` with a `definition:`")
            })?;
        for entry in entries {
            let name = entry["name"]
                .as_str()
                .ok_or_else(|| Diagnostic::new("a selector in selectors.yml has no `name`"))?;
            let definition = entry.get("definition").cloned().ok_or_else(|| {
                Diagnostic::new(format!("selector `{name}` in selectors.yml has no `definition`"))
            })?;
            let default = entry["default"].as_bool().unwrap_or(false);
            defs.insert(name.to_string(), (definition, default));
        }
        if defs.values().filter(|(_, d)| *d).count() > 1 {
            return Err(Diagnostic::new(
                "selectors.yml marks more than one selector `default: true`",
            ));
        }
        Ok(Some(Selectors { defs }))
    }

    pub(super) fn default_name(&self) -> Option<String> {
        self.defs.iter().find(|(_, (_, d))| *d).map(|(n, _)| n.clone())
    }

    pub(super) fn evaluate(
        &self,
        cx: &Context<'_>,
        name: &str,
        depth: usize,
    ) -> Result<BTreeSet<String>, Diagnostic> {
        let Some((def, _)) = self.defs.get(name) else {
            let mut d = Diagnostic::new(format!("no selector named `{name}` in selectors.yml"));
            if let Some(s) = did_you_mean(name, self.defs.keys().map(String::as_str)) {
                d = d.help(format!("did you mean `{s}`?"));
            }
            return Err(d);
        };
        if depth > 20 {
            return Err(Diagnostic::new(format!(
                "selector `{name}` refers to itself through `selector:`"
            )));
        }
        self.definition(cx, name, def, depth + 1)
    }

    fn definition(
        &self,
        cx: &Context<'_>,
        name: &str,
        def: &serde_json::Value,
        depth: usize,
    ) -> Result<BTreeSet<String>, Diagnostic> {
        use serde_json::Value;
        let bad = |why: String| Diagnostic::new(format!("selector `{name}` in selectors.yml: {why}"));
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match def {
            Value::String(s) => union(cx, std::slice::from_ref(s)),
            Value::Object(m) if m.contains_key("union") || m.contains_key("intersection") => {
                let is_union = m.contains_key("union");
                let items = m
                    .get(if is_union { "union" } else { "intersection" })
                    .and_then(Value::as_array)
                    .ok_or_else(|| bad("`union` and `intersection` take a list".into()))?;
                let mut acc: Option<BTreeSet<String>> = None;
                let mut excluded = BTreeSet::new();
                for item in items {
                    if let Some(ex) = item.get("exclude") {
                        let ex_items = ex.as_array().cloned().unwrap_or_else(|| vec![ex.clone()]);
                        for e in &ex_items {
                            excluded.extend(self.definition(cx, name, e, depth)?);
                        }
                        continue;
                    }
                    let set = self.definition(cx, name, item, depth)?;
                    acc = Some(match acc {
                        None => set,
                        Some(prev) if is_union => prev.union(&set).cloned().collect(),
                        Some(prev) => prev.intersection(&set).cloned().collect(),
                    });
                }
                Ok(acc.unwrap_or_default().difference(&excluded).cloned().collect())
            }
            Value::Object(m) if m.contains_key("method") => {
                let method = text(&m["method"]);
                let value = m.get("value").map(text).unwrap_or_default();
                if method == "selector" {
                    return self.evaluate(cx, &value, depth);
                }
                let flag = |k: &str| m.get(k).and_then(Value::as_bool).unwrap_or(false);
                let depth_of = |k: &str| {
                    m.get(k)
                        .and_then(Value::as_u64)
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                };
                let mut atom = String::new();
                if flag("childrens_parents") {
                    atom.push('@');
                } else if flag("parents") {
                    atom.push_str(&depth_of("parents_depth"));
                    atom.push('+');
                }
                atom.push_str(&format!("{method}:{value}"));
                if flag("children") {
                    atom.push('+');
                    atom.push_str(&depth_of("children_depth"));
                }
                union(cx, &[atom])
            }
            Value::Object(m) if m.len() == 1 => {
                let (method, value) = m.iter().next().expect("one entry");
                if method == "exclude" {
                    return Err(bad(
                        "`exclude` belongs inside a `union` or `intersection` list".into()
                    ));
                }
                if method == "selector" {
                    return self.evaluate(cx, &text(value), depth);
                }
                union(cx, &[format!("{method}:{}", text(value))])
            }
            other => Err(bad(format!("cannot read `{other}` as a selection"))),
        }
    }
}
