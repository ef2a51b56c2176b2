//! `permissions.*`, and the `keys.*Permissions` / `keys.*Roles` operations: what keys hold.
//!
//! A change to what a key may do takes effect on its next verification: changing one key
//! forgets its cache entry; changing a permission or a role forgets every cached key holding it
//! ([`Invalidation::KeysWithPermission`], [`Invalidation::KeysWithRole`]).

use std::collections::HashSet;
use std::sync::Arc;

use keyward_store::keys::KeyRecord;
use keyward_store::rbac::{
    self, HeldPermission, Link, PermissionPatch, PermissionRecord, RolePatch, RoleRecord,
};
use keyward_store::{AsConn, StoreError};
use keyward_types::permissions::{Action, Target};
use keyward_types::rbac::{
    AddPermissionsRequest, AddRolesRequest, CreatePermissionRequest, CreatePermissionResponseData,
    CreateRoleRequest, CreateRoleResponseData, ListRequest, Permission, PermissionRequest,
    RemovePermissionsRequest, RemoveRolesRequest, Role, RoleRequest, SetPermissionsRequest,
    SetRolePermissionsRequest, SetRolesRequest, UpdatePermissionRequest, UpdateRoleRequest,
    UpdateRoleResponseData,
};
use keyward_types::{Empty, ErrorCode, Nullable, Pagination};

use crate::Keyward;
use crate::audit::{Actor, Event, Origin, Target as AuditTarget, TargetKind};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::key_material::{KeyHash, new_id};
use crate::service::keys as keys_service;
use crate::service::paginate;
use crate::time::now_ms;
use crate::work::{Invalidation, Work};

// ---------------------------------------------------------------------------------------------
// Shared

pub(crate) fn permission_view(p: PermissionRecord) -> Permission {
    Permission {
        id: p.id,
        name: p.name,
        slug: p.slug,
        description: p.description,
    }
}

fn held_view(p: HeldPermission) -> Permission {
    Permission {
        id: p.id,
        name: p.name,
        slug: p.slug,
        description: p.description,
    }
}

fn permission_not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PermissionNotFound,
        format!(
            "Permission '{name}' was not found in this workspace. Create it with permissions.createPermission, or check its slug or id."
        ),
    )
}

fn role_not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::RoleNotFound,
        format!(
            "Role '{name}' was not found in this workspace. Create it with permissions.createRole, or check its name or id."
        ),
    )
}

fn permission_target(p: &PermissionRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::Permission, &p.id, Some(&p.slug))
}

fn role_target(r: &RoleRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::Role, &r.id, Some(&r.name))
}

fn key_target(key: &KeyRecord) -> AuditTarget {
    AuditTarget::new(TargetKind::Key, &key.id, key.name.as_deref())
}

/// `slugs` without duplicates, compared as the database compares them (in lower case); the
/// first spelling of each is kept.
fn distinct_slugs(slugs: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    slugs
        .iter()
        .filter(|slug| seen.insert(slug.to_lowercase()))
        .cloned()
        .collect()
}

fn distinct(names: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    names
        .iter()
        .filter(|name| seen.insert(name.as_str()))
        .cloned()
        .collect()
}

/// Who may create the permissions a request names but the workspace lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Creating {
    /// Anyone who may make the request (keys.createKey and keys.updateKey, as Unkey).
    Freely,
    /// Only a caller that may create permissions (`rbac.*.create_permission`).
    WithPermission,
}

