//! `--junit-xml PATH`: the run's data tests and unit tests as a JUnit XML report, the format
//! CI systems (GitLab, Jenkins, GitHub test reporters) display. Beyond dbt, which has no such
//! output. Written with the `quick-junit` crate.
//!
//! One `testsuite` per run (named after the project), one `testcase` per data or unit test:
//! `name` the test's name, `classname` its unique_id, `time` its seconds. A passing test (and
//! one that only warns, whose message goes to `system-out`) is a success; a failing one a
//! `failure` with dbt's message ("Got 3 results, configured to fail if != 0") and the compiled
//! SQL as its text; an erroring one an `error`; a skipped one `skipped`.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::results::{NodeResult, Status};
use crate::manifest::{Manifest, ResourceType};

/// Writes the report of `results` (tests only; other nodes and hooks are left out) to `path`,
/// atomically. `elapsed` is the run's wall time in seconds. An empty suite when no test ran.
///
/// Errors: the file cannot be written (the previous one stays whole).
pub fn write_junit(path: &Path, manifest: &Manifest, results: &[NodeResult], elapsed: f64) -> Result<()> {
    let mut suite = TestSuite::new(manifest.project_name.clone());
    for r in results {
        let Some(node) = manifest.nodes.get(&r.unique_id) else {
            continue;
        };
        if !matches!(node.resource_type, ResourceType::Test | ResourceType::UnitTest) {
            continue;
        }
        let message = r.message.clone().unwrap_or_default();
        let status = match r.status {
            Status::Fail | Status::Error => {
                let kind = if r.status == Status::Fail {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(message.lines().next().unwrap_or_default().to_string());
                s.set_description(match &r.compiled_code {
                    Some(sql) => format!("{message}\n\n{sql}"),
                    None => message.clone(),
                });
                s
            }
            Status::Skipped => TestCaseStatus::skipped(),
            _ => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(node.name.clone(), status);
        case.set_classname(node.unique_id.clone());
        case.set_time(Duration::from_secs_f64(r.execution_time.max(0.0)));
        if r.status == Status::Warn {
            case.set_system_out(format!("WARN: {message}"));
        }
        suite.add_test_case(case);
    }
    suite.set_time(Duration::from_secs_f64(elapsed.max(0.0)));
    let mut report = Report::new("mallard");
    report.add_test_suite(suite);
    let xml = report.to_string()?;
    super::write_atomically(path, |w| Ok(w.write_all(xml.as_bytes())?))
}
