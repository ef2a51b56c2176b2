//! `rootKeys.*`: the keys that authorize calls to keyward's own API.

use keyward_store::root_keys::{self, RootKeyPatch, RootKeyRecord};
use keyward_types::permissions::{Action, Grant, Target};
use keyward_types::root_keys::{
    CreateRootKeyRequest, CreateRootKeyResponseData, DeleteRootKeyRequest, ListRootKeysRequest,
    RerollRootKeyRequest, RootKey, UpdateRootKeyRequest,
};
use keyward_types::{Empty, ErrorCode, Nullable, Pagination};

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
    let new = NewRootKey {
        name,
        permissions,
        enabled: true,
        expires_at: None,
    };
    let (record, secret) = insert(work, workspace_id, new, plaintext).await?;
    work.audit(
        workspace_id,
        Event::RootKeyCreate,
        format!(
            "Created root key {} with {} permission(s)",
            record.id,
            permissions.len()
        ),
        vec![target(&record)],
    );
    Ok((record.id, secret))
}

/// The settings of a root key to insert.
struct NewRootKey<'a> {
    name: Option<String>,
    permissions: &'a [String],
    enabled: bool,
    expires_at: Option<i64>,
}

fn target(record: &RootKeyRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::RootKey, &record.id, record.name.as_deref())
}

/// Inserts a root key (audited by the caller).
async fn insert(
    work: &mut Work,
    workspace_id: &str,
    new: NewRootKey<'_>,
    plaintext: Option<String>,
) -> ApiResult<(RootKeyRecord, PlaintextKey)> {
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
        name: new.name,
        permissions: serde_json::to_string(new.permissions).expect("permissions serialize"),
        created_at: now_ms(),
        enabled: new.enabled,
        expires_at: new.expires_at,
        updated_at: None,
        last_used_at: None,
    };
    root_keys::insert(work.tx(), &record).await?;
    // Should this token have been tried before it existed, its cached "unknown" must go.
    work.invalidate(Invalidation::RootKey(hash));
    Ok((record, secret))
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

/// A 403 for permissions the caller does not hold, `doing` saying what it tried.
fn not_held(list: String, doing: String) -> ApiError {
    ApiError::new(
        ErrorCode::InsufficientPermissions,
        format!("A root key can only {doing}; this one lacks {list}."),
    )
}

/// Refuses a change that would let a root key outlive the expiring caller: Unkey's rule, so
/// that an expiring key cannot mint or extend one that lasts longer.
fn refuse_outliving(caller: &Caller, expires_at: Option<i64>, doing: &str) -> ApiResult<()> {
    match (caller.root_key.expires_at, expires_at) {
        (Some(own), expires) if expires.is_none_or(|e| e > own) => Err(ApiError::new(
            ErrorCode::InsufficientPermissions,
            format!(
                "This root key expires at {own}, so it can only {doing} a root key that expires no later. {}",
                match expires {
                    Some(e) => format!("This one would expire at {e}."),
                    None => "This one would never expire.".to_string(),
                }
            ),
        )),
        _ => Ok(()),
    }
}

/// The permissions of a stored root key.
fn permissions_of(row: &RootKeyRecord) -> ApiResult<Vec<String>> {
    serde_json::from_str(&row.permissions).map_err(|e| {
        ApiError::internal(format!(
            "root key {} has unreadable permissions: {e}",
            row.id
        ))
    })
}

/// Sorted, without duplicates: the form root keys store their permissions in.
fn normalized(mut permissions: Vec<String>) -> Vec<String> {
    permissions.sort();
    permissions.dedup();
    permissions
}

fn root_key_not_found(key_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RootKeyNotFound,
        format!(
            "The root key '{key_id}' was not found in this workspace; it may have been deleted."
        ),
    )
}

