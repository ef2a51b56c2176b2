//! keyward's storage: the only crate that speaks SQL, and the only one that names sqlx.
//!
//! [`Db`] hides which database backs keyward: the embedded SQLite by default, PostgreSQL for
//! several nodes. Queries are written once, in portable SQL (`$1` placeholders, `returning`,
//! `on conflict`), and run through the [`on_conn!`] macro, which expands the same body for each
//! backend's connection type — so every query is compiled against every backend it runs on. Where
//! the SQL must differ (locking reads, upserts), the macro takes one explicit arm per backend.
//!
//! Rules every module here follows:
//! - Reads return records (`…Record`); where a read joins more than an insert writes, the insert
//!   takes its own input type (`New…`). Updates take patches (`…Patch`) and write only the
//!   columns that changed, so no update rewrites a value it merely read (a concurrent change of
//!   another column is never lost).
//! - A value that must change atomically with a check (credits) changes in one statement.
//! - Every error is a [`StoreError`]: callers branch on not-found, conflict and unavailable, never
//!   on a driver's error type.
//!
//! Transactions: every mutation runs in one [`Tx`]. SQLite gets a single writer connection (SQLite
//! serializes writers anyway; one connection avoids `SQLITE_BUSY` upgrades) whose transactions
//! begin `IMMEDIATE`, taking the write lock at once so that a read inside a transaction is a
//! locking read; a pool of readers runs beside it in WAL mode. PostgreSQL locks the rows a
//! transaction reads for update with `select … for update`.

pub mod apis;
pub mod audit;
mod checkpoint;
pub mod copy;
pub mod identities;
pub mod keys;
pub mod notify;
pub mod patch;
pub mod private_files;
pub mod ratelimits;
pub mod rbac;
pub mod refills;
pub mod root_keys;
pub mod serve_lock;
pub mod workspaces;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Postgres, Sqlite, Transaction};

/// Why a storage call failed, in the terms callers act on.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The row the statement needed does not exist.
    #[error("not found")]
    NotFound,
    /// A unique constraint refused the write (a duplicate name or id).
    #[error("conflicts with an existing row: {0}")]
    Conflict(String),
    /// The database cannot serve now (unreachable, pool exhausted, busy, disk full); retrying
    /// later may succeed.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupt database.
    #[error("storage error: {0}")]
    Other(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match err {
            E::RowNotFound => StoreError::NotFound,
            E::PoolTimedOut | E::PoolClosed | E::Io(_) | E::Tls(_) | E::WorkerCrashed => {
                StoreError::Unavailable(err.to_string())
            }
            E::Database(ref db) if db.is_unique_violation() => {
                StoreError::Conflict(db.message().to_owned())
            }
            E::Database(ref db) if is_transient(db.as_ref()) => {
                StoreError::Unavailable(db.message().to_owned())
            }
            other => StoreError::Other(other.to_string()),
        }
    }
}

/// Database errors that say "not now" rather than "never": SQLite busy, locked or out of disk;
/// PostgreSQL shutting down, out of connections or resources, failing over, cancelling a
/// statement past its timeout, or ending a transaction that lost a deadlock or serialization
/// race.
fn is_transient(err: &dyn sqlx::error::DatabaseError) -> bool {
    let Some(code) = err.code() else {
        return false;
    };
    if err
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .is_some()
    {
        // SQLSTATE classes: 08 connection exception, 53 insufficient resources (too many
        // connections, disk full), 57P admin shutdown / cannot connect now; and 57014 query
        // cancelled (statement_timeout), 55P03 lock not available, 40001 serialization failure,
        // 40P01 deadlock detected. Most are digits only: tell them from SQLite's codes by the
        // error's type, never by their shape.
        return code.starts_with("08")
            || code.starts_with("53")
            || code.starts_with("57P")
            || matches!(&*code, "57014" | "55P03" | "40001" | "40P01");
    }
    // SQLite extended codes keep the primary code in their low byte: 5 BUSY, 6 LOCKED,
    // 10 IOERR, 13 FULL.
    code.parse::<u32>()
        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 10 | 13))
}

