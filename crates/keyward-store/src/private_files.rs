//! Files only keyward's own user may read. The database holds every key's hash, metadata and
//! audit trail, and the data directory the bootstrap root key: like the key file (0600), none of
//! it is for other local users.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Creates `dir`, and any missing parent, with mode 0700. A directory that exists keeps its mode:
/// whoever made it chose who may list it.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// Makes the SQLite database `path` private before SQLite opens it. A missing file is created
/// empty with mode 0600 (SQLite takes an empty file as a new database): SQLite would create it
/// 0644, and it gives the `-wal` and `-shm` files it creates the database file's mode, so all
/// three stay private. An existing database, `-wal` or `-shm` that others may read (as earlier
/// versions created them) loses those permissions, with a warning; one keyward may not change
/// (another user's file, shared on purpose) is left as it is, with a warning too.
pub fn prepare_database(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    for file in [
        path.to_path_buf(),
        sibling(path, "-wal"),
        sibling(path, "-shm"),
    ] {
        restrict_to_owner(&file)?;
    }
    Ok(())
}

/// `<path><suffix>`, as SQLite names a database's companion files.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Removes the group and other permissions of `file`, if it exists and has any.
fn restrict_to_owner(file: &Path) -> io::Result<()> {
    let mode = match std::fs::metadata(file) {
        Ok(metadata) => metadata.permissions().mode(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err),
    };
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let (was, now) = (mode & 0o777, mode & 0o700);
    match std::fs::set_permissions(file, Permissions::from_mode(now)) {
        Ok(()) => tracing::warn!(
            file = %file.display(),
            "the database file was open to other users (mode {was:o}); it is now {now:o}"
        ),
        Err(err) => tracing::warn!(
            file = %file.display(),
            "the database file is open to other users (mode {was:o}) and keyward cannot change that: {err}"
        ),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_directories_are_private() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        create_dir(&dir).unwrap();
        assert_eq!((mode(&root.path().join("a")), mode(&dir)), (0o700, 0o700));
        // An existing directory keeps its mode.
        std::fs::set_permissions(&dir, Permissions::from_mode(0o750)).unwrap();
        create_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o750);
    }

    #[test]
    fn databases_are_created_private_and_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("keyward.db");
        prepare_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        assert_eq!(std::fs::metadata(&db).unwrap().len(), 0);

        let wal = sibling(&db, "-wal");
        std::fs::write(&db, b"kept").unwrap();
        std::fs::write(&wal, b"").unwrap();
        std::fs::set_permissions(&db, Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&wal, Permissions::from_mode(0o660)).unwrap();
        prepare_database(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert_eq!(std::fs::read(&db).unwrap(), b"kept", "never truncated");
        assert!(!sibling(&db, "-shm").exists(), "nothing else is created");
    }
}
