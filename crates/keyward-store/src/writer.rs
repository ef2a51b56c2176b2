//! SQLite's one writer connection, owned by keyward rather than by a pool.
//!
//! sqlx's pool pings every connection returned to it (a round trip through the connection's
//! worker thread, whatever the pool's options), and with a pool of one the next writer waits for
//! that ping: one more hand-off between threads on every batch the writer commits, on its
//! critical path (docs/BENCHMARKS.md). So the writer is one connection behind an async mutex,
//! and its transactions are `BEGIN IMMEDIATE` … `COMMIT` sent by [`WriterGuard`]: one dropped
//! without a commit (its future cancelled, or its commit failed) is rolled back before the
//! connection serves anyone else, by a task that holds the lock until it is done, or failing
//! that by the next [`Writer::acquire`].

use std::sync::Arc;
use std::time::Duration;

use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The writer: cloning shares the one connection.
#[derive(Clone)]
pub(crate) struct Writer {
    state: Arc<Mutex<State>>,
    /// How long [`Writer::acquire`] waits for the connection (then `PoolTimedOut`, as a pool
    /// would answer: a 503 for the request).
    acquire_timeout: Duration,
}

struct State {
    /// `None` once closed.
    conn: Option<SqliteConnection>,
    /// A transaction was begun and not committed: roll it back before the next use.
    in_transaction: bool,
}

/// The writer, held: a connection for single statements, or an open transaction
/// ([`Writer::begin`]).
pub(crate) struct WriterGuard {
    /// `None` only while being dropped.
    state: Option<OwnedMutexGuard<State>>,
}

impl Writer {
    pub(crate) fn new(conn: SqliteConnection, acquire_timeout: Duration) -> Writer {
        Writer {
            state: Arc::new(Mutex::new(State {
                conn: Some(conn),
                in_transaction: false,
            })),
            acquire_timeout,
        }
    }

    /// The connection, once no one else holds it, with no transaction open.
    pub(crate) async fn acquire(&self) -> Result<WriterGuard, sqlx::Error> {
        let mut state = tokio::time::timeout(self.acquire_timeout, self.state.clone().lock_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?;
        if state.conn.is_none() {
            return Err(sqlx::Error::PoolClosed);
        }
        if state.in_transaction {
            roll_back(&mut state).await?;
        }
        Ok(WriterGuard { state: Some(state) })
    }

    /// A write transaction, holding SQLite's write lock from the start (`BEGIN IMMEDIATE`).
    pub(crate) async fn begin(&self) -> Result<WriterGuard, sqlx::Error> {
        let mut guard = self.acquire().await?;
        // Marked first: should `BEGIN` succeed and its future be dropped before it returns,
        // the transaction is still rolled back.
        guard.state_mut().in_transaction = true;
        guard.conn().execute("BEGIN IMMEDIATE").await?;
        Ok(guard)
    }

    /// Closes the connection (SQLite checkpoints the WAL into the database file as its last
    /// connection closes); later acquires answer `PoolClosed`.
    pub(crate) async fn close(&self) {
        let mut state = self.state.lock().await;
        if let Some(conn) = state.conn.take() {
            let _ = conn.close().await;
        }
    }
}

impl WriterGuard {
    fn state_mut(&mut self) -> &mut State {
        self.state.as_mut().expect("a held writer has its state")
    }

    pub(crate) fn conn(&mut self) -> &mut SqliteConnection {
        self.state_mut()
            .conn
            .as_mut()
            .expect("an acquired writer has its connection")
    }

    /// Commits the transaction [`Writer::begin`] opened.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        self.conn().execute("COMMIT").await?;
        self.state_mut().in_transaction = false;
        Ok(())
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        let Some(mut state) = self.state.take() else {
            return;
        };
        if !state.in_transaction {
            return;
        }
        // Roll back now, still holding the lock, so that SQLite's write lock is not kept by
        // an abandoned transaction until the next write. Without a runtime (shutting down),
        // the next acquire does it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = roll_back(&mut state).await {
                    tracing::warn!(%err, "cannot roll back an abandoned write transaction");
                }
            });
        }
    }
}

/// Rolls back the open transaction of `state` (one that SQLite already ended itself, as it
/// does on some errors, is fine).
async fn roll_back(state: &mut State) -> Result<(), sqlx::Error> {
    let Some(conn) = state.conn.as_mut() else {
        return Ok(());
    };
    match conn.execute("ROLLBACK").await {
        Ok(_) => {}
        Err(sqlx::Error::Database(err)) if err.message().contains("no transaction is active") => {}
        Err(err) => return Err(err),
    }
    state.in_transaction = false;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::ConnectOptions;

    async fn writer(dir: &tempfile::TempDir, acquire_timeout: Duration) -> Writer {
        let conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.path().join("w.db"))
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .connect()
            .await
            .unwrap();
        let writer = Writer::new(conn, acquire_timeout);
        let mut guard = writer.acquire().await.unwrap();
        guard
            .conn()
            .execute("create table t (v integer)")
            .await
            .unwrap();
        drop(guard);
        writer
    }

    /// Inserts `v` in a transaction of its own, committed.
    async fn insert_committed(writer: &Writer, v: i64) {
        let mut tx = writer.begin().await.unwrap();
        sqlx::query("insert into t values (?)")
            .bind(v)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn rows(writer: &Writer) -> i64 {
        let mut guard = writer.acquire().await.unwrap();
        sqlx::query_scalar("select count(*) from t")
            .fetch_one(guard.conn())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_committed_transaction_stays_and_a_dropped_one_is_rolled_back() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, Duration::from_secs(5)).await;

        insert_committed(&writer, 1).await;

        let mut tx = writer.begin().await.unwrap();
        tx.conn().execute("insert into t values (2)").await.unwrap();
        drop(tx);

        // The next user finds the connection out of any transaction, and only the commit.
        assert_eq!(rows(&writer).await, 1);
        insert_committed(&writer, 3).await;
        assert_eq!(rows(&writer).await, 2);
    }

    #[tokio::test]
    async fn a_transaction_sqlite_ended_itself_does_not_wedge_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, Duration::from_secs(5)).await;
        let mut tx = writer.begin().await.unwrap();
        // Ended behind the guard's back, as SQLite does on a full disk: the rollback the
        // dropped guard sends then finds no transaction, which is fine.
        tx.conn().execute("ROLLBACK").await.unwrap();
        drop(tx);
        insert_committed(&writer, 1).await;
        assert_eq!(rows(&writer).await, 1);
    }

    #[tokio::test]
    async fn a_held_writer_makes_the_next_wait_at_most_the_timeout_and_a_closed_one_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let writer = writer(&dir, Duration::from_millis(50)).await;
        let held = writer.acquire().await.unwrap();
        assert!(matches!(
            writer.acquire().await,
            Err(sqlx::Error::PoolTimedOut)
        ));
        drop(held);
        writer.close().await;
        assert!(matches!(writer.begin().await, Err(sqlx::Error::PoolClosed)));
    }
}
