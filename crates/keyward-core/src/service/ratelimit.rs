//! `ratelimit.*`: the standalone limiter. A check reads its namespace (with the namespace's
//! overrides) from the cache and decides in memory ([`crate::ratelimit`]): no I/O once the
//! namespace is cached. Overrides change through a [`Work`] that forgets the cached namespace.

use std::sync::Arc;

use keyward_store::ratelimits::{self, NamespaceRecord, OverrideRecord};
use keyward_types::permissions::{Action, Target};
use keyward_types::ratelimit::{
    LimitRequest, LimitResponseData, ListOverridesRequest, MultiLimitCheck, MultiLimitRequest,
    MultiLimitResponseData, OverrideRequest, RatelimitOverride, SetOverrideRequest,
    SetOverrideResponseData,
};
use keyward_types::{Empty, ErrorCode, Pagination};

use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::cache::LoadError;
use crate::error::{ApiError, ApiResult};
use crate::key_material::new_id;
use crate::ratelimit::namespace::CachedNamespace;
use crate::ratelimit::{Check, CounterKey};
use crate::service::paginate;
use crate::time::now_ms;
use crate::work::{Invalidation, Work};
use crate::{Keyward, namespace_lookup};

fn namespace_not_found(name_or_id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RatelimitNamespaceNotFound,
        format!(
            "No rate-limit namespace named '{name_or_id}' (or with that id) exists in this workspace. \
             Namespaces are created by ratelimit.limit on first use; check the name."
        ),
    )
}

/// The live namespace `name_or_id` of the caller's workspace, through the cache.
async fn cached_namespace(
    keyward: &Keyward,
    caller: &Caller,
    name_or_id: &str,
) -> ApiResult<Option<Arc<CachedNamespace>>> {
    let lookup = namespace_lookup(caller.workspace_id(), name_or_id);
    keyward
        .caches
        .namespaces
        .get_or_load(lookup, || {
            let db = keyward.db.clone();
            let decisions = keyward.limiter.namespaces.clone();
            let (workspace_id, name_or_id) =
                (caller.workspace_id().to_owned(), name_or_id.to_owned());
            async move {
                let mut conn = db.reader().await.map_err(LoadError::store)?;
                let Some(record) =
                    ratelimits::find_namespace(&mut conn, &workspace_id, &name_or_id)
                        .await
                        .map_err(LoadError::store)?
                else {
                    return Ok(None);
                };
                let overrides = ratelimits::overrides_of(&mut conn, &record.id)
                    .await
                    .map_err(LoadError::store)?;
                let counts = decisions.of(&record.id);
                Ok(Some(Arc::new(CachedNamespace::new(
                    record, overrides, counts,
                ))))
            }
        })
        .await
        .map_err(LoadError::into_api_error)
}

/// Like [`cached_namespace`], 404 when there is none.
async fn existing_namespace(
    keyward: &Keyward,
    caller: &Caller,
    name_or_id: &str,
) -> ApiResult<Arc<CachedNamespace>> {
    cached_namespace(keyward, caller, name_or_id)
        .await?
        .ok_or_else(|| namespace_not_found(name_or_id))
}

/// The namespace a check names, if it exists, once the caller may limit in it; when it does not
/// exist, the caller must be allowed to create it (as Unkey asks) and to limit in it — a grant
/// naming one namespace cannot name one not created yet, so that takes `ratelimit.*.limit` — so
/// that a request refused for permissions creates nothing.
async fn permitted_namespace(
    keyward: &Keyward,
    caller: &Caller,
    name: &str,
) -> ApiResult<Option<Arc<CachedNamespace>>> {
    match cached_namespace(keyward, caller, name).await? {
        Some(namespace) => {
            caller.require(Action::Limit, &Target::Namespace(&namespace.id))?;
            Ok(Some(namespace))
        }
        None => {
            caller.require(Action::CreateNamespace, &Target::Workspace)?;
            caller.require(Action::Limit, &Target::Workspace)?;
            Ok(None)
        }
    }
}

/// The namespace `name`, created now if [`permitted_namespace`] found none.
async fn namespace_to_limit(
    keyward: &Keyward,
    caller: &Caller,
    origin: &Origin,
    name: &str,
    found: Option<Arc<CachedNamespace>>,
) -> ApiResult<Arc<CachedNamespace>> {
    if let Some(namespace) = found {
        return Ok(namespace);
    }
    create_namespace(keyward, caller, origin, name).await?;
    cached_namespace(keyward, caller, name)
        .await?
        .ok_or_else(|| ApiError::internal("a namespace just created was not found"))
}

