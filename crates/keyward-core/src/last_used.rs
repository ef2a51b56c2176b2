//! When each key was last used (`lastUsedAt`), without a database write on the verification path.
//!
//! A verification marks its cached key with the time, at most once per second ([`PRECISION_MS`]):
//! on the hot path that is one clock read and one atomic load, and the first mark since the last
//! flush also puts the key in the unwritten set. Every flush period the flusher writes the
//! unwritten keys' latest marks in batches ([`keys::record_last_used`]), moving `last_used_at`
//! only forward, so nodes sharing a database cannot move it back. Reads on this node (getKey,
//! whoami, listKeys) take the later of the stored time and this node's mark
//! ([`LastUsed::merged`]), so they are exact to the second at once; other nodes see a use once it
//! is flushed. A graceful shutdown flushes; `kill -9` loses at most one period of marks.
//!
//! The mark sits in the cache entry (the hot path reads nothing else), but a mark not written
//! yet must outlive the entry: an update invalidates it, a refresh or an eviction replaces it,
//! and the entry that replaces it starts from the stored time. So the unwritten set, keyed by
//! key hash, holds the marked entries until they are written, whether or not the cache still
//! does; reads look there too, and a new entry of the same key starts from that mark and takes
//! the old entry's place in the set when it is first marked.
//!
//! The cost is one row update per key used per period, which at a million active keys is
//! seconds of SQLite's time per flush. So a periodic flush is paced: its batches are spread over
//! up to half the period instead of taking the machine in one burst (docs/BENCHMARKS.md has the
//! measurements). Unkey computes this field from its analytics store once a minute; Tyk dropped
//! its equivalent for the write load it caused.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use keyward_store::{Db, StoreError, StoreResult, keys};

use crate::Keyward;
use crate::key_material::KeyHash;
use crate::verify::CachedKey;

/// A key is marked at most once per this many milliseconds.
pub const PRECISION_MS: i64 = 1_000;

/// The longest a paced flush waits per batch on average.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// A cached key's last use as this node knows it.
#[derive(Debug, Default)]
pub struct Mark {
    /// Unix ms; 0 = never.
    at: AtomicI64,
    /// In the unwritten set since the flusher last took it.
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

/// Marked keys by hash.
type Marked = HashMap<KeyHash, Arc<CachedKey>>;

/// The marks waiting to be written, and how often they are written.
pub struct LastUsed {
    flush_period: Duration,
    /// The keys marked since the flusher last took this set.
    unwritten: Mutex<Marked>,
    /// The set a flush under way is writing: still read until it is written.
    writing: Mutex<Arc<Marked>>,
    /// Set by [`LastUsed::stop`]: the flusher writes the rest without pausing, once more, and ends.
    stopping: AtomicBool,
    /// Wakes the flusher between two flushes when `stopping` is set.
    stopped: Notify,
}

impl LastUsed {
    pub fn new(flush_period: Duration) -> LastUsed {
        LastUsed {
            flush_period: flush_period.max(Duration::from_millis(1)),
            unwritten: Mutex::default(),
            writing: Mutex::default(),
            stopping: AtomicBool::new(false),
            stopped: Notify::new(),
        }
    }

    /// Makes the flusher write what is pending at once and end ([`LastUsed::run_flusher`]). A
    /// paced flush under way stops pausing: one of a million keys spans half the period, minutes
    /// by default, and a stopping server must not wait for it.
    pub fn stop(&self) {
        self.stopping.store(true, SeqCst);
        // A stored permit: a flusher busy flushing finds it when it next waits.
        self.stopped.notify_one();
    }

    /// Marks `key` (cached under `hash`) used at `now` (unix ms), unless it was marked less than
    /// [`PRECISION_MS`] ago.
    pub fn mark(&self, hash: &KeyHash, key: &Arc<CachedKey>, now: i64) {
        let mark = &key.last_used;
        if now - mark.at.load(Relaxed) < PRECISION_MS {
            return;
        }
        mark.at.fetch_max(now, SeqCst);
        // SeqCst pairs with `flush`, which clears `pending` before it reads `at`: a mark made
        // after that read finds `pending` cleared and puts the key in the set again.
        if !mark.pending.swap(true, SeqCst) {
            match lock(&self.unwritten).entry(*hash) {
                Entry::Vacant(slot) => {
                    slot.insert(Arc::clone(key));
                }
                Entry::Occupied(mut slot) if !Arc::ptr_eq(slot.get(), key) => {
                    // An earlier entry of this key, since replaced in the cache: this one takes
                    // its place. It started from that entry's mark ([`LastUsed::unwritten`]); a
                    // use of the earlier entry since (a verification that found it just before it
                    // was replaced) is kept too.
                    mark.at
                        .fetch_max(slot.get().last_used.at.load(SeqCst), SeqCst);
                    slot.insert(Arc::clone(key));
                }
                Entry::Occupied(_) => {}
            }
        }
    }

