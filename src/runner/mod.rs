//! Executing a selection: compile each node, run it on a worker's own connection, print one
//! line as it finishes, and skip the descendants of what failed.
//!
//! Scheduling is dbt's: a node starts when everything it depends on (in the run's edges, see
//! [`crate::graph::run_edges`]) has finished; `threads` workers take ready nodes in schedule
//! order. A model that errors, or a data test that fails with severity `error`, marks every
//! node downstream of it `skipped`; independent branches go on.

pub mod clone;
pub mod docs;
pub mod freshness;
pub mod hooks;
mod microbatch;
pub mod operation;
pub mod output;
pub mod retry;
pub mod run;
mod schedule;
pub mod show;
use schedule::{Queue, Schedule};
pub mod signals;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::adapter::SharedAdapter;
use crate::adapter::{Adapter, RelationKind};
use crate::compile::Compiler;
use crate::config::materialized::Materialization;
use crate::manifest::{Node, ResourceType};
use crate::materialization::{self, Hooks, SeedLoad};
use crate::testing;

pub use crate::artifacts::results::{NodeResult, Status, Timing};

pub use crate::graph::Plan;

/// Runs `plan` with `threads` workers, each on its own connection cloned from `adapter`.
/// Without `write`, nodes are only rendered and their compiled SQL written; `adapter`, if
/// any (a read-only connection), then serves `run_query` and `adapter` in templates.
/// `on_done` sees each result as it finishes, in the order they finish, with the node's
/// 1-based index in `plan.order`. Returns the results in that same finishing order.
pub fn run_nodes(
    plan: &Plan,
    compiler: &Compiler<'_>,
    adapter: Option<&Adapter>,
    write: bool,
    threads: usize,
    project_root: &Path,
    mut on_done: impl FnMut(usize, &NodeResult) + Send,
) -> Result<Vec<NodeResult>> {
    let manifest = compiler.manifest;
    let mut queue = Queue::new(plan);
    queue.fail_fast = plan.fail_fast;
    let mut results = Vec::with_capacity(plan.order.len());

    if let Some(a) = adapter.filter(|_| write) {
        // One connection creates every schema first: DuckDB reports a write-write conflict
        // when two transactions create the same schema concurrently.
        let schemas: BTreeSet<(&str, &str)> = plan
            .order
            .iter()
            .filter_map(|id| manifest.nodes[id].relation.as_ref())
            .map(|r| (r.database.as_str(), r.schema.as_str()))
            .collect();
        for (database, schema) in schemas {
            a.ensure_schema(database, schema)?;
        }
    }
    // One worker per thread, each with its own connection (none when only compiling:
    // rendering and writing compiled SQL spread over the threads just the same). Compiling
    // uses no more workers than cores: it is CPU and file-creation work, and at 30,000 nodes
    // on 2 cores, 4 workers took 5.6-12.9 s against 2.1-2.5 s for 2 (the kernel's file
    // creation locks contended).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let threads = if write { threads } else { threads.min(cores) };
    let mut workers = Vec::new();
    for _ in 0..threads.max(1) {
        let conn = adapter.map(Adapter::try_clone).transpose()?;
        workers.push(conn.map(|c| Arc::new(Mutex::new(c))));
    }

    // The workers schedule themselves (`schedule::work`).
    let state = Mutex::new(Schedule {
        queue,
        results: &mut results,
        on_done: &mut on_done,
        running: 0,
        idle: 0,
    });
    let wake = Condvar::new();
    let mut spawn_error = None;
    std::thread::scope(|scope| {
        for (w, conn) in workers.into_iter().enumerate() {
            let (state, wake, order) = (&state, &wake, &plan.order);
            let worker = std::thread::Builder::new().stack_size(crate::templating::RENDER_STACK_SIZE);
            let spawned = worker.spawn_scoped(scope, move || {
                schedule::work(state, wake, order, &format!("Thread-{}", w + 1), |id| {
                    let node = &manifest.nodes[id];
                    crate::log::progress_started(&node.name);
                    run_node(node, compiler, conn.as_ref(), write, project_root)
                })
            });
            if let Err(e) = spawned {
                spawn_error.get_or_insert(e);
            }
        }
    });
    if let Some(e) = spawn_error {
        // Any worker that did start ran the whole plan; none did, if this is short.
        if results.len() < plan.order.len() {
            return Err(anyhow::Error::new(e).context("cannot start a worker thread"));
        }
    }
    Ok(results)
}