/// The permissions of the caller's workspace with these slugs, created (named by their slug)
/// where missing, in slug order. Records a `permission.create` event for those created.
pub(crate) async fn ensure_permissions(
    work: &mut Work,
    caller: &Caller,
    slugs: &[String],
    creating: Creating,
) -> ApiResult<Vec<PermissionRecord>> {
    let slugs = distinct_slugs(slugs);
    let workspace_id = caller.workspace_id().to_owned();
    let found = rbac::find_permissions_by_slugs(work.tx(), &workspace_id, &slugs).await?;
    let known: HashSet<String> = found.iter().map(|p| p.slug.to_lowercase()).collect();
    let missing: Vec<&String> = slugs
        .iter()
        .filter(|slug| !known.contains(&slug.to_lowercase()))
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    if creating == Creating::WithPermission {
        caller.require(Action::CreatePermission, &Target::Workspace)?;
    }
    let now = now_ms();
    let new: Vec<PermissionRecord> = missing
        .iter()
        .map(|slug| PermissionRecord {
            id: new_id("perm"),
            workspace_id: workspace_id.clone(),
            name: (*slug).clone(),
            slug: (*slug).clone(),
            description: None,
            created_at: now,
            updated_at: None,
        })
        .collect();
    rbac::insert_missing_permissions(work.tx(), &new).await?;
    work.audit(
        &workspace_id,
        Event::PermissionCreate,
        format!(
            "Created permission(s) {}",
            missing
                .iter()
                .map(|s| format!("'{s}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        new.iter().map(permission_target).collect(),
    );
    // Read back: a concurrent transaction (PostgreSQL) may have created some of them first.
    Ok(rbac::find_permissions_by_slugs(work.tx(), &workspace_id, &slugs).await?)
}

/// The roles of the caller's workspace with these names, in name order; 404 naming the first
/// that does not exist.
pub(crate) async fn existing_roles(
    c: &mut impl AsConn,
    caller: &Caller,
    names: &[String],
) -> ApiResult<Vec<RoleRecord>> {
    let names = distinct(names);
    let found = rbac::find_roles_by_names(c, caller.workspace_id(), &names).await?;
    if let Some(missing) = names.iter().find(|n| !found.iter().any(|r| &r.name == *n)) {
        return Err(role_not_found(missing));
    }
    Ok(found)
}

/// The permissions of the caller's workspace with these slugs or ids, in slug order; 404 naming
/// the first that does not exist.
async fn existing_permissions(
    c: &mut impl AsConn,
    caller: &Caller,
    slugs_or_ids: &[String],
) -> ApiResult<Vec<PermissionRecord>> {
    let mut found: Vec<PermissionRecord> = Vec::new();
    for name in distinct(slugs_or_ids) {
        let permission = rbac::find_permission(c, caller.workspace_id(), &name)
            .await?
            .ok_or_else(|| permission_not_found(&name))?;
        if !found.iter().any(|p| p.id == permission.id) {
            found.push(permission);
        }
    }
    found.sort_by(|a, b| a.slug.cmp(&b.slug));
    Ok(found)
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| id(item).to_owned()).collect()
}

fn names(list: &[String]) -> String {
    list.iter()
        .map(|s| format!("'{s}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn role_view(role: RoleRecord) -> Role {
    Role {
        id: role.id,
        name: role.name,
        description: role.description,
        permissions: None,
    }
}

/// `roles` with their permissions, as answers show them.
async fn with_permissions(c: &mut impl AsConn, mut roles: Vec<Role>) -> ApiResult<Vec<Role>> {
    let held = rbac::permissions_of_roles(c, &ids(&roles, |r| &r.id)).await?;
    for role in &mut roles {
        role.permissions = Some(
            held.iter()
                .filter(|p| p.holder_id == role.id)
                .cloned()
                .map(held_view)
                .collect(),
        );
    }
    Ok(roles)
}

/// Runs a store write whose uniqueness conflict is the user's 409 `code`.
async fn unique<T>(
    write: impl Future<Output = Result<T, StoreError>>,
    code: ErrorCode,
    detail: impl FnOnce() -> String,
) -> ApiResult<T> {
    match write.await {
        Err(StoreError::Conflict(_)) => Err(ApiError::new(code, detail())),
        other => Ok(other?),
    }
}

// ---------------------------------------------------------------------------------------------
// permissions.*: permissions

pub async fn create_permission(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreatePermissionRequest,
) -> ApiResult<CreatePermissionResponseData> {
    caller.require(Action::CreatePermission, &Target::Workspace)?;
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let permission = PermissionRecord {
        id: new_id("perm"),
        workspace_id: caller.workspace_id().to_owned(),
        name: req.name,
        slug: req.slug,
        description: req.description.filter(|d| !d.is_empty()),
        created_at: now_ms(),
        updated_at: None,
    };
    unique(
        rbac::insert_permission(work.tx(), &permission),
        ErrorCode::PermissionAlreadyExists,
        || {
            format!(
                "A permission with the slug '{}' (in any case) already exists in this workspace. Choose another slug, or use the existing permission.",
                permission.slug
            )
        },
    )
    .await?;
    work.audit(
        caller.workspace_id(),
        Event::PermissionCreate,
        format!("Created permission '{}'", permission.slug),
        vec![permission_target(&permission)],
    );
    work.commit().await?;
    Ok(CreatePermissionResponseData {
        permission_id: permission.id,
    })
}

pub async fn get_permission(
    keyward: &Keyward,
    caller: &Caller,
    req: PermissionRequest,
) -> ApiResult<Permission> {
    let mut conn = keyward.db.reader().await?;
    let permission = rbac::find_permission(&mut conn, caller.workspace_id(), &req.permission)
        .await?
        .ok_or_else(|| permission_not_found(&req.permission))?;
    caller.require(Action::ReadPermission, &Target::Permission(&permission.id))?;
    Ok(permission_view(permission))
}

pub async fn list_permissions(
    keyward: &Keyward,
    caller: &Caller,
    req: ListRequest,
) -> ApiResult<(Vec<Permission>, Pagination)> {
    caller.require(Action::ReadPermission, &Target::Workspace)?;
    let limit = req.limit.unwrap_or(100);
    let rows = rbac::list_permissions(
        &mut keyward.db.reader().await?,
        caller.workspace_id(),
        req.search.as_deref(),
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |p| p.id.clone());
    Ok((rows.into_iter().map(permission_view).collect(), pagination))
}

pub async fn update_permission(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdatePermissionRequest,
) -> ApiResult<Permission> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let permission = rbac::find_permission(work.tx(), caller.workspace_id(), &req.permission)
        .await?
        .ok_or_else(|| permission_not_found(&req.permission))?;
    caller.require(
        Action::UpdatePermission,
        &Target::Permission(&permission.id),
    )?;
    let patch = PermissionPatch {
        name: req.name.filter(|n| *n != permission.name),
        slug: req.slug.filter(|s| *s != permission.slug),
        description: match req.description {
            Nullable::Absent => None,
            Nullable::Null => Some(None),
            Nullable::Value(d) => Some(Some(d).filter(|d| !d.is_empty())),
        }
        .filter(|d| *d != permission.description),
    };
    // Nothing to change: the stored permission, without a write (as Unkey answers).
    if patch.is_empty() {
        return Ok(permission_view(permission));
    }
    let slug = patch.slug.clone();
    unique(
        rbac::update_permission(work.tx(), &permission.id, &patch, now_ms()),
        ErrorCode::PermissionAlreadyExists,
        || {
            format!(
                "Another permission of this workspace has the slug '{}' (in any case). Choose another slug.",
                slug.unwrap_or_default()
            )
        },
    )
    .await?;
    let updated = PermissionRecord {
        name: patch.name.unwrap_or(permission.name),
        slug: patch.slug.unwrap_or(permission.slug),
        description: patch.description.unwrap_or(permission.description),
        ..permission
    };
    work.audit(
        caller.workspace_id(),
        Event::PermissionUpdate,
        format!("Updated permission '{}'", updated.slug),
        vec![permission_target(&updated)],
    );
    // A new slug changes what the keys holding it answer and match.
    work.invalidate(Invalidation::KeysWithPermission(Arc::from(
        updated.id.as_str(),
    )));
    work.commit().await?;
    Ok(permission_view(updated))
}

pub async fn delete_permission(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: PermissionRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let permission = rbac::find_permission(work.tx(), caller.workspace_id(), &req.permission)
        .await?
        .ok_or_else(|| permission_not_found(&req.permission))?;
    caller.require(
        Action::DeletePermission,
        &Target::Permission(&permission.id),
    )?;
    rbac::delete_permission(work.tx(), &permission.id).await?;
    work.audit(
        caller.workspace_id(),
        Event::PermissionDelete,
        format!(
            "Deleted permission '{}' and took it from every key and role",
            permission.slug
        ),
        vec![permission_target(&permission)],
    );
    work.invalidate(Invalidation::KeysWithPermission(Arc::from(
        permission.id.as_str(),
    )));
    work.commit().await?;
    Ok(Empty {})
}

// ---------------------------------------------------------------------------------------------
// permissions.*: roles

pub async fn create_role(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: CreateRoleRequest,
) -> ApiResult<CreateRoleResponseData> {
    caller.require(Action::CreateRole, &Target::Workspace)?;
    let slugs = req.permissions.unwrap_or_default();
    if !slugs.is_empty() {
        caller.require(Action::AddPermissionToRole, &Target::Workspace)?;
    }
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let now = now_ms();
    let role = RoleRecord {
        id: new_id("role"),
        workspace_id: caller.workspace_id().to_owned(),
        name: req.name,
        description: req.description.filter(|d| !d.is_empty()),
        created_at: now,
        updated_at: None,
    };
    unique(
        rbac::insert_role(work.tx(), &role),
        ErrorCode::RoleAlreadyExists,
        || {
            format!(
                "A role named '{}' already exists in this workspace. Choose another name, or use the existing role.",
                role.name
            )
        },
    )
    .await?;
    work.audit(
        caller.workspace_id(),
        Event::RoleCreate,
        format!("Created role '{}'", role.name),
        vec![role_target(&role)],
    );
    if !slugs.is_empty() {
        let permissions =
            ensure_permissions(&mut work, caller, &slugs, Creating::WithPermission).await?;
        rbac::link(
            work.tx(),
            Link::RolePermissions,
            &role.id,
            &ids(&permissions, |p| &p.id),
            now,
        )
        .await?;
        audit_role_permissions(&mut work, caller, &role, &permissions, true);
    }
    work.commit().await?;
    Ok(CreateRoleResponseData { role_id: role.id })
}

fn audit_role_permissions(
    work: &mut Work,
    caller: &Caller,
    role: &RoleRecord,
    permissions: &[PermissionRecord],
    connect: bool,
) {
    let mut targets = vec![role_target(role)];
    targets.extend(permissions.iter().map(permission_target));
    let slugs: Vec<String> = permissions.iter().map(|p| p.slug.clone()).collect();
    let (event, description) = if connect {
        (
            Event::ConnectRoleAndPermission,
            format!(
                "Gave role '{}' the permission(s) {}",
                role.name,
                names(&slugs)
            ),
        )
    } else {
        (
            Event::DisconnectRoleAndPermissions,
            format!(
                "Took the permission(s) {} from role '{}'",
                names(&slugs),
                role.name
            ),
        )
    };
    work.audit(caller.workspace_id(), event, description, targets);
}

async fn find_role(c: &mut impl AsConn, caller: &Caller, role: &str) -> ApiResult<RoleRecord> {
    rbac::find_role(c, caller.workspace_id(), role)
        .await?
        .ok_or_else(|| role_not_found(role))
}

pub async fn get_role(keyward: &Keyward, caller: &Caller, req: RoleRequest) -> ApiResult<Role> {
    let mut conn = keyward.db.reader().await?;
    let role = find_role(&mut conn, caller, &req.role).await?;
    caller.require(Action::ReadRole, &Target::Role(&role.id))?;
    let mut views = with_permissions(&mut conn, vec![role_view(role)]).await?;
    Ok(views.pop().expect("one role in, one out"))
}

pub async fn list_roles(
    keyward: &Keyward,
    caller: &Caller,
    req: ListRequest,
) -> ApiResult<(Vec<Role>, Pagination)> {
    caller.require(Action::ReadRole, &Target::Workspace)?;
    let limit = req.limit.unwrap_or(100);
    let mut conn = keyward.db.reader().await?;
    let rows = rbac::list_roles(
        &mut conn,
        caller.workspace_id(),
        req.search.as_deref(),
        req.cursor.as_deref(),
        limit + 1,
    )
    .await?;
    let (rows, pagination) = paginate(rows, limit, |r| r.id.clone());
    let roles = rows.into_iter().map(role_view).collect();
    Ok((with_permissions(&mut conn, roles).await?, pagination))
}

pub async fn update_role(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: UpdateRoleRequest,
) -> ApiResult<UpdateRoleResponseData> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let role = find_role(work.tx(), caller, &req.role).await?;
    caller.require(Action::UpdateRole, &Target::Role(&role.id))?;
    let patch = RolePatch {
        name: req.name.filter(|n| *n != role.name),
        description: match req.description {
            Nullable::Absent => None,
            Nullable::Null => Some(None),
            Nullable::Value(d) => Some(Some(d).filter(|d| !d.is_empty())),
        }
        .filter(|d| *d != role.description),
    };
    let view = |r: RoleRecord| UpdateRoleResponseData {
        id: r.id,
        name: r.name,
        description: r.description,
    };
    if patch.is_empty() {
        return Ok(view(role));
    }
    let name = patch.name.clone();
    unique(
        rbac::update_role(work.tx(), &role.id, &patch, now_ms()),
        ErrorCode::RoleAlreadyExists,
        || {
            format!(
                "Another role of this workspace is named '{}'. Choose another name.",
                name.unwrap_or_default()
            )
        },
    )
    .await?;
    let updated = RoleRecord {
        name: patch.name.unwrap_or(role.name),
        description: patch.description.unwrap_or(role.description),
        ..role
    };
    work.audit(
        caller.workspace_id(),
        Event::RoleUpdate,
        format!("Updated role '{}'", updated.name),
        vec![role_target(&updated)],
    );
    // Its keys answer its name.
    work.invalidate(Invalidation::KeysWithRole(Arc::from(updated.id.as_str())));
    work.commit().await?;
    Ok(view(updated))
}

pub async fn delete_role(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: RoleRequest,
) -> ApiResult<Empty> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let role = find_role(work.tx(), caller, &req.role).await?;
    caller.require(Action::DeleteRole, &Target::Role(&role.id))?;
    rbac::delete_role(work.tx(), &role.id).await?;
    work.audit(
        caller.workspace_id(),
        Event::RoleDelete,
        format!("Deleted role '{}' and took it from every key", role.name),
        vec![role_target(&role)],
    );
    work.invalidate(Invalidation::KeysWithRole(Arc::from(role.id.as_str())));
    work.commit().await?;
    Ok(Empty {})
}

pub async fn set_role_permissions(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: SetRolePermissionsRequest,
) -> ApiResult<Vec<Permission>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let role = find_role(work.tx(), caller, req.role()).await?;
    caller.require_all(
        &[
            Action::AddPermissionToRole,
            Action::RemovePermissionFromRole,
        ],
        &Target::Role(&role.id),
    )?;
    let permissions = ensure_permissions(
        &mut work,
        caller,
        &req.permissions,
        Creating::WithPermission,
    )
    .await?;
    rbac::set_links(
        work.tx(),
        Link::RolePermissions,
        &role.id,
        &ids(&permissions, |p| &p.id),
        now_ms(),
    )
    .await?;
    let slugs: Vec<String> = permissions.iter().map(|p| p.slug.clone()).collect();
    let mut targets = vec![role_target(&role)];
    targets.extend(permissions.iter().map(permission_target));
    work.audit(
        caller.workspace_id(),
        Event::ConnectRoleAndPermission,
        format!(
            "Set the permissions of role '{}' to {}",
            role.name,
            if slugs.is_empty() {
                "none".to_string()
            } else {
                names(&slugs)
            }
        ),
        targets,
    );
    // The role's keys gain or lose permissions: forget every one of them.
    work.invalidate(Invalidation::KeysWithRole(Arc::from(role.id.as_str())));
    work.commit().await?;
    Ok(permissions.into_iter().map(permission_view).collect())
}

