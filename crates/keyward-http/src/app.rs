//! Shared state of a running server.

use std::sync::Arc;

use axum::body::Bytes;
use keyward_core::Keyward;

use crate::metrics::Metrics;

/// Everything a request may need. Handlers receive it as [`AppState`].
pub struct App {
    /// The logic layer: database, caches, counters.
    pub keyward: Arc<Keyward>,
    pub metrics: Metrics,
    /// The OpenAPI document, serialized once at startup.
    pub openapi_json: Bytes,
}

pub type AppState = Arc<App>;

impl App {
    /// The metrics text: routes, verification outcomes, caches and the invalidation channel.
    pub fn render_metrics(&self) -> String {
        let mut out = self
            .metrics
            .render(&self.keyward.verifications, &self.keyward.cache_stats());
        crate::metrics::render_ratelimits(&mut out, &self.keyward.limiter);
        crate::metrics::render_group_commits(&mut out, &self.keyward.group_commit_stats());
        crate::metrics::render_invalidation(&mut out, &self.keyward);
        out
    }
}
