//! A run's stop request: set when the process is told to stop (SIGINT, SIGTERM), read by the
//! runner between nodes and by every connection between statements, and carried out at once
//! on the statements running then through each engine's interrupt.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// What an engine's connection offers to stop the statement it runs now (DuckDB's interrupt
/// handle); the statement then fails and its transaction is rolled back.
pub trait Interrupt: Send + Sync {
    fn interrupt(&self);
}

/// The signal that asked the run to stop; 0 while none did.
static REQUESTED: AtomicI32 = AtomicI32::new(0);

/// The interrupt handles of the connections opened so far (closed ones fall away).
static CONNECTIONS: Mutex<Vec<Weak<dyn Interrupt>>> = Mutex::new(Vec::new());

/// Asks the run to stop because of signal `signal`, and interrupts every statement running
/// now on any connection: each fails at once, and its transaction is rolled back.
pub fn request(signal: i32) {
    REQUESTED.store(signal, Ordering::SeqCst);
    let mut connections = CONNECTIONS.lock().unwrap_or_else(|p| p.into_inner());
    connections.retain(|c| c.strong_count() > 0);
    for handle in connections.iter().filter_map(Weak::upgrade) {
        handle.interrupt();
    }
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<i32> {
    match REQUESTED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// Remembers a connection's interrupt handle, for [`request`].
pub(super) fn register(handle: &Arc<dyn Interrupt>) {
    let mut connections = CONNECTIONS.lock().unwrap_or_else(|p| p.into_inner());
    connections.retain(|c| c.strong_count() > 0);
    connections.push(Arc::downgrade(handle));
}

/// `SIGINT` or `SIGTERM` (or any signal number) as people name it.
pub fn signal_name(signal: i32) -> String {
    match signal {
        2 => "SIGINT".to_string(),
        15 => "SIGTERM".to_string(),
        s => format!("signal {s}"),
    }
}