// ---------------------------------------------------------------------------------------------
// keys.*Permissions, keys.*Roles

/// The live key `key_id` of the caller's workspace, locked, once the caller is allowed `actions`
/// on it.
async fn lock_key(
    work: &mut Work,
    caller: &Caller,
    key_id: &str,
    actions: &[Action],
) -> ApiResult<KeyRecord> {
    let key = keys_service::lock_key(work, caller, key_id).await?;
    caller.require_all(actions, &keys_service::on(&key))?;
    Ok(key)
}

fn forget(work: &mut Work, key: &KeyRecord) {
    if let Some(hash) = KeyHash::from_slice(&key.hash) {
        work.invalidate(Invalidation::Key(hash));
    }
}

/// The key's direct permissions, as answers show them.
async fn direct_permissions(c: &mut impl AsConn, key_id: &str) -> ApiResult<Vec<Permission>> {
    let held = rbac::permissions_of_keys(c, &[key_id.to_owned()]).await?;
    Ok(held
        .into_iter()
        .filter(|p| p.role_id.is_none())
        .map(held_view)
        .collect())
}

/// The key's roles with their permissions.
async fn roles_of(c: &mut impl AsConn, key_id: &str) -> ApiResult<Vec<Role>> {
    let held = rbac::roles_of_keys(c, &[key_id.to_owned()]).await?;
    let roles = held
        .into_iter()
        .map(|r| Role {
            id: r.id,
            name: r.name,
            description: r.description,
            permissions: None,
        })
        .collect();
    with_permissions(c, roles).await
}

