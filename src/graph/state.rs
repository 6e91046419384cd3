//! Selection against an earlier run (`--state DIR`): `state:modified` and `state:new` from its
//! manifest, `result:<status>` from its run_results.json, `source_status:fresher` from its and
//! this target's sources.json.

use std::collections::BTreeSet;

use super::selector::*;
use crate::error::Diagnostic;

/// The previous run's nodes, for `state:` selection: `unique_id` to the node's state
/// fingerprint ([`crate::artifacts::state_fingerprint`]).
#[derive(Debug, Clone, Default)]
pub struct PreviousState {
    pub nodes: std::collections::BTreeMap<String, serde_json::Value>,
    /// Each node's status in the earlier run's `run_results.json` (empty if it has none).
    pub results: std::collections::BTreeMap<String, String>,
    /// The earlier run's `sources.json` (`source freshness`), if it has one.
    pub sources: Option<SourceFreshness>,
    /// This target's `sources.json`, the freshness just checked, if there is one.
    pub sources_current: Option<SourceFreshness>,
}

/// What a `sources.json` says of each source: `unique_id` to its `max_loaded_at` (an RFC 3339
/// timestamp), or `None` when its freshness query failed (a `runtime error` result).
pub type SourceFreshness = std::collections::BTreeMap<String, Option<chrono::DateTime<chrono::FixedOffset>>>;

/// Reads the results of a `sources.json`; `None` if the file is missing.
///
/// Errors: the file exists but is not JSON with a `results` list.
pub fn read_source_freshness(path: &std::path::Path) -> Result<Option<SourceFreshness>, Diagnostic> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(None);
    };
    let doc: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Diagnostic::new(format!("`{}` is not a sources.json: {e}", path.display())))?;
    let results = doc["results"]
        .as_array()
        .ok_or_else(|| Diagnostic::new(format!("`{}` has no `results` list", path.display())))?;
    Ok(Some(
        results
            .iter()
            .filter_map(|r| {
                let loaded = r["max_loaded_at"]
                    .as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
                Some((r["unique_id"].as_str()?.to_string(), loaded))
            })
            .collect(),
    ))
}

impl PreviousState {
    /// Reads `dir/manifest.json` of an earlier run.
    ///
    /// Errors: the file is missing or is not a manifest.
    pub fn load(dir: &std::path::Path) -> Result<PreviousState, Diagnostic> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Diagnostic::new(format!("cannot read `{}` for --state: {e}", path.display()))
                .help("point --state at the target folder of an earlier run (it holds manifest.json)")
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| Diagnostic::new(format!("`{}` is not a manifest: {e}", path.display())))?;
        let nodes = doc["nodes"]
            .as_object()
            .ok_or_else(|| Diagnostic::new(format!("`{}` has no `nodes`", path.display())))?
            .iter()
            .map(|(id, v)| (id.clone(), crate::manifest::json::state_fingerprint(v)))
            .collect();
        Ok(PreviousState {
            nodes,
            results: read_statuses(&dir.join("run_results.json")),
            sources: read_source_freshness(&dir.join("sources.json"))?,
            sources_current: None,
        })
    }

    /// Adds this target's `sources.json` (in `target_dir`), which `source_status:` compares
    /// with the earlier run's, as dbt does.
    ///
    /// Errors: the file exists but is not a sources.json.
    pub fn with_current_sources(mut self, target_dir: &std::path::Path) -> Result<PreviousState, Diagnostic> {
        self.sources_current = read_source_freshness(&target_dir.join("sources.json"))?;
        Ok(self)
    }
}

/// `unique_id` to `status` of every result in a `run_results.json`; empty if the file is
/// missing or unreadable.
pub fn read_statuses(path: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Default::default();
    };
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    doc["results"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| {
                    Some((
                        r["unique_id"].as_str()?.to_string(),
                        r["status"].as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `state:new`: nodes the previous manifest lacks; `state:modified`: those, and nodes whose
/// file, config, relation or test arguments changed.
pub(super) fn state_matches(cx: &Context<'_>, value: &str) -> Result<BTreeSet<String>, Diagnostic> {
    let Some(state) = cx.state else {
        return Err(Diagnostic::new(format!("`state:{value}` needs a previous run to compare with"))
            .help("pass `--state DIR`, where DIR is the target folder of an earlier run (it holds manifest.json)"));
    };
    if value != "modified" && value != "new" {
        return Err(Diagnostic::new(format!("unknown state selector `state:{value}`"))
            .help("use `state:modified` or `state:new`"));
    }
    let mut out = BTreeSet::new();
    for node in cx.manifest.nodes.values() {
        let changed = match state.nodes.get(&node.unique_id) {
            None => true,
            Some(previous) if value == "modified" => {
                *previous
                    != crate::manifest::json::state_fingerprint(&crate::manifest::json::node_json(
                        node, "target",
                    ))
            }
            Some(_) => false,
        };
        if changed {
            out.insert(node.unique_id.clone());
        }
    }
    Ok(out)
}

/// `source_status:fresher`: the sources whose newest row (`max_loaded_at`) in this target's
/// `sources.json` is newer than in the `--state` run's, or that the earlier run did not check
/// or could not query (as dbt); a source whose freshness query fails now is left out. As in
/// dbt, any other value selects nothing.
pub(super) fn source_status_matches(cx: &Context<'_>, value: &str) -> Result<BTreeSet<String>, Diagnostic> {
    let help = "run `mallard source freshness` in production and keep its target folder (with sources.json) \
                for --state, then run `mallard source freshness` in this target before selecting";
    let previous = cx.state.and_then(|s| s.sources.as_ref()).ok_or_else(|| {
        Diagnostic::new(format!(
            "`source_status:{value}` needs the freshness results of an earlier run: the --state folder has no sources.json"
        ))
        .help(help)
    })?;
    let current = cx.state.and_then(|s| s.sources_current.as_ref()).ok_or_else(|| {
        Diagnostic::new(format!(
            "`source_status:{value}` needs this target's freshness results: the target folder has no sources.json"
        ))
        .help(help)
    })?;
    if value != "fresher" {
        return Ok(BTreeSet::new());
    }
    Ok(current
        .iter()
        .filter(|(id, now)| match (now, previous.get(*id)) {
            (None, _) => false,
            (Some(_), None | Some(None)) => true,
            (Some(now), Some(Some(before))) => now > before,
        })
        .filter(|(id, _)| cx.manifest.sources.contains_key(*id))
        .map(|(id, _)| id.clone())
        .collect())
}

/// `result:<status>`: the nodes whose status in the `--state` run's `run_results.json` was
/// `status` (`error`, `fail`, `warn`, `skipped`, `success`, `pass`).
pub(super) fn result_matches(cx: &Context<'_>, value: &str) -> Result<BTreeSet<String>, Diagnostic> {
    const STATUSES: &[&str] = &["error", "fail", "warn", "skipped", "success", "pass"];
    let state = cx.state.filter(|s| !s.results.is_empty()).ok_or_else(|| {
        Diagnostic::new(format!("`result:{value}` needs the results of an earlier run"))
            .help("pass `--state DIR`, where DIR is the target folder of an earlier run (it holds run_results.json)")
    })?;
    if !STATUSES.contains(&value) {
        return Err(
            Diagnostic::new(format!("unknown result selector `result:{value}`")).help(format!(
                "use one of: {}",
                STATUSES
                    .iter()
                    .map(|s| format!("result:{s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        );
    }
    Ok(state
        .results
        .iter()
        .filter(|(id, status)| *status == value && cx.manifest.nodes.contains_key(*id))
        .map(|(id, _)| id.clone())
        .collect())
}
