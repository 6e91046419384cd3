//! One writer at a time: a lock file beside the database (`<database>.lock`) that a writing
//! run holds, exclusively, from before it changes anything until it ends.
//!
//! DuckDB locks its file too, but its refusal comes only when the database is opened, after a
//! run has parsed the project and written artifacts; and it cannot wait. The lock file is
//! taken first, names the run that holds it, and can be waited for (`--lock-timeout`). The
//! operating system releases it when the holder exits, however it exits (even SIGKILL).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::error::Diagnostic;

/// How often a waiting run tries the lock again.
const RETRY_EVERY: Duration = Duration::from_millis(100);

/// An exclusive claim on a database; released when dropped.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
    path: PathBuf,
}

impl WriteLock {
    /// The lock file of the database at `db`: `<db>.lock`.
    pub fn path_for(db: &Path) -> PathBuf {
        let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push(".lock");
        db.with_file_name(name)
    }

    /// Takes the lock of database `db`, waiting up to `timeout` (not at all for `None`) while
    /// another run holds it. Writes this process's id and start time into the file.
    ///
    /// Errors: another run holds the lock past the timeout (naming that run, with what to do);
    /// the lock file cannot be created (folder missing or not writable).
    pub fn acquire(db: &Path, timeout: Option<Duration>) -> Result<WriteLock> {
        let path = Self::path_for(db);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| {
                Diagnostic::new(format!("cannot create the lock file `{}`: {e}", path.display()))
                    .help("check that the database's folder exists and is writable")
            })?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    if timeout.is_some_and(|t| started.elapsed() < t) {
                        std::thread::sleep(RETRY_EVERY);
                        continue;
                    }
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    let holder = holder.trim();
                    let who = if holder.is_empty() {
                        "another run".to_string()
                    } else {
                        format!("another run ({holder})")
                    };
                    let waited = match timeout {
                        Some(t) => format!(" after waiting {}s", t.as_secs_f64()),
                        None => String::new(),
                    };
                    return Err(Diagnostic::new(format!(
                        "database `{}` is being written by {who}{waited}",
                        db.display()
                    ))
                    .help("nothing was changed; wait for that run to end, or pass `--lock-timeout SECONDS` to wait for it")
                    .into());
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Diagnostic::new(format!("cannot lock `{}`: {e}", path.display())).into())
                }
            }
        }
        let stamp = format!(
            "pid {} since {}\n",
            std::process::id(),
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")
        );
        // The stamp is for messages only; failing to write it does not matter.
        let _ = file
            .set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(stamp.as_bytes()));
        Ok(WriteLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_claim_fails_with_the_holder_named_and_succeeds_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.duckdb");
        let first = WriteLock::acquire(&db, None).unwrap();
        assert_eq!(first.path(), dir.path().join("w.duckdb.lock"));
        let err = WriteLock::acquire(&db, Some(Duration::from_millis(250)))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is being written by another run (pid "), "{err}");
        assert!(err.contains("after waiting 0.25s"), "{err}");
        drop(first);
        WriteLock::acquire(&db, None).unwrap();
    }
}
