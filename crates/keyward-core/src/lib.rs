//! keyward's logic, free of HTTP and SQL: authentication and authorization of root keys, the
//! verification hot path and its caches, the unit of work every mutation runs in, and one service
//! module per API group. The HTTP crate (`keyward-http`) calls into it; it calls the storage crate
//! (`keyward-store`), whose errors it turns into [`error::ApiError`]s.
//!
//! - [`Keyward`]: the state of a running instance (database, caches, counters), shared by every
//!   request.
//! - [`service`]: one module per API group; [`verify`] is the hot path of `keys.verifyKey`.
//! - [`work::Work`]: the unit of work of every mutation (transaction, audit events, cache
//!   invalidations applied after the commit).
//! - [`auth`]: root-key authentication; [`audit`]: who changed what; [`cache`], [`last_used`],
//!   [`key_material`], [`permission_query`], [`striped`]: shared mechanisms.

pub mod audit;
pub mod auth;
pub mod bootstrap;
pub mod cache;
pub mod error;
pub mod grants;
pub mod group_commit;
pub mod key_material;
pub mod last_used;
pub mod nodes;
pub mod permission_query;
pub mod ratelimit;
pub mod refill;
pub mod service;
pub mod striped;
pub mod time;
pub mod verify;
pub mod work;

use std::sync::Arc;
use std::time::Duration;

use keyward_store::{BackendKind, Db};

use keyward_store::keys::LockedSpend;
use keyward_types::keys::CreateKeyResponseData;

use crate::auth::RootKey;
use crate::cache::{CacheStats, KeyCache};
use crate::group_commit::GroupCommit;
use crate::last_used::LastUsed;
use crate::ratelimit::Limiter;
use crate::ratelimit::namespace::CachedNamespace;
use crate::service::keys::Creation;
use crate::time::Clock;
use crate::verify::{CachedKey, SharedIds, Spend, VerifyStats};

/// Settings of the logic layer.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Most keys (and, separately, root keys) held in the verification cache.
    pub cache_capacity: usize,
    /// Age after which a cached entry is refreshed in the background (and past twice this,
    /// reloaded before answering). Changes made through keyward invalidate at once; this bounds
    /// only changes made behind its back.
    pub cache_ttl: Duration,
    /// How often keys' `lastUsedAt` marks are written to the database.
    pub last_used_flush: Duration,
    /// The time of the rate limiter and the credit refills (the system's but in tests).
    pub clock: Clock,
    /// Where rate-limit counts live; `None`: the database on PostgreSQL (several nodes are exact),
    /// memory on SQLite (one process, exact without I/O).
    pub ratelimit_engine: Option<ratelimit::Engine>,
    /// What a decision does when the database engine cannot make it.
    pub ratelimit_on_unavailable: ratelimit::OnUnavailable,
}

impl CoreConfig {
    /// The rate-limit engine on a database of `kind`.
    pub fn ratelimit_engine_on(&self, kind: BackendKind) -> ratelimit::Engine {
        self.ratelimit_engine.unwrap_or(match kind {
            BackendKind::Postgres => ratelimit::Engine::Database,
            BackendKind::Sqlite => ratelimit::Engine::Memory,
        })
    }
}

impl Default for CoreConfig {
    fn default() -> Self {
        CoreConfig {
            cache_capacity: 1_000_000,
            cache_ttl: Duration::from_secs(600),
            last_used_flush: Duration::from_secs(300),
            clock: Clock::system(),
            ratelimit_engine: None,
            ratelimit_on_unavailable: ratelimit::OnUnavailable::Closed,
        }
    }
}

