//! The lookup cache of the verification hot path: key hash → what the database says about it.
//!
//! Properties the rest of keyward relies on (each has a test below):
//! - **A hit does no I/O**: one shard lock, one hash-map probe, one `Arc` clone.
//! - **A miss loads once**: concurrent lookups of the same hash share one database load
//!   (single flight), run in its own task so a client hanging up cannot cancel it for the others.
//! - **Invalidation is linearizable on this node**: [`KeyCache::invalidate`] removes the entry
//!   *and* detaches any load or refresh in flight, whose result is then handed to the requests
//!   already waiting for it but never cached. A lookup that starts after `invalidate` returns
//!   therefore reads the database afresh, so revocation takes effect on the next request whatever
//!   the cache held. (A plain TTL cache, or moka's `get_with`, would let a load that read the row
//!   before the change insert the stale value after the invalidation.)
//! - **Refreshes stay off the request path**: an entry is fresh for `ttl`; a hit on an older
//!   entry is still answered from the cache while one background load refreshes it
//!   (stale-while-revalidate), so a busy key never waits for the database. An entry older than
//!   twice `ttl` is loaded again before answering. The TTL only bounds changes made behind
//!   keyward's back: every change made through keyward invalidates at once.
//! - **Bounded**: about `capacity` entries (each of the 64 shards holds an equal share plus 1/8
//!   headroom, because hashes never spread perfectly evenly), evicting expired entries first,
//!   then an arbitrary one.
//!
//! Negative results ("no such key") are cached like any other value, so a flood of unknown
//! keys costs one database read per distinct key per `ttl`, not per request.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::key_material::KeyHash;
use crate::striped::Counter;

const SHARDS: usize = 64;

/// Hashes a [`KeyHash`] by taking 8 of its bytes: it is already a SHA-256 digest, uniformly
/// distributed and not chosen by an attacker, so hashing it again would only cost time.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as a length prefix (`write_usize`) and then the bytes.
        if let Some(first) = bytes.get(8..16) {
            self.0 = u64::from_le_bytes(first.try_into().expect("8 bytes"));
        }
    }
    fn write_usize(&mut self, _: usize) {}
}

type ShardMap<V> = HashMap<KeyHash, Slot<V>, BuildHasherDefault<DigestHasher>>;

type LoadResult<V> = Result<V, LoadError>;

enum Slot<V> {
    Ready {
        value: V,
        loaded: Instant,
        /// The id of the background refresh under way, if any.
        refresh: Option<u64>,
    },
    Loading {
        load_id: u64,
        done: watch::Receiver<Option<LoadResult<V>>>,
    },
}

/// Why a load failed; shared by every request that waited for it. Never cached.
#[derive(Clone, Debug)]
pub struct LoadError {
    /// The database could not serve (a 503 to retry), rather than failed.
    pub unavailable: bool,
    pub message: Arc<str>,
}

impl LoadError {
    pub fn store(err: keyward_store::StoreError) -> LoadError {
        LoadError {
            unavailable: matches!(err, keyward_store::StoreError::Unavailable(_)),
            message: err.to_string().into(),
        }
    }

    pub fn other(message: impl Into<Arc<str>>) -> LoadError {
        LoadError {
            unavailable: false,
            message: message.into(),
        }
    }

