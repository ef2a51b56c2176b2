//! Request ids (`req_…`) and the per-request middleware that assigns them.
//!
//! The id lives in a task-local for the duration of the request, so every response builder and
//! error (including extractor rejections, which never see the handler) can put it in `meta`.
//! Next to it sit the client's address (for the audit log; kept here rather than as a request
//! extension, whose map would be allocated on every request just for it) and the one request
//! header errors depend on: whether the client prefers `application/problem+json`.

use std::cell::RefCell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, HttpBody};
use axum::http::header::{ACCEPT, CONNECTION};
use axum::http::{HeaderValue, Request};
use axum::response::Response;
use hyper::body::Incoming;

use crate::connection::{Activity, WatchedBody};
use keyward_core::key_material::RequestId;

#[derive(Clone, Copy)]
struct RequestContext {
    id: RequestId,
    problem_json: bool,
    peer: Option<SocketAddr>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

/// The id of the request being served, or a fresh one outside a request.
pub fn current() -> String {
    CONTEXT
        .try_with(|c| c.id.as_str().to_owned())
        .unwrap_or_else(|_| RequestId::new().as_str().to_owned())
}

/// The address of the client of the request being served.
pub fn peer() -> Option<SocketAddr> {
    CONTEXT.try_with(|c| c.peer).ok().flatten()
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
                id: RequestId::from_text(&id).unwrap_or_default(),
                problem_json: false,
                peer: None,
            },
            future,
        )
        .await
}

/// Assigns the request id, and records the request in the log and the metrics. Bodies and
/// headers are never logged: they carry keys.
///
/// A hand-written hyper service rather than `axum::middleware::from_fn`, which boxes the inner
/// service into a `Next` (a clone and an allocation per request) on top of boxing the future.
/// It also keeps its connection's [`Activity`] (the timeouts of [`super::connection`]) up to date.
pub struct PerRequest {
    /// This connection's copy of the router. `tower::Service::call` takes `&mut self` where
    /// hyper's takes `&self`; a cell costs a flag check, where cloning the router per request
    /// would move the count of its server-wide `Arc` between cores on every request.
    router: RefCell<Router>,
    connection: Arc<Connection>,
}

/// What every request of one connection shares. Each request's future holds it (to record the
/// metrics once the response is ready) through this per-connection `Arc` rather than the
/// server-wide `AppState`: a connection's requests run one after another on one worker, so this
/// count stays in that core's cache, where the server-wide one would travel between cores twice
/// per request.
struct Connection {
    app: crate::app::AppState,
    /// The client's address.
    peer: SocketAddr,
    activity: Arc<Activity>,
}

/// Makes one [`PerRequest`] per accepted connection, recording the client's address.
#[derive(Clone)]
pub struct PerConnection {
    pub router: Router,
    pub app: crate::app::AppState,
}

impl PerConnection {
    /// The service of the connection from `peer`, whose phases `activity` tracks.
    pub fn connection(&self, peer: SocketAddr, activity: Arc<Activity>) -> PerRequest {
        PerRequest {
            router: RefCell::new(self.router.clone()),
            connection: Arc::new(Connection {
                app: self.app.clone(),
                peer,
                activity,
            }),
        }
    }
}

impl hyper::service::Service<Request<Incoming>> for PerRequest {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let id = RequestId::new();
        let started = Instant::now();
        let method = request.method().clone();
        let connection = Arc::clone(&self.connection);
        // A cheap clone (the path shares the request's buffer), read once the request is done.
        let uri = request.uri().clone();
        let problem_json = prefers_problem_json(request.headers().get(ACCEPT));
        let context = RequestContext {
            id,
            problem_json,
            peer: Some(connection.peer),
        };
        let has_body = !request.body().is_end_stream();
        connection.activity.request_started(has_body);
        // `Body::new` boxes the body either way; an empty one (a ZST) needs no allocation.
        let request = request.map(|body| {
            if has_body {
                Body::new(WatchedBody::new(body, Arc::clone(&connection.activity)))
            } else {
                Body::empty()
            }
        });
        let future = CONTEXT.sync_scope(context, || {
            tower::Service::call(&mut *self.router.borrow_mut(), request)
        });
        Box::pin(async move {
            let Ok(mut response) = CONTEXT.scope(context, future).await;
            let finished = Instant::now();
            if connection.activity.response_ready(finished) {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            let elapsed = finished - started;
            let status = response.status().as_u16();
            // Every route is a fixed path, so the path names the route; unknown paths count as
            // "unmatched". (This runs outside the router, where there is no `MatchedPath`.)
            let app = &connection.app;
            let stats = app.metrics.route_stats(uri.path());
            app.metrics.record_route(stats, status, elapsed);
            tracing::debug!(
                request_id = id.as_str(),
                %method,
                route = app.metrics.route_name(uri.path()),
                status,
                micros = elapsed.as_micros() as u64,
                "request"
            );
            Ok(response)
        })
    }
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
