//! Root-key authentication and authorization.
//!
//! Every operation except liveness, metrics and the OpenAPI document runs for a [`Caller`]: the
//! authenticated root key and the workspace it acts in. Service functions scope every lookup to
//! `caller.workspace_id()` — data of another workspace answers as if it did not exist — and then
//! check the caller's typed permissions ([`Grants`]) for the [`Action`] on the [`Target`] they
//! found.

use std::sync::Arc;

use keyward_store::{Db, root_keys};
use keyward_types::ErrorCode;
use keyward_types::permissions::{Action, Grant, Grants, Resource, Scope, Target};

use crate::Keyward;
use crate::cache::LoadError;
use crate::error::{ApiError, ApiResult};
use crate::key_material::KeyHash;

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
            Err(ApiError::missing_permission(&accepted(action, target)))
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
        self.root_key.grants.covers(grant)
    }
}

/// The tuples that grant `action` on `target`, as an error message lists them: the wildcard,
/// and the one naming the target's API or namespace where there is one.
fn accepted(action: Action, target: &Target<'_>) -> Vec<String> {
    let scoped = match (action.resource(), target) {
        (Resource::Api, Target::Api(id) | Target::Key { api_id: id, .. }) => Some(*id),
        (Resource::Ratelimit, Target::Namespace(id)) => Some(*id),
        _ => None,
    };
    let mut list = vec![action.wildcard()];
    if let Some(id) = scoped {
        let grant = Grant::Tuple {
            action,
            scope: Scope::One(id.into()),
        };
        list.push(grant.to_string());
    }
    list
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
    record.ok_or_else(|| {
        ApiError::new(
            ErrorCode::AuthenticationKeyNotFound,
            "The root key is unknown or has been deleted. Check the key you send, or create a new one.",
        )
    })
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
    })))
}
