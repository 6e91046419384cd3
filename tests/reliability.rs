//! Reliability of writing runs: one writer at a time, publish mode, and the previous
//! version of every relation surviving a failed run.

mod common;

use std::time::Duration;

use common::{rows, versions, Project};
use mallard::adapter::lock::WriteLock;

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

#[test]
fn a_build_killed_at_any_moment_leaves_every_relation_whole() {
    const KILLS: usize = 20;
    // Version "old" of every relation: the warehouse as committed. Version "new": the same
    // project with other as-of dates, which change most marts.
    let new_vars =
        r#"{cdnow_as_of_date: "1998-01-01", app_as_of_date: "2024-03-15", crm_campaign_date: "2023-10-20"}"#;
    let p = Project::warehouse();
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
    assert_eq!(p.run(&["build", "--vars", new_vars]).code, 0);
    let duration = started.elapsed();
    let new = versions(&db);
    let changed = old.iter().filter(|(rel, v)| new.get(*rel) != Some(v)).count();
    assert!(changed >= 10, "the new vars change only {changed} relations");

    // Kill at points spread over the run until KILLS of them landed while it ran; a kill that
    // comes after the build ended is checked all the same but not counted. The points repeat,
    // shifted, in case a slow first measurement put the later ones past the end.
    let mut killed_mid_run = 0;
    for k in 0..2 * KILLS {
        if killed_mid_run == KILLS {
            break;
        }
        copy_database(&saved, &db);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mallard"))
            .args(["build", "--vars", new_vars])
            .current_dir(p.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the run: from its start to just before its usual end.
        let offset = if k < KILLS { 0.5 } else { 0.25 };
        let fraction = ((k % KILLS) as f64 + offset) / KILLS as f64;
        std::thread::sleep(duration.mul_f64(0.95 * fraction));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();

        let got = versions(&db);
        for (rel, version) in &got {
            assert!(
                old.get(rel) == Some(version) || new.get(rel) == Some(version),
                "kill {k}: `{rel}` is neither its previous nor its new version: {version}"
            );
        }
        for rel in old.keys() {
            assert!(got.contains_key(rel), "kill {k}: `{rel}` is missing");
        }
        let next = p.run(&["build", "--vars", new_vars]);
        assert_eq!(next.code, 0, "kill {k}: the next build fails:\n{}", next.text(&p));
        assert_eq!(
            versions(&db),
            new,
            "kill {k}: the next build does not give the new version"
        );
    }
    assert_eq!(
        killed_mid_run, KILLS,
        "only {killed_mid_run} kills landed while the build ran"
    );
}
