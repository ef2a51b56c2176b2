//! The operation registry: every operation keyward serves, once.
//!
//! Each operation is a type implementing [`Endpoint`] (its request and response types) with an
//! [`Operation`] (name, path, documentation, the actions it needs, the error statuses it can
//! answer). The router mounts exactly these ([`ALL`]), the OpenAPI document is generated from them
//! ([`crate::openapi`]), the CLI calls them by type, and the tests iterate them — so an operation
//! cannot be added in one place and missed in another.
//!
//! Adding an operation: declare it in the `operations!` list below, then write its handler (the
//! HTTP crate refuses to start, and its tests fail, while a registered operation has no handler).

use serde::Serialize;
use serde::de::DeserializeOwned;
use utoipa::ToSchema;

use crate::permissions::Action;
use crate::validate::Validate;
use crate::{
    Empty, apis, audit_logs, identities, keys, liveness, ratelimit, rbac, root_keys, workspaces,
};

/// How an operation is called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// What the response's `data` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One object.
    Object,
    /// A list with `pagination` beside it.
    Page,
    /// A whole list, without pagination (what a key's permissions or roles are after a change).
    List,
}

/// One operation, as the router, the OpenAPI document, the CLI and the tests see it.
#[derive(Debug)]
pub struct Operation {
    /// `keys.createKey`: the operation id, and the last part of its path.
    pub name: &'static str,
    /// `/v2/keys.createKey`.
    pub path: &'static str,
    pub method: Method,
    /// The API group (`keys`), the OpenAPI tag.
    pub group: &'static str,
    pub summary: &'static str,
    /// What the operation does and which permissions it needs, for people.
    pub description: &'static str,
    /// Whether it needs a root key.
    pub authenticated: bool,
    /// The actions a root key needs, all of them, on the resource the operation acts on (checked
    /// by the service; listed here for the documentation and the permission matrix tests).
    pub needs: &'static [Action],
    /// Error statuses beyond those every authenticated operation can answer
    /// ([`COMMON_ERRORS`]): 404, 409, 412, ….
    pub errors: &'static [u16],
    pub shape: Shape,
    /// Whether it is keyward's own rather than Unkey's.
    pub extension: bool,
}

/// Statuses any authenticated operation can answer: invalid input or header (400), unknown root
/// key (401), missing permission (403), body too slow (408), body too large (413), not JSON
/// (415), keyward's failure (500), database unavailable (503).
pub const COMMON_ERRORS: &[u16] = &[400, 401, 403, 408, 413, 415, 500, 503];

/// An operation and its types.
pub trait Endpoint {
    const OPERATION: &'static Operation;
    type Request: Serialize + DeserializeOwned + Validate + ToSchema + 'static;
    /// The type of `data` (of one item of `data` for [`Shape::Page`]).
    type Data: Serialize + DeserializeOwned + ToSchema + 'static;
}

