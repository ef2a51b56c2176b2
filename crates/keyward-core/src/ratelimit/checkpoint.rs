//! Counters that outlive the process: a limit of 1,000 a day must not start over because the
//! server was redeployed.
//!
//! The counters of windows longer than [`super::CHECKPOINTED_OVER_MS`] (a minute) are written
//! to `ratelimit_counters` on graceful shutdown and every housekeeping period (a minute) while
//! running, replacing the previous checkpoint in one transaction; a start reads them back before
//! serving. Shorter windows are not worth it: they are over, or nearly, by the time a new process
//! serves. What `kill -9` (or a crash, or power loss) loses is what was admitted since the last
//! periodic checkpoint: up to a minute of counts, so a limit can admit up to that much again.

use std::sync::Arc;

use keyward_store::ratelimits::{self, CounterRow};
use keyward_store::{Db, StoreResult};

use super::counters::{CounterKey, SavedCounter};
use super::window::Windows;
use super::{CHECKPOINTED_OVER_MS, Limiter};

/// Writes the limiter's long-window counters; returns how many.
pub async fn save(db: &Db, limiter: &Limiter, now: i64) -> StoreResult<usize> {
    let rows: Vec<CounterRow> = limiter
        .counters()
        .snapshot(CHECKPOINTED_OVER_MS, now)
        .into_iter()
        .map(|saved| CounterRow {
            scope: saved.key.scope.to_string(),
            identifier: saved.key.identifier.into_string(),
            duration: saved.key.duration,
            sequence: saved.windows.sequence,
            current_count: saved.windows.current,
            previous_count: saved.windows.previous,
        })
        .collect();
    let mut tx = db.begin().await?;
    ratelimits::replace_counters(&mut tx, &rows).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// Reads the checkpoint into the limiter; returns how many counters still counted.
pub async fn restore(db: &Db, limiter: &Limiter, now: i64) -> StoreResult<usize> {
    let rows = ratelimits::counters(&mut db.reader().await?).await?;
    let saved: Vec<SavedCounter> = rows
        .into_iter()
        .filter(|row| row.duration > 0)
        .map(|row| SavedCounter {
            key: CounterKey {
                scope: Arc::from(row.scope),
                identifier: row.identifier.into_boxed_str(),
                duration: row.duration,
            },
            windows: Windows {
                sequence: row.sequence,
                current: row.current_count,
                previous: row.previous_count,
            },
        })
        .collect();
    let before = limiter.counters().len();
    limiter.counters().restore(saved, now);
    Ok(limiter.counters().len() - before)
}

/// Every `period` until `stop` turns true: forgets idle counters and writes a checkpoint (so a
/// crash loses at most a period of counts). A failed checkpoint is logged and tried again.
pub async fn run_every(
    keyward: std::sync::Arc<crate::Keyward>,
    period: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        let now = keyward.clock.now();
        let evicted = keyward.limiter.evict_idle(now);
        if evicted > 0 {
            tracing::debug!(evicted, "idle rate-limit counters forgotten");
        }
        if let Err(err) = save(&keyward.db, &keyward.limiter, now).await {
            tracing::warn!(error = %err, "cannot write the rate limiter's checkpoint; retrying at the next period");
        }
    }
}
