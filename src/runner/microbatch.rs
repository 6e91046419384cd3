//! Running a microbatch model (`incremental_strategy: microbatch`): its batches planned
//! ([`crate::materialization::microbatch::Plan::batches`]), then, in order, each rendered for
//! its window ([`Compiler::compile_batch`]) and built in a transaction of its own: the first
//! batch of a first build (or a full refresh) creates the table, every other one replaces its
//! window. Pre-hooks run with the first batch, post-hooks with the last, as in dbt.
//!
//! One difference from dbt: the first batch that fails stops the model (its status `error`,
//! the message naming the batch; the batches before it stay built), where dbt goes on with the
//! later batches and reports a partial success. Stopping keeps the table free of a gap behind
//! later windows; `mallard retry` builds the model's whole window again.

use std::time::Instant;

use chrono::Utc;

use super::{compilation_error, indent};
use super::{NodeResult, Status, Timing};
use crate::adapter::SharedAdapter;
use crate::compile::Compiler;
use crate::config::materialized::MicrobatchConfig;
use crate::manifest::Node;
use crate::materialization::microbatch::{replace_window, Batch, Plan};
use crate::materialization::{self, Hooks};
use crate::templating::EventTimeWindow;

/// Builds microbatch model `node` (settings `settings`, `incremental` when its table exists
/// and this is not a full refresh) on `db`, and its result: `success` with `OK (N batches)`,
/// or `error` naming the batch that failed.
pub(super) fn run(
    node: &Node,
    compiler: &Compiler<'_>,
    db: &SharedAdapter,
    settings: &MicrobatchConfig,
    incremental: bool,
    started: Instant,
) -> NodeResult {
    let compile_start = Utc::now();
    let mut result = NodeResult::skipped(&node.unique_id);
    result.status = Status::Success;
    result.thread_id = String::new();
    let unique_key = match &node.materialization {
        crate::config::materialized::Materialization::Incremental(c) => c.unique_key.clone(),
        _ => Vec::new(),
    };
    let planned = Plan::from_config(settings, &unique_key, &node.name).and_then(|plan| {
        let (start, end, now) = compiler.event_time;
        let batches = plan.batches(incremental, start, end, now, &node.name)?;
        Ok((plan, batches))
    });
    let hooks = planned.and_then(|p| Ok((p, compiler.hooks(node, incremental, Some(db))?)));
    let ((plan, batches), hooks) = match hooks {
        Ok(planned) => planned,
        Err(d) => {
            result.status = Status::Error;
            result.message = Some(compilation_error(node, &d));
            result.execution_time = started.elapsed().as_secs_f64();
            return result;
        }
    };
    result.timing.push(Timing {
        name: "compile",
        started_at: compile_start,
        completed_at: Utc::now(),
    });
    let exec_start = Utc::now();
    let batch_run = BatchRun {
        node,
        compiler,
        db,
        plan: &plan,
        hooks: &hooks,
        incremental,
    };
    if let Err(message) = batch_run.build_all(&batches, &mut result.compiled_code) {
        result.status = Status::Error;
        result.message = Some(message);
    }
    if result.status == Status::Success && !hooks.deferred_post.is_empty() {
        if let Err(d) = compiler.run_deferred_post_hooks(node, &hooks, true, db) {
            result.status = Status::Error;
            result.message = Some(compilation_error(node, &d));
        }
    }
    if result.status == Status::Success {
        result.message = Some(format!("OK ({} batches)", batches.len()));
    }
    result.timing.push(Timing {
        name: "execute",
        started_at: exec_start,
        completed_at: Utc::now(),
    });
    result.execution_time = started.elapsed().as_secs_f64();
    result
}

/// What building a microbatch model's batches needs.
struct BatchRun<'a> {
    node: &'a Node,
    compiler: &'a Compiler<'a>,
    db: &'a SharedAdapter,
    plan: &'a Plan,
    hooks: &'a Hooks,
    incremental: bool,
}

impl BatchRun<'_> {
    /// Builds `batches` in order, each in its own transaction: the first of a new table
    /// creates it, the others replace their window (dbt renders the batches after the first
    /// as increments); pre-hooks run with the first, post-hooks with the last. The last
    /// batch's SQL is left in `compiled_code`.
    ///
    /// Errors: the message of the first batch that fails to compile or build (later batches
    /// are not run).
    fn build_all(&self, batches: &[Batch], compiled_code: &mut Option<String>) -> Result<(), String> {
        let BatchRun {
            node,
            compiler,
            db,
            plan,
            hooks,
            incremental,
        } = *self;
        let relation = node.relation.as_ref().expect("models have relations");
        let last = batches.len().saturating_sub(1);
        for (i, batch) in batches.iter().enumerate() {
            let id = batch.id(plan.batch_size);
            let window = EventTimeWindow {
                start: Batch::text(batch.start),
                end: Batch::text(batch.end),
            };
            let sql = compiler
                .compile_batch(node, incremental || i > 0, (&id, &window), Some(db))
                .map_err(|d| format!("batch {id}: {}", compilation_error(node, &d)))?;
            let batch_hooks = Hooks {
                pre: if i == 0 { hooks.pre.clone() } else { Vec::new() },
                post: if i == last { hooks.post.clone() } else { Vec::new() },
                deferred_post: Vec::new(),
            };
            let built = {
                let adapter = db.lock().unwrap_or_else(|p| p.into_inner());
                if i == 0 && !incremental {
                    materialization::model(&adapter, "table", relation, &sql, &batch_hooks, &[])
                } else {
                    replace_window(&adapter, relation, &sql, plan, batch, &batch_hooks)
                }
            };
            *compiled_code = Some(sql);
            if let Err(e) = built {
                return Err(format!(
                    "Runtime Error in model {} ({}), batch {id} of {}:\n  {}",
                    node.name,
                    node.original_file_path,
                    batches.len(),
                    indent(&e.to_string())
                ));
            }
        }
        Ok(())
    }
}
