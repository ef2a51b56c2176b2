//! Root-key authentication and authorization.
//!
//! Every operation except liveness, metrics and the OpenAPI document runs for a [`Caller`]: the
//! authenticated root key and the workspace it acts in. Service functions scope every lookup to
//! `caller.workspace_id()` — data of another workspace answers as if it did not exist — and then
//! check the caller's typed permissions ([`Grants`]) for the [`Action`] on the [`Target`] they
//! found.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

use keyward_store::{Db, root_keys};
use keyward_types::ErrorCode;
use keyward_types::permissions::{self, Action, Grant, Grants, Scope, Target};

use crate::Keyward;
use crate::cache::LoadError;
use crate::error::{ApiError, ApiResult};
use crate::key_material::KeyHash;
use crate::time::now_ms;

/// A live root key, as cached for authentication.
#[derive(Debug)]
pub struct RootKey {
    pub id: String,
    pub workspace_id: String,
    pub name: Option<String>,
    /// The permission strings as granted (and listed).
    pub permissions: Vec<String>,
    /// The same, parsed.
    pub grants: Grants,
    /// A disabled root key is refused (403) until enabled again.
    pub enabled: bool,
    /// When it stops working, unix ms.
    pub expires_at: Option<i64>,
    /// When this node last recorded it authenticating a request, unix ms (0: not since loaded).
    last_used: AtomicI64,
}

/// A root key's last use is written at most once per this many milliseconds (off the request
/// path): `rootKeys.listKeys` shows it to the minute.
pub const ROOT_KEY_LAST_USED_PRECISION_MS: i64 = 60_000;

impl RootKey {
    /// When this node last saw it authenticate a request, unix ms (0: not since it was cached).
    pub fn last_used(&self) -> i64 {
        self.last_used.load(Relaxed)
    }
}

/// The authenticated caller of an operation.
#[derive(Debug, Clone)]
pub struct Caller {
    pub root_key: Arc<RootKey>,
}

impl Caller {
    pub fn workspace_id(&self) -> &str {
        &self.root_key.workspace_id
    }

    /// Whether the root key may `action` on `target`.
    pub fn may(&self, action: Action, target: &Target<'_>) -> bool {
        self.root_key
            .grants
            .allows(&self.root_key.workspace_id, action, target)
    }

    /// Like [`Caller::may`], answering 403 with the permissions that would do.
    pub fn require(&self, action: Action, target: &Target<'_>) -> ApiResult<()> {
        if self.may(action, target) {
            Ok(())
        } else {
            Err(ApiError::missing_permission(&accepted(
                self.workspace_id(),
                action,
                target,
            )))
        }
    }

    /// Requires every one of `actions` on `target`.
    pub fn require_all(&self, actions: &[Action], target: &Target<'_>) -> ApiResult<()> {
        actions
            .iter()
            .try_for_each(|action| self.require(*action, target))
    }

    /// Whether the root key holds everything `grant` gives (so it may hand it out).
    pub fn covers(&self, grant: &Grant) -> bool {
        self.root_key
            .grants
            .covers(&self.root_key.workspace_id, grant)
    }
}

/// The permissions that grant `action` on `target`, as an error message lists them: the wildcard
/// tuple, the tuple naming the target where there is one, and the URN where there is one.
fn accepted(workspace_id: &str, action: Action, target: &Target<'_>) -> Vec<String> {
    let mut list = vec![action.wildcard()];
    if let Some(id) = target.tuple_id(action.resource()) {
        let grant = Grant::Tuple {
            action,
            scope: Scope::One(id.into()),
        };
        list.push(grant.to_string());
    }
    list.extend(permissions::urn_granting(workspace_id, action, target));
    list
}

/// The token of an `Authorization` header's `Bearer <token>`, the scheme in any case (RFC 9110
/// §11.1); `None` when malformed. Here rather than in the HTTP crate so that the fuzz targets
/// (`fuzz/`) exercise the very parser the server uses.
pub fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !token.contains(char::is_whitespace))
    .then_some(token)
}

/// Authenticates a bearer token: the live root key it is, through the cache.
pub async fn authenticate(keyward: &Keyward, token: &str) -> ApiResult<Arc<RootKey>> {
    let hash = KeyHash::of(token);
    let record = keyward
        .caches
        .root_keys
        // The database handle is cloned only on a miss, when the load needs its own.
        .get_or_load(hash, || {
            let db = keyward.db.clone();
            async move { load_root_key(&db, hash).await }
        })
        .await
        .map_err(LoadError::into_api_error)?;
    let root_key = record.ok_or_else(|| {
        ApiError::new(
            ErrorCode::AuthenticationKeyNotFound,
            "The root key is unknown or has been deleted. Check the key you send, or create a new one.",
        )
    })?;
    if !root_key.enabled {
        return Err(ApiError::new(
            ErrorCode::KeyDisabled,
            format!(
                "The root key '{}' is disabled. Enable it with rootKeys.updateKey, or use another.",
                root_key.id
            ),
        ));
    }
    let now = now_ms();
    if root_key.expires_at.is_some_and(|expires| expires <= now) {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!(
                "The root key '{}' has expired. Use another, or reroll it with a key that may.",
                root_key.id
            ),
        ));
    }
    record_use(keyward, &root_key, now);
    Ok(root_key)
}

/// Records that `root_key` authenticated a request, in the background and at most once per
/// [`ROOT_KEY_LAST_USED_PRECISION_MS`] per key on this node.
fn record_use(keyward: &Keyward, root_key: &Arc<RootKey>, now: i64) {
    let last = root_key.last_used.load(Relaxed);
    if now - last < ROOT_KEY_LAST_USED_PRECISION_MS
        || root_key
            .last_used
            .compare_exchange(last, now, Relaxed, Relaxed)
            .is_err()
    {
        return;
    }
    let (db, id) = (keyward.db.clone(), root_key.id.clone());
    tokio::spawn(async move {
        let written = async {
            let mut conn = db.writer().await?;
            root_keys::record_last_used(&mut conn, &id, now).await
        }
        .await;
        if let Err(err) = written {
            // Only the listing's `lastUsedAt` is behind; the next use tries again.
            tracing::warn!(root_key_id = %id, %err, "cannot record a root key's last use");
        }
    });
}

async fn load_root_key(db: &Db, hash: KeyHash) -> Result<Option<Arc<RootKey>>, LoadError> {
    let mut conn = db.reader().await.map_err(LoadError::store)?;
    let Some(row) = root_keys::find_live_by_hash(&mut conn, hash.as_bytes())
        .await
        .map_err(LoadError::store)?
    else {
        return Ok(None);
    };
    let permissions: Vec<String> = serde_json::from_str(&row.permissions).map_err(|e| {
        LoadError::other(format!(
            "root key {} has unreadable permissions: {e}",
            row.id
        ))
    })?;
    // Every stored string was accepted when it was granted; one this version cannot parse
    // (written by a newer version) grants nothing rather than locking the key out.
    let mut grants = Grants::default();
    for permission in &permissions {
        match Grant::parse(permission) {
            Ok(grant) => grants.insert(grant),
            Err(err) => tracing::warn!(
                root_key_id = %row.id,
                permission = %permission,
                %err,
                "ignoring a root-key permission this version does not understand"
            ),
        }
    }
    Ok(Some(Arc::new(RootKey {
        id: row.id,
        workspace_id: row.workspace_id,
        name: row.name,
        permissions,
        grants,
        enabled: row.enabled,
        expires_at: row.expires_at,
        last_used: AtomicI64::new(row.last_used_at.unwrap_or(0)),
    })))
}
