//! Request ids (`req_…`) and the per-request middleware that assigns them.
//!
//! The id lives in a task-local for the duration of the request, so every response builder and
//! error (including extractor rejections, which never see the handler) can put it in `meta`.
//! Next to it sits the one request header errors depend on: whether the client prefers
//! `application/problem+json`.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header::ACCEPT;
use axum::middleware::Next;
use axum::response::Response;

use crate::key_material::new_id;

struct RequestContext {
    id: String,
    problem_json: bool,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    CONTEXT
        .try_with(|c| c.id.clone())
        .unwrap_or_else(|_| new_id("req"))
}

/// Whether errors should be sent as `application/problem+json`: as Unkey does, when the client's
/// `Accept` names it, `application/*` or `*/*` (curl's default). SDKs send `application/json`.
pub fn problem_json_preferred() -> bool {
    CONTEXT.try_with(|c| c.problem_json).unwrap_or(false)
}

fn prefers_problem_json(accept: Option<&HeaderValue>) -> bool {
    let Some(accept) = accept.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    accept.split(',').any(|range| {
        let media = range.split(';').next().unwrap_or_default().trim();
        matches!(media, "application/problem+json" | "application/*" | "*/*")
    })
}

/// Runs `future` as the request `id`.
pub async fn scope<F: std::future::Future>(id: String, future: F) -> F::Output {
    CONTEXT
        .scope(
            RequestContext {
                id,
                problem_json: false,
            },
            future,
        )
        .await
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
    let problem_json = prefers_problem_json(request.headers().get(ACCEPT));
    let context = RequestContext {
        id: id.clone(),
        problem_json,
    };
    let response = CONTEXT.scope(context, next.run(request)).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_json_follows_the_accept_header() {
        let preferred = |v: &'static str| prefers_problem_json(Some(&HeaderValue::from_static(v)));
        assert!(preferred("*/*"));
        assert!(preferred("application/problem+json"));
        assert!(preferred("text/html, application/*;q=0.8"));
        assert!(!preferred("application/json"));
        assert!(!prefers_problem_json(None));
    }
}
