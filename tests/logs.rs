//! What a run prints for schedulers and log readers: `--log-format json` with dbt's event
//! shape (names and `node_info` fields as dbt-core 1.11 writes them, which dagster-dbt reads),
//! `--log-level`/`-q`, `logs/dbt.log`, dbt's global flags before the command, and the `DBT_*`
//! environment variables for them.

mod common;

use common::Project;
use serde_json::Value;

fn events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn json_log_has_dbts_event_shape_with_node_info() {
    let p = Project::fixture("chain");
    let run = p.run(&["build", "--log-format", "json"]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    let events = events(&run.stdout);
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["info"]["name"].as_str().unwrap())
        .collect();
    for expected in [
        "MainReportVersion",
        "FoundStats",
        "ConcurrencyLine",
        "LogSeedResult",
        "LogModelResult",
        "LogTestResult",
        "FinishedRunningStats",
        "EndOfRunSummary",
        "StatsLine",
    ] {
        assert!(names.contains(&expected), "no {expected} in {names:?}");
    }
    assert!(!names.contains(&"NodeFinished"), "NodeFinished is a debug event");
    let run_results: Value = serde_json::from_str(&p.read("target/run_results.json")).unwrap();
    let invocation = run_results["metadata"]["invocation_id"].as_str().unwrap();
    for e in &events {
        let info = &e["info"];
        for key in ["name", "level", "msg", "ts", "invocation_id", "pid", "thread"] {
            assert!(!info[key].is_null(), "info.{key} missing in {e}");
        }
        assert_eq!(info["invocation_id"], invocation);
        assert!(e["data"].is_object());
    }
    // Every node of run_results.json has its result event, with dbt's node_info.
    let results = run_results["results"].as_array().unwrap();
    let result_events: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["info"]["name"].as_str().unwrap().starts_with("Log") && e["data"]["node_info"].is_object()
        })
        .collect();
    assert_eq!(result_events.len(), results.len());
    for r in results {
        let id = r["unique_id"].as_str().unwrap();
        let e = result_events
            .iter()
            .find(|e| e["data"]["node_info"]["unique_id"] == id)
            .unwrap_or_else(|| panic!("no result event for {id}"));
        let info = &e["data"]["node_info"];
        assert_eq!(info["node_status"], r["status"], "{id}");
        for key in ["node_started_at", "node_finished_at"] {
            let at = info[key].as_str().unwrap();
            assert!(
                chrono::NaiveDateTime::parse_from_str(at, "%Y-%m-%dT%H:%M:%S%.f").is_ok(),
                "{id}: {key} = {at}"
            );
        }
        assert!(info["resource_type"].is_string() && info["materialized"].is_string());
    }
    // The text format is unchanged, and dbt.log has every event.
    let text = p.run(&["build"]);
    assert!(text.stdout.starts_with("Running with mallard"), "{}", text.stdout);
    let log = p.read("logs/dbt.log");
    assert!(log.contains("[info ] [MainThread]: Done. PASS="), "{log}");
    assert!(log.contains("[debug] "), "debug events go to the file: {log}");
}

