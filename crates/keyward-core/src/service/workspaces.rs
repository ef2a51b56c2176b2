//! `workspaces.*` (keyward extension).

use keyward_store::workspaces;
use keyward_types::permissions::{self, Action, Target};
use keyward_types::root_keys::CreateRootKeyResponseData;
use keyward_types::workspaces::{CreateWorkspaceRequest, CreateWorkspaceResponseData};

use crate::Keyward;
use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::key_material::new_id;
use crate::service::root_keys::insert_root_key;
use crate::time::now_ms;
use crate::work::Work;

/// Creates a workspace and its all-powerful root key (with the instance-level permissions too
/// when `instance_level`: the bootstrap key). Returns the workspace id and the root key.
pub(crate) async fn insert_workspace(
    work: &mut Work,
    name: &str,
    instance_level: bool,
    root_key_plaintext: Option<String>,
) -> ApiResult<(String, CreateRootKeyResponseData)> {
    let workspace_id = new_id("ws");
    workspaces::insert(work.tx(), &workspace_id, name, now_ms()).await?;
    work.audit(
        &workspace_id,
        Event::WorkspaceCreate,
        format!("Created workspace {workspace_id} '{name}'"),
        vec![AuditTarget::new(
            TargetKind::Workspace,
            &workspace_id,
            Some(name),
        )],
    );
    let (key_id, key) = insert_root_key(
        work,
        &workspace_id,
        Some(format!("{name} root key")),
        &permissions::all_powerful(&workspace_id, instance_level),
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
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreateWorkspaceRequest,
) -> ApiResult<CreateWorkspaceResponseData> {
    caller.require(Action::CreateWorkspace, &Target::Workspace)?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let (workspace_id, root_key) = insert_workspace(&mut work, &req.name, false, None).await?;
    // Also in the creator's own log, where its operators will look.
    work.audit(
        caller.workspace_id(),
        Event::WorkspaceCreate,
        format!("Created workspace {workspace_id} '{}'", req.name),
        vec![AuditTarget::new(
            TargetKind::Workspace,
            &workspace_id,
            Some(&req.name),
        )],
    );
    work.commit().await?;
    Ok(CreateWorkspaceResponseData {
        workspace_id,
        root_key,
    })
}
