//! `workspaces.*` (keyward extension).

use keyward_types::permissions;
use keyward_types::root_keys::CreateRootKeyResponseData;
use keyward_types::workspaces::{CreateWorkspaceRequest, CreateWorkspaceResponseData};

use crate::app::App;
use crate::audit::{self, Actor};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::key_material::new_id;
use crate::service::root_keys::insert_root_key;
use crate::store::{self, Tx};
use crate::time::now_ms;

/// Creates a workspace and a root key holding every workspace-level permission.
/// Returns the workspace id and the root key's id and plaintext.
pub(crate) async fn insert_workspace(
    tx: &mut Tx,
    actor: &Actor,
    name: &str,
    root_key_permissions: &[String],
    root_key_plaintext: Option<String>,
) -> ApiResult<(String, CreateRootKeyResponseData)> {
    let workspace_id = new_id("ws");
    store::workspaces::insert(tx, &workspace_id, name, now_ms()).await?;
    audit::record(
        tx,
        actor,
        &workspace_id,
        "workspace.create",
        format!("Created workspace {workspace_id} '{name}'"),
        vec![audit::target("workspace", &workspace_id, Some(name))],
    )
    .await?;
    let (key_id, key) = insert_root_key(
        tx,
        actor,
        &workspace_id,
        Some(format!("{name} root key")),
        root_key_permissions,
        root_key_plaintext,
    )
    .await?;
    Ok((
        workspace_id,
        CreateRootKeyResponseData {
            key_id,
            key: key.into_string(),
        },
    ))
}

pub async fn create_workspace(
    app: &App,
    caller: &Caller,
    req: CreateWorkspaceRequest,
) -> ApiResult<CreateWorkspaceResponseData> {
    caller.require("workspace.*.create_workspace")?;
    let actor = Actor::from(caller);
    let mut tx = app.db.begin().await?;
    let (workspace_id, root_key) = insert_workspace(
        &mut tx,
        &actor,
        &req.name,
        &permissions::all_wildcards(false),
        None,
    )
    .await?;
    // Also in the creator's own log, where its operators will look.
    audit::record(
        &mut tx,
        &actor,
        caller.workspace_id(),
        "workspace.create",
        format!("Created workspace {workspace_id} '{}'", req.name),
        vec![audit::target("workspace", &workspace_id, Some(&req.name))],
    )
    .await?;
    tx.commit().await?;
    Ok(CreateWorkspaceResponseData {
        workspace_id,
        root_key,
    })
}
