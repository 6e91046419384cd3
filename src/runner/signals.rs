//! Stopping cleanly when told to: SIGINT (Ctrl-C) and SIGTERM (systemd's stop, a CI cancel).
//!
//! While a run executes, the first signal asks it to stop ([`crate::adapter::cancel`]): the
//! statements running are interrupted and rolled back, no further node starts, and the run
//! then writes its artifacts, prints its summary and exits with 130 (SIGINT) or 143
//! (SIGTERM). A second signal, or one before the run has started executing, ends the process
//! at once with that code (nothing is half-written: artifacts are written through a rename
//! and every relation in one transaction).

use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::adapter::cancel;

/// Whether a run is executing nodes (and so stops gracefully on the first signal).
static EXECUTING: AtomicBool = AtomicBool::new(false);

/// Starts listening for SIGINT and SIGTERM on a thread of its own.
///
/// Errors: the signal handlers cannot be installed (then the default handling stays).
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".to_string())
        .spawn(move || {
            for signal in signals.forever() {
                if !EXECUTING.load(Ordering::SeqCst) || cancel::requested().is_some() {
                    eprintln!("\n{}: stopped at once", cancel::signal_name(signal));
                    std::process::exit(128 + signal);
                }
                eprintln!(
                    "\n{}: stopping the run (running statements are rolled back; send it again to stop at once)",
                    cancel::signal_name(signal)
                );
                cancel::request(signal);
            }
        })?;
    Ok(())
}

/// Marks the run as executing nodes: from now on the first signal stops it gracefully.
pub fn executing() {
    EXECUTING.store(true, Ordering::SeqCst);
}