macro_rules! operations {
    ($(
        $(#[$doc:meta])*
        $type:ident = $name:literal in $group:literal {
            request: $request:ty,
            data: $data:ty,
            shape: $shape:ident,
            needs: [$($action:ident),*],
            errors: [$($status:literal),*],
            extension: $extension:literal,
            summary: $summary:literal,
            description: $description:literal,
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $type;

            impl Endpoint for $type {
                const OPERATION: &'static Operation = &Operation {
                    name: $name,
                    path: concat!("/v2/", $name),
                    method: Method::Post,
                    group: $group,
                    summary: $summary,
                    description: $description,
                    authenticated: true,
                    needs: &[$(Action::$action),*],
                    errors: &[$($status),*],
                    shape: Shape::$shape,
                    extension: $extension,
                };
                type Request = $request;
                type Data = $data;
            }
        )*

        /// Every authenticated operation, in documentation order.
        pub const ALL: &[&Operation] = &[$($type::OPERATION,)*];

        /// Calls `visit.visit::<E>()` for every authenticated operation, in [`ALL`]'s order: how
        /// code generic over the types of each operation (the OpenAPI document, the router's
        /// completeness check) walks the registry.
        pub fn for_each(visit: &mut impl Visit) {
            $(visit.visit::<$type>();)*
        }
    };
}

/// A visitor of every operation's types (see [`for_each`]).
pub trait Visit {
    fn visit<E: Endpoint>(&mut self);
}

operations! {
    CreateApi = "apis.createApi" in "apis" {
        request: apis::CreateApiRequest,
        data: apis::CreateApiResponseData,
        shape: Object,
        needs: [CreateApi],
        errors: [],
        extension: false,
        summary: "Create an API",
        description: "Creates an API: a namespace that holds keys. Needs `api.*.create_api`.",
    }
    GetApi = "apis.getApi" in "apis" {
        request: apis::GetApiRequest,
        data: apis::GetApiResponseData,
        shape: Object,
        needs: [ReadApi],
        errors: [404],
        extension: false,
        summary: "Get an API",
        description: "Reads an API's name and delete protection. Needs `api.*.read_api` or `api.<apiId>.read_api`.",
    }
    UpdateApi = "apis.updateApi" in "apis" {
        request: apis::UpdateApiRequest,
        data: Empty,
        shape: Object,
        needs: [UpdateApi],
        errors: [404],
        extension: true,
        summary: "Update an API (keyward extension)",
        description: "Renames an API or switches its delete protection. Needs `api.*.update_api` or `api.<apiId>.update_api`.",
    }
    DeleteApi = "apis.deleteApi" in "apis" {
        request: apis::DeleteApiRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteApi],
        errors: [404, 412],
        extension: false,
        summary: "Delete an API",
        description: "Deletes an API namespace: every key in it fails verification with `NOT_FOUND` from the moment this returns. Soft by default (the records stay for audit); `permanent: true` (keyward extension) erases the API and every key it holds, their hashes and metadata, also when it was deleted before. Refused with 412 while delete protection is on. Needs `api.*.delete_api` or `api.<apiId>.delete_api`.",
    }
    ListKeys = "apis.listKeys" in "apis" {
        request: apis::ListKeysRequest,
        data: keys::KeyResponseData,
        shape: Page,
        needs: [ReadKey, ReadApi],
        errors: [404, 412],
        extension: false,
        summary: "List an API's keys",
        description: "Lists the live keys of an API, optionally of one `externalId`, with cursor pagination. Needs `read_key` and `read_api` on the API.",
    }
    CreateKey = "keys.createKey" in "keys" {
        request: keys::CreateKeyRequest,
        data: keys::CreateKeyResponseData,
        shape: Object,
        needs: [CreateKey],
        errors: [404, 412],
        extension: false,
        summary: "Create a key",
        description: "Issues a key. The plaintext is in this response only; keyward stores its SHA-256. Needs `api.*.create_key` or `api.<apiId>.create_key`.",
    }
    GetKey = "keys.getKey" in "keys" {
        request: keys::GetKeyRequest,
        data: keys::KeyResponseData,
        shape: Object,
        needs: [ReadKey],
        errors: [404, 412],
        extension: false,
        summary: "Get a key",
        description: "Reads a key's settings by id. Needs `read_key` on its API.",
    }
    Whoami = "keys.whoami" in "keys" {
        request: keys::WhoamiRequest,
        data: keys::KeyResponseData,
        shape: Object,
        needs: [ReadKey],
        errors: [404],
        extension: false,
        summary: "Identify a key",
        description: "Reads a key's settings from the key itself. Lacking `read_key` answers 404, like an unknown key.",
    }
    UpdateKey = "keys.updateKey" in "keys" {
        request: keys::UpdateKeyRequest,
        data: Empty,
        shape: Object,
        needs: [UpdateKey],
        errors: [404],
        extension: false,
        summary: "Update a key",
        description: "Changes a key. Absent fields stay, `null` clears. `enabled: false` disables the key (verifications answer `DISABLED`) from the moment this returns. Needs `update_key` on its API.",
    }
    UpdateCredits = "keys.updateCredits" in "keys" {
        request: keys::UpdateCreditsRequest,
        data: keys::KeyCredits,
        shape: Object,
        needs: [UpdateKey],
        errors: [404],
        extension: false,
        summary: "Change a key's credits",
        description: "Sets, increments or decrements a key's credits atomically. Needs `update_key` on its API.",
    }
    RerollKey = "keys.rerollKey" in "keys" {
        request: keys::RerollKeyRequest,
        data: keys::RerollKeyResponseData,
        shape: Object,
        needs: [CreateKey],
        errors: [404, 412],
        extension: false,
        summary: "Reroll a key",
        description: "Issues a new key with the old key's settings; the old key keeps working for `expiration` ms. Both spend from one balance: the new key takes the old key's credits over rather than a copy, so C credits allow at most C valid verifications across every generation. An expired key cannot be rerolled (412). Needs `create_key` on its API.",
    }
    DeleteKey = "keys.deleteKey" in "keys" {
        request: keys::DeleteKeyRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteKey],
        errors: [404],
        extension: false,
        summary: "Delete a key",
        description: "Deletes a key: verifications answer `NOT_FOUND` from the moment this returns. Soft by default (the record stays for audit); `permanent: true` erases it and its hash, also when the key, or its API, was deleted before. Needs `delete_key` on its API.",
    }
    VerifyKey = "keys.verifyKey" in "keys" {
        request: keys::VerifyKeyRequest,
        data: keys::VerifyKeyResponseData,
        shape: Object,
        needs: [VerifyKey],
        errors: [412],
        extension: false,
        summary: "Verify a key",
        description: "Checks a key and spends its credits. Every outcome is HTTP 200 with a `code`; a root key without `verify_key` on the key's API sees `NOT_FOUND`.",
    }
    CreateRootKey = "rootKeys.createRootKey" in "rootKeys" {
        request: root_keys::CreateRootKeyRequest,
        data: root_keys::CreateRootKeyResponseData,
        shape: Object,
        needs: [CreateRootKey],
        errors: [],
        extension: true,
        summary: "Create a root key (keyward's earlier name of rootKeys.createKey)",
        description: "The same operation as `rootKeys.createKey`, under the name keyward first gave it. Needs `rootkey.*.create_root_key` or `unkey:v1:<workspaceId>:rootKeys/*#write`.",
    }
    ListRootKeys = "rootKeys.listRootKeys" in "rootKeys" {
        request: root_keys::ListRootKeysRequest,
        data: root_keys::RootKey,
        shape: Page,
        needs: [ReadRootKey],
        errors: [],
        extension: true,
        summary: "List root keys (keyward's earlier name of rootKeys.listKeys)",
        description: "`rootKeys.listKeys` under the name keyward first gave it, with its first rule: it answers 403 unless the caller may read every root key (`rootkey.*.read_root_key` or `unkey:v1:<workspaceId>:rootKeys/*#read`), where `rootKeys.listKeys` leaves out the keys it may not read.",
    }
    DeleteRootKey = "rootKeys.deleteRootKey" in "rootKeys" {
        request: root_keys::DeleteRootKeyRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteRootKey],
        errors: [404],
        extension: true,
        summary: "Delete a root key (keyward's earlier name of rootKeys.deleteKey)",
        description: "The same operation as `rootKeys.deleteKey`, under the name keyward first gave it. Needs `rootkey.*.delete_root_key` or `rootKeys/<keyId>#delete`, and every permission of the key.",
    }
    CreateWorkspace = "workspaces.createWorkspace" in "workspaces" {
        request: workspaces::CreateWorkspaceRequest,
        data: workspaces::CreateWorkspaceResponseData,
        shape: Object,
        needs: [CreateWorkspace],
        errors: [],
        extension: true,
        summary: "Create a workspace (keyward extension)",
        description: "Creates an isolated workspace and a root key for it. Needs the instance-level `workspace.*.create_workspace`.",
    }
    ListLogs = "auditLogs.listLogs" in "auditLogs" {
        request: audit_logs::ListLogsRequest,
        data: audit_logs::AuditLog,
        shape: Page,
        needs: [ReadAuditLog],
        errors: [],
        extension: true,
        summary: "List audit logs (keyward extension)",
        description: "Lists the workspace's audit events, newest first. Needs `auditlog.*.read_audit_log`.",
    }

    CreatePermission = "permissions.createPermission" in "permissions" {
        request: rbac::CreatePermissionRequest,
        data: rbac::CreatePermissionResponseData,
        shape: Object,
        needs: [CreatePermission],
        errors: [409],
        extension: false,
        summary: "Create a permission",
        description: "Creates a permission keys and roles can hold, named by a slug unique in the workspace whatever its case (409 if taken). Needs `rbac.*.create_permission`.",
    }
    GetPermission = "permissions.getPermission" in "permissions" {
        request: rbac::PermissionRequest,
        data: rbac::Permission,
        shape: Object,
        needs: [ReadPermission],
        errors: [404],
        extension: false,
        summary: "Get a permission",
        description: "Reads a permission by id or slug. Needs `rbac.*.read_permission`.",
    }
    ListPermissions = "permissions.listPermissions" in "permissions" {
        request: rbac::ListRequest,
        data: rbac::Permission,
        shape: Page,
        needs: [ReadPermission],
        errors: [],
        extension: false,
        summary: "List permissions",
        description: "Lists the workspace's permissions in id order, optionally those whose name or slug contains `search`. Needs `rbac.*.read_permission`.",
    }
    UpdatePermission = "permissions.updatePermission" in "permissions" {
        request: rbac::UpdatePermissionRequest,
        data: rbac::Permission,
        shape: Object,
        needs: [UpdatePermission],
        errors: [404, 409],
        extension: false,
        summary: "Update a permission",
        description: "Renames a permission or changes its slug or description; keys and roles keep it, and verifications see the new slug at once. Needs `rbac.*.update_permission` or `unkey:v1:<workspaceId>:projects/*/rbac/permissions/<permissionId>#write`.",
    }
    DeletePermission = "permissions.deletePermission" in "permissions" {
        request: rbac::PermissionRequest,
        data: Empty,
        shape: Object,
        needs: [DeletePermission],
        errors: [404],
        extension: false,
        summary: "Delete a permission",
        description: "Deletes a permission and takes it from every key and role at once. Needs `rbac.*.delete_permission`.",
    }
    CreateRole = "permissions.createRole" in "permissions" {
        request: rbac::CreateRoleRequest,
        data: rbac::CreateRoleResponseData,
        shape: Object,
        needs: [CreateRole],
        errors: [409],
        extension: false,
        summary: "Create a role",
        description: "Creates a role, optionally with permissions (slugs; missing ones are created). Needs `rbac.*.create_role`, and `rbac.*.add_permission_to_role` with permissions, and `rbac.*.create_permission` to create any.",
    }
    GetRole = "permissions.getRole" in "permissions" {
        request: rbac::RoleRequest,
        data: rbac::Role,
        shape: Object,
        needs: [ReadRole],
        errors: [404],
        extension: false,
        summary: "Get a role",
        description: "Reads a role and its permissions by id or name. Needs `rbac.*.read_role`.",
    }
    ListRoles = "permissions.listRoles" in "permissions" {
        request: rbac::ListRequest,
        data: rbac::Role,
        shape: Page,
        needs: [ReadRole],
        errors: [],
        extension: false,
        summary: "List roles",
        description: "Lists the workspace's roles with their permissions in id order, optionally those whose name contains `search`. Needs `rbac.*.read_role`.",
    }
    UpdateRole = "permissions.updateRole" in "permissions" {
        request: rbac::UpdateRoleRequest,
        data: rbac::UpdateRoleResponseData,
        shape: Object,
        needs: [UpdateRole],
        errors: [404, 409],
        extension: false,
        summary: "Update a role",
        description: "Renames a role or changes its description; keys keep it. Needs `rbac.*.update_role` or `unkey:v1:<workspaceId>:projects/*/rbac/roles/<roleId>#write`.",
    }
    DeleteRole = "permissions.deleteRole" in "permissions" {
        request: rbac::RoleRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteRole],
        errors: [404],
        extension: false,
        summary: "Delete a role",
        description: "Deletes a role and takes it from every key at once. Needs `rbac.*.delete_role`.",
    }
    SetRolePermissions = "permissions.setRolePermissions" in "permissions" {
        request: rbac::SetRolePermissionsRequest,
        data: rbac::Permission,
        shape: List,
        needs: [AddPermissionToRole, RemovePermissionFromRole],
        errors: [404],
        extension: false,
        summary: "Set a role's permissions",
        description: "Replaces every permission of a role (missing slugs are created, which needs `rbac.*.create_permission`); its keys see the change at once. Needs `rbac.*.add_permission_to_role` and `rbac.*.remove_permission_from_role`.",
    }
    AddPermissions = "keys.addPermissions" in "keys" {
        request: rbac::AddPermissionsRequest,
        data: rbac::Permission,
        shape: List,
        needs: [UpdateKey, AddPermissionToKey],
        errors: [404],
        extension: false,
        summary: "Add permissions to a key",
        description: "Grants permissions to a key (missing slugs are created, which needs `rbac.*.create_permission`); answers every direct permission of the key. Needs `update_key` on the key's API and `rbac.*.add_permission_to_key`, or the key's `#update_key` URN alone.",
    }
    RemovePermissions = "keys.removePermissions" in "keys" {
        request: rbac::RemovePermissionsRequest,
        data: rbac::Permission,
        shape: List,
        needs: [UpdateKey, RemovePermissionFromKey],
        errors: [404],
        extension: false,
        summary: "Remove permissions from a key",
        description: "Takes permissions (slugs or ids) from a key, effective on the next verification; answers the key's remaining direct permissions. Needs `update_key` and `rbac.*.remove_permission_from_key`, or the key's `#update_key` URN alone.",
    }
    SetPermissions = "keys.setPermissions" in "keys" {
        request: rbac::SetPermissionsRequest,
        data: rbac::Permission,
        shape: List,
        needs: [UpdateKey, AddPermissionToKey, RemovePermissionFromKey],
        errors: [404],
        extension: false,
        summary: "Set a key's permissions",
        description: "Replaces every direct permission of a key (missing slugs are created, which needs `rbac.*.create_permission`). Needs `update_key`, `rbac.*.add_permission_to_key` and `rbac.*.remove_permission_from_key`, or the key's `#update_key` URN alone.",
    }
    AddRoles = "keys.addRoles" in "keys" {
        request: rbac::AddRolesRequest,
        data: rbac::Role,
        shape: List,
        needs: [UpdateKey, AddRoleToKey],
        errors: [404],
        extension: false,
        summary: "Add roles to a key",
        description: "Gives roles (names, which must exist) to a key; answers every role of the key. Needs `update_key` and `rbac.*.add_role_to_key`, or the key's `#update_key` URN alone.",
    }
    RemoveRoles = "keys.removeRoles" in "keys" {
        request: rbac::RemoveRolesRequest,
        data: rbac::Role,
        shape: List,
        needs: [UpdateKey],
        errors: [404],
        extension: false,
        summary: "Remove roles from a key",
        description: "Takes roles from a key, effective on the next verification; answers the key's remaining roles. Needs `update_key` on the key's API.",
    }
    SetRoles = "keys.setRoles" in "keys" {
        request: rbac::SetRolesRequest,
        data: rbac::Role,
        shape: List,
        needs: [UpdateKey],
        errors: [404],
        extension: false,
        summary: "Set a key's roles",
        description: "Replaces every role of a key (names, which must exist). Needs `update_key` on the key's API.",
    }
    CreateIdentity = "identities.createIdentity" in "identities" {
        request: identities::CreateIdentityRequest,
        data: identities::CreateIdentityResponseData,
        shape: Object,
        needs: [CreateIdentity],
        errors: [409],
        extension: false,
        summary: "Create an identity",
        description: "Creates an identity: your user or customer, named by your `externalId` (409 if a live identity has it). Keys linked to it carry its `meta` in every verification. Needs `identity.*.create_identity`.",
    }
    GetIdentity = "identities.getIdentity" in "identities" {
        request: identities::IdentityRequest,
        data: keys::Identity,
        shape: Object,
        needs: [ReadIdentity],
        errors: [404],
        extension: false,
        summary: "Get an identity",
        description: "Reads an identity by id or externalId. Needs `identity.*.read_identity` or `identity.<identityId>.read_identity`.",
    }
    ListIdentities = "identities.listIdentities" in "identities" {
        request: rbac::ListRequest,
        data: keys::Identity,
        shape: Page,
        needs: [ReadIdentity],
        errors: [],
        extension: false,
        summary: "List identities",
        description: "Lists the workspace's identities in id order, optionally those whose externalId contains `search`. Needs `read_identity` on every identity of the page (403 otherwise, as Unkey).",
    }
    UpdateIdentity = "identities.updateIdentity" in "identities" {
        request: identities::UpdateIdentityRequest,
        data: keys::Identity,
        shape: Object,
        needs: [UpdateIdentity],
        errors: [404],
        extension: false,
        summary: "Update an identity",
        description: "Replaces an identity's `meta` (`{}` removes it); verifications of its keys carry the new one at once. Needs `identity.*.update_identity`.",
    }
    DeleteIdentity = "identities.deleteIdentity" in "identities" {
        request: identities::IdentityRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteIdentity],
        errors: [404],
        extension: false,
        summary: "Delete an identity",
        description: "Deletes an identity: its keys keep working without it (no identity, no meta) from the moment this returns, and its externalId can be given to a new identity. Needs `identity.*.delete_identity`.",
    }
    CreateRootKeyUnkey = "rootKeys.createKey" in "rootKeys" {
        request: root_keys::CreateRootKeyRequest,
        data: root_keys::CreateRootKeyResponseData,
        shape: Object,
        needs: [CreateRootKey],
        errors: [],
        extension: false,
        summary: "Create a root key",
        description: "Creates a root key of the caller's workspace holding only permissions the caller holds, optionally expiring. Needs `unkey:v1:<workspaceId>:rootKeys/*#write` or `rootkey.*.create_root_key`. `rootKeys.createRootKey` is keyward's earlier name for it.",
    }
    ListRootKeysUnkey = "rootKeys.listKeys" in "rootKeys" {
        request: root_keys::ListRootKeysRequest,
        data: root_keys::RootKey,
        shape: Page,
        needs: [ReadRootKey],
        errors: [],
        extension: false,
        summary: "List root keys",
        description: "Lists the workspace's root keys the caller may read (never their secrets), in id order; others are left out, so this never answers 403. Needs `rootKeys/<keyId>#read` (`rootKeys/*#read` for all) or `rootkey.*.read_root_key`.",
    }
    UpdateRootKey = "rootKeys.updateKey" in "rootKeys" {
        request: root_keys::UpdateRootKeyRequest,
        data: Empty,
        shape: Object,
        needs: [UpdateRootKey],
        errors: [404],
        extension: false,
        summary: "Update a root key",
        description: "Renames, disables or enables a root key, or replaces its permissions, effective on its next request. The caller must hold every permission of the key, and of what it grants. Needs `rootKeys/<keyId>#write` or `rootkey.*.update_root_key`.",
    }
    RerollRootKey = "rootKeys.rerollKey" in "rootKeys" {
        request: root_keys::RerollRootKeyRequest,
        data: root_keys::CreateRootKeyResponseData,
        shape: Object,
        needs: [UpdateRootKey],
        errors: [404],
        extension: false,
        summary: "Reroll a root key",
        description: "Issues a new root key with the name, state, expiry and permissions of an existing one; the old one keeps working for `expiration` ms (`null`: as before). The caller must hold every permission of the key. Needs `rootKeys/<keyId>#write` (`rootkey.*.update_root_key`), and `#delete` (`rootkey.*.delete_root_key`) unless `expiration` is null.",
    }
    DeleteRootKeyUnkey = "rootKeys.deleteKey" in "rootKeys" {
        request: root_keys::DeleteRootKeyRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteRootKey],
        errors: [404],
        extension: false,
        summary: "Delete a root key",
        description: "Deletes a root key; it is refused from the moment this returns. The caller must hold every permission of the key. Needs `rootKeys/<keyId>#delete` or `rootkey.*.delete_root_key`. `rootKeys.deleteRootKey` is keyward's earlier name for it.",
    }

    Limit = "ratelimit.limit" in "ratelimit" {
        request: ratelimit::LimitRequest,
        data: ratelimit::LimitResponseData,
        shape: Object,
        needs: [Limit],
        errors: [],
        extension: false,
        summary: "Apply a rate limit",
        description: "Spends `cost` (default 1) of `identifier`'s `limit` per `duration` in `namespace`, on Unkey's sliding window: always HTTP 200, `success` says whether the call may proceed. An override of the identifier replaces limit and duration (`overrideId` names it). An unknown namespace name is created on first use when the root key also has `ratelimit.*.create_namespace` (403 otherwise). Needs `ratelimit.*.limit` or `ratelimit.<namespaceId>.limit`.",
    }
    MultiLimit = "ratelimit.multiLimit" in "ratelimit" {
        request: ratelimit::MultiLimitRequest,
        data: ratelimit::MultiLimitResponseData,
        shape: Object,
        needs: [Limit],
        errors: [],
        extension: false,
        summary: "Apply several rate limits at once",
        description: "Decides up to 100 checks (the body is an array of `ratelimit.limit` requests) together: every one is charged if all pass, none if any fails; `passed` is the whole, each entry its own. Namespaces are created as by `ratelimit.limit`. Needs `limit` on every namespace.",
    }
    SetOverride = "ratelimit.setOverride" in "ratelimit" {
        request: ratelimit::SetOverrideRequest,
        data: ratelimit::SetOverrideResponseData,
        shape: Object,
        needs: [SetOverride],
        errors: [404],
        extension: false,
        summary: "Set a rate-limit override",
        description: "Gives an identifier, or every identifier matching a `*` pattern, its own limit and duration in a namespace; setting it again changes it in place (same `overrideId`). Applies from the next check. Needs `ratelimit.*.set_override` or `ratelimit.<namespaceId>.set_override`.",
    }
    GetOverride = "ratelimit.getOverride" in "ratelimit" {
        request: ratelimit::OverrideRequest,
        data: ratelimit::RatelimitOverride,
        shape: Object,
        needs: [ReadOverride],
        errors: [404],
        extension: false,
        summary: "Get the override of an identifier",
        description: "The override that applies to `identifier`, matched as `ratelimit.limit` matches: an exact override first, else the oldest pattern matching it. Needs `ratelimit.*.read_override`, `ratelimit.<namespaceId>.read_override` or `unkey:v1:<workspaceId>:ratelimits/namespaces/<namespaceId>/overrides/*#read_override`.",
    }
    ListOverrides = "ratelimit.listOverrides" in "ratelimit" {
        request: ratelimit::ListOverridesRequest,
        data: ratelimit::RatelimitOverride,
        shape: Page,
        needs: [ReadOverride],
        errors: [404],
        extension: false,
        summary: "List a namespace's overrides",
        description: "The live overrides of a namespace in id order, 10 per page by default. Needs `read_override` on the namespace, as Unkey checks.",
    }
    DeleteOverride = "ratelimit.deleteOverride" in "ratelimit" {
        request: ratelimit::OverrideRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteOverride],
        errors: [404],
        extension: false,
        summary: "Delete a rate-limit override",
        description: "Deletes the override whose identifier (or pattern) is exactly `identifier`; matching identifiers get the request's limit from the next check. Needs `ratelimit.*.delete_override` or `ratelimit.<namespaceId>.delete_override`.",
    }
}

