//! `GET /v2/liveness`

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LivenessResponseData {
    /// `OK` while the process serves requests with a working invalidation channel.
    pub message: String,
    /// The database this node runs on.
    pub database: DatabaseKind,
    /// Whether this node hears the other nodes' changes (see [`InvalidationState`]). A degraded
    /// node answers this endpoint 503 instead, so that a load balancer takes it out.
    pub invalidation: InvalidationState,
    /// This node's id: names its connections in PostgreSQL's `pg_stat_activity`
    /// (`keyward-listener <node>`) and its invalidation messages.
    pub node: String,
}

/// Which database a node runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

/// How a node learns of changes made through other nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvalidationState {
    /// SQLite: one process serves the database, so there is nobody to hear from.
    Local,
    /// PostgreSQL, listening: every node's invalidations reach this node's caches.
    Subscribed,
    /// PostgreSQL, not listening (the channel was lost and is being restored): the caches are
    /// bypassed, so answers are still current, read from the database each time.
    Degraded,
}

impl InvalidationState {
    pub fn as_str(self) -> &'static str {
        match self {
            InvalidationState::Local => "local",
            InvalidationState::Subscribed => "subscribed",
            InvalidationState::Degraded => "degraded",
        }
    }
}