#[test]
fn global_flags_before_the_command_and_dbts_environment_variables() {
    let p = Project::fixture("chain");
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("artifacts");
    let logs = elsewhere.path().join("logs");
    let run = p.run_with_env(
        &[
            "--no-use-colors",
            "--no-version-check",
            "--no-partial-parse",
            "build",
            "--select",
            "raw_orders",
        ],
        &[
            ("DBT_LOG_FORMAT", "json"),
            ("DBT_TARGET_PATH", target.to_str().unwrap()),
            ("DBT_LOG_PATH", logs.to_str().unwrap()),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(events(&run.stdout)
        .iter()
        .any(|e| e["info"]["name"] == "LogSeedResult"));
    assert!(target.join("run_results.json").exists() && target.join("manifest.json").exists());
    assert!(!p.path().join("target/run_results.json").exists());
    assert!(logs.join("dbt.log").exists() && !p.path().join("logs").exists());
}

#[test]
fn quiet_prints_only_errors_and_json_errors_are_events() {
    let p = Project::fixture("failing_test");
    let run = p.run(&["build", "-q"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(!run.stdout.contains("Running with"), "{}", run.stdout);
    assert!(
        run.stdout.contains("FAIL"),
        "the failing test is shown: {}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("PASS "),
        "passing nodes are not: {}",
        run.stdout
    );

    let json = p.run(&["build", "--log-format", "json", "--log-level", "warn"]);
    assert_eq!(json.code, 1);
    let levels: Vec<String> = events(&json.stdout)
        .iter()
        .map(|e| e["info"]["level"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !levels.is_empty() && levels.iter().all(|l| l == "warn" || l == "error"),
        "{levels:?}"
    );

    // A run that cannot start reports the error as dbt's MainEncounteredError, exit code 2.
    let bad = p.run(&["build", "--log-format", "json", "--profiles-dir", "/nonexistent"]);
    assert_eq!(bad.code, 2);
    let e = &events(&bad.stdout)[0];
    assert_eq!(e["info"]["name"], "MainEncounteredError");
    assert_eq!(e["info"]["level"], "error");
    assert!(bad.stderr.is_empty(), "{}", bad.stderr);
}

#[test]
fn warn_error_turns_warnings_into_errors_as_dbt_does() {
    let p = Project::fixture("failing_test");
    let status_of = |p: &Project, test: &str| -> String {
        common::node_statuses(&p.read("target/run_results.json"))
            .into_iter()
            .find(|l| l.starts_with(&format!("test {test} ")))
            .unwrap_or_default()
    };
    let plain = p.run(&["build"]);
    assert_eq!(plain.code, 1);
    assert_eq!(
        status_of(&p, "not_null_users_name"),
        "test not_null_users_name warn"
    );
    // dbt 1.11: the warning test fails, "configured to fail if != 0".
    for args in [
        &["build", "--warn-error"][..],
        &["build", "--warn-error-options", "{error: [LogTestResult]}"][..],
    ] {
        let run = p.run(args);
        assert_eq!(run.code, 1, "{}", run.text(&p));
        assert_eq!(
            status_of(&p, "not_null_users_name"),
            "test not_null_users_name fail",
            "{args:?}"
        );
        assert!(
            run.stdout.contains("configured to fail if != 0"),
            "{}",
            run.stdout
        );
    }
    let kept = p.run(&[
        "build",
        "--warn-error-options",
        "{error: all, warn: [LogTestResult]}",
    ]);
    assert_eq!(kept.code, 1);
    assert_eq!(
        status_of(&p, "not_null_users_name"),
        "test not_null_users_name warn"
    );
    // Not an event of dbt's: an error before anything runs, with a suggestion.
    let bad = p.run(&["build", "--warn-error-options", "{error: [LogTestResults]}"]);
    assert_eq!(bad.code, 2, "{}", bad.text(&p));
    assert!(
        bad.stderr.contains("`LogTestResults` is not a dbt event name"),
        "{}",
        bad.stderr
    );
    assert!(bad.stderr.contains("LogTestResult`?"), "{}", bad.stderr);
    // A parse warning stops the run under --warn-error.
    p.write(
        "models/extra.yml",
        "models:\n  - name: independent\n    colour: blue\n",
    );
    let warned = p.run(&["build", "--select", "independent"]);
    assert_eq!(warned.code, 0, "{}", warned.text(&p));
    assert!(warned.stdout.contains("colour"), "{}", warned.stdout);
    let stopped = p.run(&["--warn-error", "build", "--select", "independent"]);
    assert_eq!(stopped.code, 2, "{}", stopped.text(&p));
    assert!(stopped.stderr.contains("colour"), "{}", stopped.stderr);
}

#[test]
fn a_terminal_sees_a_live_progress_display_and_a_pipe_plain_lines() {
    let p = Project::fixture("chain");
    // A model that runs long enough (half a second or more) for the display to name it.
    p.write(
        "models/slow_model.sql",
        "{{ config(materialized='table') }}\nselect sum(i * i) as total from range(100000000) t(i)\n",
    );
    // `script` (util-linux) runs the build on a pseudo-terminal and records what it drew.
    let typescript = p.path().join("typescript.txt");
    let command = format!(
        "cd {} && {} build",
        p.path().display(),
        env!("CARGO_BIN_EXE_mallard")
    );
    let status = std::process::Command::new("script")
        .args(["-qfec", &command, typescript.to_str().unwrap()])
        .env_remove("DBT_LOG_FORMAT")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("`script` from util-linux runs the build on a terminal");
    assert!(status.success());
    let drawn = std::fs::read_to_string(&typescript).unwrap();
    assert!(drawn.contains("nodes done"), "{drawn}");
    assert!(drawn.contains("running: slow_model"), "{drawn}");
    assert!(
        drawn.contains("OK created sql table model main_marts.customer_revenue"),
        "{drawn}"
    );
    assert!(drawn.contains("Done. PASS="), "{drawn}");
    // Into a pipe: plain lines only, as before.
    let piped = p.run(&["build"]);
    assert_eq!(piped.code, 0);
    assert!(
        !piped.stdout.contains("nodes done") && !piped.stdout.contains('\u{1b}'),
        "{}",
        piped.stdout
    );
}
