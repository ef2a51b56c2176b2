//! Request ids (`req_…`) and the per-request middleware that assigns them.
//!
//! The id lives in a task-local for the duration of the request, so every response builder and
//! error (including extractor rejections, which never see the handler) can put it in `meta`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

use crate::key_material::new_id;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| new_id("req"))
}

/// Runs `future` as the request `id`.
pub async fn scope<F: std::future::Future>(id: String, future: F) -> F::Output {
    REQUEST_ID.scope(id, future).await
}

/// Assigns the request id, and records the request in the log and the metrics. Bodies and
/// headers are never logged: they carry keys.
pub async fn middleware(
    metrics: &crate::metrics::Metrics,
    request: Request,
    next: Next,
) -> Response {
    let id = new_id("req");
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = scope(id.clone(), next.run(request)).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    metrics.record_request(&route, status, elapsed);
    tracing::debug!(
        request_id = %id,
        %method,
        route,
        status,
        micros = elapsed.as_micros() as u64,
        "request"
    );
    response
}