/// Whether a SQLite reader going back to its pool can serve the next request: not when sqlx
/// still counts a transaction open on it. SQLite rolls a transaction back by itself on some
/// errors; the `ROLLBACK` sqlx then sends fails ("no transaction is active"), its count stays at
/// one, and every later `BEGIN` on the connection would fail ("attempted to call begin_with at
/// non-zero transaction depth"). Such a connection is closed instead, and the pool opens a fresh
/// one (the writer, not pooled, handles the same case itself: `writer.rs`). A dropped
/// transaction's rollback is queued on the connection's worker, so a count above zero is first
/// confirmed after a round trip through that queue (only then: a committed transaction costs
/// nothing here).
async fn still_usable(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    conn.ping().await?;
    Ok(!conn.is_in_transaction())
}

/// A connection to one backend, borrowed for one query.
#[doc(hidden)]
pub enum ConnRef<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Tx {}
    impl Sealed for super::Conn {}
}

/// Anything a query can run on: a pooled connection ([`Conn`]) or an open transaction ([`Tx`]).
/// Sealed: only this crate's handles qualify.
pub trait AsConn: sealed::Sealed + Send {
    #[doc(hidden)]
    fn conn(&mut self) -> ConnRef<'_>;
}

/// Runs a query on the backend connection of `$target` (an [`AsConn`]).
///
/// `on_conn!(c, |conn| body)` compiles `body` once per backend with `conn` bound to that backend's
/// connection; `on_conn!(c, sqlite |conn| a, postgres |conn| b)` gives each backend its own SQL.
macro_rules! on_conn {
    ($target:expr, |$conn:ident| $body:expr) => {
        match $crate::AsConn::conn($target) {
            $crate::ConnRef::Sqlite($conn) => ($body).map_err($crate::StoreError::from),
            $crate::ConnRef::Postgres($conn) => ($body).map_err($crate::StoreError::from),
        }
    };
    ($target:expr, sqlite |$sconn:ident| $sbody:expr, postgres |$pconn:ident| $pbody:expr $(,)?) => {
        match $crate::AsConn::conn($target) {
            $crate::ConnRef::Sqlite($sconn) => ($sbody).map_err($crate::StoreError::from),
            $crate::ConnRef::Postgres($pconn) => ($pbody).map_err($crate::StoreError::from),
        }
    };
}
pub(crate) use on_conn;

/// Which database keyward runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    Sqlite,
    Postgres,
}

/// Connection settings that apply to any backend.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    /// Most connections to open (PostgreSQL; SQLite uses one writer and this many readers).
    pub max_connections: u32,
    /// How long a request waits for a free connection (connecting included) before it is
    /// answered 503.
    pub acquire_timeout: Duration,
    /// How long one statement may run, lock waits included, before the database cancels it
    /// (PostgreSQL's `statement_timeout`; SQLite's `busy_timeout`, its wait for the write lock).
    pub statement_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// The database keyward runs on. Cloning shares the pools.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite {
        read: SqlitePool,
        write: writer::Writer,
        /// The background checkpointer's connection ([`checkpoint`]).
        checkpoints: SqlitePool,
        /// Dropped with the last clone of the `Db`, which stops the checkpointer.
        _checkpointer: Arc<tokio::sync::oneshot::Sender<()>>,
    },
    /// `channel`: where this database's invalidations are published ([`notify`]).
    Postgres { pool: PgPool, channel: Arc<str> },
}

/// An open write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    inner: TxInner,
}

