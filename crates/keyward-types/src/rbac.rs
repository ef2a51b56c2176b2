//! `permissions.*` and the `keys.*Permissions` / `keys.*Roles` operations: the permissions your
//! keys hold (matched by verifyKey's permission query) and the roles that group them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::nullable::Nullable;
use crate::validate::{Validate, Violations, charset};

/// What a permission slug may be (JSON Schema's dialect).
pub const SLUG_PATTERN: &str = "^[a-zA-Z0-9_:\\-\\.\\*]+$";
/// Longest permission slug.
pub const MAX_SLUG_LEN: usize = 128;
/// Most permissions one request may name.
pub const MAX_PERMISSIONS: usize = 1000;
/// Most roles one request may name.
pub const MAX_ROLES: usize = 100;

const SLUG_CHARS: &str = "letters, digits, '_', ':', '-', '.' and '*'";
const ID_CHARS: &str = "letters, digits and underscores";

pub(crate) fn slug(v: &mut Violations, field: &str, value: &str) {
    v.pattern(field, value, 1, MAX_SLUG_LEN, charset::slug, SLUG_CHARS);
}

/// A list of slugs: each a slug, at most [`MAX_PERMISSIONS`] (and at least `min`).
pub(crate) fn slugs(v: &mut Violations, field: &str, values: &[String], min: usize) {
    v.items(field, values.len(), min, MAX_PERMISSIONS);
    for (i, value) in values.iter().enumerate() {
        slug(v, &format!("{field}[{i}]"), value);
    }
}

/// A list of role names: each 1 to 128 characters, at most [`MAX_ROLES`] (and at least `min`).
pub(crate) fn role_names(v: &mut Violations, field: &str, values: &[String], min: usize) {
    v.items(field, values.len(), min, MAX_ROLES);
    for (i, value) in values.iter().enumerate() {
        v.length(&format!("{field}[{i}]"), value, 1, 128);
    }
}

fn key_id(v: &mut Violations, value: &str) {
    v.pattern("keyId", value, 3, 255, charset::id, ID_CHARS);
}

fn list_args(v: &mut Violations, limit: Option<i64>, cursor: Option<&str>, search: Option<&str>) {
    if let Some(limit) = limit {
        v.range("limit", limit, 1, 100);
    }
    v.opt_length("cursor", cursor, 1, 1024);
    v.opt_length("search", search, 1, 256);
}

/// A permission a key can hold, directly or through a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Permission {
    /// `perm_…`
    pub id: String,
    pub name: String,
    /// What verifyKey's permission query names, matched exactly: `documents.read`.
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A named set of permissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// `role_…`
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The role's permissions, in slug order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
}

// ---------------------------------------------------------------------------------------------
// permissions.createPermission, getPermission, listPermissions, updatePermission, deletePermission

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePermissionRequest {
    /// A name for people, 1 to 512 characters.
    #[schema(example = "Read documents", min_length = 1, max_length = 512)]
    pub name: String,
    /// What keys and verifyKey queries name it by, 1 to 128 of letters, digits, `_ : - . *`;
    /// unique in the workspace whatever its case.
    #[schema(
        example = "documents.read",
        min_length = 1,
        max_length = 128,
        pattern = "^[a-zA-Z0-9_:\\-\\.\\*]+$"
    )]
    pub slug: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 512)]
    pub description: Option<String>,
}

impl Validate for CreatePermissionRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("name", &self.name, 1, 512);
        slug(v, "slug", &self.slug);
        v.opt_length("description", self.description.as_deref(), 0, 512);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePermissionResponseData {
    pub permission_id: String,
}

/// A permission named by its id (`perm_…`) or its slug.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionRequest {
    /// The permission's id or slug.
    #[schema(example = "documents.read", min_length = 1, max_length = 255)]
    pub permission: String,
}

impl Validate for PermissionRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("permission", &self.permission, 1, 255);
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListRequest {
    /// Items per page, 1 to 100 (default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// The previous page's `pagination.cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 1024)]
    pub cursor: Option<String>,
    /// Only those whose name (or slug) contains this, in any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 256)]
    pub search: Option<String>,
}

