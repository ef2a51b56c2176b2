//! `keyward api permissions …`

use keyward_types::Nullable;
use keyward_types::operations as op;
use keyward_types::rbac::{
    CreatePermissionRequest, CreateRoleRequest, ListRequest, PermissionRequest, RoleRequest,
    SetRolePermissionsRequest, UpdatePermissionRequest, UpdateRoleRequest,
};

use super::{Ctx, list};
use crate::args::api::permissions::{ListArgs, PermissionsCommand};
use crate::error::CliResult;
use crate::output::{Column, col};

const PERMISSION_COLUMNS: &[Column] = &[
    col("ID", "/id"),
    col("SLUG", "/slug"),
    col("NAME", "/name"),
    col("DESCRIPTION", "/description"),
];

const ROLE_COLUMNS: &[Column] = &[
    col("ID", "/id"),
    col("NAME", "/name"),
    col("DESCRIPTION", "/description"),
    col("PERMISSIONS", "/permissions"),
];

pub(super) fn list_request(a: ListArgs) -> ListRequest {
    ListRequest {
        limit: a.limit,
        cursor: a.cursor,
        search: a.search,
    }
}

/// A description flag, a `--clear-description` flag, or neither.
fn description(value: Option<String>, clear: bool) -> Nullable<String> {
    match (value, clear) {
        (Some(d), _) => Nullable::Value(d),
        (None, true) => Nullable::Null,
        (None, false) => Nullable::Absent,
    }
}

pub async fn run(ctx: &Ctx, command: PermissionsCommand) -> CliResult {
    match command {
        PermissionsCommand::CreatePermission(a) => {
            let request = CreatePermissionRequest {
                name: a.name,
                slug: a.slug,
                description: a.description,
            };
            ctx.call::<op::CreatePermission>(&request, &[]).await
        }
        PermissionsCommand::GetPermission(a) => {
            let request = PermissionRequest {
                permission: a.permission,
            };
            ctx.call::<op::GetPermission>(&request, &[]).await
        }
        PermissionsCommand::ListPermissions(a) => {
            ctx.call::<op::ListPermissions>(&list_request(a), PERMISSION_COLUMNS)
                .await
        }
        PermissionsCommand::UpdatePermission(a) => {
            let request = UpdatePermissionRequest {
                permission: a.permission,
                name: a.name,
                slug: a.slug,
                description: description(a.description, a.clear_description),
            };
            ctx.call::<op::UpdatePermission>(&request, &[]).await
        }
        PermissionsCommand::DeletePermission(a) => {
            let request = PermissionRequest {
                permission: a.permission,
            };
            ctx.call::<op::DeletePermission>(&request, &[]).await
        }
        PermissionsCommand::CreateRole(a) => {
            let request = CreateRoleRequest {
                name: a.name,
                description: a.description,
                permissions: list(a.permissions),
            };
            ctx.call::<op::CreateRole>(&request, &[]).await
        }
        PermissionsCommand::GetRole(a) => {
            ctx.call::<op::GetRole>(&RoleRequest { role: a.role }, &[])
                .await
        }
        PermissionsCommand::ListRoles(a) => {
            ctx.call::<op::ListRoles>(&list_request(a), ROLE_COLUMNS)
                .await
        }
        PermissionsCommand::UpdateRole(a) => {
            let request = UpdateRoleRequest {
                role: a.role,
                name: a.name,
                description: description(a.description, a.clear_description),
            };
            ctx.call::<op::UpdateRole>(&request, &[]).await
        }
        PermissionsCommand::DeleteRole(a) => {
            ctx.call::<op::DeleteRole>(&RoleRequest { role: a.role }, &[])
                .await
        }
        PermissionsCommand::SetRolePermissions(a) => {
            let request = SetRolePermissionsRequest {
                role: Some(a.role),
                role_id: None,
                permissions: list(Some(a.permissions)).unwrap_or_default(),
            };
            ctx.call::<op::SetRolePermissions>(&request, PERMISSION_COLUMNS)
                .await
        }
    }
}
