//! The limiter against a reference model of the algorithm it documents.
//!
//! The model keeps every admitted charge (time and cost) forever and computes a window's count
//! by summing the charges whose time falls in it: no rolling, no eviction, no checkpoint. It
//! shares with the limiter only the documented weight of the previous window
//! ([`window::weighted_previous`], Unkey's float), so any slip in the limiter's bookkeeping —
//! rolling windows, all-or-nothing charging, refunds, eviction, restore — shows as a different
//! decision.

use std::sync::Arc;

use proptest::prelude::*;

use super::window;
use super::*;

#[derive(Default)]
struct Model {
    /// (counter index, time, cost) of every admitted charge.
    charges: Vec<(usize, i64, i64)>,
}

impl Model {
    fn count_in(&self, counter: usize, sequence: i64, duration: i64) -> i64 {
        self.charges
            .iter()
            .filter(|(c, at, _)| *c == counter && window::sequence(*at, duration) == sequence)
            .map(|(_, _, cost)| cost)
            .sum()
    }

    fn effective(&self, counter: usize, now: i64, duration: i64) -> i64 {
        let sequence = window::sequence(now, duration);
        self.count_in(counter, sequence, duration)
            + window::weighted_previous(
                self.count_in(counter, sequence - 1, duration),
                now,
                duration,
            )
    }

    /// Decides checks of (counter, limit, cost) together, as documented.
    fn decide(&mut self, checks: &[(usize, i64, i64, i64)], now: i64) -> (bool, Vec<(bool, i64)>) {
        let mut tentative: Vec<(usize, i64, i64)> = Vec::new();
        let mut befores = Vec::new();
        for &(counter, duration, limit, cost) in checks {
            let earlier: i64 = tentative
                .iter()
                .filter(|(c, _, _)| *c == counter)
                .map(|(_, _, cost)| cost)
                .sum();
            let before = self.effective(counter, now, duration) + earlier;
            befores.push((before, limit, cost));
            tentative.push((counter, now, cost));
        }
        let all = befores
            .iter()
            .all(|(before, limit, cost)| before + cost <= *limit);
        if all {
            self.charges.extend(tentative);
        }
        let outcomes = befores
            .into_iter()
            .map(|(before, limit, cost)| {
                let passed = before + cost <= limit;
                let remaining = if !passed {
                    0
                } else if all {
                    limit - before - cost
                } else {
                    limit - before
                };
                (passed, remaining.max(0))
            })
            .collect();
        (all, outcomes)
    }
}

/// Three counters: two of one-second windows, one of 2.5 s.
const DURATIONS: [i64; 3] = [1000, 1000, 2500];
const LIMITS: [i64; 3] = [5, 12, 7];

