//! `keyward serve`

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RatelimitEngine {
    Memory,
    Database,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RatelimitOnUnavailable {
    Open,
    Closed,
}

#[derive(Debug, clap::Args)]
#[command(
    after_help = "On first start against an empty database keyward creates a workspace and a root key \
holding every permission. Set KEYWARD_BOOTSTRAP_ROOT_KEY (16+ characters) to choose that key; otherwise \
one is generated, printed once to stderr and saved to <data-dir>/bootstrap-root-key (mode 0600)."
)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEYWARD_LISTEN", default_value = "127.0.0.1:7070")]
    pub listen: SocketAddr,
    /// Directory of the embedded SQLite database and the bootstrap root key file.
    #[arg(long, env = "KEYWARD_DATA_DIR", default_value = "./keyward-data")]
    pub data_dir: PathBuf,
    /// Database URL instead of the embedded default, e.g. sqlite:///var/lib/keyward/keyward.db
    /// or postgres://keyward@db.internal:5432/keyward (keyward applies its migrations at start).
    #[arg(long, env = "KEYWARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Most database connections open at once: PostgreSQL's pool; on SQLite, the readers beside
    /// its one writer (at most 4).
    #[arg(long, env = "KEYWARD_DB_MAX_CONNECTIONS", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub db_max_connections: u32,
    /// Milliseconds a request waits for a database connection (connecting included) before it is
    /// answered 503 with Retry-After: how long a request can hang on an unreachable or exhausted
    /// database.
    #[arg(long, env = "KEYWARD_DB_ACQUIRE_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub db_acquire_timeout_ms: u64,
    /// Milliseconds one database statement may take, waiting for locks included, before it is
    /// cancelled and the request answered 503 (PostgreSQL's statement_timeout; on SQLite, the
    /// wait for its write lock).
    #[arg(long, env = "KEYWARD_DB_STATEMENT_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub db_statement_timeout_ms: u64,
    /// Most keys held in the verification cache.
    #[arg(long, env = "KEYWARD_CACHE_CAPACITY", default_value_t = 1_000_000)]
    pub cache_capacity: usize,
    /// Seconds after which a cached key is refreshed from the database in the background (it is
    /// reloaded before answering past twice this). Changes made through keyward take effect at
    /// once regardless; this bounds only edits made to the database directly.
    #[arg(long, env = "KEYWARD_CACHE_TTL_SECS", default_value_t = 600)]
    pub cache_ttl_secs: u64,
    /// Seconds between writes of keys' lastUsedAt to the database (never on the verification
    /// path; each write is spread over up to half the period). This server's answers are exact to
    /// the second regardless; servers sharing the database lag by up to this much.
    #[arg(long, env = "KEYWARD_LAST_USED_FLUSH_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub last_used_flush_secs: u64,
    /// Seconds a client may take to send a request's head (request line and headers), counted
    /// from the connection's start or the request's first byte; the connection is then closed.
    #[arg(long, env = "KEYWARD_HEADER_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub header_timeout_secs: u64,
    /// Seconds a client may take to send a request's body once its head is in; the request is
    /// then answered 408 and the connection closed.
    #[arg(long, env = "KEYWARD_BODY_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub body_timeout_secs: u64,
    /// Seconds a keep-alive connection may stay idle between a response and the next request
    /// (this also bounds how long a client may take to read a response); it is then closed.
    #[arg(long, env = "KEYWARD_IDLE_TIMEOUT_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idle_timeout_secs: u64,
    /// Most connections served at once; further ones wait in the listen queue until one closes.
    #[arg(long, env = "KEYWARD_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Where rate-limit counts live: `database` (shared by every node on the database, exact however
    /// many serve a limit; a statement per limited request) or `memory` (this process: no I/O,
    /// exact for one node, but each node admits up to the limit). Default: database on
    /// PostgreSQL, memory on SQLite (one process).
    #[arg(long, env = "KEYWARD_RATELIMIT_ENGINE", value_enum)]
    pub ratelimit_engine: Option<RatelimitEngine>,
    /// What a rate-limit decision does when the database engine cannot reach its counts:
    /// `closed` answers 503 (a limit never admits more than it allows), `open` admits (logged,
    /// and counted in /metrics).
    #[arg(
        long,
        env = "KEYWARD_RATELIMIT_ON_UNAVAILABLE",
        value_enum,
        default_value = "closed"
    )]
    pub ratelimit_on_unavailable: RatelimitOnUnavailable,
    /// Log format on stderr. The level is set by RUST_LOG (default: info).
    #[arg(long, env = "KEYWARD_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
}