enum TxInner {
    /// A read snapshot ([`Db::snapshot`]), on a pooled reader.
    SqliteSnapshot(Transaction<'static, Sqlite>),
    /// A write transaction ([`Db::begin`]), on the one writer.
    SqliteWrite(writer::WriterGuard),
    Postgres(Transaction<'static, Postgres>),
}

/// A pooled connection for reads, or for single-statement writes, outside a transaction.
pub struct Conn {
    inner: ConnInner,
}

enum ConnInner {
    SqliteReader(sqlx::pool::PoolConnection<Sqlite>),
    SqliteWriter(writer::WriterGuard),
    Postgres(sqlx::pool::PoolConnection<Postgres>),
}

impl AsConn for Tx {
    fn conn(&mut self) -> ConnRef<'_> {
        match &mut self.inner {
            TxInner::SqliteSnapshot(tx) => ConnRef::Sqlite(tx),
            TxInner::SqliteWrite(w) => ConnRef::Sqlite(w.conn()),
            TxInner::Postgres(tx) => ConnRef::Postgres(tx),
        }
    }
}

impl AsConn for Conn {
    fn conn(&mut self) -> ConnRef<'_> {
        match &mut self.inner {
            ConnInner::SqliteReader(c) => ConnRef::Sqlite(c),
            ConnInner::SqliteWriter(w) => ConnRef::Sqlite(w.conn()),
            ConnInner::Postgres(c) => ConnRef::Postgres(c),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> StoreResult<()> {
        match self.inner {
            TxInner::SqliteSnapshot(tx) => tx.commit().await?,
            TxInner::SqliteWrite(w) => w.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl Db {
    /// Opens the database named by `url` (`sqlite://path`), or the embedded SQLite file
    /// `keyward.db` inside `data_dir` when no URL is given, and applies pending migrations.
    pub async fn open(
        url: Option<&str>,
        data_dir: &Path,
        pool: &PoolOptions,
    ) -> anyhow::Result<Db> {
        let db = match url {
            None => {
                private_files::create_dir(data_dir).with_context(|| {
                    format!("cannot create the data directory {}", data_dir.display())
                })?;
                let path = data_dir.join("keyward.db");
                prepare_database_file(&path)?;
                Self::open_sqlite(SqliteConnectOptions::new().filename(path), pool).await?
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(url)
                    .with_context(|| format!("cannot parse the database URL {url:?}"))?;
                // An in-memory database has no file to protect (and its "filename" is a name).
                if !(url.contains(":memory:") || url.contains("mode=memory")) {
                    prepare_database_file(options.get_filename())?;
                }
                Self::open_sqlite(options, pool).await?
            }
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                let options = PgConnectOptions::from_str(url)
                    .with_context(|| "cannot parse the PostgreSQL database URL".to_string())?;
                Self::open_postgres(options, pool).await?
            }
            Some(url) => anyhow::bail!(
                "unsupported database URL {url:?}: use sqlite://<path>, postgres://… or omit --database-url"
            ),
        };
        db.migrate().await?;
        Ok(db)
    }

    /// Like [`Db::open`] with a URL, for a database that must exist already (the source of a
    /// copy): a SQLite URL naming no file is an error rather than a new empty database.
    pub async fn open_existing(url: &str, pool: &PoolOptions) -> anyhow::Result<Db> {
        if url.starts_with("sqlite:") && !(url.contains(":memory:") || url.contains("mode=memory"))
        {
            let options = SqliteConnectOptions::from_str(url)
                .with_context(|| format!("cannot parse the database URL {url:?}"))?;
            let path = options.get_filename();
            anyhow::ensure!(
                path.is_file(),
                "there is no SQLite database at {}",
                path.display()
            );
        }
        Self::open(Some(url), Path::new("."), pool).await
    }

    async fn open_sqlite(options: SqliteConnectOptions, pool: &PoolOptions) -> anyhow::Result<Db> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit is in the WAL file (the OS page cache) before it is
            // acknowledged, so it survives the process being killed (kill -9). Only a power loss
            // or kernel crash can lose the last commits; FULL would fsync every commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(pool.statement_timeout)
            // A multi-row statement inside a transaction keeps a statement journal (to undo
            // itself alone on a constraint error); in a file, each one costs an open, an unlink
            // and a close.
            .pragma("temp_store", "memory");
        // The one writer is a connection of keyward's own, not a pool of one (writer.rs says why).
        // It walks the key-hash index at a random place per new key: a page cache of 32 MiB
        // (SQLite's default is 2 MiB) keeps those pages rather than reading them back from the
        // file on every write.
        let write = options
            .clone()
            .pragma("cache_size", "-32768")
            // Checkpoints run beside the writer, not in its commits (checkpoint.rs).
            .pragma(
                "wal_autocheckpoint",
                checkpoint::WRITER_FALLBACK_PAGES.to_string(),
            )
            .connect()
            .await
            .context("cannot open the SQLite database")?;
        let write = writer::Writer::new(write, pool.acquire_timeout);
        // No ping before each acquire (sqlx's default): an in-process connection has no peer to
        // lose, and the ping is a round trip through the connection's worker thread.
        let read = SqlitePoolOptions::new()
            .max_connections(pool.max_connections.clamp(1, 4))
            .acquire_timeout(pool.acquire_timeout)
            .test_before_acquire(false)
            .after_release(|conn, _| Box::pin(still_usable(conn)))
            .connect_with(options.clone().read_only(true))
            .await
            .context("cannot open the SQLite database for reading")?;
        let checkpoints = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.busy_timeout(checkpoint::RESTART_WAIT))
            .await
            .context("cannot open the SQLite database for checkpoints")?;
        let (checkpointer, stop) = tokio::sync::oneshot::channel();
        tokio::spawn(checkpoint::run(checkpoints.clone(), stop));
        Ok(Db {
            backend: Backend::Sqlite {
                read,
                write,
                checkpoints,
                _checkpointer: Arc::new(checkpointer),
            },
        })
    }

    async fn open_postgres(options: PgConnectOptions, pool: &PoolOptions) -> anyhow::Result<Db> {
        // Appended to any `options` the URL gives (a URL's own statement_timeout comes first, so
        // the setting wins).
        let options = options.options([(
            "statement_timeout",
            format!("{}ms", pool.statement_timeout.as_millis().max(1)),
        )]);
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await
            .context("cannot connect to PostgreSQL")?;
        let schema: Option<String> = sqlx::query_scalar("select current_schema()")
            .fetch_one(&pool)
            .await
            .context("cannot read the current schema")?;
        let channel = notify::channel_of(schema.as_deref().unwrap_or("public")).into();
        Ok(Db {
            backend: Backend::Postgres { pool, channel },
        })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite")
                .run(write.acquire().await?.conn())
                .await
                .context("cannot apply database migrations")?,
            Backend::Postgres { pool, .. } => sqlx::migrate!("migrations/postgres")
                .run(pool)
                .await
                .context("cannot apply database migrations")?,
        }
        Ok(())
    }

