//! The `mallard` binary: parse the arguments, run the command, print one error, exit with
//! dbt's codes (0 success, 1 a node failed, 2 the run could not start).

use std::process::ExitCode;

/// Parsing and compiling make millions of small allocations (strings, JSON values); glibc's
/// allocator spent a fifth of `parse`'s time on 10,000 models in malloc and free (bench/run.py
/// measures the difference).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the command on a thread with room for [`mallard::templating::MAX_MACRO_DEPTH`] nested
/// macro calls (the main thread's stack is whatever the system gives), and gives rayon's
/// workers, which render models in the parse phase, the same.
fn main() -> ExitCode {
    // Before any thread starts: the environment is changed only here.
    mallard::cli::adopt_engine_env_vars();
    let stack = mallard::templating::RENDER_STACK_SIZE;
    // Only fails if a global pool exists already, which it cannot here.
    let _ = rayon::ThreadPoolBuilder::new().stack_size(stack).build_global();
    match std::thread::Builder::new()
        .stack_size(stack)
        .spawn(mallard::cli::main)
    {
        Ok(handle) => handle.join().unwrap_or_else(|_| ExitCode::from(101)),
        Err(e) => {
            eprintln!("error: cannot start the main thread: {e}");
            ExitCode::from(2)
        }
    }
}
