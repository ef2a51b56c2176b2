//! Server settings. The binary fills them from flags and `KEYWARD_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Address to listen on; port 0 picks a free port (tests).
    pub listen: SocketAddr,
    /// Directory of the embedded database and the bootstrap root key file.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…` instead of `<data_dir>/keyward.db`.
    pub database_url: Option<String>,
    /// Most database connections open at once (PostgreSQL; SQLite's readers, at most 4).
    pub db_max_connections: u32,
    /// How long a request waits for a database connection before it is answered 503.
    pub db_acquire_timeout: Duration,
    /// How long one statement may take, lock waits included, before it is cancelled (503).
    pub db_statement_timeout: Duration,
    /// The bootstrap root key to create on an empty database instead of a random one.
    pub bootstrap_root_key: Option<String>,
    /// Most keys (and, separately, root keys) held in the verification cache.
    pub cache_capacity: usize,
    /// Age after which a cached entry is refreshed in the background (and past twice this,
    /// reloaded before answering). Changes made through keyward invalidate at once; this bounds
    /// only changes made behind its back.
    pub cache_ttl: Duration,
    /// How often keys' `lastUsedAt` marks are written to the database (each write spread over
    /// up to half this period). This node's reads are exact to the second regardless; other
    /// nodes, and this one after a `kill -9`, lag by up to this much.
    pub last_used_flush: Duration,
    /// Longest a client may take to send a request's head, from the connection's start or the
    /// first byte of the request. Past it the connection is closed.
    pub header_timeout: Duration,
    /// Longest a client may take to send a request's body once its head is in. Past it the
    /// request is answered 408 and the connection closed.
    pub body_timeout: Duration,
    /// Longest a keep-alive connection may stay open between a response being ready and the
    /// next request's first byte (so it also bounds how long a client may take to read a
    /// response). Past it the connection is closed.
    pub idle_timeout: Duration,
    /// Most connections served at once; further ones wait in the listen queue until one closes.
    pub max_connections: usize,
    /// How often credit refills are looked for (`keyward_core::refill`).
    pub refill_interval: std::time::Duration,
    /// How often the rate limiter forgets idle counters and checkpoints its long windows.
    pub ratelimit_housekeeping: std::time::Duration,
    /// The time of the rate limiter and the refills: the system's. Only code embedding the
    /// server (tests) sets another; no flag or variable reaches it.
    pub clock: keyward_core::time::Clock,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data_dir: PathBuf::from("keyward-data"),
            database_url: None,
            db_max_connections: keyward_store::PoolOptions::default().max_connections,
            db_acquire_timeout: keyward_store::PoolOptions::default().acquire_timeout,
            db_statement_timeout: keyward_store::PoolOptions::default().statement_timeout,
            bootstrap_root_key: None,
            cache_capacity: 1_000_000,
            cache_ttl: Duration::from_secs(600),
            last_used_flush: Duration::from_secs(300),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            refill_interval: Duration::from_secs(60),
            ratelimit_housekeeping: Duration::from_secs(60),
            clock: keyward_core::time::Clock::system(),
        }
    }
}

impl ServeConfig {
    /// The settings of the logic layer.
    pub fn core_config(&self) -> keyward_core::CoreConfig {
        keyward_core::CoreConfig {
            cache_capacity: self.cache_capacity,
            cache_ttl: self.cache_ttl,
            last_used_flush: self.last_used_flush,
            clock: self.clock.clone(),
        }
    }

    /// The database connection settings.
    pub fn pool_options(&self) -> keyward_store::PoolOptions {
        keyward_store::PoolOptions {
            max_connections: self.db_max_connections,
            acquire_timeout: self.db_acquire_timeout,
            statement_timeout: self.db_statement_timeout,
        }
    }
}
