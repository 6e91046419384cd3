//! The target database as a writing run holds it: the write lock, the connection, and in
//! publish mode the shadow copy that replaces the published file only when the run succeeds.
//!
//! Publish mode (`publish: true` on the target in profiles.yml) is for databases that people
//! or dashboards read while nightly runs write. DuckDB lets no one open a file, not even to
//! read, while another process writes it; so the run copies the published file to
//! `.mallard-publish/<file>` beside it, builds there, and on success checkpoints and renames
//! the copy over the published file in one atomic step. Readers never wait and never see a
//! partial run: they see the previous complete version until the rename, and the new one after.
//! A failed or killed run leaves the published file as it was.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::lock::WriteLock;
use super::setup::ConnectionSetup;
use super::Adapter;
use crate::error::Diagnostic;

/// The folder, beside the published database, where publish mode builds.
const SHADOW_DIR: &str = ".mallard-publish";

/// A database opened for writing by this run.
pub struct Database {
    adapter: Option<Adapter>,
    publish: Option<Publish>,
    /// The write locks of the target's file and of the attached files the run writes.
    _locks: Vec<WriteLock>,
}

struct Publish {
    published: PathBuf,
    shadow: PathBuf,
}

/// DuckDB's write-ahead log of the database at `db`.
fn wal_of(db: &Path) -> PathBuf {
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".wal");
    db.with_file_name(name)
}

impl Database {
    /// Claims and opens the target's database for writing: takes the write lock (waiting up
    /// to `lock_timeout`), then opens the file `path` itself (`None`: a database in memory),
    /// or with `publish` a fresh shadow copy; every connection runs `setup` first. The files
    /// of `attached` (DuckDB databases the profile attaches for writing) are locked too, so a
    /// second run cannot write them at the same time.
    ///
    /// Errors: another run holds the lock; another (non-Mallard) process holds the DuckDB
    /// file past the timeout; the folder does not exist; the file is not a DuckDB database.
    pub fn open(
        path: Option<&Path>,
        setup: &ConnectionSetup,
        attached: &[PathBuf],
        publish: bool,
        lock_timeout: Option<Duration>,
    ) -> Result<Database> {
        let mut locks = attached
            .iter()
            .map(|a| WriteLock::acquire(a, lock_timeout))
            .collect::<Result<Vec<_>>>()?;
        let Some(path) = path else {
            return Ok(Database {
                adapter: Some(Adapter::open(None)?.with_setup(setup)?),
                publish: None,
                _locks: locks,
            });
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.is_dir()) {
            return Err(Diagnostic::new(format!(
                "cannot open database `{}`: the folder `{}` does not exist",
                path.display(),
                dir.display()
            ))
            .help("create the folder, or change `path:` of the target in profiles.yml")
            .into());
        }
        locks.push(WriteLock::acquire(path, lock_timeout)?);
        let (open_path, publish) = if publish {
            let shadow = Self::prepare_shadow(path)?;
            (
                shadow.clone(),
                Some(Publish {
                    published: path.to_path_buf(),
                    shadow,
                }),
            )
        } else {
            (path.to_path_buf(), None)
        };
        // A process that is not a Mallard run (the DuckDB CLI, a notebook) may hold the file
        // itself; wait for it like for the lock.
        let started = Instant::now();
        let adapter = loop {
            match Adapter::open(Some(&open_path)) {
                Ok(a) => break a,
                Err(e)
                    if e.to_string().contains("in use by another process")
                        && lock_timeout.is_some_and(|t| started.elapsed() < t) =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Database {
            adapter: Some(adapter.with_setup(setup)?),
            publish,
            _locks: locks,
        })
    }

    /// The Spark Connect server of a `type: spark` target, for writing. No lock is taken: a
    /// cluster is shared, and Spark has no lock a client can hold (one writer at a time is the
    /// scheduler's job there, see docs/scale-out.md).
    ///
    /// Errors: as [`Adapter::open_spark`].
    pub fn open_spark(target: &crate::config::connection::SparkConnect) -> Result<Database> {
        Ok(Database {
            adapter: Some(Adapter::open_spark(target)?),
            publish: None,
            _locks: Vec::new(),
        })
    }

    /// Copies the published database (and its write-ahead log, if any) into the shadow
    /// folder, replacing what a failed or killed run left there.
    fn prepare_shadow(published: &Path) -> Result<PathBuf> {
        let dir = published.parent().unwrap_or(Path::new(".")).join(SHADOW_DIR);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        let shadow = dir.join(published.file_name().context("database path has no file name")?);
        for stale in [shadow.clone(), wal_of(&shadow)] {
            if stale.exists() {
                std::fs::remove_file(&stale)
                    .with_context(|| format!("cannot remove `{}`", stale.display()))?;
            }
        }
        if published.exists() {
            std::fs::copy(published, &shadow)
                .with_context(|| format!("cannot copy `{}` for publishing", published.display()))?;
            if wal_of(published).exists() {
                std::fs::copy(wal_of(published), wal_of(&shadow))?;
            }
        }
        Ok(shadow)
    }

    pub fn adapter(&self) -> &Adapter {
        self.adapter.as_ref().expect("open until finished")
    }

    /// Ends the run's use of the database. In publish mode, a `succeeded` run's shadow copy is
    /// checkpointed and renamed over the published file, and `Some(path)` is returned; a
    /// failed run's copy is discarded and the published file is left as it was.
    ///
    /// Errors: the checkpoint, sync or rename fails (the published file is then unchanged).
    pub fn finish(mut self, succeeded: bool) -> Result<Option<PathBuf>> {
        let Some(publish) = self.publish.take() else {
            return Ok(None);
        };
        let adapter = self.adapter.take().expect("open until finished");
        if !succeeded {
            drop(adapter);
            discard(&publish.shadow);
            return Ok(None);
        }
        adapter
            .execute("checkpoint")
            .context("cannot checkpoint the new database before publishing")?;
        // Closing the last connection closes the database, so the file is complete on disk.
        drop(adapter);
        std::fs::File::open(&publish.shadow).and_then(|f| f.sync_all())?;
        // The checkpoint merged any log into the copy; an old log beside the published file
        // must not be replayed onto the new one.
        let old_wal = wal_of(&publish.published);
        if old_wal.exists() {
            std::fs::remove_file(&old_wal)?;
        }
        std::fs::rename(&publish.shadow, &publish.published).with_context(|| {
            format!(
                "cannot move the new database over `{}`",
                publish.published.display()
            )
        })?;
        if let Some(dir) = publish.published.parent() {
            // Make the rename itself durable.
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(Some(publish.published))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // A run that ends without `finish` (an error) discards its shadow copy.
        if let Some(publish) = self.publish.take() {
            self.adapter.take();
            discard(&publish.shadow);
        }
    }
}

fn discard(shadow: &Path) {
    for f in [shadow.to_path_buf(), wal_of(shadow)] {
        let _ = std::fs::remove_file(f);
    }
}
