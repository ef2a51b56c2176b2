//! Audit events: who changed what, recorded in the same transaction as the change.
//!
//! A mutation names its events with [`Event`] and their targets with [`TargetKind`] through
//! [`crate::work::Work::audit`]; the unit of work writes them in its transaction, so an event
//! exists exactly when its change committed. Event names follow Unkey's (`key.create`,
//! `api.delete`, …).

use std::net::IpAddr;

use keyward_store::audit::{AuditRecord, NewAuditEvent};
use keyward_types::audit_logs::{AuditActor, AuditLog, AuditTarget};

use crate::auth::Caller;
use crate::key_material::new_id;
use crate::time::now_ms;

macro_rules! names {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant,)* }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The name as stored and shown in the audit log.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

names! {
    /// What happened.
    Event {
        WorkspaceCreate => "workspace.create",
        ApiCreate => "api.create",
        ApiUpdate => "api.update",
        ApiDelete => "api.delete",
        KeyCreate => "key.create",
        KeyUpdate => "key.update",
        KeyReroll => "key.reroll",
        KeyDelete => "key.delete",
        RootKeyCreate => "rootKey.create",
        RootKeyDelete => "rootKey.delete",
        PermissionCreate => "permission.create",
        PermissionUpdate => "permission.update",
        PermissionDelete => "permission.delete",
        RoleCreate => "role.create",
        RoleUpdate => "role.update",
        RoleDelete => "role.delete",
        ConnectRoleAndPermission => "authorization.connect_role_and_permission",
        DisconnectRoleAndPermissions => "authorization.disconnect_role_and_permissions",
        ConnectRoleAndKey => "authorization.connect_role_and_key",
        DisconnectRoleAndKey => "authorization.disconnect_role_and_key",
        ConnectPermissionAndKey => "authorization.connect_permission_and_key",
        DisconnectPermissionAndKey => "authorization.disconnect_permission_and_key",
        IdentityCreate => "identity.create",
        IdentityUpdate => "identity.update",
        IdentityDelete => "identity.delete",
        RootKeyUpdate => "rootKey.update",
        RootKeyReroll => "rootKey.reroll",
        RatelimitNamespaceCreate => "ratelimitNamespace.create",
        RatelimitSetOverride => "ratelimit.set_override",
        RatelimitDeleteOverride => "ratelimit.delete_override",
    }
}

names! {
    /// What kind of thing an event touched.
    TargetKind {
        Workspace => "workspace",
        Api => "api",
        Key => "key",
        RootKey => "rootKey",
        Permission => "permission",
        Role => "role",
        Identity => "identity",
        RatelimitNamespace => "ratelimitNamespace",
        RatelimitOverride => "ratelimitOverride",
    }
}

/// A thing an event touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: TargetKind,
    pub id: String,
    pub name: Option<String>,
}

impl Target {
    pub fn new(kind: TargetKind, id: &str, name: Option<&str>) -> Target {
        Target {
            kind,
            id: id.to_owned(),
            name: name.map(str::to_owned),
        }
    }
}

/// Where a request came from, for the audit log. Built by the HTTP edge for mutations only, so
/// verifications never pay for it.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub request_id: Option<String>,
    pub remote_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// Who performs a change: a root key from a request, or keyward itself.
#[derive(Debug, Clone)]
pub struct Actor {
    kind: &'static str,
    id: String,
    name: Option<String>,
    origin: Origin,
}

impl Actor {
    /// A root key, calling from `origin`.
    pub fn root_key(caller: &Caller, origin: Origin) -> Actor {
        Actor {
            kind: "rootKey",
            id: caller.root_key.id.clone(),
            name: caller.root_key.name.clone(),
            origin,
        }
    }

    /// keyward itself (bootstrap, scheduled jobs): no request, so no request id.
    pub fn system() -> Actor {
        Actor {
            kind: "system",
            id: "keyward".into(),
            name: None,
            origin: Origin::default(),
        }
    }

    /// The event `event` of this actor in `workspace_id`, as stored.
    pub(crate) fn record(
        &self,
        workspace_id: &str,
        event: Event,
        description: String,
        targets: Vec<Target>,
    ) -> NewAuditEvent {
        let wire: Vec<AuditTarget> = targets
            .iter()
            .map(|t| AuditTarget {
                target_type: t.kind.as_str().to_owned(),
                id: t.id.clone(),
                name: t.name.clone(),
                meta: None,
            })
            .collect();
        NewAuditEvent {
            record: AuditRecord {
                id: new_id("log"),
                workspace_id: workspace_id.to_owned(),
                time: now_ms(),
                event: event.as_str().to_owned(),
                description,
                actor_type: self.kind.to_owned(),
                actor_id: self.id.clone(),
                actor_name: self.name.clone(),
                remote_ip: self.origin.remote_ip.map(|ip| ip.to_string()),
                user_agent: self.origin.user_agent.clone(),
                request_id: self.origin.request_id.clone(),
                targets: serde_json::to_string(&wire).expect("audit targets serialize"),
            },
            target_ids: targets.into_iter().map(|t| t.id).collect(),
        }
    }
}

/// The wire form of a stored event.
pub fn to_wire(record: AuditRecord) -> AuditLog {
    AuditLog {
        targets: serde_json::from_str(&record.targets).unwrap_or_default(),
        id: record.id,
        time: record.time,
        workspace_id: record.workspace_id,
        event: record.event,
        description: record.description,
        actor: AuditActor {
            actor_type: record.actor_type,
            id: record.actor_id,
            name: record.actor_name,
        },
        remote_ip: record.remote_ip,
        user_agent: record.user_agent,
        request_id: record.request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unkeys() {
        assert_eq!(Event::KeyCreate.as_str(), "key.create");
        assert_eq!(Event::RootKeyDelete.to_string(), "rootKey.delete");
        assert_eq!(TargetKind::RootKey.as_str(), "rootKey");
        let mut names: Vec<&str> = Event::ALL.iter().map(|e| e.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Event::ALL.len(), "event names are unique");
    }

    #[test]
    fn system_events_carry_no_request_id() {
        let event = Actor::system().record(
            "ws_1",
            Event::WorkspaceCreate,
            "Created".into(),
            vec![Target::new(TargetKind::Workspace, "ws_1", Some("default"))],
        );
        assert_eq!(event.record.request_id, None);
        assert_eq!(event.record.actor_type, "system");
        assert_eq!(event.target_ids, vec!["ws_1".to_string()]);
    }
}