    pub fn kind(&self) -> BackendKind {
        match &self.backend {
            Backend::Sqlite { .. } => BackendKind::Sqlite,
            Backend::Postgres { .. } => BackendKind::Postgres,
        }
    }

    /// Starts a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so reads inside it see a state no other writer can change before it commits.
    pub async fn begin(&self) -> StoreResult<Tx> {
        let inner = match &self.backend {
            Backend::Sqlite { write, .. } => TxInner::SqliteWrite(write.begin().await?),
            Backend::Postgres { pool, .. } => TxInner::Postgres(pool.begin().await?),
        };
        Ok(Tx { inner })
    }

    /// A read-only transaction that sees one state of the database throughout, whatever commits
    /// meanwhile (SQLite: a read transaction in WAL mode; PostgreSQL: repeatable read).
    pub async fn snapshot(&self) -> StoreResult<Tx> {
        let inner = match &self.backend {
            Backend::Sqlite { read, .. } => {
                TxInner::SqliteSnapshot(read.begin_with("BEGIN").await?)
            }
            Backend::Postgres { pool, .. } => TxInner::Postgres(
                pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?,
            ),
        };
        Ok(Tx { inner })
    }

    /// A connection for reads.
    pub async fn reader(&self) -> StoreResult<Conn> {
        let inner = match &self.backend {
            Backend::Sqlite { read, .. } => ConnInner::SqliteReader(read.acquire().await?),
            Backend::Postgres { pool, .. } => ConnInner::Postgres(pool.acquire().await?),
        };
        Ok(Conn { inner })
    }

