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
//! - **Bounded**: about `capacity` values (each of the 64 shards holds an equal share plus 1/8
//!   headroom, because hashes never spread perfectly evenly), evicting expired entries first,
//!   then an arbitrary one. Only a load that found a key evicts; loads in flight take no place
//!   (each is one database read from done).
//! - **Unknown hashes are remembered apart, and cannot crowd out keys**: a load that finds no key
//!   is remembered for `ttl` in each shard's own small set (`Absent`, [`ABSENT_SHARE`] of
//!   `capacity` in all), which forgets its older half when full. A flood of distinct unknown
//!   hashes (bogus bearer tokens, guessed keys) therefore never evicts a cached key or root key,
//!   and holds at most that set's bound in memory. What a flood does cost is one database read
//!   per distinct hash — an indexed point read on the reader pool, whose size (4 for SQLite)
//!   bounds how many run at once: nothing short of a read can tell a new hash from an unknown
//!   one, so only a rate limit in front of keyward lowers that. The set absorbs the repeats: a
//!   client retrying a revoked or mistyped key reads the database once per `ttl`, not per request.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::key_material::KeyHash;
use crate::striped::Counter;

const SHARDS: usize = 64;

/// Unknown hashes remembered, as a fraction of `capacity` (at least 2 per shard).
pub const ABSENT_SHARE: usize = 16;

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

type ShardMap<T> = HashMap<KeyHash, T, BuildHasherDefault<DigestHasher>>;

type LoadResult<V> = Result<Option<V>, LoadError>;

struct Ready<V> {
    value: V,
    loaded: Instant,
    /// The id of the background refresh under way, if any.
    refresh: Option<u64>,
}

struct Loading<V> {
    load_id: u64,
    done: watch::Receiver<Option<LoadResult<V>>>,
}

/// Hashes a load found no key for, and when. Two generations bound the set without keeping an
/// order: inserts go to `current`; a full `current` becomes `previous`, and the old `previous`
/// is forgotten, so at most two generations are held and each hash is kept for at least one
/// generation's worth of inserts (or its `ttl`, whichever ends first).
struct Absent {
    current: ShardMap<Instant>,
    previous: ShardMap<Instant>,
    generation: usize,
}

impl Absent {
    fn new(generation: usize) -> Absent {
        Absent {
            current: ShardMap::default(),
            previous: ShardMap::default(),
            generation,
        }
    }

    /// Whether `key` was found absent less than `ttl` ago; forgets it if longer.
    fn remembers(&mut self, key: &KeyHash, now: Instant, ttl: Duration) -> bool {
        match self.current.get(key).or_else(|| self.previous.get(key)) {
            Some(&seen) if now < seen + ttl => true,
            Some(_) => {
                self.forget(key);
                false
            }
            None => false,
        }
    }

    fn insert(&mut self, key: KeyHash, now: Instant) {
        self.previous.remove(&key);
        if self.current.len() >= self.generation && !self.current.contains_key(&key) {
            // Swapped and cleared rather than replaced: the maps keep their allocations.
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.insert(key, now);
    }

    fn forget(&mut self, key: &KeyHash) {
        self.current.remove(key);
        self.previous.remove(key);
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

/// One shard: a hash is in at most one of `ready`, `loading` and `absent`.
struct Shard<V> {
    ready: ShardMap<Ready<V>>,
    loading: ShardMap<Loading<V>>,
    absent: Absent,
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
    /// Lookups answered from the cache, a remembered absence included.
    pub hits: u64,
    pub misses: u64,
    pub loads: u64,
    pub refreshes: u64,
    /// Values cached (what `capacity` bounds).
    pub entries: u64,
    /// Hashes remembered as matching nothing (bounded apart from `entries`).
    pub absent: u64,
    /// Lookups that went to the database past the cache, while it was bypassed.
    pub bypassed: u64,
}

struct Inner<V> {
    shards: Vec<Mutex<Shard<V>>>,
    shard_capacity: usize,
    ttl: Duration,
    next_load_id: AtomicU64,
    hits: Counter,
    misses: Counter,
    loads: Counter,
    refreshes: Counter,
    /// Set while this node may have missed another node's invalidations ([`crate::nodes`]):
    /// every lookup then reads the database and caches nothing.
    bypass: AtomicBool,
    bypassed: Counter,
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
    Value(Option<V>),
    Wait(watch::Receiver<Option<LoadResult<V>>>),
}

impl<V: Clone + Send + Sync + 'static> KeyCache<V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let share = capacity.div_ceil(SHARDS);
        let absent_generation = (capacity / ABSENT_SHARE / SHARDS / 2).max(1);
        KeyCache {
            inner: Arc::new(Inner {
                shards: (0..SHARDS)
                    .map(|_| {
                        Mutex::new(Shard {
                            ready: ShardMap::default(),
                            loading: ShardMap::default(),
                            absent: Absent::new(absent_generation),
                        })
                    })
                    .collect(),
                shard_capacity: (share + share / 8).max(1),
                ttl,
                next_load_id: AtomicU64::new(0),
                hits: Counter::default(),
                misses: Counter::default(),
                loads: Counter::default(),
                refreshes: Counter::default(),
                bypass: AtomicBool::new(false),
                bypassed: Counter::default(),
            }),
        }
    }

    /// While `bypass` is set, every lookup runs its load and caches nothing (see
    /// [`crate::nodes`]). Entries cached before stay, unused; [`KeyCache::clear`] drops them.
    pub fn set_bypass(&self, bypass: bool) {
        self.inner
            .bypass
            .store(bypass, std::sync::atomic::Ordering::SeqCst);
    }

    /// Forgets everything: values, remembered absences, and loads and refreshes in flight
    /// (whose results are then never cached, as with [`KeyCache::invalidate`]).
    pub fn clear(&self) {
        for shard in &self.inner.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            shard.ready.clear();
            shard.loading.clear();
            shard.absent.current.clear();
            shard.absent.previous.clear();
        }
    }

