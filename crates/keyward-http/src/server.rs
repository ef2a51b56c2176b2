//! Starting and stopping a server.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use keyward_core::Keyward;
use keyward_core::bootstrap::bootstrap;
use keyward_core::last_used::LastUsed;
use keyward_core::nodes;
use keyward_store::Db;
use keyward_types::operations;

use crate::app::{App, AppState};
use crate::config::ServeConfig;
use crate::connection;
use crate::metrics::Metrics;
use crate::router::{self, OPERATIONAL_ROUTES};

/// A running server. Dropping it leaves the server running; call [`Server::shutdown`].
pub struct Server {
    local_addr: SocketAddr,
    app: AppState,
    stop: Option<oneshot::Sender<()>>,
    serving: JoinHandle<()>,
    /// Writes `lastUsedAt` marks every flush period ([`LastUsed::run_flusher`]).
    flusher: JoinHandle<()>,
    /// Hears the other nodes' invalidations (PostgreSQL only; [`keyward_core::nodes`]).
    invalidations: Option<nodes::Listener>,
    /// Stops the refill job and the limiter's housekeeping.
    stop_background: tokio::sync::watch::Sender<bool>,
    /// The credit refills ([`keyward_core::refill::run_every`]) and the rate limiter's
    /// housekeeping ([`keyward_core::ratelimit::checkpoint::run_every`]).
    background: Vec<JoinHandle<()>>,
}

impl Server {
    /// Opens the database (applying migrations), bootstraps an empty one, binds the listener and
    /// starts serving in the background.
    pub async fn start(config: ServeConfig) -> anyhow::Result<Server> {
        let db = Db::open(
            config.database_url.as_deref(),
            &config.data_dir,
            &config.pool_options(),
        )
        .await?;
        let pool = config.pool_options();
        tracing::info!(
            backend = ?db.kind(),
            db_max_connections = pool.max_connections,
            db_acquire_timeout_ms = pool.acquire_timeout.as_millis(),
            db_statement_timeout_ms = pool.statement_timeout.as_millis(),
            "database open"
        );
        let keyward = Keyward::new(db, &config.core_config());
        // Before the first request: a node on PostgreSQL serves from its caches only while it
        // hears the other nodes' changes.
        let invalidations = nodes::start(&keyward).await;
        bootstrap(
            &keyward,
            &config.data_dir,
            config.bootstrap_root_key.as_deref(),
        )
        .await?;

        let api = router::api_routes();
        let metrics = Metrics::new(
            operations::ALL
                .iter()
                .chain([&operations::LIVENESS])
                .map(|op| op.path)
                .chain(OPERATIONAL_ROUTES),
        );
        let openapi_json = Bytes::from(
            serde_json::to_vec_pretty(&keyward_types::openapi::document_json())
                .context("cannot render the OpenAPI document")?,
        );
        let app = Arc::new(App {
            keyward: keyward.clone(),
            metrics,
            openapi_json,
        });
        // The limiter's long windows as the last process left them, before anything is counted.
        let restored = keyward_core::ratelimit::checkpoint::restore(
            &keyward.db,
            &keyward.limiter,
            keyward.clock.now(),
        )
        .await
        .context("cannot read the rate limiter's checkpoint")?;
        if restored > 0 {
            tracing::info!(counters = restored, "rate-limit counters restored");
        }
        let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
        let background = vec![
            tokio::spawn(keyward_core::refill::run_every(
                keyward.clone(),
                config.refill_interval,
                background_stopped.clone(),
            )),
            tokio::spawn(keyward_core::ratelimit::checkpoint::run_every(
                keyward.clone(),
                config.ratelimit_housekeeping,
                background_stopped,
            )),
        ];
        let flusher = tokio::spawn(LastUsed::run_flusher(keyward));

        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let local_addr = listener.local_addr()?;
        let connections = router::router(api, app.clone());
        let limits = connection::Limits {
            header_timeout: config.header_timeout,
            body_timeout: config.body_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: connection::fit_descriptor_limit(config.max_connections),
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let serving = tokio::spawn(connection::serve(
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
            invalidations,
            stop_background,
            background,
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
    /// marks and the rate limiter's checkpoint, and closes the database (checkpointing its write-ahead log).
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.serving)
            .await
            .context("the server task failed")?;
        // Stops listening (no request is left to serve from the caches).
        drop(self.invalidations.take());
        // The flusher writes the marks of the requests just finished, then ends.
        self.app.keyward.last_used.stop();
        (&mut self.flusher)
            .await
            .context("the last-used flusher failed")?;
        // The refills and the housekeeping stop; the last checkpoint of the limiter's counters
        // is written once no request can count any more.
        let _ = self.stop_background.send(true);
        for task in self.background.drain(..) {
            task.await.context("a background task failed")?;
        }
        let keyward = &self.app.keyward;
        keyward_core::ratelimit::checkpoint::save(
            &keyward.db,
            &keyward.limiter,
            keyward.clock.now(),
        )
        .await
        .context("cannot write the rate limiter's checkpoint")?;
        self.app.keyward.db.close().await;
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
