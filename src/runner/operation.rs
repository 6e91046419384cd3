//! `run-operation`: one macro called with a database connection, as dbt calls it: its
//! statements run and stay committed, its `log(..., info=True)` lines are printed; or, with
//! `--sql` (dbt 1.12), one SQL text rendered with the project's context and run.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Map, Value};

use crate::error::Diagnostic;
use crate::session::Session;

/// Calls macro `macro_name` (`name` or `package.name`) with `args` as keyword arguments, on
/// the target's database claimed for writing (waiting up to `lock_timeout` for another run).
///
/// Returns exit code 1 when the macro raises (dbt's `RunningOperationCaughtError`), else 0.
/// Errors (exit code 2): there is no such macro; the database cannot be opened.
pub fn run(
    session: &Session,
    macro_name: &str,
    args: &Map<String, Value>,
    lock_timeout: Option<Duration>,
) -> Result<ExitCode> {
    let found = match macro_name.split_once('.') {
        Some((package, name)) => session
            .env
            .globals()
            .find(|(g, _)| *g == package)
            .and_then(|(_, v)| v.get_attr(name).ok().filter(|m| !m.is_undefined())),
        None => session
            .env
            .globals()
            .find(|(g, _)| *g == macro_name)
            .map(|(_, v)| v),
    };
    let Some(found) = found else {
        return Err(Diagnostic::new(format!(
            "could not find a macro with the name `{}` in any package",
            macro_name
        ))
        .help("check its spelling, or install the package that defines it with `mallard deps`")
        .into());
    };
    let unique_id = crate::templating::macro_unique_id(&found)
        .unwrap_or_else(|| format!("macro.{}.{macro_name}", session.project.name));
    let call_args: Vec<String> = args
        .keys()
        .map(|k| format!("{k}=__mallard_operation_args[{}]", json!(k)))
        .collect();
    let template = format!("{{{{ {}({}) }}}}", macro_name, call_args.join(", "));
    let extra = minijinja::context! { __mallard_operation_args => minijinja::Value::from_serialize(args) };
    operate(session, &unique_id, macro_name, lock_timeout, |shared| {
        session
            .compiler()
            .render_project_hook(&template, Some(shared), extra)
    })
}

/// `run-operation --sql SQL` (dbt 1.12): renders `sql` with the project's context (`ref`,
/// `source`, `var`, `target`, ...) and runs it on the target's database claimed for writing,
/// as dbt's operation `inline_query`, with its two status lines.
///
/// Returns exit code 1 when rendering or the statement fails, else 0. Errors (exit code 2): the
/// database cannot be opened.
pub fn run_sql(session: &Session, sql: &str, lock_timeout: Option<Duration>) -> Result<ExitCode> {
    let unique_id = format!("operation.{}.inline_query", session.project.name);
    operate(session, &unique_id, "inline_query", lock_timeout, |shared| {
        crate::log::event(
            "LogStartLine",
            crate::log::Level::Info,
            &super::output::inline_query_line(true, None),
            json!({}),
        );
        let clock = std::time::Instant::now();
        let outcome = session
            .compiler()
            .render_project_hook(sql, Some(shared), minijinja::context! {})
            .and_then(|rendered| {
                let adapter = shared.lock().unwrap_or_else(|p| p.into_inner());
                adapter
                    .execute(&rendered)
                    .map_err(|e| Diagnostic::new(e.to_string()))?;
                Ok(rendered)
            });
        let line = super::output::inline_query_line(outcome.is_ok(), Some(clock.elapsed().as_secs_f64()));
        crate::log::event("LogResult", crate::log::Level::Info, &line, json!({}));
        outcome
    })
}

/// Runs `body` (an operation named `name`, recorded as `unique_id`) with the target's database
/// claimed for writing, commits when it succeeds, and writes `run_results.json` with its one
/// result.
fn operate(
    session: &Session,
    unique_id: &str,
    name: &str,
    lock_timeout: Option<Duration>,
    body: impl FnOnce(&crate::adapter::SharedAdapter) -> Result<String, Diagnostic>,
) -> Result<ExitCode> {
    let macro_name = name;
    let unique_id = unique_id.to_string();
    let started = std::time::Instant::now();
    let started_at = chrono::Utc::now();
    session.report_header();
    let database = session.open_database(lock_timeout)?;
    let shared = Arc::new(Mutex::new(database.adapter().try_clone()?));
    let outcome = body(&shared);
    drop(shared);
    database.finish(outcome.is_ok())?;
    // As dbt: one result, the macro's, with the operation's outcome.
    let elapsed = started.elapsed().as_secs_f64();
    let result = crate::artifacts::results::NodeResult {
        unique_id,
        status: match outcome {
            Ok(_) => crate::artifacts::results::Status::Success,
            Err(_) => crate::artifacts::results::Status::Error,
        },
        message: outcome.as_ref().err().map(|d| d.to_string()),
        failures: None,
        execution_time: elapsed,
        timing: vec![crate::artifacts::results::Timing {
            name: "execute",
            started_at,
            completed_at: chrono::Utc::now(),
        }],
        thread_id: "main".to_string(),
        compiled_code: None,
        rows_affected: None,
    };
    let invocation =
        crate::artifacts::Invocation::new(json!({"which": "run-operation", "macro": macro_name}));
    crate::artifacts::write_run_results(
        &session.project.target_dir(),
        &session.manifest,
        &[result],
        elapsed,
        &invocation,
    )?;
    match outcome {
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(d) => {
            crate::log::event(
                "RunningOperationCaughtError",
                crate::log::Level::Error,
                &format!("Encountered an error while running operation: {d}"),
                json!({"exc": d.to_string()}),
            );
            Ok(ExitCode::from(1))
        }
    }
}
