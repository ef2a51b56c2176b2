//! One serving process per SQLite database.
//!
//! Each `keyward serve` caches keys and forgets them when *it* changes them; a second process on
//! the same SQLite file would never hear of the first one's changes and would keep answering
//! VALID for a key the other deleted, for as long as its cache holds it. Several processes
//! serving one database is what PostgreSQL is for (every node hears every other's invalidations
//! there), so a second process on one SQLite file refuses to start: `serve` takes an exclusive
//! lock (`flock`) on `<database>.lock`, next to the database file, and holds it for the life of
//! the process. The kernel releases it when the process ends, however it ends (`kill -9`
//! included), so a stale lock never blocks a restart.
//!
//! The lock file is separate from the database because SQLite locks the database file with POSIX
//! record locks, which some systems implement on top of `flock`.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context;
use sqlx::sqlite::SqliteConnectOptions;

/// Held while the process serves; dropping it releases the lock.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
    pub path: PathBuf,
}

/// The SQLite file `Db::open(url, data_dir, …)` would serve, if it is a file.
pub fn sqlite_file(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Option<PathBuf>> {
    match url {
        None => Ok(Some(data_dir.join("keyward.db"))),
        Some(url) if url.starts_with("sqlite:") => {
            if url.contains(":memory:") || url.contains("mode=memory") {
                return Ok(None);
            }
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("cannot parse the database URL {url:?}"))?;
            Ok(Some(options.get_filename().to_path_buf()))
        }
        Some(_) => Ok(None),
    }
}

/// Takes the serving lock of the SQLite database `url`/`data_dir` names (`None` for PostgreSQL,
/// which any number of processes may serve), or says why not.
pub fn lock(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Option<ServeLock>> {
    let Some(database) = sqlite_file(url, data_dir)? else {
        return Ok(None);
    };
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::private_files::create_dir(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let path = PathBuf::from(name);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file, path })),
        Err(TryLockError::WouldBlock) => anyhow::bail!(
            "another keyward process is already serving the SQLite database {} (it holds {}). \
             Only one process may serve a SQLite database: its caches would not hear of the \
             other's changes (a key deleted by one would stay valid on the other). Stop the \
             other process first, or run several nodes on PostgreSQL (--database-url \
             postgres://…), where every node hears every change.",
            database.display(),
            path.display()
        ),
        Err(TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_one_database_is_refused_until_the_first_is_released() {
        let dir = tempfile::tempdir().unwrap();
        let first = lock(None, dir.path()).unwrap().expect("a SQLite file");
        let err = lock(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("already serving"), "{err}");
        assert!(err.contains("PostgreSQL"), "{err}");
        drop(first);
        assert!(lock(None, dir.path()).unwrap().is_some());
    }

    #[test]
    fn urls_name_the_same_file_as_the_data_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keyward.db");
        let _held = lock(None, dir.path()).unwrap();
        let url = format!("sqlite://{}", file.display());
        assert!(lock(Some(&url), Path::new("/nonexistent")).is_err());
        assert!(lock(Some("sqlite::memory:"), dir.path()).unwrap().is_none());
        assert!(
            lock(Some("postgres://127.0.0.1/x"), dir.path())
                .unwrap()
                .is_none()
        );
    }
}
