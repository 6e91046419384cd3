//! `scripts/package`: the tarball of the binary and DuckDB's library runs after being unpacked
//! and moved to another folder, finding the library beside itself.

mod common;

use std::process::Command;

use common::Project;

#[test]
fn the_packaged_binary_runs_from_wherever_it_is_moved() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::tempdir().unwrap();
    let packaged = Command::new("bash")
        .arg(root.join("scripts/package"))
        .args([
            "--out",
            out.path().to_str().unwrap(),
            "--binary",
            env!("CARGO_BIN_EXE_mallard"),
        ])
        .output()
        .expect("run scripts/package");
    assert!(
        packaged.status.success(),
        "{}",
        String::from_utf8_lossy(&packaged.stderr)
    );
    let tarball = String::from_utf8_lossy(&packaged.stdout).trim().to_string();
    assert!(tarball.ends_with("-linux-x86_64.tar.gz"), "{tarball}");

    let unpacked = tempfile::tempdir().unwrap();
    let status = Command::new("tar")
        .args(["xzf", &tarball, "-C", unpacked.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let folder = std::fs::read_dir(unpacked.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let moved = tempfile::tempdir().unwrap();
    let installed = moved.path().join("opt-mallard");
    std::fs::rename(&folder, &installed).unwrap();
    let mallard = installed.join("mallard");
    let bundled = !installed.join("libduckdb.so").exists();

    // The dynamic loader takes DuckDB's library from the binary's own folder.
    if !bundled {
        let traced = Command::new(&mallard)
            .arg("--version")
            .env("LD_DEBUG", "libs")
            .output()
            .unwrap();
        assert!(traced.status.success());
        let trace = String::from_utf8_lossy(&traced.stderr);
        let beside = format!("{}/libduckdb.so", installed.display());
        assert!(
            trace
                .lines()
                .any(|l| l.contains("calling init") && l.contains(&beside)),
            "libduckdb.so not loaded from {beside}:\n{trace}"
        );
    }
    let p = Project::fixture("chain");
    for args in [&["debug"][..], &["build"][..]] {
        let run = Command::new(&mallard)
            .args(args)
            .current_dir(p.path())
            .env_remove("DBT_PROFILES_DIR")
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "mallard {args:?}: {}{}",
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