/// A running keyward instance: everything an operation may need.
pub struct Keyward {
    pub db: Db,
    pub caches: Caches,
    /// When keys were last used, waiting to be written.
    pub last_used: LastUsed,
    /// Verification outcomes, for `/metrics`.
    pub verifications: VerifyStats,
    /// This node among others on one PostgreSQL: its id and invalidation channel ([`nodes`]).
    pub nodes: nodes::Nodes,
    /// The rate limiter's counters and decision counts.
    pub limiter: Limiter,
    /// What the limiter and the refills take as now.
    pub clock: Clock,
    /// Credit spends of metered verifications, committed in batches ([`group_commit`]).
    pub spends: GroupCommit<Spend, LockedSpend>,
    /// `keys.createKey`s without grants, committed in batches.
    pub creations: GroupCommit<Creation, CreateKeyResponseData>,
}

/// The caches of the verification path. Cloning shares them: the unit of work takes a clone into
/// the task that commits, so that its invalidations run whatever happens to the request.
#[derive(Clone)]
pub struct Caches {
    /// Key hash → the key's verification record (or that no live key has this hash).
    pub keys: KeyCache<Arc<CachedKey>>,
    /// The workspace and API ids the cached keys share.
    pub shared_ids: Arc<SharedIds>,
    /// Root key hash → the root key (or that it is unknown or deleted).
    pub root_keys: KeyCache<Arc<RootKey>>,
    /// Rate-limit namespaces with their overrides, by [`namespace_lookup`] of (workspace, name
    /// or id).
    pub namespaces: KeyCache<Arc<CachedNamespace>>,
}

/// The cache key of a namespace named `name_or_id` in `workspace_id`: a digest, so the cache of
/// namespaces is the same structure as the key caches (single flight, linearizable invalidation,
/// bounded absences).
pub fn namespace_lookup(workspace_id: &str, name_or_id: &str) -> crate::key_material::KeyHash {
    crate::key_material::KeyHash::of(&format!("{workspace_id}\0{name_or_id}"))
}

impl Keyward {
    pub fn new(db: Db, config: &CoreConfig) -> Arc<Keyward> {
        // One batch at a time on both backends. SQLite has one writer. On PostgreSQL a batch of
        // spends is one statement charging each balance once (keys::spend_credits_committed),
        // and what it costs is PostgreSQL's work per statement and commit, not waiting: batches
        // side by side only split into smaller ones, and a hot key's spends in two of them
        // would wait on each other's row lock (measured in docs/BENCHMARKS.md). Creations
        // likewise: side by side they only split into smaller batches.
        let (spend_batches, creation_batches) = (1, 1);
        let limiter = match config.ratelimit_engine_on(db.kind()) {
            ratelimit::Engine::Memory => Limiter::default(),
            ratelimit::Engine::Database => Limiter::shared(
                ratelimit::DatabaseCounters::new(db.clone()),
                config.ratelimit_on_unavailable,
            ),
        };
        Arc::new_cyclic(|this| Keyward {
            spends: GroupCommit::new(this.clone(), verify::spend_credits, spend_batches),
            creations: GroupCommit::new(this.clone(), service::keys::create_keys, creation_batches),
            db,
            caches: Caches {
                keys: KeyCache::new(config.cache_capacity, config.cache_ttl),
                shared_ids: Default::default(),
                root_keys: KeyCache::new(config.cache_capacity.clamp(1, 100_000), config.cache_ttl),
                namespaces: KeyCache::new(
                    config.cache_capacity.clamp(1, 100_000),
                    config.cache_ttl,
                ),
            },
            last_used: LastUsed::new(config.last_used_flush),
            verifications: VerifyStats::default(),
            nodes: nodes::Nodes::new(),
            limiter,
            clock: config.clock.clone(),
        })
    }

    /// Statistics of each group commit, named as `/metrics` shows them.
    pub fn group_commit_stats(&self) -> [(&'static str, &group_commit::GroupStats); 2] {
        [
            ("credit_spends", self.spends.stats()),
            ("key_creations", self.creations.stats()),
        ]
    }

    /// Statistics of each cache, named as `/metrics` shows them.
    pub fn cache_stats(&self) -> [(&'static str, CacheStats); 3] {
        [
            ("keys", self.caches.keys.stats()),
            ("root_keys", self.caches.root_keys.stats()),
            ("ratelimit_namespaces", self.caches.namespaces.stats()),
        ]
    }
}
