//! `rootKeys.*`: the keys that authorize calls to keyward's own API.

use keyward_store::root_keys::{self, RootKeyRecord};
use keyward_types::permissions::{Action, Grant, Target};
use keyward_types::root_keys::{
    CreateRootKeyRequest, CreateRootKeyResponseData, DeleteRootKeyRequest, ListRootKeysRequest,
    RootKey,
};
use keyward_types::{Empty, ErrorCode, Pagination};

use crate::Keyward;
use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::key_material::{self, KeyHash, PlaintextKey, new_id};
use crate::service::paginate;
use crate::time::now_ms;
use crate::work::{Invalidation, Work};

/// Prefix of generated root keys, so they are recognisable in configs and secret scanners.
pub const ROOT_KEY_PREFIX: &str = "kwroot";
/// Random bytes of a generated root key (256 bits).
const ROOT_KEY_BYTES: usize = 32;

/// Inserts a root key of `workspace_id` holding `permissions`. With `plaintext`, that exact
/// string becomes the key (the bootstrap key from the environment); otherwise one is generated.
pub(crate) async fn insert_root_key(
    work: &mut Work,
    workspace_id: &str,
    name: Option<String>,
    permissions: &[String],
    plaintext: Option<String>,
) -> ApiResult<(String, PlaintextKey)> {
    let (hash, start, secret) = match plaintext {
        Some(text) => (
            KeyHash::of(&text),
            key_material::start_of_chosen(&text, ROOT_KEY_PREFIX),
            PlaintextKey::from(text),
        ),
        None => {
            let key = key_material::generate(Some(ROOT_KEY_PREFIX), ROOT_KEY_BYTES);
            (key.hash, key.start, key.plaintext)
        }
    };
    let record = RootKeyRecord {
        id: new_id("key"),
        workspace_id: workspace_id.to_owned(),
        hash: hash.as_bytes().to_vec(),
        start,
        name,
        permissions: serde_json::to_string(permissions).expect("permissions serialize"),
        created_at: now_ms(),
    };
    root_keys::insert(work.tx(), &record).await?;
    work.audit(
        workspace_id,
        Event::RootKeyCreate,
        format!(
            "Created root key {} with {} permission(s)",
            record.id,
            permissions.len()
        ),
        vec![AuditTarget::new(
            TargetKind::RootKey,
            &record.id,
            record.name.as_deref(),
        )],
    );
    // Should this token have been tried before it existed, its cached "unknown" must go.
    work.invalidate(Invalidation::RootKey(hash));
    Ok((record.id, secret))
}

/// The permissions of `permissions` that `caller` does not cover, quoted for a detail, if any.
fn lacking(caller: &Caller, permissions: &[String]) -> Option<String> {
    let lacking: Vec<String> = permissions
        .iter()
        // A string this version cannot parse grants nothing, so holding it takes nothing.
        .filter(|p| Grant::parse(p).is_ok_and(|grant| !caller.covers(&grant)))
        .map(|p| format!("'{p}'"))
        .collect();
    (!lacking.is_empty()).then(|| lacking.join(", "))
}

pub async fn create_root_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreateRootKeyRequest,
) -> ApiResult<CreateRootKeyResponseData> {
    caller.require(Action::CreateRootKey, &Target::Workspace)?;
    // A root key can only hand out what it holds: no escalation through delegation.
    if let Some(list) = lacking(caller, &req.permissions) {
        return Err(ApiError::new(
            ErrorCode::InsufficientPermissions,
            format!(
                "A root key can only grant permissions it holds itself; this one lacks {list}. Remove them from the request."
            ),
        ));
    }
    let mut permissions = req.permissions;
    permissions.sort();
    permissions.dedup();
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let (key_id, key) = insert_root_key(
        &mut work,
        caller.workspace_id(),
        req.name,
        &permissions,
        None,
    )
    .await?;
    work.commit().await?;
    Ok(CreateRootKeyResponseData {
        key_id,
        key: key.into_string(),
    })
}

pub async fn list_root_keys(
    keyward: &Keyward,
    caller: &Caller,
    req: ListRootKeysRequest,
) -> ApiResult<(Vec<RootKey>, Pagination)> {
    caller.require(Action::ReadRootKey, &Target::Workspace)?;
    let limit = req.limit.unwrap_or(100);
    let rows = root_keys::list(
        &mut keyward.db.reader().await?,
        caller.workspace_id(),
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |row| row.id.clone());
    let keys = rows
        .into_iter()
        .map(|row| RootKey {
            permissions: serde_json::from_str(&row.permissions).unwrap_or_default(),
            key_id: row.id,
            start: row.start,
            name: row.name,
            created_at: row.created_at,
        })
        .collect();
    Ok((keys, pagination))
}

pub async fn delete_root_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: DeleteRootKeyRequest,
) -> ApiResult<Empty> {
    caller.require(Action::DeleteRootKey, &Target::RootKey(&req.key_id))?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let row = root_keys::find_live(work.tx(), caller.workspace_id(), &req.key_id)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RootKeyNotFound,
                format!(
                    "The root key '{}' was not found in this workspace; it may have been deleted.",
                    req.key_id
                ),
            )
        })?;
    // Deleting a root key takes away what it may do, so it needs the same authority as granting
    // that: every permission of the target. Otherwise a key holding only `delete_root_key` could
    // delete the workspace's only all-powerful key and lock everyone out. A key may delete
    // itself: it holds its own permissions.
    let permissions: Vec<String> = serde_json::from_str(&row.permissions).map_err(|e| {
        ApiError::internal(format!(
            "root key {} has unreadable permissions: {e}",
            row.id
        ))
    })?;
    if let Some(list) = lacking(caller, &permissions) {
        return Err(ApiError::new(
            ErrorCode::InsufficientPermissions,
            format!(
                "A root key can only delete a root key whose every permission it holds itself; this one lacks {list}, which '{}' holds. Delete it with a root key that holds them.",
                row.id
            ),
        ));
    }
    root_keys::soft_delete(work.tx(), &row.id, now_ms()).await?;
    work.audit(
        caller.workspace_id(),
        Event::RootKeyDelete,
        format!("Deleted root key {}", row.id),
        vec![AuditTarget::new(
            TargetKind::RootKey,
            &row.id,
            row.name.as_deref(),
        )],
    );
    if let Some(hash) = KeyHash::from_slice(&row.hash) {
        work.invalidate(Invalidation::RootKey(hash));
    }
    work.commit().await?;
    Ok(Empty {})
}