/// The live root key `key_id` of the caller's workspace, locked for the change, and its
/// permissions; refused (403) unless the caller holds every one of them — changing a root key
/// takes the authority to grant what it holds.
async fn lock_held(
    work: &mut Work,
    caller: &Caller,
    key_id: &str,
    doing: &str,
) -> ApiResult<(RootKeyRecord, Vec<String>)> {
    let row = root_keys::find_live(work.tx(), caller.workspace_id(), key_id)
        .await?
        .ok_or_else(|| root_key_not_found(key_id))?;
    let permissions = permissions_of(&row)?;
    if let Some(list) = lacking(caller, &permissions) {
        return Err(not_held(
            list,
            format!(
                "{doing} a root key whose every permission it holds itself, which '{}' holds. Use a root key that holds them",
                row.id
            ),
        ));
    }
    Ok((row, permissions))
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
        return Err(not_held(
            list,
            "grant permissions it holds itself. Remove them from the request".to_string(),
        ));
    }
    let expires_at = req.expires.value().copied();
    let now = now_ms();
    if let Some(expires) = expires_at.filter(|e| *e <= now) {
        return Err(ApiError::invalid_field(
            "expires",
            format!("must be in the future: {expires} is at or before the server's time, {now}"),
            "send a later time in unix milliseconds, or omit expires for a key that never expires",
        ));
    }
    refuse_outliving(caller, expires_at, "create")?;
    let permissions = normalized(req.permissions);
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let new = NewRootKey {
        name: req.name,
        permissions: &permissions,
        enabled: true,
        expires_at,
    };
    let (record, key) = insert(&mut work, caller.workspace_id(), new, None).await?;
    work.audit(
        caller.workspace_id(),
        Event::RootKeyCreate,
        format!(
            "Created root key {} with {} permission(s){}",
            record.id,
            permissions.len(),
            expires_at.map_or(String::new(), |e| format!(", expiring at {e}"))
        ),
        vec![target(&record)],
    );
    work.commit().await?;
    Ok(CreateRootKeyResponseData {
        key_id: record.id,
        key: key.into_string(),
    })
}

/// Which root keys a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// `rootKeys.listKeys`: those the caller may read; never 403.
    Readable,
    /// `rootKeys.listRootKeys`, keyward's first rule: all of them, or 403 unless the caller may
    /// read every root key.
    AllOrRefused,
}

pub async fn list_root_keys(
    keyward: &Keyward,
    caller: &Caller,
    req: ListRootKeysRequest,
    listing: Listing,
) -> ApiResult<(Vec<RootKey>, Pagination)> {
    if listing == Listing::AllOrRefused {
        caller.require(Action::ReadRootKey, &Target::Workspace)?;
    }
    let limit = req.limit.unwrap_or(100);
    let mut conn = keyward.db.reader().await?;
    let mut readable = Vec::new();
    let mut after = req.cursor;
    // Unreadable keys are skipped, so a page may need several reads to fill.
    let has_more = loop {
        let rows = root_keys::list(
            &mut conn,
            caller.workspace_id(),
            after.as_deref(),
            limit + 1,
        )
        .await?;
        let read_all = rows.len() as i64 <= limit;
        after = rows.last().map(|row| row.id.clone());
        for row in rows {
            if caller.may(Action::ReadRootKey, &Target::RootKey(&row.id)) {
                if readable.len() as i64 == limit {
                    break;
                }
                readable.push(row);
            }
        }
        if readable.len() as i64 == limit {
            // One more readable key after this page decides `hasMore`: look for it.
            break more_readable(&mut conn, caller, readable.last().map(|r| r.id.clone())).await?;
        }
        if read_all {
            break false;
        }
    };
    let (rows, _) = paginate(readable, limit, |row| row.id.clone());
    let cursor = if has_more {
        rows.last().map(|row| row.id.clone())
    } else {
        None
    };
    let keys = rows
        .into_iter()
        .map(|row| {
            // This node's fresher mark, if the key is cached here.
            let last_used_at = KeyHash::from_slice(&row.hash)
                .and_then(|hash| keyward.caches.root_keys.peek(&hash))
                .map_or(0, |cached| cached.last_used())
                .max(row.last_used_at.unwrap_or(0));
            RootKey {
                permissions: serde_json::from_str(&row.permissions).unwrap_or_default(),
                key_id: row.id,
                name: row.name,
                start: row.start,
                end: String::new(),
                enabled: row.enabled,
                created_at: row.created_at,
                last_used_at,
                expires: row.expires_at,
            }
        })
        .collect();
    Ok((keys, Pagination { cursor, has_more }))
}

/// Whether a root key the caller may read follows `after`.
async fn more_readable(
    conn: &mut keyward_store::Conn,
    caller: &Caller,
    mut after: Option<String>,
) -> ApiResult<bool> {
    loop {
        let rows = root_keys::list(conn, caller.workspace_id(), after.as_deref(), 100).await?;
        if rows
            .iter()
            .any(|row| caller.may(Action::ReadRootKey, &Target::RootKey(&row.id)))
        {
            return Ok(true);
        }
        if rows.len() < 100 {
            return Ok(false);
        }
        after = rows.last().map(|row| row.id.clone());
    }
}