    /// A connection for single-statement writes outside a transaction (credit spending,
    /// `lastUsedAt` batches).
    pub async fn writer(&self) -> StoreResult<Conn> {
        let inner = match &self.backend {
            Backend::Sqlite { write, .. } => ConnInner::SqliteWriter(write.acquire().await?),
            Backend::Postgres { pool, .. } => ConnInner::Postgres(pool.acquire().await?),
        };
        Ok(Conn { inner })
    }

    /// Closes every connection, checkpointing SQLite's WAL into the main file.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite {
                read,
                write,
                checkpoints,
                ..
            } => {
                checkpoints.close().await;
                read.close().await;
                write.close().await;
            }
            Backend::Postgres { pool, .. } => pool.close().await,
        }
    }
}

/// The backend `c` runs on.
pub(crate) fn backend_of(c: &mut impl AsConn) -> BackendKind {
    match c.conn() {
        ConnRef::Sqlite(_) => BackendKind::Sqlite,
        ConnRef::Postgres(_) => BackendKind::Postgres,
    }
}

/// `(…), (…), …`: `rows` groups of `columns` placeholders for a statement whose every parameter
/// is one of them, bound in order. PostgreSQL numbers them (`$1, $2, …`); SQLite gets plain
/// `?`s, since it finds a numbered parameter by a linear scan of the statement's named ones once
/// per bound value, which made binding a batch of a few hundred rows (thousands of values)
/// quadratic: most of a group commit's time (docs/BENCHMARKS.md). Built from placeholders only,
/// never from data.
pub(crate) fn placeholder_rows(backend: BackendKind, rows: usize, columns: usize) -> String {
    let mut out = String::with_capacity(rows * (columns * 6 + 4));
    for r in 0..rows {
        out.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            match backend {
                BackendKind::Sqlite => out.push('?'),
                BackendKind::Postgres => {
                    use std::fmt::Write;
                    let _ = write!(out, "${}", r * columns + c + 1);
                }
            }
        }
        out.push(')');
    }
    out
}

/// One column of `rows`, as the array a PostgreSQL batch insert binds to `unnest($n::type[])`
/// (one array per column, so that the statement's text is the same whatever the batch's size).
pub(crate) fn column<'r, R, V>(rows: &'r [R], value: impl Fn(&'r R) -> V) -> Vec<V> {
    rows.iter().map(value).collect()
}

/// Rows a statement changed: the one result of `execute` both backends share, so an
/// `on_conn!` body that executes a statement has one type on every backend.
pub(crate) fn rows_affected(done: impl RowsAffected) -> u64 {
    done.rows_affected()
}

pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        self.rows_affected()
    }
}

/// Creates the database file private, or makes an existing one private ([`private_files`]).
fn prepare_database_file(path: &Path) -> anyhow::Result<()> {
    private_files::prepare_database(path)
        .with_context(|| format!("cannot prepare the database file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_on_postgres_and_plain_on_sqlite() {
        assert_eq!(
            placeholder_rows(BackendKind::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(
            placeholder_rows(BackendKind::Sqlite, 2, 2),
            "(?, ?), (?, ?)"
        );
        assert_eq!(placeholder_rows(BackendKind::Postgres, 1, 1), "($1)");
    }

    #[test]
    fn driver_errors_become_what_callers_act_on() {
        assert!(matches!(
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::NotFound
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            StoreError::from(sqlx::Error::Protocol("x".into())),
            StoreError::Other(_)
        ));
    }
}
