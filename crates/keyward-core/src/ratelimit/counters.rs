//! Where the counts live: [`CounterStore`], and the in-memory store every node uses today.
//!
//! The trait is the seam for a shared engine (PostgreSQL or Redis) that several nodes would
//! use: it decides a set of checks atomically, takes back a decision's charges, and hands its
//! counts over for a checkpoint. [`MemoryCounters`] keeps them in this process: 64 shards, each a
//! mutex over a hash map from [`CounterKey`] to [`Windows`] (two windows' counts per identifier).
//! A decision locks the shards of its counters in shard order (so two multi-limit decisions can
//! never wait on each other in a cycle), decides every check against counts no one else can
//! change meanwhile, and charges all of them or none — exact under any concurrency, with a lock
//! held for a few hash probes.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use super::window::{self, Windows};

const SHARDS: usize = 64;

/// What a counter counts: one identifier of one limit, for windows of one length. The same
/// identifier under another duration (an override changing it) is another counter, as in Unkey.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CounterKey {
    /// The limit: a namespace's id (`rlns_…`), a key's or identity's limit id (`rl_…`), or an
    /// ad-hoc limit of a verification (`adhoc:<name>`, with the key's id as the identifier).
    pub scope: Arc<str>,
    pub identifier: Box<str>,
    /// Window length, ms.
    pub duration: i64,
}

/// One check of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub key: CounterKey,
    pub limit: i64,
    pub cost: i64,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Whether this check alone admits its cost.
    pub passed: bool,
    /// What is left in the window after this decision (0 when the check failed).
    pub remaining: i64,
    /// When the current window ends, unix ms.
    pub reset: i64,
}

/// A decision over several checks: charged only if every check passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub passed: bool,
    pub outcomes: Vec<Outcome>,
}

/// A counter as a checkpoint stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedCounter {
    pub key: CounterKey,
    pub windows: Windows,
}

/// Counts of admitted cost per [`CounterKey`].
pub trait CounterStore: Send + Sync {
    /// Decides `checks` together at `now`: if each passes with the cost of those before it
    /// counted, all are charged; otherwise none is. Unkey's reporting: a failed check has 0
    /// remaining, a passed one what is left after its cost — or, when another check failed and
    /// nothing was charged, what is left without it.
    fn decide(&self, checks: &[Check], now: i64) -> Decision;

    /// Takes back the charges of a decision made at `decided_at` that passed (a verification then
    /// refused for its credits), from whichever window they are counted in by now.
    fn refund(&self, checks: &[Check], decided_at: i64);

    /// Forgets counters whose two windows are over at `now`; returns how many.
    fn evict_idle(&self, now: i64) -> usize;

    /// The live counters of windows longer than `min_duration` ms, for a checkpoint.
    fn snapshot(&self, min_duration: i64, now: i64) -> Vec<SavedCounter>;

    /// Takes in counters of a checkpoint, where no count is held yet for them.
    fn restore(&self, counters: Vec<SavedCounter>, now: i64);

