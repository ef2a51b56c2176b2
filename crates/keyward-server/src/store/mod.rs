//! Storage: the only module that speaks SQL.
//!
//! [`Db`] hides which database backs keyward. Today that is the embedded SQLite; PostgreSQL is
//! the next backend. Queries are written once, in portable SQL (`$1` placeholders, `returning`,
//! `on conflict`), and run through the [`on_conn!`] macro, which expands the same body for each
//! backend's connection type, so every query is type-checked against every backend it runs on.
//!
//! Transactions: every mutation runs in one [`Tx`] together with its audit event. SQLite gets a
//! single writer connection (writes are serialized by SQLite anyway; one connection avoids
//! `SQLITE_BUSY` upgrades) and a pool of readers, which WAL mode lets run beside the writer.

pub mod apis;
pub mod audit;
pub mod identities;
pub mod keys;
pub mod root_keys;
pub mod workspaces;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

use crate::private_files;

/// Result of a storage call; errors are internal (500) unless a service maps them.
pub type StoreResult<T> = Result<T, sqlx::Error>;

/// A connection to one backend, borrowed for one query.
pub enum ConnRef<'a> {
    Sqlite(&'a mut SqliteConnection),
}

/// Anything a query can run on: a pooled connection or an open transaction.
pub trait AsConn {
    fn conn(&mut self) -> ConnRef<'_>;
}

/// Runs `$body` with `$conn` bound to the backend connection of `$target` (an [`AsConn`]).
macro_rules! on_conn {
    ($target:expr, |$conn:ident| $body:expr) => {
        match $crate::store::AsConn::conn($target) {
            $crate::store::ConnRef::Sqlite($conn) => $body,
        }
    };
}
pub(crate) use on_conn;

/// The database keyward runs on.
#[derive(Clone)]
pub struct Db {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite { read: SqlitePool, write: SqlitePool },
}

/// An open write transaction. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    inner: TxInner,
}

enum TxInner {
    Sqlite(Transaction<'static, Sqlite>),
}

/// A pooled connection for reads outside a transaction.
pub struct Conn {
    inner: ConnInner,
}

enum ConnInner {
    Sqlite(sqlx::pool::PoolConnection<Sqlite>),
}

impl AsConn for Tx {
    fn conn(&mut self) -> ConnRef<'_> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => ConnRef::Sqlite(&mut *tx),
        }
    }
}

impl AsConn for Conn {
    fn conn(&mut self) -> ConnRef<'_> {
        match &mut self.inner {
            ConnInner::Sqlite(c) => ConnRef::Sqlite(&mut *c),
        }
    }
}

impl Tx {
    pub async fn commit(self) -> StoreResult<()> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
        }
    }
}

impl Db {
    /// Opens the database named by `url` (`sqlite://path`), or the embedded SQLite file
    /// `keyward.db` inside `data_dir` when no URL is given, and applies pending migrations.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> anyhow::Result<Db> {
        let db = match url {
            None => {
                private_files::create_dir(data_dir).with_context(|| {
                    format!("cannot create the data directory {}", data_dir.display())
                })?;
                let path = data_dir.join("keyward.db");
                prepare_database_file(&path)?;
                Self::open_sqlite(SqliteConnectOptions::new().filename(path)).await?
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(url)
                    .with_context(|| format!("cannot parse the database URL {url:?}"))?;
                // An in-memory database has no file to protect (and its "filename" is a name).
                if !(url.contains(":memory:") || url.contains("mode=memory")) {
                    prepare_database_file(options.get_filename())?;
                }
                Self::open_sqlite(options).await?
            }
            Some(url) if url.starts_with("postgres:") || url.starts_with("postgresql:") => {
                anyhow::bail!(
                    "this keyward build supports only SQLite; PostgreSQL arrives in a later version \
                     (omit --database-url to use the embedded database)"
                )
            }
            Some(url) => anyhow::bail!(
                "unsupported database URL {url:?}: use sqlite://<path> or omit --database-url"
            ),
        };
        db.migrate().await?;
        Ok(db)
    }

    async fn open_sqlite(options: SqliteConnectOptions) -> anyhow::Result<Db> {
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit is in the WAL file (the OS page cache) before it is
            // acknowledged, so it survives the process being killed (kill -9). Only a power loss
            // or kernel crash can lose the last commits; FULL would fsync every commit.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .context("cannot open the SQLite database")?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .context("cannot open the SQLite database for reading")?;
        Ok(Db {
            backend: Backend::Sqlite { read, write },
        })
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match &self.backend {
            Backend::Sqlite { write, .. } => sqlx::migrate!("migrations/sqlite")
                .run(write)
                .await
                .context("cannot apply database migrations")?,
        }
        Ok(())
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> StoreResult<Tx> {
        match &self.backend {
            Backend::Sqlite { write, .. } => Ok(Tx {
                inner: TxInner::Sqlite(write.begin().await?),
            }),
        }
    }

    /// A connection for reads.
    pub async fn reader(&self) -> StoreResult<Conn> {
        match &self.backend {
            Backend::Sqlite { read, .. } => Ok(Conn {
                inner: ConnInner::Sqlite(read.acquire().await?),
            }),
        }
    }

    /// A connection for single-statement writes outside a transaction (credit spending).
    pub async fn writer(&self) -> StoreResult<Conn> {
        match &self.backend {
            Backend::Sqlite { write, .. } => Ok(Conn {
                inner: ConnInner::Sqlite(write.acquire().await?),
            }),
        }
    }

    /// Closes every connection, checkpointing SQLite's WAL into the main file.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write } => {
                read.close().await;
                write.close().await;
            }
        }
    }
}

/// Creates the database file private, or makes an existing one private ([`private_files`]).
fn prepare_database_file(path: &Path) -> anyhow::Result<()> {
    private_files::prepare_database(path)
        .with_context(|| format!("cannot prepare the database file {}", path.display()))
}

/// Whether `err` is a unique-constraint violation (a duplicate name or id).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
