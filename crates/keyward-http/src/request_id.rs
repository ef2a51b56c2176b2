//! Request ids (`req_…`) and the per-request middleware that assigns them.
//!
//! The id lives in a task-local for the duration of the request, so every response builder and
//! error (including extractor rejections, which never see the handler) can put it in `meta`.
//! Next to it sit the client's address (for the audit log; kept here rather than as a request
//! extension, whose map would be allocated on every request just for it) and the one request
//! header errors depend on: whether the client prefers `application/problem+json`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::ACCEPT;
use axum::response::Response;

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
/// A hand-written tower service rather than `axum::middleware::from_fn`, which boxes the inner
/// service into a `Next` (a clone and an allocation per request) on top of boxing the future.
#[derive(Clone)]
pub struct PerRequest<S> {
    pub inner: S,
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
    peer: Option<SocketAddr>,
}

/// Makes one [`PerRequest`] per accepted connection, recording the client's address.
#[derive(Clone)]
pub struct PerConnection<S> {
    pub inner: S,
    pub app: crate::app::AppState,
}

impl<S: Clone> tower::Service<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for PerConnection<S>
{
    type Response = PerRequest<S>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<PerRequest<S>, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(
        &mut self,
        stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>,
    ) -> Self::Future {
        std::future::ready(Ok(PerRequest {
            inner: self.inner.clone(),
            connection: Arc::new(Connection {
                app: self.app.clone(),
                peer: Some(*stream.remote_addr()),
            }),
        }))
    }
}

impl<S> tower::Service<Request> for PerRequest<S>
where
    S: tower::Service<Request, Response = Response, Error = std::convert::Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response, std::convert::Infallible>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
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
            peer: connection.peer,
        };
        let future = CONTEXT.sync_scope(context, || self.inner.call(request));
        Box::pin(async move {
            let Ok(response) = CONTEXT.scope(context, future).await;
            let elapsed = started.elapsed();
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
