//! Opening a target's engine: the one place that asks which engine a target runs on
//! ([`Engine`]). A run claims it for writing ([`open_for_writing`]), a command that only reads
//! opens what exists ([`open_existing`]), and `debug` checks it ([`check`]).

use std::time::Duration;

use anyhow::Result;

use super::database::Database;
use super::setup::ConnectionSetup;
use super::Adapter;
use crate::config::connection::{DuckDbFile, Engine};
use crate::error::Diagnostic;

/// Makes relations quote identifiers as `engine` does, once for the process (a process runs
/// one target; see [`crate::relation::set_quoting`]): backticks on Spark, double quotes on
/// DuckDB.
///
/// Errors: the process already quotes for another engine (it loaded a second target).
pub fn use_quoting_of(engine: &Engine) -> Result<()> {
    let quoting = match engine {
        Engine::Spark(_) => crate::relation::Quoting::Backticks,
        Engine::DuckDb(_) => crate::relation::Quoting::DoubleQuotes,
    };
    if !crate::relation::set_quoting(quoting) {
        anyhow::bail!("this process already runs a target of another engine: run one target per process");
    }
    Ok(())
}

/// Whether static analysis can bind the target's SQL: DuckDB's binder is the target's own
/// engine on DuckDB; a Spark target's SQL is Spark's, which DuckDB does not bind.
pub fn binds_with_duckdb(engine: &Engine) -> bool {
    matches!(engine, Engine::DuckDb(_))
}

/// The target's database claimed for writing (see [`Database::open`]): DuckDB's file locked
/// and opened (or its publish copy), or the Spark Connect server connected; every connection
/// runs `setup` first.
///
/// Errors: as [`Database::open`] and [`Database::open_spark`]; an error about DuckDB's file
/// (a missing folder, a file that is not a DuckDB database) is placed at `path:` in
/// profiles.yml.
pub fn open_for_writing(
    engine: &Engine,
    setup: &ConnectionSetup,
    lock_timeout: Option<Duration>,
) -> Result<Database> {
    match engine {
        Engine::Spark(spark) => Database::open_spark(spark),
        Engine::DuckDb(file) => Database::open(
            file.path.as_deref(),
            setup,
            &file.attached_files,
            file.publish,
            lock_timeout,
        )
        .map_err(|e| at_path(file, e)),
    }
}

/// The target's database as it is, for reading: the Spark Connect server, or DuckDB's file
/// opened read-only with `setup` run; `None` when the file does not exist yet (or the target
/// is a database in memory, which holds nothing before a run).
///
/// Errors: the server cannot be reached; DuckDB cannot open the file (another process writes
/// it); a setup step fails.
pub fn open_existing(engine: &Engine, setup: &ConnectionSetup) -> Result<Option<Adapter>> {
    match engine {
        Engine::Spark(spark) => Adapter::open_spark(spark).map(Some),
        Engine::DuckDb(DuckDbFile { path: Some(path), .. }) if path.exists() => {
            Adapter::open_read_only(path)?.with_setup(setup).map(Some)
        }
        Engine::DuckDb(_) => Ok(None),
    }
}

/// What `debug` found: one line per check (`connection setup: OK`, `database: x.duckdb: OK`),
/// and whether all passed.
pub struct Check {
    pub lines: Vec<String>,
    pub ok: bool,
}

/// Checks that the target's engine can be used, as a run would use it, without changing
/// anything: DuckDB runs `setup` on a database in memory, then opens an existing file
/// read-only (or checks that its folder exists); Spark connects to the server and runs
/// `select 1`.
pub fn check(engine: &Engine, setup: &ConnectionSetup) -> Check {
    let first_line = |e: anyhow::Error| {
        let e = format!("{e:#}");
        e.lines().next().unwrap_or_default().to_string()
    };
    match engine {
        Engine::Spark(spark) => {
            let server = format!("spark connect: {}:{}", spark.host, spark.port);
            match Adapter::open_spark(spark).and_then(|a| a.query_rows("select 1").map(|_| ())) {
                Ok(()) => Check {
                    lines: vec![format!("{server}: OK")],
                    ok: true,
                },
                Err(e) => Check {
                    lines: vec![format!("{server}: FAILED\n  {}", first_line(e))],
                    ok: false,
                },
            }
        }
        Engine::DuckDb(file) => {
            let mut lines = Vec::new();
            // The profile's `extensions`, `secrets`, `attach` and `settings`, run as a
            // connection runs them: a value DuckDB refuses fails here, as it would at once.
            if !setup.steps.is_empty() {
                match Adapter::open(None).and_then(|a| a.with_setup(setup)) {
                    Ok(_) => lines.push("connection setup: OK".to_string()),
                    Err(e) => {
                        lines.push(format!("connection setup: FAILED\n  {}", first_line(e)));
                        return Check { lines, ok: false };
                    }
                }
            }
            let Some(path) = file.path.as_deref() else {
                lines.push("database: in memory: OK".to_string());
                return Check { lines, ok: true };
            };
            // An existing database is opened read-only, so that checking cannot disturb it.
            let status = if path.exists() {
                Adapter::open_read_only(path)
                    .map(|_| "OK".to_string())
                    .map_err(first_line)
            } else if path
                .parent()
                .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir())
            {
                Ok("does not exist yet; the first run creates it".to_string())
            } else {
                Err("its folder does not exist".to_string())
            };
            let ok = status.is_ok();
            lines.push(match status {
                Ok(status) => format!("database: {}: {status}", path.display()),
                Err(e) => format!("database: {}: FAILED\n  {e}", path.display()),
            });
            Check { lines, ok }
        }
    }
}

/// An error opening DuckDB's file placed at the target's `path:` in profiles.yml, when it is
/// about the file (a missing folder, a file DuckDB cannot read) and has no place yet; other
/// errors unchanged.
fn at_path(file: &DuckDbFile, e: anyhow::Error) -> anyhow::Error {
    match (e.downcast::<Diagnostic>(), &file.path_at) {
        (Ok(d), Some(at))
            if d.location.is_none()
                && (d.message.starts_with("cannot open database")
                    || d.message.ends_with("is not a DuckDB database")) =>
        {
            d.at(at.clone()).into()
        }
        (Ok(d), _) => d.into(),
        (Err(e), _) => e,
    }
}