/// Links `permissions` to `key` (in `work`) with its audit event.
pub(crate) async fn grant_permissions(
    work: &mut Work,
    caller: &Caller,
    key: &KeyRecord,
    permissions: &[PermissionRecord],
    replace: bool,
) -> ApiResult<()> {
    let now = now_ms();
    let ids = ids(permissions, |p| &p.id);
    if replace {
        rbac::set_links(work.tx(), Link::KeyPermissions, &key.id, &ids, now).await?;
    } else {
        rbac::link(work.tx(), Link::KeyPermissions, &key.id, &ids, now).await?;
    }
    let slugs: Vec<String> = permissions.iter().map(|p| p.slug.clone()).collect();
    let mut targets = vec![key_target(key)];
    targets.extend(permissions.iter().map(permission_target));
    let description = match (replace, slugs.is_empty()) {
        (true, true) => format!("Took every direct permission from {}", key.id),
        (true, false) => format!("Set the permissions of {} to {}", key.id, names(&slugs)),
        (false, _) => format!("Gave {} the permission(s) {}", key.id, names(&slugs)),
    };
    work.audit(
        caller.workspace_id(),
        Event::ConnectPermissionAndKey,
        description,
        targets,
    );
    Ok(())
}

/// Links `roles` to `key` (in `work`) with its audit event.
pub(crate) async fn grant_roles(
    work: &mut Work,
    caller: &Caller,
    key: &KeyRecord,
    roles: &[RoleRecord],
    replace: bool,
) -> ApiResult<()> {
    let now = now_ms();
    let ids = ids(roles, |r| &r.id);
    if replace {
        rbac::set_links(work.tx(), Link::KeyRoles, &key.id, &ids, now).await?;
    } else {
        rbac::link(work.tx(), Link::KeyRoles, &key.id, &ids, now).await?;
    }
    let role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
    let mut targets = vec![key_target(key)];
    targets.extend(roles.iter().map(role_target));
    let description = match (replace, role_names.is_empty()) {
        (true, true) => format!("Took every role from {}", key.id),
        (true, false) => format!("Set the roles of {} to {}", key.id, names(&role_names)),
        (false, _) => format!("Gave {} the role(s) {}", key.id, names(&role_names)),
    };
    work.audit(
        caller.workspace_id(),
        Event::ConnectRoleAndKey,
        description,
        targets,
    );
    Ok(())
}