    pub fn into_api_error(self) -> crate::error::ApiError {
        if self.unavailable {
            crate::error::ApiError::unavailable(self)
        } else {
            crate::error::ApiError::internal(self)
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub refreshes: u64,
    pub entries: u64,
}

struct Inner<V> {
    shards: Vec<Mutex<ShardMap<V>>>,
    shard_capacity: usize,
    ttl: Duration,
    next_load_id: AtomicU64,
    hits: Counter,
    misses: Counter,
    loads: Counter,
    refreshes: Counter,
}

/// See the module documentation. Cloning shares the cache.
pub struct KeyCache<V> {
    inner: Arc<Inner<V>>,
}

impl<V> Clone for KeyCache<V> {
    fn clone(&self) -> Self {
        KeyCache {
            inner: Arc::clone(&self.inner),
        }
    }
}

/// What a lookup found under the shard lock.
enum Found<V> {
    Value(V),
    Wait(watch::Receiver<Option<LoadResult<V>>>),
}

impl<V: Clone + Send + Sync + 'static> KeyCache<V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let share = capacity.div_ceil(SHARDS);
        KeyCache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS)
                    .map(|_| Mutex::new(ShardMap::default()))
                    .collect(),
                shard_capacity: (share + share / 8).max(1),
                ttl,
                next_load_id: AtomicU64::new(0),
                hits: Counter::default(),
                misses: Counter::default(),
                loads: Counter::default(),
                refreshes: Counter::default(),
            }),
        }
    }

    fn shard(&self, key: &KeyHash) -> MutexGuard<'_, ShardMap<V>> {
        let index = usize::from(key.0[0]) % SHARDS;
        // A panic while holding a shard lock cannot leave a map half-updated (every critical
        // section is a single map operation), so a poisoned lock is safe to keep using.
        self.inner.shards[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The cached value for `key`, or the result of `load` — run at most once at a time per key.
    pub async fn get_or_load<F, Fut>(&self, key: KeyHash, load: F) -> Result<V, LoadError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = LoadResult<V>> + Send + 'static,
    {
        let found = {
            let mut shard = self.shard(&key);
            let now = Instant::now();
            let ttl = self.inner.ttl;
            match shard.get_mut(&key) {
                Some(Slot::Ready {
                    value,
                    loaded,
                    refresh,
                }) if now < *loaded + ttl * 2 => {
                    self.inner.hits.add(1);
                    if now >= *loaded + ttl && refresh.is_none() {
                        let load_id = self.inner.next_load_id.fetch_add(1, Relaxed);
                        *refresh = Some(load_id);
                        self.inner.refreshes.add(1);
                        self.spawn_load(key, load_id, load(), None);
                    }
                    Found::Value(value.clone())
                }
                Some(Slot::Loading { done, .. }) => {
                    self.inner.misses.add(1);
                    Found::Wait(done.clone())
                }
                _ => {
                    self.inner.misses.add(1);
                    self.inner.loads.add(1);
                    let load_id = self.inner.next_load_id.fetch_add(1, Relaxed);
                    let (sender, done) = watch::channel(None);
                    if !shard.contains_key(&key) {
                        evict_one_if_full(&mut shard, self.inner.shard_capacity, ttl);
                    }
                    shard.insert(
                        key,
                        Slot::Loading {
                            load_id,
                            done: done.clone(),
                        },
                    );
                    self.spawn_load(key, load_id, load(), Some(sender));
                    Found::Wait(done)
                }
            }
        };
        match found {
            Found::Value(value) => Ok(value),
            Found::Wait(mut done) => match done.wait_for(Option::is_some).await {
                Ok(result) => result.clone().expect("wait_for returned a completed load"),
                // The load task panicked before sending; report it rather than hang.
                Err(_) => Err(LoadError::other("the cache load was aborted")),
            },
        }
    }

    /// The value cached for `key`, if one is loaded; never loads, and counts neither a hit nor a
    /// miss (for reads that merely prefer this node's fresher view, such as a key's last use).
    pub fn peek(&self, key: &KeyHash) -> Option<V> {
        match self.shard(key).get(key) {
            Some(Slot::Ready { value, .. }) => Some(value.clone()),
            _ => None,
        }
    }

    /// Runs a load in its own task, installs its result, and wakes the requests waiting for it.
    fn spawn_load<Fut>(
        &self,
        key: KeyHash,
        load_id: u64,
        loading: Fut,
        waiters: Option<watch::Sender<Option<LoadResult<V>>>>,
    ) where
        Fut: Future<Output = LoadResult<V>> + Send + 'static,
    {
        let cache = self.clone();
        tokio::spawn(async move {
            let result = loading.await;
            cache.finish_load(key, load_id, &result);
            if let Some(waiters) = waiters {
                // Nobody may be waiting any more; that is fine.
                let _ = waiters.send(Some(result));
            }
        });
    }

    /// Installs a finished load or refresh, unless the slot was invalidated (or replaced)
    /// meanwhile. A failed refresh keeps the stale value; the next hit tries again.
    fn finish_load(&self, key: KeyHash, load_id: u64, result: &LoadResult<V>) {
        let mut shard = self.shard(&key);
        let ours = match shard.get_mut(&key) {
            Some(Slot::Loading { load_id: id, .. }) => *id == load_id,
            Some(Slot::Ready { refresh, .. }) if *refresh == Some(load_id) => {
                if result.is_err() {
                    *refresh = None;
                    return;
                }
                true
            }
            _ => false,
        };
        if !ours {
            return;
        }
        match result {
            Ok(value) => {
                let ready = Slot::Ready {
                    value: value.clone(),
                    loaded: Instant::now(),
                    refresh: None,
                };
                shard.insert(key, ready);
            }
            Err(_) => {
                shard.remove(&key);
            }
        }
    }

    /// Forgets `key`, including a load in flight. The next lookup reads the database.
    pub fn invalidate(&self, key: &KeyHash) {
        self.shard(key).remove(key);
    }

    /// Forgets every entry whose value matches, and every load in flight (whose keys are not
    /// known until they finish). Used when one change affects many keys (deleting an API).
    pub fn invalidate_where(&self, matches: impl Fn(&V) -> bool) {
        for shard in &self.inner.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.retain(|_, slot| match slot {
                // A refresh in flight read a row that may predate the change: drop it too.
                Slot::Ready { value, refresh, .. } => refresh.is_none() && !matches(value),
                Slot::Loading { .. } => false,
            });
        }
    }

    pub fn stats(&self) -> CacheStats {
        let entries = self
            .inner
            .shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|e| e.into_inner()).len() as u64)
            .sum();
        CacheStats {
            hits: self.inner.hits.get(),
            misses: self.inner.misses.get(),
            loads: self.inner.loads.get(),
            refreshes: self.inner.refreshes.get(),
            entries,
        }
    }
}