    /// How many counters are held.
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

type Shard = HashMap<CounterKey, Windows>;

/// The in-memory [`CounterStore`].
pub struct MemoryCounters {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for MemoryCounters {
    fn default() -> Self {
        MemoryCounters {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

fn lock(shard: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    // A panic while a shard was held cannot leave a count half-written (each is one store).
    shard.lock().unwrap_or_else(|e| e.into_inner())
}

impl MemoryCounters {
    fn shard_of(&self, key: &CounterKey) -> usize {
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }
}

/// Shard `i` among the locked ones.
fn locked<'a>(guards: &'a mut [(usize, MutexGuard<'_, Shard>)], i: usize) -> &'a mut Shard {
    let at = guards
        .binary_search_by_key(&i, |(id, _)| *id)
        .expect("every check's shard is locked");
    &mut guards[at].1
}

/// The counter of `key`, created if there is none, rolled forward to the window of `now`.
fn counter<'a>(shard: &'a mut Shard, key: &CounterKey, now: i64) -> &'a mut Windows {
    let sequence = window::sequence(now, key.duration);
    // Probe before inserting: a check of a counter already held allocates nothing.
    if !shard.contains_key(key) {
        shard.insert(
            key.clone(),
            Windows {
                sequence,
                ..Windows::default()
            },
        );
    }
    let windows = shard.get_mut(key).expect("just inserted");
    windows.roll_to(sequence);
    windows
}

impl CounterStore for MemoryCounters {
    fn decide(&self, checks: &[Check], now: i64) -> Decision {
        if let [check] = checks {
            // One check: one shard, no bookkeeping.
            let mut shard = lock(&self.shards[self.shard_of(&check.key)]);
            let windows = counter(&mut shard, &check.key, now);
            let before =
                window::effective(windows.current, windows.previous, now, check.key.duration);
            let after = before.saturating_add(check.cost);
            let passed = after <= check.limit;
            if passed {
                windows.current = windows.current.saturating_add(check.cost);
            }
            return Decision {
                passed,
                outcomes: vec![Outcome {
                    passed,
                    remaining: if passed {
                        (check.limit - after).max(0)
                    } else {
                        0
                    },
                    reset: window::reset(now, check.key.duration),
                }],
            };
        }
        let shard_ids: Vec<usize> = checks.iter().map(|c| self.shard_of(&c.key)).collect();
        let mut order = shard_ids.clone();
        order.sort_unstable();
        order.dedup();
        let mut guards: Vec<(usize, MutexGuard<'_, Shard>)> =
            order.iter().map(|&i| (i, lock(&self.shards[i]))).collect();
        // Charge each check tentatively, so a later check of the same counter sees it, and
        // decide each on the counts with the earlier ones charged.
        let mut befores = Vec::with_capacity(checks.len());
        let mut passed_all = true;
        for (check, &i) in checks.iter().zip(&shard_ids) {
            let windows = counter(locked(&mut guards, i), &check.key, now);
            let before =
                window::effective(windows.current, windows.previous, now, check.key.duration);
            windows.current = windows.current.saturating_add(check.cost);
            passed_all &= before.saturating_add(check.cost) <= check.limit;
            befores.push(before);
        }
        if !passed_all {
            for (check, &i) in checks.iter().zip(&shard_ids) {
                let windows = counter(locked(&mut guards, i), &check.key, now);
                windows.current = windows.current.saturating_sub(check.cost);
            }
        }
        let outcomes = checks
            .iter()
            .zip(befores)
            .map(|(check, before)| {
                let after = before.saturating_add(check.cost);
                let passed = after <= check.limit;
                let remaining = match (passed, passed_all) {
                    (false, _) => 0,
                    (true, true) => check.limit - after,
                    // Nothing was charged: what is left without this call.
                    (true, false) => check.limit - before,
                };
                Outcome {
                    passed,
                    remaining: remaining.max(0),
                    reset: window::reset(now, check.key.duration),
                }
            })
            .collect();
        Decision {
            passed: passed_all,
            outcomes,
        }
    }

    fn refund(&self, checks: &[Check], decided_at: i64) {
        for check in checks {
            let mut shard = lock(&self.shards[self.shard_of(&check.key)]);
            let Some(windows) = shard.get_mut(&check.key) else {
                continue;
            };
            let charged_in = window::sequence(decided_at, check.key.duration);
            if windows.sequence == charged_in {
                windows.current = (windows.current - check.cost).max(0);
            } else if windows.sequence == charged_in + 1 {
                windows.previous = (windows.previous - check.cost).max(0);
            }
        }
    }

    fn evict_idle(&self, now: i64) -> usize {
        let mut evicted = 0;
        for shard in self.shards.iter() {
            let mut shard = lock(shard);
            let before = shard.len();
            shard.retain(|key, windows| !windows.idle_at(now, key.duration));
            evicted += before - shard.len();
            // Give memory back after a burst of identifiers went idle.
            if shard.capacity() > 64 && shard.len() < shard.capacity() / 4 {
                shard.shrink_to_fit();
            }
        }
        evicted
    }

    fn snapshot(&self, min_duration: i64, now: i64) -> Vec<SavedCounter> {
        let mut saved = Vec::new();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            saved.extend(
                shard
                    .iter()
                    .filter(|(key, w)| key.duration > min_duration && !w.idle_at(now, key.duration))
                    .map(|(key, windows)| SavedCounter {
                        key: key.clone(),
                        windows: *windows,
                    }),
            );
        }
        saved
    }

    fn restore(&self, counters: Vec<SavedCounter>, now: i64) {
        for saved in counters {
            if saved.windows.idle_at(now, saved.key.duration) {
                continue;
            }
            let mut shard = lock(&self.shards[self.shard_of(&saved.key)]);
            shard.entry(saved.key).or_insert(saved.windows);
        }
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}