/// Compiles and (with a connection) executes one node.
fn run_node(
    node: &Node,
    compiler: &Compiler<'_>,
    connection: Option<&SharedAdapter>,
    write: bool,
    project_root: &Path,
) -> NodeResult {
    let started = Instant::now();
    let compile_start = Utc::now();
    if node.resource_type == ResourceType::Exposure {
        return exposure_result(node, started, compile_start);
    }
    let incremental = is_incremental(node, compiler, connection);
    if let (Materialization::Incremental(config), Some(db)) =
        (&node.materialization, connection.filter(|_| write))
    {
        if let Some(settings) = &config.microbatch {
            return microbatch::run(node, compiler, db, settings, incremental, started);
        }
    }
    let compiled = compiler.compile(node, incremental, connection);
    let compile_end = Utc::now();
    let mut result = NodeResult {
        unique_id: node.unique_id.clone(),
        status: Status::Success,
        message: None,
        failures: None,
        execution_time: 0.0,
        timing: vec![Timing {
            name: "compile",
            started_at: compile_start,
            completed_at: compile_end,
        }],
        thread_id: String::new(),
        compiled_code: None,
        rows_affected: None,
    };
    // A node that cannot be compiled (or whose contract or hooks fail) is a compilation error.
    let failed = |mut result: NodeResult, d: &crate::error::Diagnostic| {
        result.status = Status::Error;
        result.message = Some(compilation_error(node, d));
        result.execution_time = started.elapsed().as_secs_f64();
        result
    };
    let sql = match compiled {
        Ok(sql) => sql,
        Err(d) => return failed(result, &d),
    };
    if node.resource_type != ResourceType::Seed {
        result.compiled_code = Some(sql.clone());
    }
    if let Some(connection) = connection.filter(|_| write) {
        let context = ExecuteContext {
            compiler,
            node,
            connection,
            incremental,
            project_root,
        };
        if let Err(d) = context.execute(&sql, &mut result) {
            return failed(result, &d);
        }
    }
    result.execution_time = started.elapsed().as_secs_f64();
    result
}

/// What executing one compiled node needs.
struct ExecuteContext<'a> {
    compiler: &'a Compiler<'a>,
    node: &'a Node,
    connection: &'a SharedAdapter,
    incremental: bool,
    project_root: &'a Path,
}

