//! Reliability of writing runs: one writer at a time, publish mode, and the previous
//! version of every relation surviving a failed run.

mod common;

use std::time::Duration;

use common::{rows, versions, Project};
use mallard::adapter::lock::WriteLock;

/// A command that reads the database (`show`, `docs generate`) while a build writes it names
/// that run, not DuckDB's lock error.
#[test]
fn a_reader_is_told_which_run_writes_the_database() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build"]).code, 0);
    let db = p.path().join("test.duckdb");
    // As a build holds it: Mallard's lock, and DuckDB's own on the file.
    let _held = WriteLock::acquire(&db, None).unwrap();
    let _writer = duckdb::Connection::open(&db).unwrap();
    for args in [&["show", "--select", "stg_orders"][..], &["docs", "generate"][..]] {
        let run = p.run(args);
        let text = run.text(&p);
        assert_eq!(run.code, 2, "{args:?}: {text}");
        assert!(
            text.contains(&format!(
                "is being written by another Mallard run (pid {}",
                std::process::id()
            )),
            "{args:?}: {text}"
        );
    }
}

#[test]
fn a_second_writer_is_refused_at_once_and_changes_nothing() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["seed"]).code, 0);
    std::fs::remove_dir_all(p.path().join("target")).unwrap();
    let before = std::fs::read(p.path().join("test.duckdb")).unwrap();

    let held = WriteLock::acquire(&p.path().join("test.duckdb"), None).unwrap();
    let started = std::time::Instant::now();
    let run = p.run(&["build"]);
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once, not after a wait"
    );
    let pid = std::process::id().to_string();
    insta::with_settings!({filters => vec![(pid.as_str(), "[PID]"), (r"since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "since [TIME]")]}, {
        insta::assert_snapshot!("lock_refused", run.text(&p));
    });
    assert!(
        !p.path().join("target").exists(),
        "a refused run writes no artifacts"
    );
    assert_eq!(
        std::fs::read(p.path().join("test.duckdb")).unwrap(),
        before,
        "nor touches the database"
    );

    // Read-only commands do not need the lock.
    assert_eq!(p.run(&["ls"]).code, 0);
    assert_eq!(p.run(&["compile"]).code, 0);

    // With --lock-timeout the run waits for the holder to finish.
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(700));
        drop(held);
    });
    let run = p.run(&["build", "--lock-timeout", "30"]);
    release.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.text(&p));
}

#[test]
fn publish_mode_replaces_the_file_only_after_a_complete_run() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build", "--target", "published"]).code, 0);
    let count = "select count(*) from main_marts.customer_revenue";

    // A reader holds the published file open during the next run and is not in its way.
    let reader = p.db("test.duckdb");
    let run = p.run(&[
        "build",
        "--target",
        "published",
        "--vars",
        "{min_amount_cents: 1000}",
    ]);
    assert_eq!(run.code, 0, "{}", run.text(&p));
    assert!(run.stdout.contains("Published "), "{}", run.stdout);
    assert_eq!(
        rows(&reader, count),
        "3",
        "an open reader keeps the version it opened"
    );
    drop(reader);
    assert_eq!(
        rows(&p.db("test.duckdb"), count),
        "1",
        "new readers see the new version"
    );

    // A run that fails publishes nothing.
    p.write(
        "models/marts/customer_revenue.sql",
        "select no_such_column from {{ ref('stg_orders') }}",
    );
    let run = p.run(&["build", "--target", "published"]);
    assert_eq!(run.code, 1, "{}", run.text(&p));
    assert!(run.stdout.contains("Not published"), "{}", run.stdout);
    assert_eq!(rows(&p.db("test.duckdb"), count), "1");
    assert_eq!(
        std::fs::read_dir(p.path().join(".mallard-publish"))
            .unwrap()
            .count(),
        0,
        "the shadow copy is removed"
    );
}

