//! The `mallard` binary: parse the arguments, run the command, print one error, exit with
//! dbt's codes (0 success, 1 a node failed, 2 the run could not start).

use std::process::ExitCode;

fn main() -> ExitCode {
    mallard::cli::main()
}