impl ExecuteContext<'_> {
    /// Executes the node's compiled `sql` (contract check, hooks, its materialization),
    /// adding the execute timing and the outcome to `result`.
    ///
    /// Errors: the compilation errors of a node (a broken contract, a hook that does not
    /// render, a custom materialization that fails); the database's errors are in `result`.
    fn execute(&self, sql: &str, result: &mut NodeResult) -> Result<(), crate::error::Diagnostic> {
        let ExecuteContext {
            compiler,
            node,
            connection,
            incremental,
            project_root,
        } = *self;
        // An enforced contract is checked before anything is built, and fails as dbt's does:
        // as a compilation error of the model.
        if node.resource_type == ResourceType::Model && materialization::contract::enforced(node) {
            let a = connection.lock().unwrap_or_else(|p| p.into_inner());
            materialization::contract::check(&a, node, sql)?;
        }
        let hooks = compiler.hooks(node, incremental, Some(connection))?;
        let exec_start = Utc::now();
        let executed = |result: &mut NodeResult| {
            result.timing.push(Timing {
                name: "execute",
                started_at: exec_start,
                completed_at: Utc::now(),
            })
        };
        if node.resource_type == ResourceType::Model && !node.materialization.is_built_in() {
            // A custom materialization's statements take the connection themselves.
            let done = compiler.custom_materialization(node, sql, connection);
            executed(result);
            result.message = Some("OK".to_string());
            return done;
        }
        let guard = connection.lock().unwrap_or_else(|p| p.into_inner());
        let outcome = run_in_database(compiler, node, sql, &hooks, &guard, project_root);
        drop(guard);
        // Post-hooks that use the database while rendering run once the node has committed.
        let outcome = match outcome {
            Ok(o) if !hooks.deferred_post.is_empty() => compiler
                .run_deferred_post_hooks(node, &hooks, incremental, connection)
                .map(|()| o)
                .map_err(anyhow::Error::from),
            other => other,
        };
        executed(result);
        let compiled_at = format!(
            "compiled code at {}/{}",
            compiler.target_path,
            node.compiled_path()
        );
        record_outcome(result, node, outcome, sql, &compiled_at);
        Ok(())
    }
}

/// An exposure's result: it runs nothing, and dbt reports it as a no-op.
fn exposure_result(node: &Node, started: Instant, compile_start: chrono::DateTime<Utc>) -> NodeResult {
    let now = Utc::now();
    let mut result = NodeResult::skipped(&node.unique_id);
    result.status = Status::NoOp;
    result.message = Some("NO-OP".to_string());
    result.failures = Some(0);
    result.execution_time = started.elapsed().as_secs_f64();
    result.timing = vec![
        Timing {
            name: "compile",
            started_at: compile_start,
            completed_at: compile_start,
        },
        Timing {
            name: "execute",
            started_at: now,
            completed_at: now,
        },
    ];
    result
}

/// `is_incremental()` for `node`: an incremental model whose table exists, not rebuilt by
/// `--full-refresh`. False without a connection, or when the database cannot say.
fn is_incremental(node: &Node, compiler: &Compiler<'_>, connection: Option<&SharedAdapter>) -> bool {
    match (connection, &node.relation) {
        (Some(db), Some(relation)) if matches!(node.materialization, Materialization::Incremental(_)) => {
            let a = db.lock().unwrap_or_else(|p| p.into_inner());
            match a.relation_kind(relation) {
                Ok(kind) => materialization::incremental::is_incremental(kind, compiler.full_refresh(node)),
                Err(_) => false,
            }
        }
        _ => false,
    }
}

/// A data test's status and message from its `failures` and whether they reach `warn_if` and
/// `error_if`, as dbt words them (`Got 3 results, configured to fail if != 0`, then where its
/// compiled code is). `--warn-error` (or `--warn-error-options` naming LogTestResult) makes a
/// warning test fail, with dbt's failure message.
fn test_verdict(
    node: &Node,
    failures: i64,
    should_warn: bool,
    should_error: bool,
    compiled_at: &str,
) -> (Status, Option<String>) {
    let status = if node.config.severity() == "error" && should_error {
        Status::Fail
    } else if should_warn || should_error {
        if crate::log::warning_is_error("LogTestResult") {
            Status::Fail
        } else {
            Status::Warn
        }
    } else {
        Status::Pass
    };
    let (verb, condition) = match status {
        Status::Pass => return (status, None),
        Status::Fail => ("fail", node.config.get_str("error_if").unwrap_or("!= 0")),
        _ => ("warn", node.config.get_str("warn_if").unwrap_or("!= 0")),
    };
    let s = if failures == 1 { "" } else { "s" };
    let message = format!("Got {failures} result{s}, configured to {verb} if {condition}\n\n  {compiled_at}");
    (status, Some(message))
}

