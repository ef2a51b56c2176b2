//! Shared state of a running server.

use std::sync::Arc;

use axum::body::Bytes;

use crate::auth::RootKeyRecord;
use crate::cache::KeyCache;
use crate::last_used::LastUsed;
use crate::metrics::Metrics;
use crate::store::Db;
use crate::verify::{CachedKey, SharedIds};

/// Everything a request may need. Handlers receive it as [`AppState`].
pub struct App {
    pub db: Db,
    /// Key hash → the key's verification record (or that no live key has this hash).
    pub keys: KeyCache<Arc<CachedKey>>,
    /// The workspace and API ids the cached keys share.
    pub shared_ids: Arc<SharedIds>,
    /// Root key hash → the root key (or that it is unknown or deleted).
    pub root_keys: KeyCache<Arc<RootKeyRecord>>,
    /// When keys were last used, waiting to be written.
    pub last_used: LastUsed,
    pub metrics: Metrics,
    /// The OpenAPI document, serialized once at startup.
    pub openapi_json: Bytes,
}

pub type AppState = Arc<App>;

impl App {
    /// The metrics text, including cache statistics.
    pub fn render_metrics(&self) -> String {
        self.metrics.render(&[
            ("keys", self.keys.stats()),
            ("root_keys", self.root_keys.stats()),
        ])
    }
}
