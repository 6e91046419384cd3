//! Node selection with dbt's syntax (`--select`, `--exclude`).
//!
//! A selection is a list of criteria joined by union (separate arguments, or spaces inside
//! one); a criterion is atoms joined by intersection (`,`). An atom is
//! `[@][N+]method:value[+N]`, or a bare value, which means the `fqn` method (a node name, or a
//! dotted path of folders as in `marts` or `retention.marts.ltv`) unless it looks like a
//! file path (`models/marts`), which means `path`. Methods: `fqn`, `tag`, `path`, `file`,
//! `resource_type`, `config.<key>`, `source`, `test_type`, `test_name`, `package`.
//! `*` and `?` are wildcards in values.

use std::collections::BTreeSet;

use crate::error::Diagnostic;
use crate::manifest::{Manifest, Node, ResourceType};

pub use super::selectors_yml::Selectors;
pub use super::state::{read_source_freshness, read_statuses, PreviousState, SourceFreshness};
use super::state::{result_matches, source_status_matches, state_matches};
use super::Graph;

const METHODS: &[&str] = &[
    "fqn",
    "tag",
    "path",
    "file",
    "resource_type",
    "source",
    "test_type",
    "test_name",
    "package",
    "state",
    "result",
    "source_status",
    "unique_id",
    "selector",
];

/// One parsed atom of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Atom {
    /// `@`: the node, its descendants, and the ancestors of those descendants.
    pub at: bool,
    /// `+` before: ancestors (`None` depth = all); absent when `None` in the outer option.
    pub parents: Option<Option<usize>>,
    pub children: Option<Option<usize>>,
    pub method: String,
    pub value: String,
}

/// Parses one atom, e.g. `2+tag:nightly+`.
///
/// Errors: an empty atom, an unknown method (with a did-you-mean), `@` together with `+`.
pub fn parse_atom(text: &str) -> Result<Atom, Diagnostic> {
    let bad = |why: &str| Diagnostic::new(format!("invalid selector `{text}`: {why}"));
    let mut rest = text;
    let at = rest.starts_with('@');
    if at {
        rest = &rest[1..];
    }
    let mut parents = None;
    if let Some(plus) = rest.find('+') {
        let head = &rest[..plus];
        if head.chars().all(|c| c.is_ascii_digit()) {
            parents = Some(if head.is_empty() {
                None
            } else {
                Some(head.parse().map_err(|_| bad("depth too large"))?)
            });
            rest = &rest[plus + 1..];
        }
    }
    let mut children = None;
    if let Some(plus) = rest.rfind('+') {
        let tail = &rest[plus + 1..];
        if tail.chars().all(|c| c.is_ascii_digit()) {
            children = Some(if tail.is_empty() {
                None
            } else {
                Some(tail.parse().map_err(|_| bad("depth too large"))?)
            });
            rest = &rest[..plus];
        }
    }
    if at && (parents.is_some() || children.is_some()) {
        return Err(bad("`@` cannot be combined with `+`"));
    }
    if rest.is_empty() {
        return Err(bad("nothing to select").help("name a node, e.g. `orders`, `+orders`, `tag:nightly`"));
    }
    let (method, value) = match rest.split_once(':') {
        Some((m, v)) => (m.to_string(), v.to_string()),
        None if rest.contains('/') || rest.ends_with(".sql") || rest.ends_with(".csv") => {
            ("path".to_string(), rest.to_string())
        }
        None => ("fqn".to_string(), rest.to_string()),
    };
    if !METHODS.contains(&method.as_str()) && !method.starts_with("config.") {
        let mut d = bad(&format!("unknown selector method `{method}`"));
        if let Some(s) = crate::error::did_you_mean(&method, METHODS.iter().copied()) {
            d = d.help(format!("did you mean `{s}:`?"));
        }
        return Err(d);
    }
    if value.is_empty() {
        return Err(bad("the method has no value"));
    }
    Ok(Atom {
        at,
        parents,
        children,
        method,
        value,
    })
}

/// The `unique_id`s (nodes and sources) that `select` picks, less those `exclude` picks.
/// An empty `select` picks everything. Data tests of selected nodes are added (dbt's
/// "eager" indirect selection) unless they are excluded.
///
/// Errors: a malformed atom.
pub fn select(
    manifest: &Manifest,
    graph: &Graph,
    select: &[String],
    exclude: &[String],
    state: Option<&PreviousState>,
) -> Result<BTreeSet<String>, Diagnostic> {
    select_with(manifest, graph, select, exclude, state, None, None)
}

