//! Root-key permission strings in Unkey's legacy tuple form: `<resource>.<id>.<action>`.
//!
//! `<id>` is `*` (every resource of that type in the workspace) or one concrete id
//! (`api.api_123.delete_key`). A grant is matched by exact string membership, as in Unkey:
//! `api.*.delete_key` is a literal permission, not a glob, and an endpoint accepts any of a small
//! set of strings (`api.*.delete_key` or `api.<apiId>.delete_key`).

/// The actions of each resource type. Instance-level types (`workspace`, `rootkey`, `auditlog`)
/// are keyward's extensions.
pub const CATALOG: &[(&str, &[&str])] = &[
    (
        "api",
        &[
            "create_api",
            "read_api",
            "update_api",
            "delete_api",
            "create_key",
            "read_key",
            "update_key",
            "delete_key",
            "encrypt_key",
            "decrypt_key",
            "verify_key",
            "read_analytics",
        ],
    ),
    (
        "ratelimit",
        &[
            "limit",
            "create_namespace",
            "read_namespace",
            "update_namespace",
            "delete_namespace",
            "set_override",
            "read_override",
            "delete_override",
            "list_overrides",
            "read_analytics",
        ],
    ),
    (
        "rbac",
        &[
            "create_permission",
            "read_permission",
            "update_permission",
            "delete_permission",
            "create_role",
            "read_role",
            "update_role",
            "delete_role",
            "add_permission_to_key",
            "remove_permission_from_key",
            "add_role_to_key",
            "remove_role_from_key",
            "add_permission_to_role",
            "remove_permission_from_role",
        ],
    ),
    (
        "identity",
        &[
            "create_identity",
            "read_identity",
            "update_identity",
            "delete_identity",
        ],
    ),
    (
        "rootkey",
        &["create_root_key", "read_root_key", "delete_root_key"],
    ),
    ("auditlog", &["read_audit_log"]),
    ("workspace", &["create_workspace"]),
];

/// Resource types whose permissions only make sense on the instance's bootstrap key: they act
/// beyond one workspace, so a workspace's own root keys never receive them.
pub const INSTANCE_LEVEL: &[&str] = &["workspace"];

/// Why a permission string is not one keyward knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PermissionError {
    Shape,
    UnknownResource(String),
    UnknownAction { resource: String, action: String },
    BadId,
}

impl std::fmt::Display for PermissionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PermissionError::Shape => {
                f.write_str("must have the form <resource>.<id or *>.<action>")
            }
            PermissionError::UnknownResource(r) => write!(f, "unknown resource type '{r}'"),
            PermissionError::UnknownAction { resource, action } => {
                write!(
                    f,
                    "unknown action '{action}' for resource type '{resource}'"
                )
            }
            PermissionError::BadId => {
                f.write_str("the id must be '*' or letters, digits and underscores")
            }
        }
    }
}

/// Checks that `permission` is a well-formed tuple of a known resource type and action.
pub fn check(permission: &str) -> Result<(), PermissionError> {
    let mut parts = permission.split('.');
    let (Some(resource), Some(id), Some(action), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(PermissionError::Shape);
    };
    let Some((_, actions)) = CATALOG.iter().find(|(r, _)| *r == resource) else {
        return Err(PermissionError::UnknownResource(resource.to_string()));
    };
    if !actions.contains(&action) {
        return Err(PermissionError::UnknownAction {
            resource: resource.to_string(),
            action: action.to_string(),
        });
    }
    if id != "*" && (id.is_empty() || !id.chars().all(crate::validate::charset::id)) {
        return Err(PermissionError::BadId);
    }
    Ok(())
}

/// A regular expression (JSON Schema's dialect) matching exactly the strings [`check`] accepts.
pub fn pattern() -> String {
    let resources: Vec<String> = CATALOG
        .iter()
        .map(|(resource, actions)| {
            format!(
                "{resource}\\.(?:\\*|[a-zA-Z0-9_]+)\\.(?:{})",
                actions.join("|")
            )
        })
        .collect();
    format!("^(?:{})$", resources.join("|"))
}

/// Every `<resource>.*.<action>` permission, optionally with the instance-level ones.
pub fn all_wildcards(include_instance_level: bool) -> Vec<String> {
    CATALOG
        .iter()
        .filter(|(resource, _)| include_instance_level || !INSTANCE_LEVEL.contains(resource))
        .flat_map(|(resource, actions)| actions.iter().map(move |a| format!("{resource}.*.{a}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_known_tuples() {
        assert_eq!(check("api.*.delete_key"), Ok(()));
        assert_eq!(check("api.api_123.verify_key"), Ok(()));
        assert_eq!(check("workspace.*.create_workspace"), Ok(()));
    }

    #[test]
    fn rejects_the_rest() {
        assert_eq!(check("api.delete_key"), Err(PermissionError::Shape));
        assert_eq!(check("api.*.x.y"), Err(PermissionError::Shape));
        assert!(matches!(
            check("apis.*.delete_key"),
            Err(PermissionError::UnknownResource(_))
        ));
        assert!(matches!(
            check("api.*.delete"),
            Err(PermissionError::UnknownAction { .. })
        ));
        assert_eq!(check("api.a-b.delete_key"), Err(PermissionError::BadId));
        assert_eq!(check("api..delete_key"), Err(PermissionError::BadId));
    }

    #[test]
    fn wildcards_cover_the_catalog() {
        let all = all_wildcards(true);
        assert!(all.contains(&"workspace.*.create_workspace".to_string()));
        assert!(!all_wildcards(false).contains(&"workspace.*.create_workspace".to_string()));
        assert!(all.iter().all(|p| check(p).is_ok()));
    }
}