/// `result` completed with what running `node` (its compiled `sql`) gave: `OK`, a seed's row
/// count, a data test's or unit test's verdict with dbt's message, or dbt's runtime error
/// (with where the error is, `compiled_at` naming the compiled file).
fn record_outcome(
    result: &mut NodeResult,
    node: &Node,
    outcome: Result<Outcome>,
    sql: &str,
    compiled_at: &str,
) {
    match outcome {
        Ok(Outcome::Built) => result.message = Some("OK".to_string()),
        Ok(Outcome::UnitTested(outcome)) => {
            result.failures = Some(outcome.differences as i64);
            if outcome.differences == 0 {
                result.status = Status::Pass;
            } else {
                result.status = Status::Fail;
                let rows = match outcome.differences {
                    1 => "1 row differs".to_string(),
                    n => format!("{n} rows differ"),
                };
                result.message = Some(format!(
                    "{rows} between the output and `expect`:\n{}\n\n  {compiled_at}",
                    indent(outcome.report.trim_end())
                ));
            }
        }
        Ok(Outcome::Loaded(rows)) => {
            result.message = Some(format!("INSERT {rows}"));
            result.rows_affected = Some(rows);
        }
        Ok(Outcome::Tested {
            failures,
            should_warn,
            should_error,
        }) => {
            result.failures = Some(failures);
            (result.status, result.message) =
                test_verdict(node, failures, should_warn, should_error, compiled_at);
        }
        Err(e) => {
            result.status = Status::Error;
            let what = match node.resource_type {
                ResourceType::Test => "test",
                ResourceType::Seed => "seed",
                ResourceType::Snapshot => "snapshot",
                ResourceType::UnitTest => "unit_test",
                _ => "model",
            };
            let text = e.to_string();
            let mut msg = format!(
                "Runtime Error in {what} {} ({})\n  {}",
                node.name,
                node.original_file_path,
                indent(&text)
            );
            if node.resource_type != ResourceType::Seed {
                // A data test of property YAML that cannot run: also the line defining it.
                let defined_at = node
                    .defined_at
                    .as_ref()
                    .map(|at| format!("defined at {at}, "))
                    .unwrap_or_default();
                msg.push_str(&format!(
                    "\n  {defined_at}{}",
                    crate::compile::error_location::error_at(node, &text, sql, compiled_at)
                ));
            }
            result.message = Some(msg);
        }
    }
}

enum Outcome {
    Built,
    UnitTested(testing::unit::UnitOutcome),
    Loaded(i64),
    Tested {
        failures: i64,
        should_warn: bool,
        should_error: bool,
    },
}

/// Builds, loads or tests `node` (its compiled `sql`, `hooks` around it) in the database.
fn run_in_database(
    compiler: &Compiler,
    node: &Node,
    sql: &str,
    hooks: &Hooks,
    adapter: &Adapter,
    project_root: &Path,
) -> Result<Outcome> {
    let manifest = compiler.manifest;
    match node.resource_type {
        ResourceType::Seed => {
            let load = SeedLoad::for_node(manifest, node, project_root, hooks);
            let rows = load.load(adapter)?;
            if adapter.relation_kind(load.relation)?.is_some() {
                materialization::persist_docs(adapter, node, RelationKind::Table)?;
            }
            Ok(Outcome::Loaded(rows))
        }
        ResourceType::Model => {
            build_model(compiler, node, sql, hooks, adapter, project_root)?;
            Ok(Outcome::Built)
        }
        ResourceType::Test => {
            let (failures, should_warn, should_error) = run_data_test(node, sql, adapter)?;
            Ok(Outcome::Tested {
                failures,
                should_warn,
                should_error,
            })
        }
        ResourceType::Snapshot => {
            let relation = node.relation.as_ref().expect("snapshots have relations");
            let Materialization::Snapshot(config) = &node.materialization else {
                anyhow::bail!("snapshot `{}` has no snapshot settings", node.name);
            };
            materialization::snapshot::build(adapter, relation, sql, config, hooks)?;
            Ok(Outcome::Built)
        }
        ResourceType::UnitTest => {
            let spec = node.unit_test.as_ref().expect("unit tests have a spec");
            let outcome = testing::unit::run(adapter, manifest, spec, sql, project_root)?;
            Ok(Outcome::UnitTested(outcome))
        }
        ResourceType::Source | ResourceType::Exposure => Ok(Outcome::Built),
    }
}

