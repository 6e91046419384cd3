//! `on-run-start` and `on-run-end`: the project's SQL run before the first node and after the
//! last, each rendered with the run's context (`target`, `var`, `run_query`, ...) plus, as in
//! dbt, `schemas` and `database_schemas` (what the run builds into) and, at the end, `results`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use minijinja::Value;

use super::{indent, NodeResult, Status, Timing};
use crate::adapter::Adapter;
use crate::compile::Compiler;

/// Which of the two project hooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Start,
    End,
}

impl When {
    /// The key in `dbt_project.yml`.
    pub fn key(self) -> &'static str {
        match self {
            When::Start => "on-run-start",
            When::End => "on-run-end",
        }
    }
}

/// One `on-run-start` or `on-run-end` hook: its project (the root project's or a package's),
/// its index among that project's hooks and its template.
#[derive(Debug, Clone)]
pub struct ProjectHook {
    pub package: String,
    pub index: usize,
    pub template: String,
}

/// The `when` hooks of the root project and its packages in dbt's order: the packages' by
/// package name, then the root project's, each project's in the order written.
pub fn project_hooks(project: &crate::project::Project, when: When) -> Vec<ProjectHook> {
    let of = |p: &crate::project::Project| {
        let templates = match when {
            When::Start => &p.on_run_start,
            When::End => &p.on_run_end,
        };
        templates
            .iter()
            .enumerate()
            .map(|(index, template)| ProjectHook {
                package: p.name.clone(),
                index,
                template: template.clone(),
            })
            .collect::<Vec<_>>()
    };
    let mut packages: Vec<&crate::project::Project> = project
        .packages
        .iter()
        .filter(|p| p.name != project.name)
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    packages.into_iter().chain([project]).flat_map(of).collect()
}

/// Renders and runs `hooks` in order on a connection of `adapter`, stopping at the first
/// that fails. `extra` is a map added to the templates' context. Returns one result per hook
/// run, named `operation.<package>.<package>-<key>-<index>` as dbt names them; a failed one
/// has status `Error` and the error as its message. `on_done` sees each result as it finishes.
///
/// Errors: only a second connection that cannot be opened; hook failures are results.
pub fn run(
    when: When,
    hooks: &[ProjectHook],
    compiler: &Compiler<'_>,
    adapter: &Adapter,
    extra: Value,
    mut on_done: impl FnMut(usize, &NodeResult),
) -> anyhow::Result<Vec<NodeResult>> {
    let shared = Arc::new(Mutex::new(adapter.try_clone()?));
    let mut results = Vec::new();
    for (i, hook) in hooks.iter().enumerate() {
        let template = &hook.template;
        let started = Instant::now();
        let started_at = Utc::now();
        let outcome = compiler
            .render_project_hook(template, Some(&shared), extra.clone())
            .map_err(|d| {
                format!(
                    "Compilation Error in {} hook #{}\n  {}",
                    when.key(),
                    i + 1,
                    indent(&d.to_string())
                )
            })
            .and_then(|sql| {
                let conn = shared.lock().unwrap_or_else(|p| p.into_inner());
                conn.execute(&sql).map(|_| sql.clone()).map_err(|e| {
                    format!(
                        "Runtime Error in {} hook #{}\n  {}",
                        when.key(),
                        i + 1,
                        indent(&e.to_string())
                    )
                })
            });
        let failed = outcome.is_err();
        let r = NodeResult {
            unique_id: format!(
                "operation.{package}.{package}-{}-{}",
                when.key(),
                hook.index,
                package = hook.package
            ),
            status: if failed { Status::Error } else { Status::Success },
            message: Some(
                outcome
                    .as_ref()
                    .err()
                    .cloned()
                    .unwrap_or_else(|| "OK".to_string()),
            ),
            failures: None,
            execution_time: started.elapsed().as_secs_f64(),
            timing: vec![Timing {
                name: "execute",
                started_at,
                completed_at: Utc::now(),
            }],
            thread_id: "main".to_string(),
            compiled_code: outcome.ok(),
            rows_affected: None,
        };
        on_done(i + 1, &r);
        results.push(r);
        if failed {
            break;
        }
    }
    Ok(results)
}

/// `schemas` and `database_schemas` for the hooks' context: the distinct schemas (and
/// database, schema pairs) of `relations`, sorted.
pub fn schema_context<'a>(relations: impl Iterator<Item = &'a crate::relation::Relation>) -> Value {
    let mut pairs: Vec<(String, String)> = relations
        .map(|r| (r.database.clone(), r.schema.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    let mut schemas: Vec<String> = pairs.iter().map(|(_, s)| s.clone()).collect();
    schemas.sort();
    schemas.dedup();
    let database_schemas: Vec<Vec<String>> = pairs.into_iter().map(|(d, s)| vec![d, s]).collect();
    minijinja::context! { schemas => schemas, database_schemas => database_schemas }
}

/// `results` for `on-run-end`: per node, `status`, `message`, `execution_time`,
/// `failures` and `node` (`unique_id`, `name`, `resource_type`).
pub fn results_context(manifest: &crate::manifest::Manifest, results: &[NodeResult]) -> Value {
    let items: Vec<Value> = results
        .iter()
        .map(|r| {
            let node = manifest.nodes.get(&r.unique_id);
            minijinja::context! {
                status => r.status.as_str(),
                message => r.message.clone(),
                execution_time => r.execution_time,
                failures => r.failures,
                unique_id => r.unique_id.clone(),
                node => minijinja::context! {
                    unique_id => r.unique_id.clone(),
                    name => node.map(|n| n.name.clone()),
                    resource_type => node.map(|n| n.resource_type.as_str()),
                },
            }
        })
        .collect();
    minijinja::context! { results => items }
}