    fn shard(&self, key: &KeyHash) -> MutexGuard<'_, Shard<V>> {
        let index = usize::from(key.0[0]) % SHARDS;
        // A panic while holding a shard lock cannot leave a map half-updated (every critical
        // section is a single map operation), so a poisoned lock is safe to keep using.
        self.inner.shards[index]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The value cached for `key` (`None`: no such key), or the result of `load` — run at most
    /// once at a time per key.
    pub async fn get_or_load<F, Fut>(&self, key: KeyHash, load: F) -> Result<Option<V>, LoadError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = LoadResult<V>> + Send + 'static,
    {
        // One relaxed load on the hot path. Relaxed is enough: `set_bypass(false)` follows a
        // `clear` whose shard locks order it before any lookup that sees the flag down.
        if self.inner.bypass.load(Relaxed) {
            self.inner.bypassed.add(1);
            return load().await;
        }
        let found = {
            let mut guard = self.shard(&key);
            let shard = &mut *guard;
            let now = Instant::now();
            let ttl = self.inner.ttl;
            if let Some(entry) = shard.ready.get_mut(&key)
                && now < entry.loaded + ttl * 2
            {
                self.inner.hits.add(1);
                if now >= entry.loaded + ttl && entry.refresh.is_none() {
                    let load_id = self.inner.next_load_id.fetch_add(1, Relaxed);
                    entry.refresh = Some(load_id);
                    self.inner.refreshes.add(1);
                    self.spawn_load(key, load_id, load(), None);
                }
                Found::Value(Some(entry.value.clone()))
            } else if let Some(loading) = shard.loading.get(&key) {
                self.inner.misses.add(1);
                Found::Wait(loading.done.clone())
            } else if shard.absent.remembers(&key, now, ttl) {
                self.inner.hits.add(1);
                Found::Value(None)
            } else {
                self.inner.misses.add(1);
                self.inner.loads.add(1);
                // Past twice the TTL: loaded again before answering.
                shard.ready.remove(&key);
                let load_id = self.inner.next_load_id.fetch_add(1, Relaxed);
                let (sender, done) = watch::channel(None);
                shard.loading.insert(
                    key,
                    Loading {
                        load_id,
                        done: done.clone(),
                    },
                );
                self.spawn_load(key, load_id, load(), Some(sender));
                Found::Wait(done)
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
        self.shard(key)
            .ready
            .get(key)
            .map(|entry| entry.value.clone())
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

    /// Installs a finished load or refresh, unless it was invalidated (or replaced) meanwhile.
    /// A failed refresh keeps the stale value; the next hit tries again.
    fn finish_load(&self, key: KeyHash, load_id: u64, result: &LoadResult<V>) {
        let mut guard = self.shard(&key);
        let shard = &mut *guard;
        let load = shard
            .loading
            .get(&key)
            .is_some_and(|l| l.load_id == load_id);
        let refresh = shard
            .ready
            .get(&key)
            .is_some_and(|r| r.refresh == Some(load_id));
        if !load && !refresh {
            return;
        }
        let now = Instant::now();
        match result {
            Err(_) if refresh => {
                if let Some(entry) = shard.ready.get_mut(&key) {
                    entry.refresh = None;
                }
            }
            Err(_) => {
                shard.loading.remove(&key);
            }
            Ok(Some(value)) => {
                shard.loading.remove(&key);
                if !shard.ready.contains_key(&key) {
                    evict_one_if_full(&mut shard.ready, self.inner.shard_capacity, self.inner.ttl);
                }
                let ready = Ready {
                    value: value.clone(),
                    loaded: now,
                    refresh: None,
                };
                shard.ready.insert(key, ready);
            }
            Ok(None) => {
                shard.loading.remove(&key);
                shard.ready.remove(&key);
                shard.absent.insert(key, now);
            }
        }
    }

    /// Forgets `key`, including a load in flight and a remembered absence (a key just created
    /// under this hash). The next lookup reads the database.
    pub fn invalidate(&self, key: &KeyHash) {
        let mut guard = self.shard(key);
        let shard = &mut *guard;
        shard.ready.remove(key);
        shard.loading.remove(key);
        shard.absent.forget(key);
    }

    /// Forgets every value that matches, and every load in flight (whose keys are not known
    /// until they finish). Used when one change affects many keys (deleting an API). Remembered
    /// absences stay: such a change never makes a key exist.
    pub fn invalidate_where(&self, matches: impl Fn(&V) -> bool) {
        for shard in &self.inner.shards {
            let mut shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            // A refresh in flight read a row that may predate the change: drop it too.
            shard
                .ready
                .retain(|_, entry| entry.refresh.is_none() && !matches(&entry.value));
            shard.loading.clear();
        }
    }

    pub fn stats(&self) -> CacheStats {
        let (mut entries, mut absent) = (0, 0);
        for shard in &self.inner.shards {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            entries += shard.ready.len() as u64;
            absent += shard.absent.len() as u64;
        }
        CacheStats {
            hits: self.inner.hits.get(),
            misses: self.inner.misses.get(),
            loads: self.inner.loads.get(),
            refreshes: self.inner.refreshes.get(),
            entries,
            absent,
            bypassed: self.inner.bypassed.get(),
        }
    }
}

/// Makes room in a full shard: drops entries past their stale limit, or else one arbitrary
/// entry (hash-map order is effectively random).
fn evict_one_if_full<V>(ready: &mut ShardMap<Ready<V>>, capacity: usize, ttl: Duration) {
    if ready.len() < capacity {
        return;
    }
    let now = Instant::now();
    ready.retain(|_, entry| now < entry.loaded + ttl * 2);
    if ready.len() < capacity {
        return;
    }
    let victim = ready.keys().next().copied();
    if let Some(victim) = victim {
        ready.remove(&victim);
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
                    Ok::<_, LoadError>(Some(7))
                })
                .await
                .unwrap();
            assert_eq!(v, Some(7));
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
                        Ok::<_, LoadError>(Some(42))
                    })
                    .await
            }));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        gate.notify_one();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Some(42));
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
                        Ok::<_, LoadError>(Some("old"))
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        // The row changes; the change invalidates.
        cache.invalidate(&key(1));
        // A request after the invalidation must not join the stale load.
        let fresh = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("new")) })
            .await
            .unwrap();
        assert_eq!(fresh, Some("new"));
        gate.notify_one();
        assert_eq!(
            slow.await.unwrap().unwrap(),
            Some("old"),
            "waiters of the old load still get its answer"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        // …but the old answer never replaced the new one.
        let again = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("reloaded")) })
            .await
            .unwrap();
        assert_eq!(again, Some("new"));
    }

    #[tokio::test]
    async fn invalidate_where_detaches_loads_in_flight() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        let gate = Arc::new(Notify::new());
        // A load whose value (and so whether it matches) is not known yet.
        let slow = {
            let (cache, gate) = (cache.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(key(1), move || async move {
                        gate.notified().await;
                        Ok::<_, LoadError>(Some("old"))
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        cache.invalidate_where(|v| *v == "old");
        // Joining the load would wait for the gate, opened only below.
        let fresh = tokio::time::timeout(
            Duration::from_secs(1),
            cache.get_or_load(key(1), || async { Ok::<_, LoadError>(Some("new")) }),
        )
        .await
        .expect("a lookup after the invalidation does not join the load");
        assert_eq!(fresh.unwrap(), Some("new"));
        gate.notify_one();
        assert_eq!(slow.await.unwrap().unwrap(), Some("old"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let again = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("reloaded")) })
            .await
            .unwrap();
        assert_eq!(again, Some("new"), "the detached load was never cached");
    }

    #[tokio::test]
    async fn invalidate_where_drops_matching_entries() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        for n in 0..10u8 {
            cache
                .get_or_load(
                    key(n),
                    move || async move { Ok::<_, LoadError>(Some(n % 2)) },
                )
                .await
                .unwrap();
        }
        cache.invalidate_where(|v| *v == 1);
        assert_eq!(cache.stats().entries, 5);
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(99)) })
            .await
            .unwrap();
        assert_eq!(v, Some(99));
        let v = cache
            .get_or_load(key(2), || async { Ok::<_, LoadError>(Some(99)) })
            .await
            .unwrap();
        assert_eq!(v, Some(0));
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache: KeyCache<u8> = KeyCache::new(100, Duration::from_secs(60));
        let err = cache
            .get_or_load(key(1), || async { Err(LoadError::other("db down")) })
            .await;
        assert_eq!(err.unwrap_err().to_string(), "db down");
        let ok = cache
            .get_or_load(key(1), || async { Ok(Some(1)) })
            .await
            .unwrap();
        assert_eq!(ok, Some(1));
    }

    #[tokio::test]
    async fn capacity_is_bounded() {
        let cache = KeyCache::new(SHARDS, Duration::from_secs(60));
        for n in 0..=255u8 {
            cache
                .get_or_load(key(n), move || async move { Ok::<_, LoadError>(Some(n)) })
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
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(1)) })
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
                    Ok::<_, LoadError>(Some(2))
                })
                .await
                .unwrap();
            assert_eq!(v, Some(1), "the stale value is served without waiting");
        }
        assert_eq!(cache.stats().refreshes, 1);
        gate.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(loads.load(Relaxed), 1, "one refresh for five stale hits");
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(3)) })
            .await
            .unwrap();
        assert_eq!(v, Some(2), "the refreshed value replaced the stale one");
    }

    #[tokio::test]
    async fn invalidation_discards_a_refresh_in_flight() {
        let ttl = Duration::from_millis(30);
        let cache = KeyCache::new(100, ttl);
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("old")) })
            .await
            .unwrap();
        tokio::time::sleep(ttl + Duration::from_millis(5)).await;
        let gate = Arc::new(Notify::new());
        let refresh_gate = gate.clone();
        let stale = cache
            .get_or_load(key(1), move || async move {
                refresh_gate.notified().await;
                Ok::<_, LoadError>(Some("read before the change"))
            })
            .await
            .unwrap();
        assert_eq!(stale, Some("old"));
        cache.invalidate(&key(1));
        gate.notify_one();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("new")) })
            .await
            .unwrap();
        assert_eq!(v, Some("new"));
    }

    #[tokio::test]
    async fn entries_past_twice_the_ttl_are_loaded_before_answering() {
        let ttl = Duration::from_millis(20);
        let cache = KeyCache::new(100, ttl);
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(1)) })
            .await
            .unwrap();
        tokio::time::sleep(ttl * 2 + Duration::from_millis(5)).await;
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(2)) })
            .await
            .unwrap();
        assert_eq!(v, Some(2));
    }

    fn unknown(n: u32) -> KeyHash {
        KeyHash::of(&format!("unknown-{n}"))
    }

    #[tokio::test]
    async fn unknown_hashes_never_evict_values_and_stay_bounded() {
        // One value per shard: before, any unknown hash landing in key(1)'s shard evicted it.
        let cache = KeyCache::new(SHARDS, Duration::from_secs(60));
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("real")) })
            .await
            .unwrap();
        for n in 0..10_000 {
            let found = cache
                .get_or_load(unknown(n), || async { Ok::<_, LoadError>(None) })
                .await
                .unwrap();
            assert_eq!(found, None);
        }
        let loads = cache.stats().loads;
        let v = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("reloaded")) })
            .await
            .unwrap();
        assert_eq!(v, Some("real"), "still cached");
        let stats = cache.stats();
        assert_eq!((stats.loads, stats.entries), (loads, 1));
        // Two generations of one hash per shard.
        assert!(stats.absent <= 2 * SHARDS as u64, "{stats:?}");
    }

    #[tokio::test]
    async fn absences_are_remembered_for_the_ttl() {
        let ttl = Duration::from_millis(40);
        let cache: KeyCache<u8> = KeyCache::new(100, ttl);
        let loads = Arc::new(AtomicUsize::new(0));
        let lookup = || {
            let loads = loads.clone();
            cache.get_or_load(unknown(1), move || async move {
                loads.fetch_add(1, Relaxed);
                Ok(None)
            })
        };
        assert_eq!(lookup().await.unwrap(), None);
        assert_eq!(lookup().await.unwrap(), None);
        assert_eq!(loads.load(Relaxed), 1, "the second lookup was a hit");
        assert_eq!((cache.stats().hits, cache.stats().absent), (1, 1));
        tokio::time::sleep(ttl + Duration::from_millis(5)).await;
        assert_eq!(lookup().await.unwrap(), None);
        assert_eq!(loads.load(Relaxed), 2, "read again past the ttl");
    }

    #[tokio::test]
    async fn invalidation_forgets_an_absence() {
        // A key created under a hash someone tried before it existed.
        let cache = KeyCache::new(100, Duration::from_secs(60));
        let none = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(None) })
            .await
            .unwrap();
        assert_eq!(none, None);
        cache.invalidate(&key(1));
        assert_eq!(cache.stats().absent, 0);
        let created = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(1)) })
            .await
            .unwrap();
        assert_eq!(created, Some(1));
    }

    #[tokio::test]
    async fn a_refresh_that_finds_nothing_remembers_the_absence() {
        // A key deleted behind keyward's back.
        let ttl = Duration::from_millis(30);
        let cache = KeyCache::new(100, ttl);
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(1)) })
            .await
            .unwrap();
        tokio::time::sleep(ttl + Duration::from_millis(5)).await;
        let stale = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(None) })
            .await
            .unwrap();
        assert_eq!(stale, Some(1), "served while the refresh runs");
        tokio::time::sleep(Duration::from_millis(10)).await;
        let gone = cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(2)) })
            .await
            .unwrap();
        assert_eq!(gone, None);
        assert_eq!((cache.stats().entries, cache.stats().absent), (0, 1));
    }

    #[tokio::test]
    async fn a_bypassed_cache_loads_every_time_and_caches_nothing() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some(100)) })
            .await
            .unwrap();
        cache.set_bypass(true);
        for n in 0..3 {
            let v = cache
                .get_or_load(key(1), move || async move { Ok::<_, LoadError>(Some(n)) })
                .await
                .unwrap();
            assert_eq!(v, Some(n), "read afresh, not the cached value");
        }
        let absent = cache
            .get_or_load(key(2), || async { Ok::<_, LoadError>(None) })
            .await
            .unwrap();
        assert_eq!(absent, None);
        let stats = cache.stats();
        assert_eq!((stats.bypassed, stats.entries, stats.absent), (4, 1, 0));
        cache.set_bypass(false);
        let v = cache
            .get_or_load(key(2), || async { Ok::<_, LoadError>(Some(9)) })
            .await
            .unwrap();
        assert_eq!(v, Some(9), "the bypassed absence was never remembered");
    }

    #[tokio::test]
    async fn clear_forgets_values_absences_and_loads_in_flight() {
        let cache = KeyCache::new(100, Duration::from_secs(60));
        cache
            .get_or_load(key(1), || async { Ok::<_, LoadError>(Some("old")) })
            .await
            .unwrap();
        cache
            .get_or_load(key(2), || async { Ok::<_, LoadError>(None) })
            .await
            .unwrap();
        let gate = Arc::new(Notify::new());
        let slow = {
            let (cache, gate) = (cache.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .get_or_load(key(3), move || async move {
                        gate.notified().await;
                        Ok::<_, LoadError>(Some("read before"))
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        cache.clear();
        assert_eq!((cache.stats().entries, cache.stats().absent), (0, 0));
        gate.notify_one();
        assert_eq!(slow.await.unwrap().unwrap(), Some("read before"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        for n in 1..=3 {
            let v = cache
                .get_or_load(key(n), || async { Ok::<_, LoadError>(Some("new")) })
                .await
                .unwrap();
            assert_eq!(v, Some("new"), "key {n}");
        }
    }
}