/// Builds model `node` from its compiled `sql` by its materialization, then documents its
/// relation (`persist_docs`) and points a versioned model's latest-version view at it.
fn build_model(
    compiler: &Compiler,
    node: &Node,
    sql: &str,
    hooks: &Hooks,
    adapter: &Adapter,
    project_root: &Path,
) -> Result<()> {
    let relation = node.relation.as_ref().expect("models have relations");
    match &node.materialization {
        Materialization::Incremental(config) => {
            let full_refresh = compiler.full_refresh(node);
            materialization::incremental::build(adapter, relation, sql, config, full_refresh, hooks)?
        }
        Materialization::TableFunction { parameters } => {
            materialization::table_function(adapter, relation, sql, parameters, hooks)?
        }
        Materialization::External(config) => {
            let external_root = compiler.target.engine.external_root();
            let plan =
                materialization::external::ExternalPlan::new(config, relation, external_root, project_root)?;
            materialization::external::build(adapter, relation, sql, &plan, hooks)?
        }
        Materialization::Table if materialization::contract::enforced(node) => {
            materialization::contracted_table(adapter, node, relation, sql, hooks)?
        }
        other => materialization::model(
            adapter,
            other.name(),
            relation,
            sql,
            hooks,
            &crate::config::materialized::partition_by(&node.config),
        )?,
    }
    let kind = if matches!(
        node.materialization,
        Materialization::View | Materialization::External(_) | Materialization::TableFunction { .. }
    ) {
        RelationKind::View
    } else {
        RelationKind::Table
    };
    materialization::persist_docs(adapter, node, kind)?;
    materialization::latest_version_pointer(adapter, node)
}

/// Runs data test `node` (its compiled `sql`): `(failures, should_warn, should_error)`. With
/// `store_failures`, the failing rows replace the test's audit relation
/// (`<schema>_dbt_test__audit.<test>`) and the test counts them there, as dbt does.
fn run_data_test(node: &Node, sql: &str, adapter: &Adapter) -> Result<(i64, bool, bool)> {
    let stored;
    let sql = match (
        testing::store_failures_as(&node.config)?,
        node.audit_relation.as_ref(),
    ) {
        (Some(kind), Some(audit)) => {
            adapter.ensure_schema(&audit.database, &audit.schema)?;
            let body = sql.trim_end().trim_end_matches(';');
            let dialect = adapter.dialect();
            let mut statements = Vec::new();
            // A relation of the other kind, or a table the engine cannot replace in place,
            // is dropped first.
            if let Some(existing) = adapter.relation_kind(audit)?.filter(|e| {
                *e != kind || (kind == RelationKind::Table && !dialect.replaces_tables_in_place())
            }) {
                statements.push(dialect.drop_if_exists(existing, audit));
            }
            statements.push(dialect.create_or_replace(kind, audit, body));
            adapter.in_transaction(&statements)?;
            adapter.set_relation_kind(audit, kind);
            stored = format!("select * from {audit}");
            stored.as_str()
        }
        _ => sql,
    };
    adapter.query_test(&testing::wrap_test_sql(sql, &node.config))
}

/// dbt's heading for a node that could not be compiled, with the diagnostic under it.
pub(super) fn compilation_error(node: &Node, d: &crate::error::Diagnostic) -> String {
    format!(
        "Compilation Error in {} {} ({})\n  {}",
        node.resource_type.as_str(),
        node.name,
        node.original_file_path,
        indent(&d.to_string())
    )
}

/// Indents every line after the first by two spaces, for messages under a heading.
pub(crate) fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n  ")
}
