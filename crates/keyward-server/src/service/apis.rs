//! `apis.*`

use keyward_types::apis::{
    CreateApiRequest, CreateApiResponseData, DeleteApiRequest, GetApiRequest, GetApiResponseData,
    ListKeysRequest, UpdateApiRequest,
};
use keyward_types::keys::KeyResponseData;
use keyward_types::{Empty, ErrorCode, Pagination};

use crate::app::App;
use crate::audit::{self, Actor};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::key_material::new_id;
use crate::service::keys::key_view;
use crate::service::paginate;
use crate::store::{self, AsConn, apis::ApiRow};
use crate::time::now_ms;

async fn find_api(c: &mut impl AsConn, caller: &Caller, api_id: &str) -> ApiResult<ApiRow> {
    store::apis::find_live(c, caller.workspace_id(), api_id)
        .await?
        .ok_or_else(|| ApiError::api_not_found(api_id))
}

pub async fn create_api(
    app: &App,
    caller: &Caller,
    req: CreateApiRequest,
) -> ApiResult<CreateApiResponseData> {
    caller.require("api.*.create_api")?;
    let api = ApiRow {
        id: new_id("api"),
        workspace_id: caller.workspace_id().to_owned(),
        name: req.name,
        delete_protection: false,
        created_at: now_ms(),
    };
    let mut tx = app.db.begin().await?;
    store::apis::insert(&mut tx, &api).await?;
    audit::record(
        &mut tx,
        &Actor::from(caller),
        &api.workspace_id,
        "api.create",
        format!("Created {}", api.id),
        vec![audit::target("api", &api.id, Some(&api.name))],
    )
    .await?;
    tx.commit().await?;
    Ok(CreateApiResponseData { api_id: api.id })
}

pub async fn get_api(
    app: &App,
    caller: &Caller,
    req: GetApiRequest,
) -> ApiResult<GetApiResponseData> {
    let api = find_api(&mut app.db.reader().await?, caller, &req.api_id).await?;
    caller.require_on_api(&api.id, "read_api")?;
    Ok(GetApiResponseData {
        id: api.id,
        name: api.name,
        delete_protection: api.delete_protection,
    })
}

pub async fn update_api(app: &App, caller: &Caller, req: UpdateApiRequest) -> ApiResult<Empty> {
    let mut tx = app.db.begin().await?;
    let api = find_api(&mut tx, caller, &req.api_id).await?;
    caller.require_on_api(&api.id, "update_api")?;
    let renamed = req.name.is_some();
    let name = req.name.unwrap_or(api.name);
    let delete_protection = req.delete_protection.unwrap_or(api.delete_protection);
    store::apis::update(&mut tx, &api.id, &name, delete_protection, now_ms()).await?;
    let mut changes = Vec::new();
    if let Some(p) = req.delete_protection {
        changes.push(format!(
            "delete protection {}",
            if p { "on" } else { "off" }
        ));
    }
    if renamed {
        changes.push(format!("name '{name}'"));
    }
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "api.update",
        format!("Updated {}: {}", api.id, changes.join(", ")),
        vec![audit::target("api", &api.id, Some(&name))],
    )
    .await?;
    tx.commit().await?;
    Ok(Empty {})
}

pub async fn delete_api(app: &App, caller: &Caller, req: DeleteApiRequest) -> ApiResult<Empty> {
    let mut tx = app.db.begin().await?;
    let api = find_api(&mut tx, caller, &req.api_id).await?;
    caller.require_on_api(&api.id, "delete_api")?;
    if api.delete_protection {
        return Err(ApiError::new(
            ErrorCode::ProtectedResource,
            "This API has delete protection enabled. Disable it before attempting to delete. \
             Switch it off with apis.updateApi and deleteProtection: false.",
        ));
    }
    store::apis::soft_delete(&mut tx, &api.id, now_ms()).await?;
    audit::record(
        &mut tx,
        &Actor::from(caller),
        caller.workspace_id(),
        "api.delete",
        format!("Deleted {} and with it every key it holds", api.id),
        vec![audit::target("api", &api.id, Some(&api.name))],
    )
    .await?;
    tx.commit().await?;
    // After the commit, so no load can re-read the API as live; see `cache`.
    app.keys.invalidate_where(|k| *k.api_id == *api.id);
    Ok(Empty {})
}

pub async fn list_keys(
    app: &App,
    caller: &Caller,
    req: ListKeysRequest,
) -> ApiResult<(Vec<KeyResponseData>, Pagination)> {
    let mut conn = app.db.reader().await?;
    let api = find_api(&mut conn, caller, &req.api_id).await?;
    caller.require_on_api(&api.id, "read_key")?;
    caller.require_on_api(&api.id, "read_api")?;
    if req.decrypt == Some(true) {
        return Err(ApiError::new(
            ErrorCode::PreconditionFailed,
            "keyward never stores keys in recoverable form, so it cannot decrypt them. Omit decrypt.",
        ));
    }
    let limit = req.limit.unwrap_or(100);
    let identity_id = match &req.external_id {
        Some(external_id) => {
            match store::identities::find_id(&mut conn, caller.workspace_id(), external_id).await? {
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
    let rows = store::keys::list_by_api(
        &mut conn,
        &api.id,
        identity_id.as_deref(),
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |row| row.id.clone());
    Ok((
        rows.into_iter().map(|row| key_view(app, row)).collect(),
        pagination,
    ))
}
