//! Stopping cleanly when told to: SIGINT (Ctrl-C) and SIGTERM (systemd's stop, a CI cancel).
//!
//! While a run executes, the first signal asks it to stop ([`crate::adapter::cancel`]): the
//! statements running are interrupted and rolled back, no further node starts, and the run
//! then writes its artifacts, prints its summary and exits with 130 (SIGINT) or 143
//! (SIGTERM). A second signal, or one before the run has started executing, ends the process
//! at once with that code (nothing is half-written: artifacts are written through a rename
//! and every relation in one transaction); a run that registered [`on_hard_stop`] first writes
//! its `run_results.json` there, so that `retry` knows what finished.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::adapter::cancel;

/// Whether a run is executing nodes (and so stops gracefully on the first signal).
static EXECUTING: AtomicBool = AtomicBool::new(false);

/// What a signal that ends the process at once does first (see [`on_hard_stop`]).
type HardStop = Box<dyn FnOnce() + Send>;
static HARD_STOP: Mutex<Option<HardStop>> = Mutex::new(None);

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
                    let last = HARD_STOP.lock().unwrap_or_else(|p| p.into_inner()).take();
                    if let Some(last) = last {
                        last();
                    }
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

/// Registers what a signal that ends the process at once does before it exits (a run writes
/// the `run_results.json` of what finished); replaces an earlier registration. It runs on the
/// signal thread while the run's workers may still be running, so it must only read shared
/// state under its own locks.
pub fn on_hard_stop(last: impl FnOnce() + Send + 'static) {
    *HARD_STOP.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(last));
}

/// Removes the [`on_hard_stop`] registration (the run writes its results itself).
pub fn clear_hard_stop() {
    HARD_STOP.lock().unwrap_or_else(|p| p.into_inner()).take();
}