pub async fn add_permissions(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: AddPermissionsRequest,
) -> ApiResult<Vec<Permission>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(
        &mut work,
        caller,
        &req.key_id,
        &[Action::UpdateKey, Action::AddPermissionToKey],
    )
    .await?;
    let permissions = ensure_permissions(
        &mut work,
        caller,
        &req.permissions,
        Creating::WithPermission,
    )
    .await?;
    grant_permissions(&mut work, caller, &key, &permissions, false).await?;
    let answer = direct_permissions(work.tx(), &key.id).await?;
    forget(&mut work, &key);
    work.commit().await?;
    Ok(answer)
}

pub async fn remove_permissions(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: RemovePermissionsRequest,
) -> ApiResult<Vec<Permission>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(
        &mut work,
        caller,
        &req.key_id,
        &[Action::UpdateKey, Action::RemovePermissionFromKey],
    )
    .await?;
    let permissions = existing_permissions(work.tx(), caller, &req.permissions).await?;
    rbac::unlink(
        work.tx(),
        Link::KeyPermissions,
        &key.id,
        &ids(&permissions, |p| &p.id),
    )
    .await?;
    let slugs: Vec<String> = permissions.iter().map(|p| p.slug.clone()).collect();
    let mut targets = vec![key_target(&key)];
    targets.extend(permissions.iter().map(permission_target));
    work.audit(
        caller.workspace_id(),
        Event::DisconnectPermissionAndKey,
        format!("Took the permission(s) {} from {}", names(&slugs), key.id),
        targets,
    );
    let answer = direct_permissions(work.tx(), &key.id).await?;
    forget(&mut work, &key);
    work.commit().await?;
    Ok(answer)
}

