//! The rate limiter: Unkey's sliding window ([`window`]) over counts kept by one of two engines
//! ([`Engine`]): in this process ([`counters`], a [`CounterStore`]), or in the database, shared
//! by every node ([`shared`]).
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
pub mod shared;
pub mod window;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

pub use counters::{Check, CounterKey, CounterStore, Decision, MemoryCounters, Outcome};
use keyward_types::ErrorCode;
pub use shared::DatabaseCounters;

use crate::error::{ApiError, ApiResult};

/// Where the counts live (`--ratelimit-engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// In this process: exact for one node, no I/O per decision; several nodes each admit up
    /// to the limit.
    Memory,
    /// In the database: exact across any number of nodes, a database statement per decision.
    Database,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Memory => "memory",
            Engine::Database => "database",
        }
    }
}

/// What a decision does when the database engine cannot make it (`--ratelimit-on-unavailable`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnUnavailable {
    /// Admit (as Unkey does), logged and counted in `/metrics`: availability over the limit.
    Open,
    /// Answer 503 (the default): a limit never admits more than it allows.
    Closed,
}

/// The 503 of a decision the database engine could not make, failing closed.
fn engine_unavailable(cause: impl std::fmt::Display) -> ApiError {
    ApiError {
        cause: Some(format!("rate-limit engine: {cause}")),
        retry_after: Some(crate::error::UNAVAILABLE_RETRY_AFTER_SECS),
        ..ApiError::new(
            ErrorCode::ServiceUnavailable,
            format!(
                "keyward's rate-limit counters (in its database) cannot be reached, and this \
                 server fails closed rather than admit beyond a limit; retry in {} s. An \
                 operator can choose to admit meanwhile (--ratelimit-on-unavailable open); the \
                 server log says why the database cannot be reached.",
                crate::error::UNAVAILABLE_RETRY_AFTER_SECS
            ),
        )
    }
}

/// A decision admitting every check, as if each were alone in an empty window: failing open.
fn admitted(checks: &[Check], now: i64) -> Decision {
    Decision {
        passed: true,
        outcomes: checks
            .iter()
            .map(|check| Outcome {
                passed: true,
                remaining: (check.limit - check.cost).max(0),
                reset: window::reset(now, check.key.duration),
            })
            .collect(),
    }
}

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
    /// The database engine, when it is the one in use (`counters` then stays empty).
    shared: Option<DatabaseCounters>,
    on_unavailable: OnUnavailable,
    /// Decisions the database engine could not make (admitted or refused per `on_unavailable`).
    pub unavailable: AtomicU64,
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
            shared: None,
            on_unavailable: OnUnavailable::Closed,
            unavailable: AtomicU64::new(0),
            namespaces: NamespaceDecisions::default(),
            key_limits: Decisions::default(),
        }
    }

    /// A limiter on the database engine.
    pub fn shared(counters: DatabaseCounters, on_unavailable: OnUnavailable) -> Limiter {
        Limiter {
            shared: Some(counters),
            on_unavailable,
            ..Limiter::default()
        }
    }

    pub fn engine(&self) -> Engine {
        match self.shared {
            Some(_) => Engine::Database,
            None => Engine::Memory,
        }
    }

    /// The database engine, if it is the one in use.
    pub fn database(&self) -> Option<&DatabaseCounters> {
        self.shared.as_ref()
    }

    /// Decides `checks` together at `now` (see [`CounterStore::decide`]). In memory this never
    /// waits; on the database engine a failure fails open or closed as configured.
    pub async fn decide(&self, checks: &[Check], now: i64) -> ApiResult<Decision> {
        let Some(shared) = &self.shared else {
            return Ok(self.counters.decide(checks, now));
        };
        // Boxed: the database future is large, and would otherwise make every caller's so.
        match Box::pin(shared.decide(checks, now)).await {
            Ok(decision) => Ok(decision),
            Err(err) => {
                self.unavailable.fetch_add(1, Relaxed);
                match self.on_unavailable {
                    OnUnavailable::Closed => {
                        tracing::warn!(error = %err, "the rate-limit engine cannot decide; refusing (fail closed)");
                        Err(engine_unavailable(err))
                    }
                    OnUnavailable::Open => {
                        tracing::warn!(error = %err, "the rate-limit engine cannot decide; admitting (fail open)");
                        Ok(admitted(checks, now))
                    }
                }
            }
        }
    }

    /// See [`CounterStore::refund`]. A refund the database engine cannot make is logged: the
    /// charge then stays counted (the limit errs on the side of admitting less).
    pub async fn refund(&self, checks: &[Check], decided_at: i64) {
        let Some(shared) = &self.shared else {
            return self.counters.refund(checks, decided_at);
        };
        if let Err(err) = Box::pin(shared.refund(checks, decided_at)).await {
            tracing::warn!(error = %err, "cannot give a rate-limit charge back; it stays counted");
        }
    }

    pub fn evict_idle(&self, now: i64) -> usize {
        self.counters.evict_idle(now)
    }

    /// The in-memory counters (empty on the database engine).
    pub fn counters(&self) -> &dyn CounterStore {
        &*self.counters
    }
}

#[cfg(test)]
mod tests;