/// Creates the namespace `name`, unless a concurrent request just did.
async fn create_namespace(
    keyward: &Keyward,
    caller: &Caller,
    origin: &Origin,
    name: &str,
) -> ApiResult<()> {
    let workspace_id = caller.workspace_id();
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin.clone())).await?;
    let record = NamespaceRecord {
        id: new_id("rlns"),
        workspace_id: workspace_id.to_owned(),
        name: name.to_owned(),
        created_at: now_ms(),
    };
    // Its absence, remembered by the lookup that found none, is forgotten either way.
    work.invalidate(Invalidation::NamespaceLookup(namespace_lookup(
        workspace_id,
        name,
    )));
    if !ratelimits::insert_namespace(work.tx(), &record).await? {
        // Created meanwhile by another request: nothing to write (the work rolls back).
        keyward
            .caches
            .apply(&Invalidation::NamespaceLookup(namespace_lookup(
                workspace_id,
                name,
            )));
        return Ok(());
    }
    work.audit(
        workspace_id,
        Event::RatelimitNamespaceCreate,
        format!("Created ratelimit namespace {name}"),
        vec![AuditTarget::new(
            TargetKind::RatelimitNamespace,
            &record.id,
            Some(name),
        )],
    );
    work.invalidate(Invalidation::NamespaceLookup(namespace_lookup(
        workspace_id,
        &record.id,
    )));
    work.commit().await
}

/// The check `req` makes in `namespace`: its limit and duration, or its override's.
fn check_of(namespace: &CachedNamespace, req: &LimitRequest) -> (Check, Option<String>) {
    let (limit, duration, override_id) = match namespace.override_for(&req.identifier) {
        Some(o) => (o.limit, o.duration, Some(o.id.clone())),
        None => (req.limit, req.duration, None),
    };
    let check = Check {
        key: CounterKey {
            scope: Arc::clone(&namespace.id),
            identifier: req.identifier.as_str().into(),
            duration,
        },
        limit,
        cost: req.cost.unwrap_or(1),
    };
    (check, override_id)
}

pub async fn limit(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: LimitRequest,
) -> ApiResult<LimitResponseData> {
    let found = permitted_namespace(keyward, caller, &req.namespace).await?;
    let namespace = namespace_to_limit(keyward, caller, &origin, &req.namespace, found).await?;
    let (check, override_id) = check_of(&namespace, &req);
    let decision = keyward
        .limiter
        .decide(std::slice::from_ref(&check), keyward.clock.now());
    namespace.decisions.record(decision.passed);
    let outcome = decision.outcomes[0];
    Ok(LimitResponseData {
        limit: check.limit,
        remaining: outcome.remaining,
        reset: outcome.reset,
        success: outcome.passed,
        override_id,
    })
}

pub async fn multi_limit(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: MultiLimitRequest,
) -> ApiResult<MultiLimitResponseData> {
    // Every permission is checked before a namespace is created or anything counted.
    let mut found = Vec::with_capacity(req.0.len());
    for item in &req.0 {
        found.push(permitted_namespace(keyward, caller, &item.namespace).await?);
    }
    let mut checks = Vec::with_capacity(req.0.len());
    let mut applied = Vec::with_capacity(req.0.len());
    for (item, found) in req.0.iter().zip(found) {
        let namespace =
            namespace_to_limit(keyward, caller, &origin, &item.namespace, found).await?;
        let (check, override_id) = check_of(&namespace, item);
        checks.push(check);
        applied.push((namespace, override_id));
    }
    let decision = keyward.limiter.decide(&checks, keyward.clock.now());
    let limits = req
        .0
        .into_iter()
        .zip(applied)
        .zip(checks.iter().zip(&decision.outcomes))
        .map(|((item, (namespace, override_id)), (check, outcome))| {
            namespace
                .decisions
                .record(outcome.passed && decision.passed);
            MultiLimitCheck {
                namespace: item.namespace,
                identifier: item.identifier,
                limit: check.limit,
                remaining: outcome.remaining,
                reset: outcome.reset,
                passed: outcome.passed,
                override_id,
            }
        })
        .collect();
    Ok(MultiLimitResponseData {
        passed: decision.passed,
        limits,
    })
}