pub async fn update_root_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdateRootKeyRequest,
) -> ApiResult<Empty> {
    caller.require(Action::UpdateRootKey, &Target::RootKey(&req.key_id))?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let (row, _) = lock_held(&mut work, caller, &req.key_id, "change").await?;
    refuse_outliving(caller, row.expires_at, "change")?;
    let mut patch = RootKeyPatch::default();
    let mut changed = Vec::new();
    if let Some(name) = req.name.into_change() {
        patch.name = Some(name);
        changed.push("name".to_string());
    }
    if let Some(enabled) = req.enabled {
        patch.enabled = Some(enabled);
        changed.push(if enabled { "enabled" } else { "disabled" }.to_string());
    }
    if let Some(permissions) = req.permissions {
        if let Some(list) = lacking(caller, &permissions) {
            return Err(not_held(
                list,
                "grant permissions it holds itself. Remove them from the request".to_string(),
            ));
        }
        let permissions = normalized(permissions);
        changed.push(format!("{} permission(s)", permissions.len()));
        patch.permissions = Some(serde_json::to_string(&permissions).expect("strings serialize"));
    }
    root_keys::update(work.tx(), &row.id, &patch, now_ms()).await?;
    let name = patch.name.clone().unwrap_or_else(|| row.name.clone());
    work.audit(
        caller.workspace_id(),
        Event::RootKeyUpdate,
        if changed.is_empty() {
            format!("Updated root key {} (no fields changed)", row.id)
        } else {
            format!("Updated root key {}: {}", row.id, changed.join(", "))
        },
        vec![AuditTarget::new(
            TargetKind::RootKey,
            &row.id,
            name.as_deref(),
        )],
    );
    if let Some(hash) = KeyHash::from_slice(&row.hash) {
        work.invalidate(Invalidation::RootKey(hash));
    }
    work.commit().await?;
    Ok(Empty {})
}

pub async fn reroll_root_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: RerollRootKeyRequest,
) -> ApiResult<CreateRootKeyResponseData> {
    caller.require(Action::UpdateRootKey, &Target::RootKey(&req.key_id))?;
    // Shortening the old key's life is revoking it: that takes the right to delete it.
    if !matches!(req.expiration, Nullable::Null) {
        caller.require(Action::DeleteRootKey, &Target::RootKey(&req.key_id))?;
    }
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let (old, permissions) = lock_held(&mut work, caller, &req.key_id, "reroll").await?;
    refuse_outliving(caller, old.expires_at, "reroll")?;
    let now = now_ms();
    let new = NewRootKey {
        name: old.name.clone(),
        permissions: &permissions,
        enabled: old.enabled,
        expires_at: old.expires_at,
    };
    let (record, key) = insert(&mut work, caller.workspace_id(), new, None).await?;
    let old_expires = match req.expiration {
        Nullable::Value(ms) => {
            let expires = now.saturating_add(ms);
            let expires = old.expires_at.map_or(expires, |e| e.min(expires));
            let patch = RootKeyPatch {
                expires_at: Some(Some(expires)),
                ..RootKeyPatch::default()
            };
            root_keys::update(work.tx(), &old.id, &patch, now).await?;
            Some(expires)
        }
        Nullable::Null | Nullable::Absent => old.expires_at,
    };
    work.audit(
        caller.workspace_id(),
        Event::RootKeyReroll,
        format!(
            "Rerolled root key {} as {}; the old key {}",
            old.id,
            record.id,
            old_expires.map_or("never expires".to_string(), |e| format!("expires at {e}"))
        ),
        vec![target(&old), target(&record)],
    );
    if let Some(hash) = KeyHash::from_slice(&old.hash) {
        work.invalidate(Invalidation::RootKey(hash));
    }
    work.commit().await?;
    Ok(CreateRootKeyResponseData {
        key_id: record.id,
        key: key.into_string(),
    })
}

pub async fn delete_root_key(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: DeleteRootKeyRequest,
) -> ApiResult<Empty> {
    caller.require(Action::DeleteRootKey, &Target::RootKey(&req.key_id))?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    // Deleting a root key takes away what it may do, so it needs the same authority as granting
    // that: every permission of the target. Otherwise a key holding only `delete_root_key` could
    // delete the workspace's only all-powerful key and lock everyone out. A key may delete
    // itself: it holds its own permissions.
    let (row, _) = lock_held(&mut work, caller, &req.key_id, "delete").await?;
    root_keys::soft_delete(work.tx(), &row.id, now_ms()).await?;
    work.audit(
        caller.workspace_id(),
        Event::RootKeyDelete,
        format!("Deleted root key {}", row.id),
        vec![target(&row)],
    );
    if let Some(hash) = KeyHash::from_slice(&row.hash) {
        work.invalidate(Invalidation::RootKey(hash));
    }
    work.commit().await?;
    Ok(Empty {})
}