/// [`select`], where `selector` (`--selector NAME`) or else the `default: true` selector of
/// `selectors` (`selectors.yml`) stands in for `select` when `select` is empty.
///
/// Errors: a malformed atom; `--selector` with `--select`; an unknown selector name (with a
/// did-you-mean); a malformed selector definition.
pub fn select_with(
    manifest: &Manifest,
    graph: &Graph,
    select: &[String],
    exclude: &[String],
    state: Option<&PreviousState>,
    selectors: Option<&Selectors>,
    selector: Option<&str>,
) -> Result<BTreeSet<String>, Diagnostic> {
    let cx = Context {
        manifest,
        graph,
        state,
        selectors,
    };
    if selector.is_some() && !select.is_empty() {
        return Err(Diagnostic::new("--selector and --select cannot be used together")
            .help("put the extra criteria into the selector's definition in selectors.yml"));
    }
    let named = match (selector, selectors) {
        (Some(name), Some(s)) => Some(s.evaluate(&cx, name, 0)?),
        (Some(name), None) => {
            return Err(
                Diagnostic::new(format!("--selector `{name}`: the project has no selectors.yml"))
                    .help("define selectors under `selectors:` in selectors.yml beside dbt_project.yml"),
            )
        }
        (None, Some(s)) if select.is_empty() => match s.default_name() {
            Some(name) => Some(s.evaluate(&cx, &name, 0)?),
            None => None,
        },
        _ => None,
    };
    let all: BTreeSet<String> = manifest
        .nodes
        .keys()
        .chain(manifest.sources.keys())
        .cloned()
        .collect();
    let mut chosen = match named {
        Some(set) => set,
        None if select.is_empty() => all.clone(),
        None => union(&cx, select)?,
    };
    let mut excluded = union(&cx, exclude)?;
    // As in dbt, exclusion is indirect too: a test of an excluded node is excluded (eagerly:
    // a test on any excluded parent), and so are the unit tests of an excluded model.
    for test in manifest.nodes.values() {
        let on_excluded = match test.resource_type {
            ResourceType::Test => test.depends_on.iter().any(|d| excluded.contains(d)),
            ResourceType::UnitTest => test.attached_node.as_ref().is_some_and(|m| excluded.contains(m)),
            _ => false,
        };
        if on_excluded {
            excluded.insert(test.unique_id.clone());
        }
    }
    let direct = chosen.clone();
    for test in manifest
        .nodes
        .values()
        .filter(|n| n.resource_type == ResourceType::Test)
    {
        if test.depends_on.iter().any(|d| direct.contains(d)) {
            chosen.insert(test.unique_id.clone());
        }
    }
    // A unit test goes with the model it tests.
    for test in manifest
        .nodes
        .values()
        .filter(|n| n.resource_type == ResourceType::UnitTest)
    {
        if test.attached_node.as_ref().is_some_and(|m| direct.contains(m)) {
            chosen.insert(test.unique_id.clone());
        }
    }
    Ok(chosen.difference(&excluded).cloned().collect())
}

/// What selection reads: the manifest, its graph, and the previous state if given.
pub(super) struct Context<'a> {
    pub(super) manifest: &'a Manifest,
    pub(super) graph: &'a Graph,
    pub(super) state: Option<&'a PreviousState>,
    pub(super) selectors: Option<&'a Selectors>,
}

pub(super) fn union(cx: &Context<'_>, criteria: &[String]) -> Result<BTreeSet<String>, Diagnostic> {
    let mut out = BTreeSet::new();
    for criterion in criteria.iter().flat_map(|c| c.split_whitespace()) {
        let mut acc: Option<BTreeSet<String>> = None;
        for atom in criterion.split(',') {
            let picked = apply(cx, &parse_atom(atom)?)?;
            acc = Some(match acc {
                None => picked,
                Some(prev) => prev.intersection(&picked).cloned().collect(),
            });
        }
        out.extend(acc.unwrap_or_default());
    }
    Ok(out)
}

fn apply(cx: &Context<'_>, atom: &Atom) -> Result<BTreeSet<String>, Diagnostic> {
    let (manifest, graph) = (cx.manifest, cx.graph);
    let mut base = BTreeSet::new();
    match atom.method.as_str() {
        "state" => base = state_matches(cx, &atom.value)?,
        "result" => base = result_matches(cx, &atom.value)?,
        "source_status" => base = source_status_matches(cx, &atom.value)?,
        "selector" => {
            let selectors = cx.selectors.ok_or_else(|| {
                Diagnostic::new(format!("`selector:{}` needs a selectors.yml", atom.value))
                    .help("define it under `selectors:` in selectors.yml beside dbt_project.yml")
            })?;
            base = selectors.evaluate(cx, &atom.value, 0)?;
        }
        _ => {}
    }
    for node in manifest.nodes.values() {
        if node_matches(node, atom) {
            base.insert(node.unique_id.clone());
        }
    }
    for source in manifest.sources.values() {
        let hit = match atom.method.as_str() {
            "source" => {
                let full = format!("{}.{}", source.source_name, source.name);
                wildcard(&atom.value, &source.source_name) || wildcard(&atom.value, &full)
            }
            "resource_type" => atom.value == "source",
            "path" | "file" => path_matches(&atom.value, &source.original_file_path),
            "fqn" => fqn_matches(&atom.value, &source.fqn),
            "package" => wildcard(&atom.value, &source.package_name),
            _ => false,
        };
        if hit {
            base.insert(source.unique_id.clone());
        }
    }
    let mut out = base.clone();
    for id in &base {
        if atom.at {
            for d in graph.descendants(id, None).into_iter().chain([id.clone()]) {
                out.extend(graph.ancestors(&d, None));
                out.insert(d);
            }
        }
        if let Some(depth) = atom.parents {
            out.extend(graph.ancestors(id, depth));
        }
        if let Some(depth) = atom.children {
            out.extend(graph.descendants(id, depth));
        }
    }
    Ok(out)
}

