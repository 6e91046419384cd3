//! Finds DuckDB's prebuilt shared library for the link and lets the binary and the tests find
//! it at run time without `LD_LIBRARY_PATH`.
//!
//! - The library's folder is `DUCKDB_LIB_DIR` (what `scripts/env.sh` exports). When it is not
//!   set, as in a plain `cargo build --release` or `cargo install --path .`, this script runs
//!   `scripts/env.sh` itself: it reuses the library in `~/.cache/mallard/duckdb/<version>/`, or
//!   fetches it there once with npm. It then adds that folder to the link's search path.
//! - The rpath lists first the binary's own folder (`$ORIGIN`: the packaged binary of
//!   `scripts/package` finds the library beside it, wherever the folder is moved), then the
//!   library's folder (a binary built here finds the library there).
//!
//! With the `bundled` feature DuckDB is compiled from source and none of this applies.
//! When the library cannot be found or fetched, the build stops with what to do.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    println!("cargo:rerun-if-env-changed=MALLARD_CACHE");
    println!("cargo:rerun-if-changed=scripts/env.sh");
    if std::env::var("CARGO_FEATURE_BUNDLED").is_ok() {
        return;
    }
    let dir = match std::env::var("DUCKDB_LIB_DIR") {
        Ok(dir) if !dir.is_empty() => dir,
        _ => {
            let dir = library_from_env_script();
            // libduckdb-sys asked for `-l duckdb` without a folder; this is the folder.
            println!("cargo:rustc-link-search=native={dir}");
            dir
        }
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:{dir}");
}

/// Sources `scripts/env.sh` in a child shell (which fetches the library if this machine lacks
/// it) and returns the folder that holds `libduckdb.so`; panics with the fix when it fails.
fn library_from_env_script() -> String {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let script = Path::new(&manifest_dir).join("scripts/env.sh");
    let output = Command::new("bash")
        .arg("-c")
        .arg(r#". "$1" >&2 && printf %s "$DUCKDB_LIB_DIR""#)
        .arg("bash")
        .arg(&script)
        .output();
    let fix = "run `source scripts/env.sh` (it needs npm once per machine) or build with \
               `--features bundled` (compiles DuckDB, about 70 minutes)";
    match output {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if Path::new(&dir).join("libduckdb.so").is_file() {
                return dir;
            }
            panic!(
                "DuckDB's library is not in {dir} after {}: {fix}",
                script.display()
            );
        }
        Ok(out) => panic!(
            "{} could not provide DuckDB's library:\n{}\n{fix}",
            script.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => panic!("could not run bash for {}: {err}; {fix}", script.display()),
    }
}