fn copy_database(from: &std::path::Path, to: &std::path::Path) {
    for ext in ["", ".wal"] {
        let src = std::path::PathBuf::from(format!("{}{ext}", from.display()));
        let dst = std::path::PathBuf::from(format!("{}{ext}", to.display()));
        let _ = std::fs::remove_file(&dst);
        if src.exists() {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

/// Other as-of dates for the warehouse, which change most marts: the "new" version of a build.
const NEW_VARS: &str =
    r#"{cdnow_as_of_date: "1998-01-01", app_as_of_date: "2024-03-15", crm_campaign_date: "2023-10-20"}"#;

/// A warehouse built twice: `old` is every relation's version as committed (its database kept
/// in `saved`, and `db` put back to it), `new` the version with [`NEW_VARS`], which took
/// `duration` to build.
struct OldAndNew {
    db: std::path::PathBuf,
    saved: std::path::PathBuf,
    old: std::collections::BTreeMap<String, String>,
    new: std::collections::BTreeMap<String, String>,
    duration: Duration,
}

impl OldAndNew {
    /// Starts `mallard build` of the new version in `p`, its output discarded.
    fn start_new_build(&self, p: &Project) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_mallard"))
            .args(["build", "--vars", NEW_VARS])
            .current_dir(p.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    }

    fn build(p: &Project) -> OldAndNew {
        let db = p.path().join("retention.duckdb");
        assert_eq!(p.run(&["build"]).code, 0);
        // Same file name in another folder: DuckDB names the catalog after the file, and views
        // refer to relations through it.
        std::fs::create_dir(p.path().join("saved")).unwrap();
        let saved = p.path().join("saved/retention.duckdb");
        copy_database(&db, &saved);
        let old = versions(&saved);
        copy_database(&db, &saved);
        let started = std::time::Instant::now();
        assert_eq!(p.run(&["build", "--vars", NEW_VARS]).code, 0);
        let duration = started.elapsed();
        let new = versions(&db);
        OldAndNew {
            db,
            saved,
            old,
            new,
            duration,
        }
    }
}

#[test]
fn a_build_killed_at_any_moment_leaves_every_relation_whole() {
    const KILLS: usize = 20;
    // Version "old" of every relation: the warehouse as committed. Version "new": the same
    // project with other as-of dates, which change most marts.
    let p = Project::warehouse();
    let w = OldAndNew::build(&p);
    let (db, saved, old, new, duration) = (&w.db, &w.saved, &w.old, &w.new, w.duration);
    let changed = old.iter().filter(|(rel, v)| new.get(*rel) != Some(v)).count();
    assert!(changed >= 10, "the new vars change only {changed} relations");
    // The external models (models/exports) are views over Parquet files that the build
    // replaces: their versions are the files' rows, so a half-written or missing file fails
    // the check below like a half-built table.
    for export in [
        "export_ab_test_performance",
        "export_guardrail_metrics",
        "export_app_cohort_retention",
    ] {
        let rel = format!("main.{export}");
        assert!(
            old.contains_key(&rel) && old.get(&rel) != new.get(&rel),
            "`{rel}` changes between the versions"
        );
    }

    // Kill at points spread over the run until KILLS of them landed while it ran; a kill that
    // comes after the build ended is checked all the same but not counted. The points repeat,
    // shifted, in case a slow first measurement put the later ones past the end.
    let mut killed_mid_run = 0;
    // Later rounds aim earlier: with the rest of the suite running beside it, a build can take
    // less time than the one measured, and the last points of a round then come after its end.
    for k in 0..4 * KILLS {
        if killed_mid_run == KILLS {
            break;
        }
        copy_database(saved, db);
        let mut child = w.start_new_build(&p);
        // Spread the kills over the run: from its start to just before its usual end.
        let (offset, span) = match k / KILLS {
            0 => (0.5, 0.95),
            1 => (0.25, 0.95),
            2 => (0.5, 0.6),
            _ => (0.25, 0.4),
        };
        let fraction = ((k % KILLS) as f64 + offset) / KILLS as f64;
        std::thread::sleep(duration.mul_f64(span * fraction));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let got = versions(db);
        for (rel, version) in &got {
            assert!(
                old.get(rel) == Some(version) || new.get(rel) == Some(version),
                "kill {k}: `{rel}` is neither its previous nor its new version: {version}"
            );
        }
        for rel in old.keys() {
            assert!(got.contains_key(rel), "kill {k}: `{rel}` is missing");
        }
        let next = p.run(&["build", "--vars", NEW_VARS]);
        assert_eq!(next.code, 0, "kill {k}: the next build fails:\n{}", next.text(&p));
        assert_eq!(
            versions(db),
            *new,
            "kill {k}: the next build does not give the new version"
        );
    }
    assert_eq!(
        killed_mid_run, KILLS,
        "only {killed_mid_run} kills landed while the build ran"
    );
}

/// SIGINT and SIGTERM at moments spread over a warehouse build: the run stops within two
/// seconds with 130 or 143, every relation is its previous or its new version, the
/// run_results.json it writes describes this run (interrupted nodes `error`, the ones not
/// started `skipped`), and the next build succeeds. `MALLARD_THOROUGH=1` signals a build of
/// ten times the data ten times and prints the time from signal to exit.
#[test]
fn a_build_told_to_stop_stops_cleanly() {
    let thorough = std::env::var_os("MALLARD_THOROUGH").is_some();
    let signals = if thorough { 10 } else { 4 };
    let p = Project::warehouse();
    if thorough {
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_seedgen"))
            .args(["--scale", "10", "--out"])
            .arg(p.path().join("seeds"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let w = OldAndNew::build(&p);
    let (db, saved, old, new, duration) = (&w.db, &w.saved, &w.old, &w.new, w.duration);

    let mut stop_times = Vec::new();
    for k in 0..signals {
        copy_database(saved, db);
        let _ = std::fs::remove_file(p.path().join("target/run_results.json"));
        let mut child = w.start_new_build(&p);
        std::thread::sleep(duration.mul_f64(0.9 * (k as f64 + 0.5) / signals as f64));
        let (signal, code) = if k % 2 == 0 { ("-INT", 130) } else { ("-TERM", 143) };
        let sent = std::time::Instant::now();
        let kill = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(kill.success());
        let status = child.wait().unwrap();
        let stopped = sent.elapsed();
        let exit = status.code().unwrap_or(-1);
        if exit == 0 {
            // The signal came after the build had finished its work.
            continue;
        }
        stop_times.push(stopped);
        assert_eq!(exit, code, "signal {k} ({signal}): exit code");
        assert!(
            stopped < Duration::from_secs(2),
            "signal {k}: stopped after {stopped:?}"
        );
        let got = versions(db);
        for (rel, version) in &got {
            assert!(
                old.get(rel) == Some(version) || new.get(rel) == Some(version),
                "signal {k}: `{rel}` is neither its previous nor its new version"
            );
        }
        let results: serde_json::Value =
            serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json written");
        let statuses: Vec<&str> = results["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert!(
            statuses.iter().any(|s| *s == "skipped" || *s == "error"),
            "signal {k}: run_results.json does not show the interruption: {statuses:?}"
        );
        assert!(!p.path().join("retention.duckdb.lock").exists() || WriteLock::acquire(db, None).is_ok());
        let next = p.run(&["build", "--vars", NEW_VARS]);
        assert_eq!(
            next.code,
            0,
            "signal {k}: the next build fails:\n{}",
            next.text(&p)
        );
        assert_eq!(
            versions(db),
            *new,
            "signal {k}: the next build does not give the new version"
        );
    }
    assert!(!stop_times.is_empty(), "no signal landed while the build ran");
    stop_times.sort();
    eprintln!(
        "{} signals during a {duration:?} build: stopped after median {:?}, max {:?}",
        stop_times.len(),
        stop_times[stop_times.len() / 2],
        stop_times[stop_times.len() - 1]
    );
}

/// Two SIGINTs 20 ms apart mid-build (an impatient Ctrl-C Ctrl-C; sent together, the kernel
/// merges them into one): the process ends at once with
/// 130, and still writes this run's run_results.json (what finished, the rest `skipped`), so
/// that `retry` runs the rest and the database ends as a full build leaves it. Before, the
/// previous run's file stayed and `retry` had nothing to run.
#[test]
fn a_second_signal_still_records_what_finished() {
    let p = Project::warehouse();
    let w = OldAndNew::build(&p);
    copy_database(&w.saved, &w.db);
    let _ = std::fs::remove_file(p.path().join("target/run_results.json"));
    let mut child = w.start_new_build(&p);
    std::thread::sleep(w.duration.mul_f64(0.5));
    let pid = child.id().to_string();
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {pid}; sleep 0.02; kill -INT {pid}")])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    if status.code() == Some(0) {
        eprintln!("skipped: the build finished before the signals");
        return;
    }
    assert_eq!(status.code(), Some(130));
    let results: serde_json::Value =
        serde_json::from_str(&p.read("target/run_results.json")).expect("run_results.json written");
    let results = results["results"].as_array().unwrap();
    assert!(
        results.iter().any(|r| r["status"] == "skipped"),
        "the nodes that did not finish are recorded as skipped: {results:?}"
    );
    let retry = p.run(&["retry"]);
    assert_eq!(retry.code, 0, "{}", retry.text(&p));
    assert_eq!(versions(&w.db), w.new, "retry does not finish the build");
}

/// A database file that may not be changed (here: immutable, which binds root too): the run
/// stops before any node with exit code 2 and a message that says so, and the file is as it
/// was. Needs `chattr` and a filesystem with immutable files; where they are missing the test
/// says so and checks nothing else.
#[test]
fn a_database_file_that_may_not_be_written_changes_nothing() {
    let p = Project::fixture("chain");
    assert_eq!(p.run(&["build"]).code, 0);
    let db = p.path().join("test.duckdb");
    let before = std::fs::read(&db).unwrap();
    let immutable = std::process::Command::new("chattr").arg("+i").arg(&db).status();
    if !immutable.is_ok_and(|s| s.success()) {
        eprintln!("skipped: `chattr +i` is not available here");
        return;
    }
    let run = p.run(&["build"]);
    let _ = std::process::Command::new("chattr").arg("-i").arg(&db).status();
    assert_eq!(run.code, 2, "{}", run.text(&p));
    assert!(
        run.stderr.contains("cannot write database") && run.stderr.contains("nothing was changed"),
        "{}",
        run.text(&p)
    );
    assert_eq!(std::fs::read(&db).unwrap(), before);
}
