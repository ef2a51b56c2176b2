//! First start: create a workspace and a root key that holds every permission.
//!
//! - `KEYWARD_BOOTSTRAP_ROOT_KEY` set: that exact string becomes the root key (≥ 16 characters).
//! - Otherwise a random root key is generated, printed once to stderr, and written to
//!   `<data-dir>/bootstrap-root-key` with mode 0600.
//! - Against a database that already has a workspace nothing is created and the variable is
//!   ignored (with a log line saying so).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};
use keyward_store::root_keys::{self, RootKeyPatch};
use keyward_store::workspaces;
use keyward_types::permissions;

use crate::Keyward;
use crate::audit::{Actor, Event, Target, TargetKind};
use crate::key_material::KeyHash;
use crate::service::workspaces::insert_workspace;
use crate::time::now_ms;
use crate::work::{Invalidation, Work};
use keyward_store::private_files;

/// Shortest accepted `KEYWARD_BOOTSTRAP_ROOT_KEY`.
pub const MIN_BOOTSTRAP_KEY_LEN: usize = 16;
/// Name of the file the generated bootstrap root key is written to, inside the data directory.
pub const BOOTSTRAP_KEY_FILE: &str = "bootstrap-root-key";

pub async fn bootstrap(
    keyward: &Keyward,
    data_dir: &Path,
    configured_key: Option<&str>,
) -> anyhow::Result<()> {
    let mut work = Work::begin(keyward, Actor::system())
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap failed: {}", e.detail))?;
    if !workspaces::none_exist(work.tx()).await? {
        if configured_key.is_some() {
            tracing::info!(
                "KEYWARD_BOOTSTRAP_ROOT_KEY is ignored: the database already has a workspace and root keys"
            );
        }
        return upgrade_all_powerful_keys(work).await;
    }
    if let Some(key) = configured_key {
        if key.chars().count() < MIN_BOOTSTRAP_KEY_LEN {
            bail!(
                "KEYWARD_BOOTSTRAP_ROOT_KEY must be at least {MIN_BOOTSTRAP_KEY_LEN} characters long"
            );
        }
        if key.chars().any(char::is_whitespace) {
            bail!(
                "KEYWARD_BOOTSTRAP_ROOT_KEY must not contain whitespace (it is sent as 'Bearer <key>')"
            );
        }
    }
    let (workspace_id, root_key) = insert_workspace(
        &mut work,
        "default",
        true,
        configured_key.map(str::to_owned),
    )
    .await
    .map_err(|e| anyhow::anyhow!("bootstrap failed: {}", e.detail))?;

    if configured_key.is_none() {
        // Written before the commit: if writing fails, no root key exists that nobody knows.
        write_key_file(data_dir, &root_key.key)?;
    }
    work.commit()
        .await
        .map_err(|e| anyhow::anyhow!("bootstrap failed: {}", e.cause.unwrap_or(e.detail)))?;
    tracing::info!(
        workspace_id,
        root_key_id = root_key.key_id,
        "bootstrapped an empty database"
    );
    if configured_key.is_none() {
        let path = data_dir.join(BOOTSTRAP_KEY_FILE);
        eprintln!(
            "\nkeyward: created workspace {workspace_id} and its bootstrap root key (shown once, also saved to {}):\n\n    {}\n",
            path.display(),
            root_key.key
        );
    }
    Ok(())
}

/// Gives the all-powerful root keys of a database created by an earlier version what today's
/// hold (`keyward_types::permissions::upgrade`): the permissions added since, and the URN form
/// of everything in their workspace, so that they can use and grant the new operations. Keys
/// holding less are left as they are. Runs at every start and changes nothing once done; each
/// key changed is recorded as a `rootKey.update` by keyward itself.
async fn upgrade_all_powerful_keys(mut work: Work) -> anyhow::Result<()> {
    let mut upgraded = 0;
    for key in root_keys::list_all_live(work.tx()).await? {
        let Ok(mut held) = serde_json::from_str::<Vec<String>>(&key.permissions) else {
            tracing::warn!(root_key_id = %key.id, "a root key's permissions are unreadable; not upgraded");
            continue;
        };
        let Some(missing) = permissions::upgrade(&key.workspace_id, &held) else {
            continue;
        };
        held.extend(missing.iter().cloned());
        held.sort();
        held.dedup();
        let patch = RootKeyPatch {
            permissions: Some(serde_json::to_string(&held)?),
            ..RootKeyPatch::default()
        };
        root_keys::update(work.tx(), &key.id, &patch, now_ms()).await?;
        work.audit(
            &key.workspace_id,
            Event::RootKeyUpdate,
            format!(
                "Upgraded all-powerful root key {} with the permissions added since it was created: {}",
                key.id,
                missing.join(", ")
            ),
            vec![Target::new(TargetKind::RootKey, &key.id, key.name.as_deref())],
        );
        if let Some(hash) = KeyHash::from_slice(&key.hash) {
            work.invalidate(Invalidation::RootKey(hash));
        }
        upgraded += 1;
    }
    if upgraded > 0 {
        work.commit().await.map_err(|e| {
            anyhow::anyhow!(
                "upgrading root keys failed: {}",
                e.cause.unwrap_or(e.detail)
            )
        })?;
        tracing::info!(
            upgraded,
            "gave all-powerful root keys the permissions added since they were created"
        );
    }
    Ok(())
}

fn write_key_file(data_dir: &Path, key: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    private_files::create_dir(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join(BOOTSTRAP_KEY_FILE);
    // Remove a stale file first so `mode` applies (it only affects newly created files).
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{key}").with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()?;
    Ok(())
}