fn node_matches(node: &Node, atom: &Atom) -> bool {
    let v = atom.value.as_str();
    match atom.method.as_str() {
        "unique_id" => wildcard(v, &node.unique_id),
        "fqn" => fqn_matches(v, &node.fqn),
        "tag" => node.config.tags().iter().any(|t| wildcard(v, t)),
        "path" => path_matches(v, &node.original_file_path),
        "file" => {
            let file = node.original_file_path.rsplit('/').next().unwrap_or("");
            wildcard(v, file) || file.rsplit_once('.').is_some_and(|(stem, _)| wildcard(v, stem))
        }
        "resource_type" => wildcard(v, node.resource_type.as_str()),
        "package" => wildcard(v, &node.package_name),
        "test_type" if node.resource_type == ResourceType::UnitTest => v == "unit",
        "test_type" => match &node.test_metadata {
            Some(_) => v == "generic" || v == "data",
            None => node.resource_type == ResourceType::Test && (v == "singular" || v == "data"),
        },
        "test_name" => node.test_metadata.as_ref().is_some_and(|m| wildcard(v, &m.name)),
        "source" => false,
        m => match m.strip_prefix("config.") {
            Some(key) => match node.config.0.get(key) {
                Some(serde_json::Value::Array(items)) => {
                    items.iter().any(|i| i.as_str().is_some_and(|s| wildcard(v, s)))
                }
                Some(serde_json::Value::String(s)) => wildcard(v, s),
                Some(other) => other.to_string().as_str() == v,
                None => false,
            },
            None => false,
        },
    }
}

/// dbt's fqn matching: the node's name, or a dotted prefix of its fqn, with or without the
/// package name in front (`marts` matches `[retention, marts, ltv]`). A `*` part matches
/// the rest.
fn fqn_matches(selector: &str, fqn: &[String]) -> bool {
    if fqn.last().is_some_and(|n| wildcard(selector, n)) {
        return true;
    }
    let parts: Vec<&str> = selector.split('.').collect();
    let prefix_match = |fqn: &[String]| {
        if parts.len() > fqn.len() {
            return false;
        }
        for (p, f) in parts.iter().zip(fqn) {
            if *p == "*" {
                return true;
            }
            if !wildcard(p, f) {
                return false;
            }
        }
        true
    };
    prefix_match(fqn) || (fqn.len() > 1 && prefix_match(&fqn[1..]))
}

/// A path selector matches the file itself or any file below the folder it names.
fn path_matches(selector: &str, file: &str) -> bool {
    let sel = selector.trim_start_matches("./").trim_end_matches('/');
    wildcard(sel, file) || file.starts_with(&format!("{sel}/"))
}

/// Shell-style matching of `text` against `pattern` with `*` (any run) and `?` (one char).
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last `*`: linear in practice.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_operators() {
        let a = parse_atom("2+tag:nightly+").unwrap();
        assert_eq!(
            (a.parents, a.children, a.method.as_str(), a.value.as_str()),
            (Some(Some(2)), Some(None), "tag", "nightly")
        );
        let a = parse_atom("@orders").unwrap();
        assert!(a.at && a.parents.is_none() && a.method == "fqn");
        assert_eq!(parse_atom("models/marts").unwrap().method, "path");
        assert!(parse_atom("+").is_err());
        assert!(parse_atom("tagg:x").unwrap_err().help.unwrap().contains("`tag:`"));
    }

    #[test]
    fn fqn_and_paths_match_like_dbt() {
        let fqn: Vec<String> = ["retention", "marts", "ltv"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert!(fqn_matches("ltv", &fqn));
        assert!(fqn_matches("marts", &fqn));
        assert!(fqn_matches("retention.marts", &fqn));
        assert!(fqn_matches("marts.*", &fqn));
        assert!(!fqn_matches("staging", &fqn));
        assert!(path_matches("models/marts", "models/marts/ltv.sql"));
        assert!(!path_matches("models/mart", "models/marts/ltv.sql"));
        assert!(wildcard("stg_*", "stg_orders") && !wildcard("stg_*", "orders"));
    }
}
