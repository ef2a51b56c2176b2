//! `apis.*`

use keyward_store::apis::{self, ApiPatch, ApiRecord};
use keyward_store::{AsConn, identities, keys};
use keyward_types::apis::{
    CreateApiRequest, CreateApiResponseData, DeleteApiRequest, GetApiRequest, GetApiResponseData,
    ListKeysRequest, UpdateApiRequest,
};
use keyward_types::keys::KeyResponseData;
use keyward_types::permissions::{Action, Target};
use keyward_types::{Empty, ErrorCode, Pagination};

use crate::Keyward;
use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::key_material::new_id;
use crate::service::keys::key_views;
use crate::service::paginate;
use crate::time::now_ms;
use crate::work::{Invalidation, Work};

async fn find_api(c: &mut impl AsConn, caller: &Caller, api_id: &str) -> ApiResult<ApiRecord> {
    apis::find_live(c, caller.workspace_id(), api_id)
        .await?
        .ok_or_else(|| ApiError::api_not_found(api_id))
}

fn api_target(api: &ApiRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::Api, &api.id, Some(&api.name))
}

pub async fn create_api(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreateApiRequest,
) -> ApiResult<CreateApiResponseData> {
    caller.require(Action::CreateApi, &Target::Workspace)?;
    let api = ApiRecord {
        id: new_id("api"),
        workspace_id: caller.workspace_id().to_owned(),
        name: req.name,
        delete_protection: false,
        created_at: now_ms(),
    };
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    apis::insert(work.tx(), &api).await?;
    work.audit(
        &api.workspace_id,
        Event::ApiCreate,
        format!("Created {}", api.id),
        vec![api_target(&api)],
    );
    work.commit().await?;
    Ok(CreateApiResponseData { api_id: api.id })
}

pub async fn get_api(
    keyward: &Keyward,
    caller: &Caller,
    req: GetApiRequest,
) -> ApiResult<GetApiResponseData> {
    let api = find_api(&mut keyward.db.reader().await?, caller, &req.api_id).await?;
    caller.require(Action::ReadApi, &Target::Api(&api.id))?;
    Ok(GetApiResponseData {
        id: api.id,
        name: api.name,
        delete_protection: api.delete_protection,
    })
}

pub async fn update_api(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdateApiRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let api = find_api(work.tx(), caller, &req.api_id).await?;
    caller.require(Action::UpdateApi, &Target::Api(&api.id))?;
    let mut changes = Vec::new();
    if let Some(p) = req.delete_protection {
        changes.push(format!(
            "delete protection {}",
            if p { "on" } else { "off" }
        ));
    }
    if let Some(name) = &req.name {
        changes.push(format!("name '{name}'"));
    }
    let name = req.name.clone().unwrap_or_else(|| api.name.clone());
    let patch = ApiPatch {
        name: req.name,
        delete_protection: req.delete_protection,
    };
    apis::update(work.tx(), &api.id, &patch, now_ms()).await?;
    work.audit(
        caller.workspace_id(),
        Event::ApiUpdate,
        format!("Updated {}: {}", api.id, changes.join(", ")),
        vec![AuditTarget::new(TargetKind::Api, &api.id, Some(&name))],
    );
    work.commit().await?;
    Ok(Empty {})
}

pub async fn delete_api(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: DeleteApiRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let permanent = req.permanent == Some(true);
    // A permanent delete also erases an API deleted before, which a soft delete finds no more.
    let api = if permanent {
        apis::find_stored_for_update(work.tx(), caller.workspace_id(), &req.api_id)
            .await?
            .ok_or_else(|| ApiError::api_not_found(&req.api_id))?
    } else {
        find_api(work.tx(), caller, &req.api_id).await?
    };
    caller.require(Action::DeleteApi, &Target::Api(&api.id))?;
    if api.delete_protection {
        return Err(ApiError::new(
            ErrorCode::ProtectedResource,
            "This API has delete protection enabled. Disable it before attempting to delete. \
             Switch it off with apis.updateApi and deleteProtection: false.",
        ));
    }
    let description = if permanent {
        let erased =
            keys::hard_delete_all_of_api(work.tx(), caller.workspace_id(), &api.id).await?;
        apis::hard_delete(work.tx(), &api.id).await?;
        format!(
            "Permanently deleted {} and erased the {erased} key(s) it held",
            api.id
        )
    } else {
        apis::soft_delete(work.tx(), &api.id, now_ms()).await?;
        format!("Deleted {} and with it every key it holds", api.id)
    };
    work.audit(
        caller.workspace_id(),
        Event::ApiDelete,
        description,
        vec![api_target(&api)],
    );
    // After the commit, so no load can re-read the API as live; see `cache`.
    work.invalidate(Invalidation::KeysOfApi(api.id.as_str().into()));
    work.commit().await?;
    Ok(Empty {})
}

pub async fn list_keys(
    keyward: &Keyward,
    caller: &Caller,
    req: ListKeysRequest,
) -> ApiResult<(Vec<KeyResponseData>, Pagination)> {
    let mut conn = keyward.db.reader().await?;
    let api = find_api(&mut conn, caller, &req.api_id).await?;
    caller.require_all(&[Action::ReadKey, Action::ReadApi], &Target::Api(&api.id))?;
    if req.decrypt == Some(true) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "keyward never stores keys in recoverable form, so it cannot decrypt them. Omit decrypt.",
        ));
    }
    let limit = req.limit.unwrap_or(100);
    let identity_id = match &req.external_id {
        Some(external_id) => {
            match identities::find_id(&mut conn, caller.workspace_id(), external_id).await? {
                Some(id) => Some(id),
                // An unknown customer has no keys: an empty page, not an error.
                None => {
                    return Ok((
                        Vec::new(),
                        Pagination {
                            cursor: None,
                            has_more: false,
                        },
                    ));
                }
            }
        }
        None => None,
    };
    let rows = keys::list_by_api(
        &mut conn,
        &api.id,
        identity_id.as_deref(),
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |row| row.id.clone());
    Ok((key_views(keyward, &mut conn, rows).await?, pagination))
}
