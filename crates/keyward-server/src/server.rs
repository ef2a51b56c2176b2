//! Starting and stopping a server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{App, AppState};
use crate::bootstrap::bootstrap;
use crate::cache::KeyCache;
use crate::config::ServeConfig;
use crate::http;
use crate::last_used::LastUsed;
use crate::metrics::Metrics;
use crate::store::Db;

/// A running server. Dropping it leaves the server running; call [`Server::shutdown`].
pub struct Server {
    local_addr: SocketAddr,
    app: AppState,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<()>,
    /// Writes `lastUsedAt` marks every flush period ([`LastUsed::run_flusher`]).
    flusher: JoinHandle<()>,
}

impl Server {
    /// Opens the database (applying migrations), bootstraps an empty one, binds the listener and
    /// starts serving in the background.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Server> {
        let db = Db::open(config.database_url.as_deref(), &config.data_dir).await?;
        bootstrap(&db, &config.data_dir, config.bootstrap_root_key.as_deref()).await?;

        let (api, openapi) = http::api_routes();
        let route_paths: Vec<String> = openapi.paths.paths.keys().cloned().collect();
        let metrics = Metrics::new(
            route_paths
                .iter()
                .map(String::as_str)
                .chain(http::OPERATIONAL_ROUTES),
        );
        let mut document =
            serde_json::to_value(&openapi).context("cannot render the OpenAPI document")?;
        http::openapi::complete(&mut document);
        let openapi_json = Bytes::from(
            serde_json::to_vec_pretty(&document).context("cannot render the OpenAPI document")?,
        );
        let app = Arc::new(App {
            db,
            keys: KeyCache::new(config.cache_capacity, config.cache_ttl),
            shared_ids: Default::default(),
            root_keys: KeyCache::new(config.cache_capacity.clamp(1, 100_000), config.cache_ttl),
            metrics,
            openapi_json,
            last_used: LastUsed::new(config.last_used_flush),
        });
        let flusher = tokio::spawn(LastUsed::run_flusher(app.clone()));

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let connections = http::router(api, app.clone());
        let limits = http::connection::Limits {
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: http::connection::fit_descriptor_limit(config.max_connections),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(http::connection::serve(
            listener,
            move |peer, activity| connections.connection(peer, activity),
            limits,
            async move {
                let _ = stopped.await;
            },
        ));
        tracing::info!(%local_addr, "keyward is serving");
        Ok(Server {
            local_addr,
            app,
            stop: Some(stop),
            serving,
            flusher,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<address>`, for clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    pub fn app(&self) -> &AppState {
        &self.app
    }

    /// Stops accepting connections, lets requests in flight finish, writes the last `lastUsedAt`
    /// marks, and closes the database (checkpointing its write-ahead log).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.serving)
            .await
            .context("the server task failed")?;
        // The flusher writes the marks of the requests just finished, then ends.
        self.app.last_used.stop();
        (&mut self.flusher)
            .await
            .context("the last-used flusher failed")?;
        self.app.db.close().await;
        tracing::info!("keyward stopped");
        Ok(())
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; finishing requests in flight");
        self.shutdown().await
    }
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).expect("cannot listen for SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}
