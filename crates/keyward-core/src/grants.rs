//! What a key holds: its permissions (direct and through its roles) and its roles, resolved once
//! from the store's rows ([`keyward_store::rbac::grants_of_keys`]) when the key is loaded — into
//! the verification cache, or for getKey, whoami and listKeys.

use std::collections::{BTreeSet, HashMap, HashSet};

use keyward_store::rbac::KeyGrant;

/// A key's grants, resolved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyGrants {
    /// Slugs of every permission, direct or through a role, sorted and without duplicates.
    pub permissions: Vec<String>,
    /// Names of the roles, sorted.
    pub roles: Vec<String>,
    /// Ids of every permission the key holds either way, sorted: a change to any of them
    /// changes what the key may do.
    pub permission_ids: Vec<String>,
    /// Ids of the key's roles, sorted.
    pub role_ids: Vec<String>,
}

impl KeyGrants {
    pub fn is_empty(&self) -> bool {
        self.permissions.is_empty() && self.roles.is_empty()
    }

    /// The slugs as a set, for the permission query.
    pub fn permission_set(&self) -> HashSet<String> {
        self.permissions.iter().cloned().collect()
    }

    /// The permissions as an answer lists them: absent when there are none (as Unkey answers).
    pub fn listed_permissions(&self) -> Option<Vec<String>> {
        (!self.permissions.is_empty()).then(|| self.permissions.clone())
    }

    pub fn listed_roles(&self) -> Option<Vec<String>> {
        (!self.roles.is_empty()).then(|| self.roles.clone())
    }
}

/// Groups the store's rows by key.
pub fn by_key(rows: Vec<KeyGrant>) -> HashMap<String, KeyGrants> {
    #[derive(Default)]
    struct Sets {
        permissions: BTreeSet<String>,
        roles: BTreeSet<String>,
        permission_ids: BTreeSet<String>,
        role_ids: BTreeSet<String>,
    }
    let mut sets: HashMap<String, Sets> = HashMap::new();
    for row in rows {
        let entry = sets.entry(row.key_id).or_default();
        match (row.permission_id, row.role_id) {
            (Some(permission_id), _) => {
                entry.permissions.insert(row.name);
                entry.permission_ids.insert(permission_id);
            }
            (None, Some(role_id)) => {
                entry.roles.insert(row.name);
                entry.role_ids.insert(role_id);
            }
            (None, None) => {}
        }
    }
    sets.into_iter()
        .map(|(key_id, s)| {
            (
                key_id,
                KeyGrants {
                    permissions: s.permissions.into_iter().collect(),
                    roles: s.roles.into_iter().collect(),
                    permission_ids: s.permission_ids.into_iter().collect(),
                    role_ids: s.role_ids.into_iter().collect(),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, role: Option<&str>, permission: Option<&str>, name: &str) -> KeyGrant {
        KeyGrant {
            key_id: key.into(),
            role_id: role.map(Into::into),
            permission_id: permission.map(Into::into),
            name: name.into(),
        }
    }

    #[test]
    fn direct_and_role_permissions_merge_once() {
        let grouped = by_key(vec![
            row("key_1", None, Some("perm_b"), "b.read"),
            row("key_1", Some("role_1"), Some("perm_b"), "b.read"),
            row("key_1", Some("role_1"), Some("perm_a"), "a.read"),
            row("key_1", Some("role_1"), None, "reader"),
            row("key_2", Some("role_2"), None, "empty"),
        ]);
        let one = &grouped["key_1"];
        assert_eq!(one.permissions, vec!["a.read", "b.read"]);
        assert_eq!(one.permission_ids, vec!["perm_a", "perm_b"]);
        assert_eq!(one.roles, vec!["reader"]);
        assert_eq!(one.role_ids, vec!["role_1"]);
        let two = &grouped["key_2"];
        assert_eq!(two.listed_permissions(), None);
        assert_eq!(two.listed_roles(), Some(vec!["empty".to_string()]));
        assert!(!grouped.contains_key("key_3"));
    }
}
