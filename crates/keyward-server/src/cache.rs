//! The lookup cache of the verification hot path: key hash → what the database says about it.
//!
//! Properties the rest of keyward relies on (each has a test below):
//! - **A hit does no I/O**: one shard lock, one hash-map probe, one `Arc` clone.
//! - **A miss loads once**: concurrent lookups of the same hash share one database load
//!   (single flight), run in its own task so a client hanging up cannot cancel it for the others.
//! - **Invalidation is linearizable on this node**: [`KeyCache::invalidate`] removes the entry
//!   *and* detaches any load in flight, whose result is then handed to the requests already
//!   waiting for it but never cached. A lookup that starts after `invalidate` returns therefore
//!   reads the database afresh, so revocation takes effect on the next request whatever the cache
//!   held. (A plain TTL cache, or moka's `get_with`, would let a load that read the row before
//!   the change insert the stale value after the invalidation.)
//! - **Bounded**: at most `capacity` entries, evicting an arbitrary entry of the full shard;
//!   entries also expire after `ttl`, a safety net for changes made outside this process.
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

enum Slot<V> {
    Ready {
        value: V,
        expires: Instant,
    },
    Loading {
        load_id: u64,
        done: watch::Receiver<Option<Result<V, LoadError>>>,
    },
}

/// Why a load failed; shared by every request that waited for it. Never cached.
#[derive(Clone, Debug)]
pub struct LoadError(pub Arc<str>);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub entries: u64,
}

struct Inner<V> {
    shards: Vec<Mutex<ShardMap<V>>>,
    shard_capacity: usize,
    ttl: Duration,
    next_load_id: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
    loads: AtomicU64,
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

impl<V: Clone + Send + Sync + 'static> KeyCache<V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        KeyCache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS)
                    .map(|_| Mutex::new(ShardMap::default()))
                    .collect(),
                shard_capacity: capacity.div_ceil(SHARDS).max(1),
                ttl,
                next_load_id: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                loads: AtomicU64::new(0),
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
        Fut: Future<Output = Result<V, LoadError>> + Send + 'static,
    {
        let mut done = {
            let mut shard = self.shard(&key);
            match shard.get(&key) {
                Some(Slot::Ready { value, expires }) if *expires > Instant::now() => {
                    self.inner.hits.fetch_add(1, Relaxed);
                    return Ok(value.clone());
                }
                Some(Slot::Loading { done, .. }) => {
                    self.inner.misses.fetch_add(1, Relaxed);
                    done.clone()
                }
                _ => {
                    self.inner.misses.fetch_add(1, Relaxed);
                    self.inner.loads.fetch_add(1, Relaxed);
                    let load_id = self.inner.next_load_id.fetch_add(1, Relaxed);
                    let (sender, done) = watch::channel(None);
                    if !shard.contains_key(&key) {
                        evict_one_if_full(&mut shard, self.inner.shard_capacity);
                    }
                    shard.insert(
                        key,
                        Slot::Loading {
                            load_id,
                            done: done.clone(),
                        },
                    );
                    let loading = load();
                    let cache = self.clone();
                    tokio::spawn(async move {
                        let result = loading.await;
                        cache.finish_load(key, load_id, &result);
                        // Nobody may be waiting any more; that is fine.
                        let _ = sender.send(Some(result));
                    });
                    done
                }
            }
        };
        match done.wait_for(Option::is_some).await {
            Ok(result) => result.clone().expect("wait_for returned a completed load"),
            // The load task panicked before sending; report it rather than hang.
            Err(_) => Err(LoadError("the cache load was aborted".into())),
        }
    }

    /// Installs a finished load, unless the slot was invalidated (or replaced) meanwhile.
    fn finish_load(&self, key: KeyHash, load_id: u64, result: &Result<V, LoadError>) {
        let mut shard = self.shard(&key);
        let ours =
            matches!(shard.get(&key), Some(Slot::Loading { load_id: id, .. }) if *id == load_id);
        if !ours {
            return;
        }
        match result {
            Ok(value) => {
                let expires = Instant::now() + self.inner.ttl;
                shard.insert(
                    key,
                    Slot::Ready {
                        value: value.clone(),
                        expires,
                    },
                );
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
                Slot::Ready { value, .. } => !matches(value),
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
            hits: self.inner.hits.load(Relaxed),
            misses: self.inner.misses.load(Relaxed),
            loads: self.inner.loads.load(Relaxed),
            entries,
        }
    }
}

/// Makes room in a full shard: drops expired entries, or else one arbitrary ready entry
/// (hash-map order is effectively random; loads in flight are never evicted).
fn evict_one_if_full<V>(shard: &mut ShardMap<V>, capacity: usize) {
    if shard.len() < capacity {
        return;
    }
    let now = Instant::now();
    shard.retain(|_, slot| !matches!(slot, Slot::Ready { expires, .. } if *expires <= now));
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
            .get_or_load(key(1), || async { Err(LoadError("db down".into())) })
            .await;
        assert_eq!(err.unwrap_err().to_string(), "db down");
        let ok = cache.get_or_load(key(1), || async { Ok(1) }).await.unwrap();
        assert_eq!(ok, 1);
    }

    #[tokio::test]
    async fn entries_expire_and_capacity_is_bounded() {
        let cache = KeyCache::new(SHARDS, Duration::from_millis(30));
        for n in 0..=255u8 {
            cache
                .get_or_load(key(n), move || async move { Ok::<_, LoadError>(n) })
                .await
                .unwrap();
        }
        assert!(cache.stats().entries <= SHARDS as u64);
        tokio::time::sleep(Duration::from_millis(40)).await;
        let v = cache
            .get_or_load(key(255), || async { Ok::<_, LoadError>(0) })
            .await
            .unwrap();
        assert_eq!(v, 0, "an expired entry is loaded again");
    }
}
