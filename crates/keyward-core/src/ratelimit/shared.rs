//! The shared engine (`--ratelimit-engine database`): the counts live in the database
//! (`ratelimit_windows`, one row per window of a counter), and every decision is made by the
//! database, so a limit admits exactly what it allows however many nodes serve it.
//!
//! A decision of one check is one statement ([`ratelimits::charge_window`]): the previous
//! window's count is read, weighed as in memory ([`window::weight`]), and the current window
//! incremented only if the result stays within the limit — the condition re-checked on the
//! latest count under the row's lock, so concurrent decisions on any node serialize on that row.
//! A decision of several checks (`ratelimit.multiLimit`, a verification with several limits) is
//! one transaction: it locks its counters' current windows in one order (no deadlock between
//! two such decisions), decides them with the in-memory reference itself ([`MemoryCounters`]
//! over the locked counts: the same arithmetic, the same all-or-nothing) and writes what it
//! charged. Refunds decrement the window a decision charged. The counts are as durable as the
//! database's commits, so this engine needs no checkpoint. What happens when the database
//! cannot decide is [`super::OnUnavailable`].

use keyward_store::ratelimits::{self, WindowKey};
use keyward_store::{Db, StoreResult};

use super::counters::{
    Check, CounterKey, CounterStore, Decision, MemoryCounters, Outcome, SavedCounter,
};
use super::window::{self, Windows};

/// Most expired windows one housekeeping pass deletes (more wait for the next pass).
pub const CLEANUP_BATCH: i64 = 10_000;

/// Counts in the database.
#[derive(Clone)]
pub struct DatabaseCounters {
    db: Db,
}

fn window_of(key: &CounterKey, sequence: i64) -> WindowKey<'_> {
    WindowKey {
        scope: &key.scope,
        identifier: &key.identifier,
        duration: key.duration,
        sequence,
    }
}

impl DatabaseCounters {
    pub fn new(db: Db) -> DatabaseCounters {
        DatabaseCounters { db }
    }

    /// Decides `checks` at `now`, as [`CounterStore::decide`] does in memory.
    pub async fn decide(&self, checks: &[Check], now: i64) -> StoreResult<Decision> {
        if let [check] = checks {
            let key = &check.key;
            let mut conn = self.db.writer().await?;
            let after = ratelimits::charge_window(
                &mut conn,
                window_of(key, window::sequence(now, key.duration)),
                window::weight(now, key.duration),
                check.cost,
                check.limit,
            )
            .await?;
            return Ok(Decision {
                passed: after.is_some(),
                outcomes: vec![Outcome {
                    passed: after.is_some(),
                    remaining: after.map_or(0, |after| (check.limit - after).max(0)),
                    reset: window::reset(now, key.duration),
                }],
            });
        }
        let mut counters: Vec<&CounterKey> = checks.iter().map(|c| &c.key).collect();
        counters.sort_by(|a, b| {
            (&a.scope, &a.identifier, a.duration).cmp(&(&b.scope, &b.identifier, b.duration))
        });
        counters.dedup();
        let mut tx = self.db.begin().await?;
        let reference = MemoryCounters::default();
        let mut locked = Vec::with_capacity(counters.len());
        for key in counters {
            let sequence = window::sequence(now, key.duration);
            let (current, previous) =
                ratelimits::lock_window(&mut tx, window_of(key, sequence)).await?;
            let windows = Windows {
                sequence,
                current,
                previous,
            };
            locked.push((key.clone(), windows));
        }
        reference.restore(
            locked
                .iter()
                .map(|(key, windows)| SavedCounter {
                    key: key.clone(),
                    windows: *windows,
                })
                .collect(),
            now,
        );
        let decision = reference.decide(checks, now);
        if decision.passed {
            let after = reference.snapshot(i64::MIN, now);
            for (key, before) in &locked {
                let charged = after
                    .iter()
                    .find(|saved| saved.key == *key)
                    .map_or(0, |saved| saved.windows.current - before.current);
                if charged != 0 {
                    ratelimits::add_to_window(&mut tx, window_of(key, before.sequence), charged)
                        .await?;
                }
            }
        }
        tx.commit().await?;
        Ok(decision)
    }

    /// Takes back the charges of a decision made at `decided_at`, from the windows it charged.
    pub async fn refund(&self, checks: &[Check], decided_at: i64) -> StoreResult<()> {
        let mut conn = self.db.writer().await?;
        for check in checks {
            let sequence = window::sequence(decided_at, check.key.duration);
            ratelimits::add_to_window(&mut conn, window_of(&check.key, sequence), -check.cost)
                .await?;
        }
        Ok(())
    }

    /// Deletes windows that weigh nothing at `now` (up to [`CLEANUP_BATCH`]); how many.
    pub async fn delete_expired(&self, now: i64) -> StoreResult<u64> {
        let mut conn = self.db.writer().await?;
        ratelimits::delete_expired_windows(&mut conn, now, CLEANUP_BATCH).await
    }

    /// How many windows are held.
    pub async fn len(&self) -> StoreResult<i64> {
        ratelimits::window_count(&mut self.db.reader().await?).await
    }
}