/// `GET /v2/liveness`: answers while the server is up; needs no root key.
pub const LIVENESS: &Operation = &Operation {
    name: "liveness",
    path: "/v2/liveness",
    method: Method::Get,
    group: "liveness",
    summary: "Liveness",
    description: "Answers while the server is up, with its database and whether it hears the other nodes' changes. Needs no root key. A node on PostgreSQL whose invalidation channel is lost answers 503 until it has resubscribed (it still answers every other request correctly, reading the database instead of its caches), so that a load balancer takes it out meanwhile.",
    authenticated: false,
    needs: &[],
    errors: &[503],
    shape: Shape::Object,
    extension: false,
};

/// The `data` of [`LIVENESS`].
pub type LivenessData = liveness::LivenessResponseData;

/// The registered operation named `name` (`keys.createKey`), if any.
pub fn find(name: &str) -> Option<&'static Operation> {
    ALL.iter().copied().find(|op| op.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_groups_agree() {
        let mut names: Vec<&str> = ALL.iter().map(|op| op.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len(), "operation names are unique");
        for op in ALL {
            assert_eq!(op.path, format!("/v2/{}", op.name));
            assert!(
                op.name.starts_with(&format!("{}.", op.group)),
                "{}",
                op.name
            );
            assert!(!op.needs.is_empty(), "{} needs a permission", op.name);
            assert!(op.errors.iter().all(|s| !COMMON_ERRORS.contains(s)));
        }
        assert_eq!(
            find("keys.verifyKey").map(|op| op.path),
            Some("/v2/keys.verifyKey")
        );
    }
}
