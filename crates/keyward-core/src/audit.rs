//! Audit events: who changed what, recorded in the same transaction as the change.
//!
//! Services call [`record`] with the open [`Tx`] of the mutation, so an event exists exactly
//! when its change committed. Event names follow Unkey's (`key.create`, `api.delete`, …).

use keyward_types::audit_logs::{AuditActor, AuditLog, AuditTarget};

use crate::auth::Caller;
use crate::http::request_id;
use crate::key_material::new_id;
use crate::store::audit::AuditRow;
use crate::store::{self, StoreResult, Tx};
use crate::time::now_ms;

/// Who performs a change.
#[derive(Debug, Clone)]
pub struct Actor {
    kind: &'static str,
    id: String,
    name: Option<String>,
    remote_ip: Option<String>,
    user_agent: Option<String>,
}

impl Actor {
    /// keyward itself (bootstrap, scheduled jobs).
    pub fn system() -> Actor {
        Actor {
            kind: "system",
            id: "keyward".into(),
            name: None,
            remote_ip: None,
            user_agent: None,
        }
    }
}

impl From<&Caller> for Actor {
    fn from(caller: &Caller) -> Actor {
        Actor {
            kind: "rootKey",
            id: caller.root_key.id.clone(),
            name: caller.root_key.name.clone(),
            remote_ip: caller.remote_ip.map(|addr| addr.ip().to_string()),
            user_agent: caller
                .user_agent
                .as_ref()
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        }
    }
}

/// A resource a change touched.
pub fn target(kind: &str, id: &str, name: Option<&str>) -> AuditTarget {
    AuditTarget {
        target_type: kind.to_owned(),
        id: id.to_owned(),
        name: name.map(str::to_owned),
        meta: None,
    }
}

/// Writes one event into `tx`.
pub async fn record(
    tx: &mut Tx,
    actor: &Actor,
    workspace_id: &str,
    event: &str,
    description: String,
    targets: Vec<AuditTarget>,
) -> StoreResult<()> {
    let target_ids: Vec<&str> = targets.iter().map(|t| t.id.as_str()).collect();
    let row = AuditRow {
        id: new_id("log"),
        workspace_id: workspace_id.to_owned(),
        time: now_ms(),
        event: event.to_owned(),
        description,
        actor_type: actor.kind.to_owned(),
        actor_id: actor.id.clone(),
        actor_name: actor.name.clone(),
        remote_ip: actor.remote_ip.clone(),
        user_agent: actor.user_agent.clone(),
        request_id: Some(request_id::current()),
        targets: serde_json::to_string(&targets).expect("audit targets serialize"),
    };
    store::audit::insert(tx, &row, &target_ids).await
}

/// The wire form of a stored event.
pub fn to_wire(row: AuditRow) -> AuditLog {
    AuditLog {
        targets: serde_json::from_str(&row.targets).unwrap_or_default(),
        id: row.id,
        time: row.time,
        workspace_id: row.workspace_id,
        event: row.event,
        description: row.description,
        actor: AuditActor {
            actor_type: row.actor_type,
            id: row.actor_id,
            name: row.actor_name,
        },
        remote_ip: row.remote_ip,
        user_agent: row.user_agent,
        request_id: row.request_id,
    }
}
