//! Runs a target's [`ConnectionSetup`] (dbt-duckdb's `extensions`, `secrets`, `attach`,
//! `settings`; see [`crate::config::connection`]) on a connection, before its first
//! statement. Each worker's connection runs it too (see [`super::Adapter::try_clone`]), so all
//! see the same extensions, secrets and databases.
//!
//! Secret values are never shown: the statements are not written to the statement log, and an
//! error quoting one has it replaced by `***`.

use anyhow::Result;

use super::Connection;
pub use crate::config::connection::{ConnectionSetup, SetupStep};
use crate::error::Diagnostic;

/// Runs every step of `setup` on `conn`.
///
/// Errors: the first step that fails, named with its place in `profiles.yml`, DuckDB's message
/// (secret values replaced by `***`) and what to do.
pub fn run(setup: &ConnectionSetup, conn: &dyn Connection) -> Result<()> {
    for step in &setup.steps {
        match step {
            SetupStep::Extension { name, repo, at } => {
                extension(conn, name, repo.as_deref()).map_err(|e| {
                        Diagnostic::new(format!("cannot install or load DuckDB extension `{name}`: {e}"))
                            .at(at.clone())
                            .help(
                                "check the name; an extension that is not built in is downloaded on first use, \
                                 which needs network access (or install it beforehand with `INSTALL <name>` in DuckDB), \
                                 or remove it from `extensions:`",
                            )
                    })?;
            }
            SetupStep::Statement {
                sql,
                what,
                at,
                hidden,
            } => {
                conn.execute(sql).map_err(|e| {
                    let mut message = e.to_string();
                    for value in hidden.iter().filter(|v| !v.is_empty()) {
                        message = message.replace(value.as_str(), "***");
                    }
                    Diagnostic::new(format!("cannot set up the connection: {what} failed: {message}"))
                        .at(at.clone())
                        .help("fix the target's entry in profiles.yml")
                })?;
            }
        }
    }
    Ok(())
}

/// Installs (unless installed) and loads (unless loaded) extension `name`.
fn extension(conn: &dyn Connection, name: &str, repo: Option<&str>) -> Result<()> {
    let literal = crate::sql::string_literal(name);
    let (_, rows) = conn.query(&format!(
        "select installed, loaded from duckdb_extensions() where extension_name = lower({literal})"
    ))?;
    let flag = |i: usize| {
        rows.first()
            .is_some_and(|r| r.get(i) == Some(&super::Cell::Bool(true)))
    };
    if !flag(0) {
        match repo {
            Some(repo) => conn.execute(&format!("install {name} from {repo}"))?,
            None => conn.execute(&format!("install {name}"))?,
        }
    }
    if !flag(1) {
        conn.execute(&format!("load {name}"))?;
    }
    Ok(())
}
