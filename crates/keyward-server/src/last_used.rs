//! When each key was last used (`lastUsedAt`), without a database write on the verification path.
//!
//! A verification marks its cached key with the time, at most once per `resolution` per key: on
//! the hot path that is one clock read and one atomic load, and the first mark since the last
//! flush also pushes the key onto a pending list. Every `resolution` the flusher writes the
//! pending keys' times in batches ([`store::keys::record_last_used`]), moving `last_used_at` only
//! forward, so nodes sharing a database cannot move it back. Reads on this node (getKey, whoami,
//! listKeys) take the later of the stored time and the cached mark ([`LastUsed::merged`]), so they
//! see a verification at once; other nodes see it once it is flushed. A graceful shutdown
//! flushes; `kill -9` loses at most the marks of the last `resolution`.
//!
//! Unkey computes the same field from its analytics store once a minute; Tyk dropped its
//! equivalent for the write load it caused. A mark per key per minute keeps that load at one
//! batched row update per active key per minute.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::app::App;
use crate::key_material::KeyHash;
use crate::store::{self, Db, StoreResult};
use crate::verify::CachedKey;

/// A cached key's last use as this node knows it.
#[derive(Debug, Default)]
pub struct Mark {
    /// Unix ms; 0 = never.
    at: AtomicI64,
    /// On the pending list, waiting for the flusher.
    pending: AtomicBool,
}

impl Mark {
    /// A mark starting from the time stored in the database.
    pub fn new(stored: Option<i64>) -> Mark {
        Mark {
            at: AtomicI64::new(stored.unwrap_or(0)),
            pending: AtomicBool::new(false),
        }
    }

    pub fn get(&self) -> Option<i64> {
        Some(self.at.load(Relaxed)).filter(|&at| at > 0)
    }
}

/// The marks waiting to be written, and how often they are taken.
pub struct LastUsed {
    resolution_ms: i64,
    pending: Mutex<Vec<Arc<CachedKey>>>,
}

impl LastUsed {
    pub fn new(resolution: Duration) -> LastUsed {
        LastUsed {
            resolution_ms: i64::try_from(resolution.as_millis())
                .unwrap_or(i64::MAX)
                .max(1),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Marks `key` used at `now` (unix ms), unless it was marked less than a resolution ago.
    pub fn mark(&self, key: &Arc<CachedKey>, now: i64) {
        let mark = &key.last_used;
        if now - mark.at.load(Relaxed) < self.resolution_ms {
            return;
        }
        // SeqCst pairs with `take_pending`: a mark made after the flusher read `at` finds
        // `pending` already cleared, and queues the key again.
        mark.at.fetch_max(now, SeqCst);
        if !mark.pending.swap(true, SeqCst) {
            self.lock().push(Arc::clone(key));
        }
    }

    /// The later of `stored` and the mark of the key cached under `hash`, if it is cached.
    pub fn merged(app: &App, hash: &[u8], stored: Option<i64>) -> Option<i64> {
        let cached = KeyHash::from_slice(hash)
            .and_then(|hash| app.keys.peek(&hash))
            .flatten()
            .and_then(|key| key.last_used.get());
        stored.max(cached)
    }

    /// Writes the pending marks to `db`; returns how many keys it wrote. On failure the keys go
    /// back on the list for the next flush.
    pub async fn flush(&self, db: &Db) -> StoreResult<usize> {
        let keys = std::mem::take(&mut *self.lock());
        if keys.is_empty() {
            return Ok(0);
        }
        let used: Vec<(String, i64)> = keys
            .iter()
            .map(|key| {
                key.last_used.pending.store(false, SeqCst);
                (key.id.clone(), key.last_used.at.load(SeqCst))
            })
            .collect();
        let written = async {
            let mut conn = db.writer().await?;
            store::keys::record_last_used(&mut conn, &used).await
        }
        .await;
        if let Err(err) = written {
            for key in keys {
                if !key.last_used.pending.swap(true, SeqCst) {
                    self.lock().push(key);
                }
            }
            return Err(err);
        }
        Ok(used.len())
    }

    /// Flushes every resolution, and once more when `stop` fires (or its sender is dropped).
    pub async fn run_flusher(app: Arc<App>, mut stop: oneshot::Receiver<()>) {
        let period = Duration::from_millis(app.last_used.resolution_ms.unsigned_abs());
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A flush runs to its end before the next select, so stopping never cuts one short.
            let stopping = tokio::select! {
                _ = ticks.tick() => false,
                _ = &mut stop => true,
            };
            if let Err(err) = app.last_used.flush(&app.db).await {
                tracing::warn!(%err, "cannot record when keys were last used; will retry");
            }
            if stopping {
                return;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<CachedKey>>> {
        // Every critical section is one push or one take: a poisoned lock holds a whole list.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}
