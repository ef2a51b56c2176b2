//! SQLite's WAL checkpoints, moved off the writer.
//!
//! In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into the
//! database file and fsyncs it. SQLite runs it, by default, inside the commit that takes the WAL
//! past 1,000 pages, on the committing connection: with one writer, every write waits while that
//! writer copies and fsyncs (measured: a third of key creation's throughput, docs/BENCHMARKS.md).
//! Here the writer never checkpoints (`wal_autocheckpoint` is only a far-off safety valve) and a
//! connection of its own checkpoints in the background, side by side with the writer:
//!
//! - every [`EVERY`], a `PASSIVE` checkpoint: copies what no reader still needs, never waits for
//!   the writer or the readers, and is a no-op when nothing new was committed;
//! - when the WAL holds [`RESTART_AT`] pages or more, a `RESTART` checkpoint: a passive one just
//!   copied nearly everything, so it briefly holds new writes while it copies the rest and waits
//!   for readers to move on, and the next commit writes the WAL from its start again. Without it
//!   a WAL written without a pause would grow for as long as the load lasts. It waits at most
//!   [`RESTART_WAIT`] for the writer and the readers; if they are busy longer it gives up and
//!   tries again at the next tick.
//!
//! Durability does not change: a commit is in the WAL (the OS's page cache) before it is
//! acknowledged, whoever checkpoints it later, and a WAL left by kill -9 is replayed at open.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::oneshot;

/// How often the WAL is checkpointed.
pub const EVERY: Duration = Duration::from_millis(25);

/// WAL pages (4 KiB each) past which the log is restarted: the WAL file stays near 32 MiB.
pub const RESTART_AT: i64 = 8192;

/// The writer's own automatic checkpoint, in pages: only reached if this task is stopped or
/// cannot keep up, where it bounds the WAL as SQLite would by itself.
pub const WRITER_FALLBACK_PAGES: i64 = 4 * RESTART_AT;

/// How long a restarting checkpoint waits for the writer and readers (its busy timeout).
pub const RESTART_WAIT: Duration = Duration::from_millis(100);

/// Checkpoints through `pool` (one connection of its own) until the pool is closed or `stop`'s
/// sender is dropped (with the last clone of the `Db`), then closes the pool.
pub async fn run(pool: SqlitePool, mut stop: oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = &mut stop => break,
        }
        if pool.is_closed() {
            break;
        }
        match checkpoint(&pool).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("WAL checkpoints work again");
            }
            Ok(()) => {}
            Err(err) if pool.is_closed() => {
                tracing::debug!(%err, "WAL checkpoint at shutdown");
                break;
            }
            // A full disk, say: reported once, tried again at every tick. Commits do not
            // depend on it; the WAL grows until it succeeds.
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(%err, "a WAL checkpoint failed; retrying");
            }
            Err(_) => {}
        }
    }
    pool.close().await;
}

/// One passive checkpoint, then a restarting one if the WAL has grown past [`RESTART_AT`].
async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    // (busy, pages in the WAL, pages checkpointed).
    let (_, pages, _): (i64, i64, i64) = sqlx::query_as("pragma wal_checkpoint(passive)")
        .fetch_one(pool)
        .await?;
    if pages >= RESTART_AT {
        let _: (i64, i64, i64) = sqlx::query_as("pragma wal_checkpoint(restart)")
            .fetch_one(pool)
            .await?;
    }
    Ok(())
}