fn key(counter: usize) -> CounterKey {
    CounterKey {
        scope: Arc::from(format!("scope_{counter}")),
        identifier: "user_1".into(),
        duration: DURATIONS[counter],
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// Advance the clock, then decide these (counter, cost) checks together.
    Decide(i64, Vec<(usize, i64)>),
    /// Forget idle counters (must change no decision).
    Evict,
    /// Checkpoint and restore into a fresh store (must change no decision).
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (0i64..1500, prop::collection::vec((0usize..3, 0i64..4), 1..4))
            .prop_map(|(dt, checks)| Step::Decide(dt, checks)),
        1 => Just(Step::Evict),
        1 => Just(Step::Restart),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn the_limiter_decides_as_the_model(start in 0i64..10_000_000, steps in prop::collection::vec(step(), 1..80)) {
        let mut store: Box<dyn CounterStore> = Box::new(MemoryCounters::default());
        let mut model = Model::default();
        let mut now = start;
        for step in steps {
            match step {
                Step::Evict => {
                    store.evict_idle(now);
                }
                Step::Restart => {
                    let saved = store.snapshot(0, now);
                    let fresh = MemoryCounters::default();
                    fresh.restore(saved, now);
                    store = Box::new(fresh);
                }
                Step::Decide(dt, checks) => {
                    now += dt;
                    let wire: Vec<Check> = checks
                        .iter()
                        .map(|&(c, cost)| Check { key: key(c), limit: LIMITS[c], cost })
                        .collect();
                    let modelled: Vec<_> = checks
                        .iter()
                        .map(|&(c, cost)| (c, DURATIONS[c], LIMITS[c], cost))
                        .collect();
                    let decision = store.decide(&wire, now);
                    let (passed, outcomes) = model.decide(&modelled, now);
                    prop_assert_eq!(decision.passed, passed, "at {} checks {:?}", now, checks);
                    let got: Vec<(bool, i64)> =
                        decision.outcomes.iter().map(|o| (o.passed, o.remaining)).collect();
                    prop_assert_eq!(got, outcomes, "at {} checks {:?}", now, checks);
                    for (o, &(c, _)) in decision.outcomes.iter().zip(&checks) {
                        prop_assert_eq!(o.reset, window::reset(now, DURATIONS[c]));
                    }
                }
            }
        }
    }

    /// A decision that passed and is then refunded leaves the counts as if it never happened.
    #[test]
    fn a_refund_takes_back_exactly_the_charge(start in 0i64..10_000_000, costs in prop::collection::vec(0i64..4, 1..20), later in 0i64..1500) {
        let store = MemoryCounters::default();
        let reference = MemoryCounters::default();
        let mut now = start;
        for cost in &costs {
            let check = [Check { key: key(1), limit: LIMITS[1], cost: *cost }];
            store.decide(&check, now);
            reference.decide(&check, now);
            now += 37;
        }
        let extra = [Check { key: key(1), limit: LIMITS[1], cost: 2 }];
        let decision = store.decide(&extra, now);
        if decision.passed {
            store.refund(&extra, now);
        }
        let probe = [Check { key: key(1), limit: i64::MAX, cost: 0 }];
        prop_assert_eq!(store.decide(&probe, now + later), reference.decide(&probe, now + later));
    }
}

#[test]
fn a_fresh_window_of_limit_l_admits_exactly_l_of_many_concurrent_callers() {
    let store = Arc::new(MemoryCounters::default());
    let now = 1_700_000_000_000;
    let limit = 1000;
    let admitted: u64 = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let store = Arc::clone(&store);
                scope.spawn(move || {
                    (0..500)
                        .filter(|_| {
                            store
                                .decide(
                                    &[Check {
                                        key: key(0),
                                        limit,
                                        cost: 1,
                                    }],
                                    now,
                                )
                                .passed
                        })
                        .count() as u64
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(admitted, limit as u64);
}

/// Concurrent callers with costs above 1 and overlapping multi-limit checks: each counter admits
/// at most its limit, every refusal was right for the final count, and all-or-nothing holds.
#[test]
fn concurrent_weighted_and_multi_limit_callers_never_overshoot() {
    let store = Arc::new(MemoryCounters::default());
    let now = 1_700_000_000_000;
    let limit = 300;
    // Per thread: the admitted cost per counter, and the refused (counter, cost) single checks.
    type Thread = ([i64; 2], Vec<(usize, i64)>);
    let results: Vec<Thread> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6u64)
            .map(|t| {
                let store = Arc::clone(&store);
                scope.spawn(move || {
                    let mut admitted = [0i64; 2];
                    let mut refused = Vec::new();
                    for i in 0..400u64 {
                        let cost = ((t * 7 + i * 13) % 5) as i64;
                        let check = |c: usize| Check {
                            key: key(c),
                            limit,
                            cost,
                        };
                        if i % 3 == 0 {
                            // Both counters at once, in either order.
                            let checks = if t % 2 == 0 {
                                [check(0), check(1)]
                            } else {
                                [check(1), check(0)]
                            };
                            let d = store.decide(&checks, now);
                            if d.passed {
                                admitted[0] += cost;
                                admitted[1] += cost;
                            }
                        } else {
                            let c = (i % 2) as usize;
                            if store.decide(&[check(c)], now).passed {
                                admitted[c] += cost;
                            } else {
                                refused.push((c, cost));
                            }
                        }
                    }
                    (admitted, refused)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut totals = [0i64; 2];
    for (admitted, _) in &results {
        totals[0] += admitted[0];
        totals[1] += admitted[1];
    }
    for (c, &total) in totals.iter().enumerate() {
        assert!(total <= limit, "counter {c} admitted {total} of {limit}");
        let probe = [Check {
            key: key(c),
            limit: i64::MAX,
            cost: 0,
        }];
        let remaining = store.decide(&probe, now).outcomes[0].remaining;
        assert_eq!(
            remaining,
            i64::MAX - total,
            "the count is what was admitted"
        );
    }
    // Counts only grow at a fixed time, so a refusal then is a refusal against the final count.
    for (_, refused) in &results {
        for &(c, cost) in refused {
            assert!(
                totals[c] + cost > limit,
                "refused {cost} on {c} with {} admitted",
                totals[c]
            );
        }
    }
}

#[test]
fn idle_counters_are_evicted_and_live_ones_kept() {
    let store = MemoryCounters::default();
    let now = 10_000;
    for i in 0..100 {
        let key = CounterKey {
            identifier: format!("ip_{i}").into(),
            ..key(0)
        };
        store.decide(
            &[Check {
                key,
                limit: 5,
                cost: 1,
            }],
            now,
        );
    }
    store.decide(
        &[Check {
            key: key(2),
            limit: 5,
            cost: 1,
        }],
        now,
    );
    assert_eq!(store.len(), 101);
    // One window later the previous window still weighs: nothing goes.
    assert_eq!(store.evict_idle(now + 1000), 0);
    // Two one-second windows later those counters weigh nothing; the 2.5 s one still does.
    assert_eq!(store.evict_idle(now + 2000), 100);
    assert_eq!(store.len(), 1);
}

#[test]
fn cost_zero_checks_without_charging() {
    let store = MemoryCounters::default();
    let check = |cost| {
        [Check {
            key: key(0),
            limit: 5,
            cost,
        }]
    };
    for _ in 0..5 {
        assert!(store.decide(&check(1), 0).passed);
    }
    let probe = store.decide(&check(0), 0);
    assert!(
        probe.passed,
        "at the limit, a cost of 0 still fits (Unkey: effective + 0 ≤ limit)"
    );
    assert_eq!(probe.outcomes[0].remaining, 0);
    assert!(!store.decide(&check(1), 0).passed);
}