pub async fn set_permissions(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: SetPermissionsRequest,
) -> ApiResult<Vec<Permission>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(
        &mut work,
        caller,
        &req.key_id,
        &[
            Action::UpdateKey,
            Action::AddPermissionToKey,
            Action::RemovePermissionFromKey,
        ],
    )
    .await?;
    let permissions = ensure_permissions(
        &mut work,
        caller,
        &req.permissions,
        Creating::WithPermission,
    )
    .await?;
    grant_permissions(&mut work, caller, &key, &permissions, true).await?;
    forget(&mut work, &key);
    work.commit().await?;
    Ok(permissions.into_iter().map(permission_view).collect())
}

pub async fn add_roles(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: AddRolesRequest,
) -> ApiResult<Vec<Role>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(
        &mut work,
        caller,
        &req.key_id,
        &[Action::UpdateKey, Action::AddRoleToKey],
    )
    .await?;
    let roles = existing_roles(work.tx(), caller, &req.roles).await?;
    grant_roles(&mut work, caller, &key, &roles, false).await?;
    let answer = roles_of(work.tx(), &key.id).await?;
    forget(&mut work, &key);
    work.commit().await?;
    Ok(answer)
}

pub async fn remove_roles(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: RemoveRolesRequest,
) -> ApiResult<Vec<Role>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(&mut work, caller, &req.key_id, &[Action::UpdateKey]).await?;
    let roles = existing_roles(work.tx(), caller, &req.roles).await?;
    rbac::unlink(work.tx(), Link::KeyRoles, &key.id, &ids(&roles, |r| &r.id)).await?;
    let role_names: Vec<String> = roles.iter().map(|r| r.name.clone()).collect();
    let mut targets = vec![key_target(&key)];
    targets.extend(roles.iter().map(role_target));
    work.audit(
        caller.workspace_id(),
        Event::DisconnectRoleAndKey,
        format!("Took the role(s) {} from {}", names(&role_names), key.id),
        targets,
    );
    let answer = roles_of(work.tx(), &key.id).await?;
    forget(&mut work, &key);
    work.commit().await?;
    Ok(answer)
}

pub async fn set_roles(
    keyward: &Keyward,
    caller: &Caller,
    origin: Origin,
    req: SetRolesRequest,
) -> ApiResult<Vec<Role>> {
    let mut work = Work::begin(keyward, Actor::root_key(caller, origin)).await?;
    let key = lock_key(&mut work, caller, &req.key_id, &[Action::UpdateKey]).await?;
    let roles = existing_roles(work.tx(), caller, &req.roles).await?;
    grant_roles(&mut work, caller, &key, &roles, true).await?;
    let answer = with_permissions(work.tx(), roles.into_iter().map(role_view).collect()).await?;
    forget(&mut work, &key);
    work.commit().await?;
    Ok(answer)
}