impl Validate for ListRequest {
    fn validate(&self, v: &mut Violations) {
        list_args(
            v,
            self.limit,
            self.cursor.as_deref(),
            self.search.as_deref(),
        );
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePermissionRequest {
    /// The permission's id or slug.
    #[schema(example = "documents.read", min_length = 1, max_length = 255)]
    pub permission: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 512)]
    pub name: Option<String>,
    /// A new slug; keys and roles keep the permission (they hold it by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = "^[a-zA-Z0-9_:\\-\\.\\*]+$"
    )]
    pub slug: Option<String>,
    /// `null` or `""` removes the description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<String>, max_length = 512)]
    pub description: Nullable<String>,
}

impl Validate for UpdatePermissionRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("permission", &self.permission, 1, 255);
        v.opt_length("name", self.name.as_deref(), 1, 512);
        if let Some(s) = &self.slug {
            slug(v, "slug", s);
        }
        v.opt_length(
            "description",
            self.description.value().map(String::as_str),
            0,
            512,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// permissions.createRole, getRole, listRoles, updateRole, deleteRole, setRolePermissions

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateRoleRequest {
    /// Unique in the workspace, 1 to 128 characters.
    #[schema(example = "support.readonly", min_length = 1, max_length = 128)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 512)]
    pub description: Option<String>,
    /// Slugs of the role's permissions; missing ones are created (which needs
    /// `rbac.*.create_permission`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_items = 1000)]
    pub permissions: Option<Vec<String>>,
}

impl Validate for CreateRoleRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("name", &self.name, 1, 128);
        v.opt_length("description", self.description.as_deref(), 0, 512);
        if let Some(p) = &self.permissions {
            slugs(v, "permissions", p, 0);
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateRoleResponseData {
    pub role_id: String,
}

/// A role named by its id (`role_…`) or its name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleRequest {
    /// The role's id or name.
    #[schema(example = "support.readonly", min_length = 1, max_length = 255)]
    pub role: String,
}

impl Validate for RoleRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("role", &self.role, 1, 255);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateRoleRequest {
    /// The role's id or name.
    #[schema(example = "support.readonly", min_length = 1, max_length = 255)]
    pub role: String,
    /// A new name, unique in the workspace; keys keep the role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 128)]
    pub name: Option<String>,
    /// `null` or `""` removes the description.
    #[serde(default, skip_serializing_if = "Nullable::is_absent")]
    #[schema(value_type = Option<String>, max_length = 512)]
    pub description: Nullable<String>,
}

impl Validate for UpdateRoleRequest {
    fn validate(&self, v: &mut Violations) {
        v.length("role", &self.role, 1, 255);
        v.opt_length("name", self.name.as_deref(), 1, 128);
        v.opt_length(
            "description",
            self.description.value().map(String::as_str),
            0,
            512,
        );
    }
}

/// A role without its permissions, as `permissions.updateRole` answers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRoleResponseData {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Replaces a role's permissions. The role is named by `role` (Unkey's newest field) or
/// `roleId` (its earlier one); either takes an id or a name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetRolePermissionsRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "support.readonly", min_length = 1, max_length = 255)]
    pub role: Option<String>,
    /// Deprecated name of `role`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 255)]
    pub role_id: Option<String>,
    /// Every permission the role is to have (slugs); `[]` removes them all. Missing ones are
    /// created (which needs `rbac.*.create_permission`).
    #[schema(max_items = 1000)]
    pub permissions: Vec<String>,
}

impl SetRolePermissionsRequest {
    /// The role named, by whichever field was sent.
    pub fn role(&self) -> &str {
        self.role
            .as_deref()
            .or(self.role_id.as_deref())
            .unwrap_or_default()
    }
}

impl Validate for SetRolePermissionsRequest {
    fn validate(&self, v: &mut Violations) {
        match (&self.role, &self.role_id) {
            (Some(_), Some(_)) => v.push(
                "role",
                "cannot be sent together with roleId",
                Some("send only role (roleId is its deprecated name)".to_string()),
            ),
            (None, None) => v.push(
                "role",
                "is required",
                Some("send the role's id or name as role".to_string()),
            ),
            (Some(role), None) => v.length("role", role, 1, 255),
            (None, Some(role)) => v.length("roleId", role, 1, 255),
        }
        slugs(v, "permissions", &self.permissions, 0);
    }
}

// ---------------------------------------------------------------------------------------------
// keys.addPermissions, removePermissions, setPermissions, addRoles, removeRoles, setRoles