/// Makes room in a full shard: drops entries past their stale limit, or else one arbitrary
/// ready entry (hash-map order is effectively random; loads in flight are never evicted).
fn evict_one_if_full<V>(shard: &mut ShardMap<V>, capacity: usize, ttl: Duration) {
    if shard.len() < capacity {
        return;
    }
    let now = Instant::now();
    shard.retain(|_, slot| !matches!(slot, Slot::Ready { loaded, .. } if now >= *loaded + ttl * 2));
    if shard.len() < capacity {
        return;
    }
    let victim = shard
        .iter()
        .find(|(_, slot)| matches!(slot, Slot::Ready { .. }))
        .map(|(k, _)| *k);
    if let Some(victim) = victim {
        shard.remove(&victim);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tokio::sync::Notify;

    fn key(n: u8) -> KeyHash {
        KeyHash::of(&format!("key-{n}"))
    }

    #[tokio::test]
    async fn a_hit_does_not_load() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        let loads = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let loads = loads.clone();
            let v = cache
                .get_or_load(key(1), move || async move {
                    loads.fetch_add(1, Relaxed);
                    Ok::<_, LoadError>(7)
                })
                .await
                .unwrap();
            assert_eq!(v, 7);
        }
        assert_eq!(loads.load(Relaxed), 1);
        let stats = cache.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.loads, stats.entries),
            (4, 1, 1, 1)
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_share_one_load() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        let loads = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (cache, loads, gate) = (cache.clone(), loads.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get_or_load(key(1), move || async move {
                        loads.fetch_add(1, Relaxed);
                        gate.notified().await;
                        Ok::<_, LoadError>(42)
                    })
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), 42);
        }
        assert_eq!(loads.load(Relaxed), 1);
    }

    #[tokio::test]
    async fn invalidation_detaches_a_load_in_flight() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        let gate = Arc::new(Notify::new());
        // A load that read the "old" row and is slow to finish.
        let slow = {
            let (cache, gate) = (cache.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(key(1), move || async move {
                        gate.notified().await;
                        Ok::<_, LoadError>("old")
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The row changes; the change invalidates.
        cache.invalidate(&key(1));
        // A request after the invalidation must not join the stale load.
        let fresh = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>("new") })
            .await
            .unwrap();
        assert_eq!(fresh, "new");
        gate.notify_one();
        assert_eq!(
            slow.await.unwrap().unwrap(),
            "old",
            "waiters of the old load still get its answer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        // …but the old answer never replaced the new one.
        let again = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>("reloaded") })
            .await
            .unwrap();
        assert_eq!(again, "new");
    }

    #[tokio::test]
    async fn invalidate_where_drops_matching_entries() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        for n in 0..10u8 {
            cache
                .get_or_load(key(n), move || async move { Ok::<_, LoadError>(n % 2) })
                .await
                .unwrap();
        }
        cache.invalidate_where(|v| *v == 1);
        assert_eq!(cache.stats().entries, 5);
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(99) })
            .await
            .unwrap();
        assert_eq!(v, 99);
        let v = cache
            .get_or_load(key(2), || async { Ok::<_, LoadError>(99) })
            .await
            .unwrap();
        assert_eq!(v, 0);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache: KeyCache<u8> = KeyCache::new(100, Duration::from_secs(60));
        let err = cache
            .get_or_load(key(1), || async { Err(LoadError::other("db down")) })
            .await;
        assert_eq!(err.unwrap_err().to_string(), "db down");
        let ok = cache.get_or_load(key(1), || async { Ok(1) }).await.unwrap();
        assert_eq!(ok, 1);
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let cache = KeyCache::new(SHARDS, Duration::from_secs(60));
        for n in 0..=255u8 {
            cache
                .get_or_load(key(n), move || async move { Ok::<_, LoadError>(n) })
                .await
                .unwrap();
        }
        assert!(cache.stats().entries <= SHARDS as u64 + SHARDS as u64 / 8 + SHARDS as u64);
        assert!(cache.stats().entries < 256);
    }

    #[tokio::test]
    async fn stale_entries_are_served_while_one_refresh_runs() {
        let ttl = Duration::from_millis(40);
        let cache = KeyCache::new(100, ttl);
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(1) })
            .await
            .unwrap();
        tokio::time::sleep(ttl + Duration::from_millis(5)).await;
        let gate = Arc::new(Notify::new());
        let loads = Arc::new(AtomicUsize::new(0));
        for _ in 0..5 {
            let (gate, loads) = (gate.clone(), loads.clone());
            let v = cache
                .get_or_load(key(1), move || async move {
                    loads.fetch_add(1, Relaxed);
                    gate.notified().await;
                    Ok::<_, LoadError>(2)
                })
                .await
                .unwrap();
            assert_eq!(v, 1, "the stale value is served without waiting");
        }
        assert_eq!(cache.stats().refreshes, 1);
        gate.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(loads.load(Relaxed), 1, "one refresh for five stale hits");
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(3) })
            .await
            .unwrap();
        assert_eq!(v, 2, "the refreshed value replaced the stale one");
    }

    #[tokio::test]
    async fn invalidation_discards_a_refresh_in_flight() {
        let ttl = Duration::from_millis(30);
        let cache = KeyCache::new(100, ttl);
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>("old") })
            .await
            .unwrap();
        tokio::time::sleep(ttl + Duration::from_millis(5)).await;
        let gate = Arc::new(Notify::new());
        let refresh_gate = gate.clone();
        let stale = cache
            .get_or_load(key(1), move || async move {
                refresh_gate.notified().await;
                Ok::<_, LoadError>("read before the change")
            })
            .await
            .unwrap();
        assert_eq!(stale, "old");
        cache.invalidate(&key(1));
        gate.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>("new") })
            .await
            .unwrap();
        assert_eq!(v, "new");
    }

    #[tokio::test]
    async fn entries_past_twice_the_ttl_are_loaded_before_answering() {
        let ttl = Duration::from_millis(20);
        let cache = KeyCache::new(100, ttl);
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(1) })
            .await
            .unwrap();
        tokio::time::sleep(ttl * 2 + Duration::from_millis(5)).await;
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(2) })
            .await
            .unwrap();
        assert_eq!(v, 2);
    }
}
