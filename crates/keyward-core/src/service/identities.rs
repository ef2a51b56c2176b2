//! `identities.*`: your users or customers. A key linked to an identity carries the identity's
//! `meta` in its verifications (read with the key, `keyward_store::keys`), so changing or
//! deleting an identity forgets its keys' cache entries ([`Invalidation::KeysOfIdentity`]).

use std::sync::Arc;

use keyward_store::identities::{self, IdentityRecord};
use keyward_store::ratelimits::{self, LimitRecord, Owner};
use keyward_store::{AsConn, StoreError};
use keyward_types::identities::{
    CreateIdentityRequest, CreateIdentityResponseData, IdentityRequest, UpdateIdentityRequest,
};
use keyward_types::keys::Identity;
use keyward_types::permissions::{Action, Target};
use keyward_types::rbac::ListRequest;
use keyward_types::{Empty, ErrorCode, Pagination};

use crate::Keyward;
use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::key_material::new_id;
use crate::ratelimit::keys as key_limits;
use crate::service::keys::set_ratelimits;
use crate::service::paginate;
use crate::time::now_ms;
use crate::verify::parse_meta;
use crate::work::{Invalidation, Work};

/// The wire form of a stored identity with `limits` (its rate limits).
pub(crate) fn identity_view(record: IdentityRecord, limits: &[LimitRecord]) -> Identity {
    let own: Vec<LimitRecord> = limits
        .iter()
        .filter(|l| l.identity_id.as_deref() == Some(record.id.as_str()))
        .cloned()
        .collect();
    Identity {
        meta: parse_meta(record.meta.as_deref()),
        id: record.id,
        external_id: record.external_id,
        ratelimits: key_limits::views(&own),
    }
}

/// The rate limits of `records`.
async fn limits_of(c: &mut impl AsConn, records: &[IdentityRecord]) -> ApiResult<Vec<LimitRecord>> {
    let owners: Vec<Owner<'_>> = records.iter().map(|r| Owner::Identity(&r.id)).collect();
    Ok(ratelimits::limits_of(c, &owners).await?)
}

fn not_found(identity: &str) -> ApiError {
    ApiError::new(
        ErrorCode::IdentityNotFound,
        format!(
            "No identity with the id or externalId '{identity}' exists in this workspace; it may have been deleted."
        ),
    )
}

fn target(record: &IdentityRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::Identity, &record.id, Some(&record.external_id))
}

/// Metadata as stored: compact JSON object text; an empty object is no metadata.
fn meta_text(meta: &serde_json::Map<String, serde_json::Value>) -> Option<String> {
    (!meta.is_empty()).then(|| serde_json::Value::Object(meta.clone()).to_string())
}

pub async fn create_identity(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreateIdentityRequest,
) -> ApiResult<CreateIdentityResponseData> {
    caller.require(Action::CreateIdentity, &Target::Workspace)?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let record = IdentityRecord {
        id: new_id("id"),
        workspace_id: caller.workspace_id().to_owned(),
        external_id: req.external_id,
        meta: req.meta.as_ref().and_then(meta_text),
        created_at: now_ms(),
        updated_at: None,
    };
    match identities::insert(work.tx(), &record).await {
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::IdentityAlreadyExists,
                format!(
                    "An identity with the externalId '{}' already exists in this workspace. Use it (identities.getIdentity), or choose another externalId.",
                    record.external_id
                ),
            ));
        }
        other => other?,
    }
    if let Some(limits) = &req.ratelimits {
        set_ratelimits(
            &mut work,
            caller.workspace_id(),
            Owner::Identity(&record.id),
            limits,
        )
        .await?;
    }
    work.audit(
        caller.workspace_id(),
        Event::IdentityCreate,
        format!("Created identity {} ({})", record.id, record.external_id),
        vec![target(&record)],
    );
    work.commit().await?;
    Ok(CreateIdentityResponseData {
        identity_id: record.id,
    })
}

pub async fn get_identity(
    keyward: &Keyward,
    caller: &Caller,
    req: IdentityRequest,
) -> ApiResult<Identity> {
    let mut conn = keyward.db.reader().await?;
    let record = identities::find_live(&mut conn, caller.workspace_id(), &req.identity)
        .await?
        .ok_or_else(|| not_found(&req.identity))?;
    caller.require(Action::ReadIdentity, &Target::Identity(&record.id))?;
    let limits = limits_of(&mut conn, std::slice::from_ref(&record)).await?;
    Ok(identity_view(record, &limits))
}

pub async fn list_identities(
    keyward: &Keyward,
    caller: &Caller,
    req: ListRequest,
) -> ApiResult<(Vec<Identity>, Pagination)> {
    let limit = req.limit.unwrap_or(100);
    let mut conn = keyward.db.reader().await?;
    let rows = identities::list(
        &mut conn,
        caller.workspace_id(),
        req.search.as_deref(),
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |r| r.id.clone());
    // As Unkey: the caller must be allowed to read every identity of the page; an identity it
    // may not read fails the call rather than vanishing from it.
    for row in &rows {
        caller.require(Action::ReadIdentity, &Target::Identity(&row.id))?;
    }
    let limits = limits_of(&mut conn, &rows).await?;
    Ok((
        rows.into_iter()
            .map(|row| identity_view(row, &limits))
            .collect(),
        pagination,
    ))
}

pub async fn update_identity(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdateIdentityRequest,
) -> ApiResult<Identity> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let mut record =
        identities::find_live_for_update(work.tx(), caller.workspace_id(), &req.identity)
            .await?
            .ok_or_else(|| not_found(&req.identity))?;
    caller.require(Action::UpdateIdentity, &Target::Identity(&record.id))?;
    let now = now_ms();
    let mut changed = "no fields changed";
    if let Some(meta) = &req.meta {
        record.meta = meta_text(meta);
        identities::set_meta(work.tx(), &record.id, record.meta.as_deref(), now).await?;
        changed = if record.meta.is_some() {
            "meta"
        } else {
            "meta removed"
        };
    }
    if let Some(limits) = &req.ratelimits {
        set_ratelimits(
            &mut work,
            caller.workspace_id(),
            Owner::Identity(&record.id),
            limits,
        )
        .await?;
        changed = if req.meta.is_some() {
            "meta and ratelimits"
        } else {
            "ratelimits"
        };
    }
    let limits = limits_of(work.tx(), std::slice::from_ref(&record)).await?;
    work.audit(
        caller.workspace_id(),
        Event::IdentityUpdate,
        format!("Updated identity {} ({changed})", record.id),
        vec![target(&record)],
    );
    // Every verification of its keys carries its meta.
    work.invalidate(Invalidation::KeysOfIdentity(Arc::from(record.id.as_str())));
    work.commit().await?;
    Ok(identity_view(record, &limits))
}

pub async fn delete_identity(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: IdentityRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let record = identities::find_live_for_update(work.tx(), caller.workspace_id(), &req.identity)
        .await?
        .ok_or_else(|| not_found(&req.identity))?;
    caller.require(Action::DeleteIdentity, &Target::Identity(&record.id))?;
    let detached = identities::soft_delete(work.tx(), &record.id, now_ms()).await?;
    work.audit(
        caller.workspace_id(),
        Event::IdentityDelete,
        format!(
            "Deleted identity {} ({}); {detached} key(s) keep working without it",
            record.id, record.external_id
        ),
        vec![target(&record)],
    );
    work.invalidate(Invalidation::KeysOfIdentity(Arc::from(record.id.as_str())));
    work.commit().await?;
    Ok(Empty {})
}
