//! Replays a statement log (written by a run with `MALLARD_SQL_LOG=<file>`) in one DuckDB
//! connection, with no runner in between: the benchmark's baseline for "the same SQL run by
//! DuckDB itself".
//!
//! `replay_sql <database> <log>` prints the statements run and the seconds they took.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, log] = args.as_slice() else {
        return Err("usage: replay_sql <database> <statement log>".into());
    };
    let text = std::fs::read_to_string(log)?;
    let statements: Vec<&str> = text
        .split(mallard::adapter::STATEMENT_END)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let started = Instant::now();
    let conn = duckdb::Connection::open(db)?;
    for sql in &statements {
        conn.execute_batch(sql).map_err(|e| format!("{e}\nin:\n{sql}"))?;
    }
    drop(conn);
    println!(
        "{} statements in {:.3}s",
        statements.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
