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
use crate::{Empty, apis, audit_logs, keys, liveness, root_keys, workspaces};

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
        summary: "Create a root key (keyward extension)",
        description: "Creates a root key of the caller's workspace. It may only hold permissions the caller holds. Needs `rootkey.*.create_root_key`.",
    }
    ListRootKeys = "rootKeys.listRootKeys" in "rootKeys" {
        request: root_keys::ListRootKeysRequest,
        data: root_keys::RootKey,
        shape: Page,
        needs: [ReadRootKey],
        errors: [],
        extension: true,
        summary: "List root keys (keyward extension)",
        description: "Lists the workspace's root keys (never their secrets). Needs `rootkey.*.read_root_key`.",
    }
    DeleteRootKey = "rootKeys.deleteRootKey" in "rootKeys" {
        request: root_keys::DeleteRootKeyRequest,
        data: Empty,
        shape: Object,
        needs: [DeleteRootKey],
        errors: [404],
        extension: true,
        summary: "Delete a root key (keyward extension)",
        description: "Deletes a root key; it is refused from the moment this returns. Needs `rootkey.*.delete_root_key`.",
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
}

/// `GET /v2/liveness`: answers while the server is up; needs no root key.
pub const LIVENESS: &Operation = &Operation {
    name: "liveness",
    path: "/v2/liveness",
    method: Method::Get,
    group: "liveness",
    summary: "Liveness",
    description: "Answers while the server is up. Needs no root key.",
    authenticated: false,
    needs: &[],
    errors: &[],
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
