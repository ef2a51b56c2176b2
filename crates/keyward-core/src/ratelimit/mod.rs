//! The rate limiter: Unkey's sliding window ([`window`]) over counts kept in a
//! [`CounterStore`] ([`counters`]; in memory on each node today).
//!
//! Everything that limits goes through [`Limiter::decide`]: `ratelimit.limit` and
//! `ratelimit.multiLimit` (a namespace's id as the scope), and `keys.verifyKey` (a key's or an
//! identity's limit id). A decision over several checks is all-or-nothing. The memory held is
//! one counter (a [`CounterKey`] and two windows' counts) per identifier checked within its
//! last two windows; [`Limiter::evict_idle`] forgets the rest. The guarantees, the worst case over
//! an arbitrary span and what a restart keeps are in docs/ARCHITECTURE.md ("Rate limits").

pub mod checkpoint;
pub mod counters;
pub mod keys;
pub mod namespace;
pub mod window;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub use counters::{Check, CounterKey, CounterStore, Decision, MemoryCounters, Outcome};

/// Counters of windows longer than this survive a graceful restart (see [`checkpoint`]).
pub const CHECKPOINTED_OVER_MS: i64 = 60_000;

/// Admitted and rejected decisions, for `/metrics`.
#[derive(Debug, Default)]
pub struct Decisions {
    admitted: AtomicU64,
    rejected: AtomicU64,
}

impl Decisions {
    pub fn record(&self, admitted: bool) {
        if admitted {
            self.admitted.fetch_add(1, Relaxed);
        } else {
            self.rejected.fetch_add(1, Relaxed);
        }
    }

    /// (admitted, rejected).
    pub fn counts(&self) -> (u64, u64) {
        (self.admitted.load(Relaxed), self.rejected.load(Relaxed))
    }
}

/// The decision counts of every namespace decided on, by id. Cloning shares them: a namespace
/// being loaded into the cache takes its counts from here, so counting a decision is one atomic
/// add on the cached namespace, and the counts outlive its cache entry.
#[derive(Clone, Default)]
pub struct NamespaceDecisions(Arc<Mutex<HashMap<Arc<str>, Arc<Decisions>>>>);

impl NamespaceDecisions {
    /// The decision counts of namespace `id`.
    pub fn of(&self, id: &str) -> Arc<Decisions> {
        let mut namespaces = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(decisions) = namespaces.get(id) {
            return Arc::clone(decisions);
        }
        let decisions = Arc::new(Decisions::default());
        namespaces.insert(Arc::from(id), Arc::clone(&decisions));
        decisions
    }

    /// (namespace id, admitted, rejected) of every namespace decided on, by id.
    pub fn counts(&self) -> Vec<(Arc<str>, u64, u64)> {
        let namespaces = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut counts: Vec<_> = namespaces
            .iter()
            .map(|(id, d)| {
                let (admitted, rejected) = d.counts();
                (Arc::clone(id), admitted, rejected)
            })
            .collect();
        counts.sort();
        counts
    }
}

/// The limiter of a running keyward.
pub struct Limiter {
    counters: Box<dyn CounterStore>,
    /// Decisions of `ratelimit.limit` and `ratelimit.multiLimit`, per namespace.
    pub namespaces: NamespaceDecisions,
    /// Decisions of `keys.verifyKey` with limits (key, identity and ad-hoc ones), in all.
    pub key_limits: Decisions,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(Box::new(MemoryCounters::default()))
    }
}

impl Limiter {
    pub fn new(counters: Box<dyn CounterStore>) -> Limiter {
        Limiter {
            counters,
            namespaces: NamespaceDecisions::default(),
            key_limits: Decisions::default(),
        }
    }

    /// See [`CounterStore::decide`].
    pub fn decide(&self, checks: &[Check], now: i64) -> Decision {
        self.counters.decide(checks, now)
    }

    /// See [`CounterStore::refund`].
    pub fn refund(&self, checks: &[Check], decided_at: i64) {
        self.counters.refund(checks, decided_at)
    }

    pub fn evict_idle(&self, now: i64) -> usize {
        self.counters.evict_idle(now)
    }

    pub fn counters(&self) -> &dyn CounterStore {
        &*self.counters
    }
}

#[cfg(test)]
mod tests;
