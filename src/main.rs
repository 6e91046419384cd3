//! The `mallard` binary: parse the arguments, run the command, print one error, exit with
//! dbt's codes (0 success, 1 a node failed, 2 the run could not start).

use std::process::ExitCode;

/// Parsing and compiling make millions of small allocations (strings, JSON values); glibc's
/// allocator spent a fifth of `parse`'s time on 10,000 models in malloc and free (bench/run.py
/// measures the difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    mallard::cli::main()
}