/// A request naming a key and a list of permissions or roles, with its own lower bound on the
/// list's length (the OpenAPI document states it too).
macro_rules! key_list_request {
    ($(#[$doc:meta])* $name:ident { $field:ident, min: $min:tt, max: $max:tt, check: $check:ident, example: $example:tt, $(#[$field_doc:meta])* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct $name {
            #[schema(example = "key_1234abcd", min_length = 3, max_length = 255, pattern = "^[a-zA-Z0-9_]+$")]
            pub key_id: String,
            $(#[$field_doc])*
            #[schema(example = json!([$example]), min_items = $min, max_items = $max)]
            pub $field: Vec<String>,
        }

        impl Validate for $name {
            fn validate(&self, v: &mut Violations) {
                key_id(v, &self.key_id);
                $check(v, stringify!($field), &self.$field, $min);
            }
        }
    };
}

key_list_request! {
    /// `keys.addPermissions`: grants permissions to a key.
    AddPermissionsRequest {
        permissions, min: 1, max: 1000, check: slugs, example: "documents.read",
        /// Permission slugs; missing ones are created, which needs `rbac.*.create_permission`.
    }
}
key_list_request! {
    /// `keys.removePermissions`: takes permissions from a key.
    RemovePermissionsRequest {
        permissions, min: 1, max: 1000, check: slugs, example: "documents.read",
        /// Permission slugs or ids; every one must exist (404 otherwise).
    }
}
key_list_request! {
    /// `keys.setPermissions`: replaces a key's direct permissions.
    SetPermissionsRequest {
        permissions, min: 0, max: 1000, check: slugs, example: "documents.read",
        /// Every direct permission the key is to have (slugs); `[]` removes them all. Missing
        /// ones are created, which needs `rbac.*.create_permission`.
    }
}
key_list_request! {
    /// `keys.addRoles`: gives roles to a key.
    AddRolesRequest {
        roles, min: 1, max: 100, check: role_names, example: "support.readonly",
        /// Role names; every one must exist (404 otherwise).
    }
}
key_list_request! {
    /// `keys.removeRoles`: takes roles from a key.
    RemoveRolesRequest {
        roles, min: 1, max: 100, check: role_names, example: "support.readonly",
        /// Role names; every one must exist (404 otherwise).
    }
}
key_list_request! {
    /// `keys.setRoles`: replaces a key's roles.
    SetRolesRequest {
        roles, min: 0, max: 100, check: role_names, example: "support.readonly",
        /// Every role the key is to have (names); `[]` removes them all. Every one must exist.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(r: &impl Validate) -> Vec<String> {
        let mut v = Violations::new();
        r.validate(&mut v);
        v.into_errors().into_iter().map(|e| e.location).collect()
    }

    #[test]
    fn set_role_permissions_takes_role_or_role_id() {
        for (body, expected) in [
            (r#"{"role":"r","permissions":[]}"#, vec![]),
            (r#"{"roleId":"r","permissions":["a.b"]}"#, vec![]),
            (
                r#"{"role":"r","roleId":"r","permissions":[]}"#,
                vec!["body.role"],
            ),
            (r#"{"permissions":[]}"#, vec!["body.role"]),
            (
                r#"{"role":"r","permissions":["bad slug"]}"#,
                vec!["body.permissions[0]"],
            ),
        ] {
            let r: SetRolePermissionsRequest = serde_json::from_str(body).unwrap();
            assert_eq!(problems(&r), expected, "{body}");
        }
        let r: SetRolePermissionsRequest =
            serde_json::from_str(r#"{"roleId":"role_1","permissions":[]}"#).unwrap();
        assert_eq!(r.role(), "role_1");
    }

    #[test]
    fn key_lists_need_an_item_except_to_set() {
        let add: AddPermissionsRequest =
            serde_json::from_str(r#"{"keyId":"key_1","permissions":[]}"#).unwrap();
        assert_eq!(problems(&add), vec!["body.permissions"]);
        let set: SetPermissionsRequest =
            serde_json::from_str(r#"{"keyId":"key_1","permissions":[]}"#).unwrap();
        assert!(problems(&set).is_empty());
        let roles: SetRolesRequest = serde_json::from_str(&format!(
            r#"{{"keyId":"key_1","roles":["{}"]}}"#,
            "r".repeat(129)
        ))
        .unwrap();
        assert_eq!(problems(&roles), vec!["body.roles[0]"]);
    }
}
