//! `retry`: what the last run left to do, read from its `run_results.json`.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use crate::error::Diagnostic;
use crate::graph::selector;
use crate::manifest::{Manifest, ResourceType};

/// The resource types each building command runs: `seed`, `run`, `test`, `snapshot` and
/// `build`; `None` for any other command.
pub fn command_types(command: &str) -> Option<&'static [ResourceType]> {
    Some(match command {
        "seed" => &[ResourceType::Seed],
        "run" => &[ResourceType::Model],
        "test" => &[ResourceType::UnitTest, ResourceType::Test],
        "snapshot" => &[ResourceType::Snapshot],
        "build" => &[
            ResourceType::Seed,
            ResourceType::Model,
            ResourceType::Snapshot,
            ResourceType::UnitTest,
            ResourceType::Test,
            ResourceType::Exposure,
        ],
        _ => return None,
    })
}

/// The last run again, on what it did not finish.
#[derive(Debug)]
pub struct Retry {
    /// The command the last run was (`build`, `run`, ...).
    pub command: String,
    /// The node kinds that command runs.
    pub types: &'static [ResourceType],
    /// `unique_id:...` selectors of the nodes that errored, failed or were skipped and still
    /// exist in `manifest`, in `run_results.json`'s order; empty when there is nothing to retry.
    pub select: Vec<String>,
    /// The last run's recorded `args` (`vars`, `target`, `threads`, `exclude`,
    /// `full_refresh`, `empty`), as `run_results.json` holds them.
    pub args: Value,
}

/// Reads `run_results` (the last run's `run_results.json`) and says what `retry` runs.
///
/// Errors: the file cannot be read or is not JSON; the last command builds nothing (e.g.
/// `compile`).
pub fn plan(run_results: &Path, manifest: &Manifest) -> Result<Retry> {
    let text = std::fs::read_to_string(run_results).map_err(|e| {
        Diagnostic::new(format!("cannot read `{}`: {e}", run_results.display()))
            .help("`retry` repeats the last `seed`, `run`, `test`, `snapshot` or `build`; run one first")
    })?;
    let previous: Value = serde_json::from_str(&text).context("run_results.json is not JSON")?;
    let args = previous["args"].clone();
    let command = args["command"].as_str().unwrap_or_default().to_string();
    let Some(types) = command_types(&command) else {
        return Err(Diagnostic::new(format!(
            "the last run was `{command}`, which `retry` cannot repeat"
        ))
        .help("`retry` repeats the last `seed`, `run`, `test`, `snapshot` or `build`")
        .into());
    };
    let select = selector::read_statuses(run_results)
        .into_iter()
        .filter(|(id, status)| {
            matches!(status.as_str(), "error" | "fail" | "skipped") && manifest.nodes.contains_key(id)
        })
        .map(|(id, _)| format!("unique_id:{id}"))
        .collect();
    Ok(Retry {
        command,
        types,
        select,
        args,
    })
}