fn override_view(o: OverrideRecord) -> RatelimitOverride {
    RatelimitOverride {
        override_id: o.id,
        duration: o.duration,
        identifier: o.identifier,
        limit: o.max_requests,
    }
}

fn override_not_found(namespace: &CachedNamespace, identifier: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RatelimitOverrideNotFound,
        format!(
            "No override of namespace '{}' ({}) applies to '{identifier}'. Set one with ratelimit.setOverride.",
            namespace.name, namespace.id
        ),
    )
}

fn override_target(id: &str, identifier: &str) -> AuditTarget {
    AuditTarget::new(TargetKind::RatelimitOverride, id, Some(identifier))
}

fn namespace_target(namespace: &CachedNamespace) -> AuditTarget {
    AuditTarget::new(
        TargetKind::RatelimitNamespace,
        &namespace.id,
        Some(&namespace.name),
    )
}

pub async fn set_override(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: SetOverrideRequest,
) -> ApiResult<SetOverrideResponseData> {
    let namespace = existing_namespace(keyward, caller, &req.namespace).await?;
    caller.require(Action::SetOverride, &Target::Namespace(&namespace.id))?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let record = OverrideRecord {
        id: new_id("rlor"),
        namespace_id: namespace.id.to_string(),
        identifier: req.identifier,
        max_requests: req.limit,
        duration: req.duration,
        created_at: now_ms(),
    };
    let id = ratelimits::upsert_override(work.tx(), caller.workspace_id(), &record).await?;
    work.audit(
        caller.workspace_id(),
        Event::RatelimitSetOverride,
        format!(
            "Set the override of '{}' in {} to {} per {} ms",
            record.identifier, namespace.name, record.max_requests, record.duration
        ),
        vec![
            namespace_target(&namespace),
            override_target(&id, &record.identifier),
        ],
    );
    work.invalidate(Invalidation::Namespace(Arc::clone(&namespace.id)));
    work.commit().await?;
    Ok(SetOverrideResponseData { override_id: id })
}

pub async fn get_override(
    keyward: &Keyward,
    caller: &Caller,
    req: OverrideRequest,
) -> ApiResult<RatelimitOverride> {
    let namespace = existing_namespace(keyward, caller, &req.namespace).await?;
    caller.require(Action::ReadOverride, &Target::Namespace(&namespace.id))?;
    let found = namespace
        .override_for(&req.identifier)
        .ok_or_else(|| override_not_found(&namespace, &req.identifier))?;
    Ok(RatelimitOverride {
        override_id: found.id.clone(),
        duration: found.duration,
        identifier: found.identifier.clone(),
        limit: found.limit,
    })
}

pub async fn list_overrides(
    keyward: &Keyward,
    caller: &Caller,
    req: ListOverridesRequest,
) -> ApiResult<(Vec<RatelimitOverride>, Pagination)> {
    let namespace = existing_namespace(keyward, caller, &req.namespace).await?;
    caller.require(Action::ReadOverride, &Target::Namespace(&namespace.id))?;
    let limit = req.limit.unwrap_or(10);
    let rows = ratelimits::list_overrides(
        &mut keyward.db.reader().await?,
        &namespace.id,
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |o| o.id.clone());
    Ok((rows.into_iter().map(override_view).collect(), pagination))
}

pub async fn delete_override(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: OverrideRequest,
) -> ApiResult<Empty> {
    let namespace = existing_namespace(keyward, caller, &req.namespace).await?;
    caller.require(Action::DeleteOverride, &Target::Namespace(&namespace.id))?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let found = ratelimits::find_override(work.tx(), &namespace.id, &req.identifier)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::RatelimitOverrideNotFound,
                format!(
                    "Namespace '{}' ({}) has no override with the identifier '{}' exactly (deleteOverride matches no patterns). List them with ratelimit.listOverrides.",
                    namespace.name, namespace.id, req.identifier
                ),
            )
        })?;
    ratelimits::soft_delete_override(work.tx(), &found.id, now_ms()).await?;
    work.audit(
        caller.workspace_id(),
        Event::RatelimitDeleteOverride,
        format!(
            "Deleted the override of '{}' in {}",
            found.identifier, namespace.name
        ),
        vec![
            namespace_target(&namespace),
            override_target(&found.id, &found.identifier),
        ],
    );
    work.invalidate(Invalidation::Namespace(Arc::clone(&namespace.id)));
    work.commit().await?;
    Ok(Empty {})
}
