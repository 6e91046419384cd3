//! A run's results as `run_results.json` records them: each node's status, message, timings
//! and counts. The runner makes them; the artifacts, the summary and the hooks read them.

use chrono::{DateTime, Utc};

/// A node's outcome, with dbt's names (`run_results.json` `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// A model or seed was built.
    Success,
    /// A model or seed failed, or a test could not run.
    Error,
    /// Not run because something upstream failed.
    Skipped,
    /// A data test found no failing rows.
    Pass,
    /// A data test failed with severity `error`.
    Fail,
    /// A data test failed with severity `warn`.
    Warn,
    /// Nothing to do: an exposure in `build`, as dbt 1.10+ reports it.
    NoOp,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Warn => "warn",
            Status::NoOp => "no-op",
        }
    }

    /// Whether this outcome stops the node's descendants and makes the exit code 1.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Error | Status::Fail)
    }
}

/// A phase of a node's run (`compile` or `execute`) with wall-clock start and end.
#[derive(Debug, Clone)]
pub struct Timing {
    pub name: &'static str,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
}

/// The result of one node.
#[derive(Debug, Clone)]
pub struct NodeResult {
    pub unique_id: String,
    pub status: Status,
    /// Short outcome (`OK`, `INSERT 100`) or the error text.
    pub message: Option<String>,
    /// Failing rows of a data test.
    pub failures: Option<i64>,
    /// Seconds from the start of compiling to the end of executing.
    pub execution_time: f64,
    pub timing: Vec<Timing>,
    pub thread_id: String,
    pub compiled_code: Option<String>,
    /// Rows loaded into a seed.
    pub rows_affected: Option<i64>,
}

impl NodeResult {
    /// The result of a node that was not run, with no message yet.
    pub fn skipped(unique_id: &str) -> NodeResult {
        NodeResult {
            unique_id: unique_id.to_string(),
            status: Status::Skipped,
            message: None,
            failures: None,
            execution_time: 0.0,
            timing: Vec::new(),
            thread_id: "main".to_string(),
            compiled_code: None,
            rows_affected: None,
        }
    }
}
