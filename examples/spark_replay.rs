//! Replays a statement log (written by a run with `MALLARD_SQL_LOG=<file>` on a Spark target)
//! through one Spark Connect session, with no runner in between: the benchmark's baseline for
//! "the same SQL sent by a raw Spark Connect client".
//!
//! `spark_replay <sc://host:port> <log>` prints the statements run and the seconds they took.

use std::time::Instant;

use spark_connect::session::SparkSession;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, log] = args.as_slice() else {
        return Err("usage: spark_replay <sc://host:port> <statement log>".into());
    };
    let text = std::fs::read_to_string(log)?;
    let statements: Vec<&str> = text
        .split(mallard::adapter::STATEMENT_END)
        .flat_map(mallard::adapter::spark::statements)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let started = Instant::now();
    let spark = SparkSession::builder().remote(url).get_or_create()?;
    for sql in &statements {
        spark
            .sql(sql)?
            .collect()
            .map_err(|e| format!("{e}\nin:\n{sql}"))?;
    }
    println!(
        "{} statements in {:.3}s",
        statements.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
