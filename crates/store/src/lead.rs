//! Leading a job among the processes that share one database (the scheduled scan of several
//! `serve` instances): whoever holds the lead runs it, and the lead passes on when its holder
//! dies.
//!
//! PostgreSQL: a session advisory lock, held on a connection of its own (taken out of the
//! pool) until the [`Lead`] is dropped; the server releases it when that connection closes,
//! so a killed process hands the lead on at once. SQLite: an exclusive lock on a file beside
//! the database, released by the OS when the process dies (and the same kind of lock keeps
//! processes that open a new SQLite file together from migrating it twice).

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::error::StoreError;

/// The lead of a job, held until dropped.
#[derive(Debug)]
pub struct Lead {
    job: String,
    held: Held,
}

#[derive(Debug)]
enum Held {
    Postgres(PgConnection),
    File(#[allow(dead_code, reason = "held for its lock")] std::fs::File),
    /// An in-memory database belongs to one process.
    Alone,
}

/// The advisory-lock key of a job: FNV-1a of its name, so that every build of every version
/// agrees on it (std's hasher may change between releases).
pub(crate) fn lock_key(job: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in "ivcrush:lead:".bytes().chain(job.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

impl Lead {
    pub(crate) fn postgres(job: &str, connection: PgConnection) -> Lead {
        Lead {
            job: job.to_owned(),
            held: Held::Postgres(connection),
        }
    }

    pub(crate) fn file(job: &str, file: std::fs::File) -> Lead {
        Lead {
            job: job.to_owned(),
            held: Held::File(file),
        }
    }

    pub(crate) fn alone(job: &str) -> Lead {
        Lead {
            job: job.to_owned(),
            held: Held::Alone,
        }
    }

    /// The job led.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// Whether the lead is still held: on PostgreSQL its connection must still answer (a lost
    /// connection lost the lock with it, and another process may lead now).
    pub async fn still_held(&mut self) -> bool {
        match &mut self.held {
            Held::Postgres(connection) => connection.ping().await.is_ok(),
            Held::File(_) | Held::Alone => true,
        }
    }
}

/// Takes the lead of `job` on PostgreSQL, on `connection` (taken out of its pool).
pub(crate) async fn try_lead_postgres(
    job: &str,
    mut connection: PgConnection,
) -> Result<Option<Lead>, StoreError> {
    let led: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(lock_key(job))
        .fetch_one(&mut connection)
        .await
        .map_err(StoreError::query("try_lead", format!("job {job}")))?;
    Ok(led.then(|| Lead::postgres(job, connection)))
}

/// `<database>.<purpose>.lock`, opened (created when missing).
fn lock_file(
    database: &std::path::Path,
    purpose: &str,
) -> Result<(std::fs::File, std::path::PathBuf), StoreError> {
    let mut name = database.as_os_str().to_owned();
    name.push(format!(".{purpose}.lock"));
    let path = std::path::PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| StoreError::Io {
            what: "lock file",
            path: path.clone(),
            source: e,
        })?;
    Ok((file, path))
}

/// Waits for the exclusive lock `<database>.<purpose>.lock`, held until the file returned is
/// dropped (or the process dies). `None` for an in-memory database.
pub(crate) async fn lock_beside(
    database: Option<&std::path::Path>,
    purpose: &str,
) -> Result<Option<std::fs::File>, StoreError> {
    let Some(database) = database else {
        return Ok(None);
    };
    let (file, path) = lock_file(database, purpose)?;
    tokio::task::spawn_blocking(move || match file.lock() {
        Ok(()) => Ok(Some(file)),
        Err(e) => Err(StoreError::Io {
            what: "lock file",
            path,
            source: e,
        }),
    })
    .await
    .map_err(|e| StoreError::InvalidInput {
        what: "lock file",
        reason: format!("the task waiting for it failed: {e}"),
    })?
}

/// Takes the lead of `job` beside the SQLite file `database`.
pub(crate) fn try_lead_file(
    job: &str,
    database: Option<&std::path::Path>,
) -> Result<Option<Lead>, StoreError> {
    let Some(database) = database else {
        return Ok(Some(Lead::alone(job)));
    };
    let (file, path) = lock_file(database, &format!("{job}.lead"))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(Lead::file(job, file))),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(StoreError::Io {
            what: "lead file",
            path,
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_are_stable_and_distinct() {
        assert_eq!(lock_key("scheduled-scan"), lock_key("scheduled-scan"));
        assert_ne!(lock_key("scheduled-scan"), lock_key("other"));
    }

    #[test]
    fn a_file_lead_is_held_once_and_passes_on_when_dropped() {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("x.db");
        let first = try_lead_file("job", Some(&db)).expect("lock file");
        assert!(first.is_some());
        assert!(
            try_lead_file("job", Some(&db))
                .expect("lock file")
                .is_none()
        );
        drop(first);
        assert!(
            try_lead_file("job", Some(&db))
                .expect("lock file")
                .is_some()
        );
    }
}