    /// The later of `stored` and this node's mark of the key with `hash`: in its cache entry, or
    /// in the entry a flush has yet to write, should the cache have dropped or replaced it.
    pub fn merged(keyward: &Keyward, hash: &[u8], stored: Option<i64>) -> Option<i64> {
        let Some(hash) = KeyHash::from_slice(hash) else {
            return stored;
        };
        let cached = keyward.caches.keys.peek(&hash);
        let cached = cached.and_then(|key| key.last_used.get());
        stored.max(cached).max(keyward.last_used.unwritten(&hash))
    }

    /// The mark of the key with `hash` that a flush has yet to write, if any: where a new cache
    /// entry of the key starts from, so that reloading it loses no use.
    pub fn unwritten(&self, hash: &KeyHash) -> Option<i64> {
        let unwritten = lock(&self.unwritten).get(hash).cloned();
        let writing = lock(&self.writing).get(hash).cloned();
        let at = |key: Option<Arc<CachedKey>>| key.and_then(|key| key.last_used.get());
        at(unwritten).max(at(writing))
    }

    /// Writes the unwritten marks to `db`, spread over half the flush period unless stopping;
    /// returns how many keys it wrote. On failure the keys stay unwritten, for the next flush.
    pub async fn flush(&self, db: &Db) -> StoreResult<usize> {
        let keys = {
            let mut unwritten = lock(&self.unwritten);
            if unwritten.is_empty() {
                return Ok(0);
            }
            let keys = Arc::new(std::mem::take(&mut *unwritten));
            // Published before `unwritten` is released, so a read always finds the keys in one.
            *lock(&self.writing) = Arc::clone(&keys);
            keys
        };
        let used: Vec<(String, i64)> = keys
            .values()
            .map(|key| {
                key.last_used.pending.store(false, SeqCst);
                (key.id.clone(), key.last_used.at.load(SeqCst))
            })
            .collect();
        let batches = used.chunks(keys::LAST_USED_BATCH);
        // Batch `i` of `n` is due `i / n` of the span after the start (the span capped at
        // MAX_PAUSE per batch), so the whole flush takes about the span, or its own time if that
        // is longer.
        let (started, n) = (tokio::time::Instant::now(), batches.len() as f64);
        let span = (self.flush_period / 2).min(MAX_PAUSE.mul_f64(n));
        // The writer connection is taken per batch, not for the whole flush: credit spending and
        // every mutation need that connection too.
        let written = async {
            for (i, batch) in batches.enumerate() {
                if !self.stopping.load(SeqCst) {
                    tokio::time::sleep_until(started + span.mul_f64(i as f64 / n)).await;
                }
                let mut conn = db.writer().await?;
                keys::record_last_used(&mut conn, batch).await?;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        if written.is_err() {
            // Writing a mark again is harmless: times only move forward. A key marked again
            // meanwhile is unwritten already, under the same or a newer entry.
            let mut unwritten = lock(&self.unwritten);
            for (hash, key) in keys.iter() {
                unwritten.entry(*hash).or_insert_with(|| Arc::clone(key));
            }
        }
        *lock(&self.writing) = Arc::default();
        written.map(|()| used.len())
    }

    /// Flushes every period until [`LastUsed::stop`], then once more, at once, and returns.
    pub async fn run_flusher(keyward: Arc<Keyward>) {
        let last_used = &keyward.last_used;
        let period = last_used.flush_period;
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // A flush runs to its end before the next select, so stopping never cuts one short.
            tokio::select! {
                _ = ticks.tick() => {}
                _ = last_used.stopped.notified() => {}
            }
            let stopping = last_used.stopping.load(SeqCst);
            let started = std::time::Instant::now();
            match last_used.flush(&keyward.db).await {
                Ok(0) => {}
                Ok(keys) => tracing::debug!(
                    keys,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "recorded when keys were last used"
                ),
                Err(err) => {
                    tracing::warn!(%err, "cannot record when keys were last used; will retry")
                }
            }
            if stopping {
                return;
            }
        }
    }
}

fn lock<T>(set: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section is one map operation or one swap: a poisoned lock holds a whole set.
    set.lock().unwrap_or_else(|e| e.into_inner())
}
