//! Lets the binary and the tests find DuckDB's shared library at run time without
//! `LD_LIBRARY_PATH`: when linking the prebuilt `libduckdb.so` from `DUCKDB_LIB_DIR`
//! (what `scripts/env.sh` sets up), record as the rpath first the binary's own folder
//! (`$ORIGIN`: the packaged binary of `scripts/package` finds the library beside it, wherever
//! the folder is moved), then that folder (a binary built here finds the library there).

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        if !dir.is_empty() && std::env::var("CARGO_FEATURE_BUNDLED").is_err() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN:{dir}");
        }
    }
}
