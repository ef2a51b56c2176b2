//! The database rate-limit engine (`--ratelimit-engine database`): it decides exactly as the
//! in-memory reference does, on both backends, and when it cannot reach its counts it fails
//! closed (503 with a detail) or open (admits, counted in `/metrics`) as configured, and
//! recovers by itself. Its exactness across several processes is tested in
//! crates/keyward/tests/nodes.rs.

use keyward_core::ratelimit::{
    Check, CounterKey, CounterStore, DatabaseCounters, Engine, MemoryCounters, OnUnavailable,
};
use serde_json::json;
use sqlx::Executor;

use crate::helpers::{TestApp, TestStorage};

async fn on_database(on_unavailable: OnUnavailable) -> TestApp {
    TestApp::start_with(TestStorage::new(), move |c| {
        c.ratelimit_engine = Some(Engine::Database);
        c.ratelimit_on_unavailable = on_unavailable;
    })
    .await
}

/// A small deterministic generator (xorshift), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n) as i64
    }
}

#[tokio::test]
async fn the_database_engine_decides_exactly_as_the_memory_one() {
    let app = on_database(OnUnavailable::Closed).await;
    let shared = DatabaseCounters::new(app.server.app().keyward.db.clone());
    let memory = MemoryCounters::default();
    // Counters of different windows, so that decisions cross window boundaries, weigh partial
    // previous windows, and skip windows.
    let keys: Vec<CounterKey> = [
        ("rlns_a", "u1", 1000),
        ("rlns_a", "u2", 1000),
        ("rl_b", "u1", 250),
    ]
    .into_iter()
    .map(|(scope, identifier, duration)| CounterKey {
        scope: scope.into(),
        identifier: identifier.into(),
        duration,
    })
    .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut now = 1_773_446_400_123;
    let (mut admitted, mut refused, mut deleted) = (0, 0, 0);
    for step in 0..600 {
        // Housekeeping on the way: it deletes only windows that weigh nothing any more, so the
        // decisions after it still agree with memory's.
        if step % 100 == 99 {
            deleted += shared.delete_expired(now).await.unwrap();
        }
        now += rng.below(120);
        if rng.below(50) == 0 {
            now += 2_000; // every window over
        }
        let checks: Vec<Check> = (0..1 + rng.below(3))
            .map(|_| Check {
                key: keys[rng.below(keys.len() as u64) as usize].clone(),
                limit: 5 + rng.below(10),
                cost: rng.below(4),
            })
            .collect();
        let expected = memory.decide(&checks, now);
        let decided = shared
            .decide(&checks, now)
            .await
            .expect("the engine decides");
        assert_eq!(decided, expected, "step {step} at {now}: {checks:?}");
        if expected.passed {
            admitted += 1;
            if rng.below(6) == 0 {
                memory.refund(&checks, now);
                shared
                    .refund(&checks, now)
                    .await
                    .expect("the engine refunds");
            }
        } else {
            refused += 1;
        }
    }
    assert!(
        admitted > 100 && refused > 100,
        "{admitted} admitted, {refused} refused"
    );

    assert!(deleted > 0, "housekeeping found expired windows");
    let held = shared.len().await.unwrap();
    assert!(held > 0, "{held}");
    assert_eq!(
        shared.delete_expired(now + 10_000).await.unwrap() as i64,
        held
    );
    assert_eq!(shared.len().await.unwrap(), 0);
}

fn namespace_limit(identifier: &str) -> serde_json::Value {
    json!({"namespace": "api", "identifier": identifier, "limit": 3, "duration": 60_000})
}

/// Makes the engine's table unreachable for keyward (everything else keeps working), or
/// reachable again.
async fn engine_table(app: &TestApp, reachable: bool) {
    let mut conn = app.storage.inspect().await;
    let sql = if reachable {
        "alter table ratelimit_windows_away rename to ratelimit_windows"
    } else {
        "alter table ratelimit_windows rename to ratelimit_windows_away"
    };
    conn.execute(sql).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_engine_fails_closed_by_default_with_a_503_and_recovers() {
    let app = on_database(OnUnavailable::Closed).await;
    let api_id = app.create_api().await;
    let (_, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [{"name": "requests", "limit": 5, "duration": 60_000, "autoApply": true}]}),
        )
        .await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(
        app.call("ratelimit.limit", namespace_limit("u")).await["success"],
        true
    );

    engine_table(&app, false).await;
    let refused = app.post("ratelimit.limit", namespace_limit("u")).await;
    let detail = refused.error(503, "/service_unavailable");
    assert!(detail.contains("rate-limit counters"), "{detail}");
    assert!(
        detail.contains("--ratelimit-on-unavailable open"),
        "{detail}"
    );
    let refused = app.post("keys.verifyKey", json!({"key": key})).await;
    let detail = refused.error(503, "/service_unavailable");
    assert!(detail.contains("rate-limit counters"), "{detail}");
    assert_eq!(
        app.metric("keyward_ratelimit_engine_unavailable_total{engine=\"database\"}")
            .await,
        2
    );

    engine_table(&app, true).await;
    let data = app.call("ratelimit.limit", namespace_limit("u")).await;
    assert_eq!(
        (data["success"].clone(), data["remaining"].clone()),
        (json!(true), json!(1)),
        "{data}"
    );
    let answer = app.call("keys.verifyKey", json!({"key": key})).await;
    assert_eq!(answer["code"], "VALID", "{answer}");
    assert_eq!(
        answer["ratelimits"][0]["remaining"], 3,
        "the refused call counted nothing: {answer}"
    );
}

#[tokio::test]
async fn an_unreachable_engine_set_to_fail_open_admits_and_counts_it() {
    let app = on_database(OnUnavailable::Open).await;
    let api_id = app.create_api().await;
    let (_, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [{"name": "requests", "limit": 1, "duration": 60_000, "autoApply": true}]}),
        )
        .await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(app.verify_code(&key).await, "RATE_LIMITED");
    assert_eq!(
        app.call("ratelimit.limit", namespace_limit("u")).await["success"],
        true
    );

    engine_table(&app, false).await;
    for _ in 0..5 {
        let data = app.call("ratelimit.limit", namespace_limit("u")).await;
        assert_eq!(
            data["success"], true,
            "admitted while the engine is away: {data}"
        );
        assert_eq!(app.verify_code(&key).await, "VALID");
    }
    assert_eq!(
        app.metric("keyward_ratelimit_engine_unavailable_total{engine=\"database\"}")
            .await,
        10
    );

    engine_table(&app, true).await;
    assert_eq!(
        app.verify_code(&key).await,
        "RATE_LIMITED",
        "counting again"
    );
    let data = app.call("ratelimit.limit", namespace_limit("u")).await;
    assert_eq!(data["remaining"], 1, "{data}");
}

/// The database engine's counts are committed with each decision: a server that stops without
/// its shutdown (as after `kill -9`) loses none, short windows included, and the next server
/// (or any other node) goes on from them.
#[tokio::test]
async fn the_database_engine_keeps_every_count_across_an_abrupt_stop() {
    let clock = keyward_core::time::Clock::manual(1_773_446_400_000 + 3_600_000);
    let start = |storage| {
        let clock = clock.clone();
        TestApp::start_with(storage, move |c| {
            c.clock = clock;
            c.ratelimit_engine = Some(Engine::Database);
        })
    };
    let app = start(TestStorage::new()).await;
    let daily = json!({"namespace": "daily", "identifier": "u", "limit": 1000, "duration": 86_400_000, "cost": 400});
    let short =
        json!({"namespace": "short", "identifier": "u", "limit": 10, "duration": 1000, "cost": 4});
    assert_eq!(
        app.call("ratelimit.limit", daily.clone()).await["remaining"],
        600
    );
    assert_eq!(
        app.call("ratelimit.limit", short.clone()).await["remaining"],
        6
    );
    // No shutdown: no checkpoint is written, nothing flushed.
    let TestApp {
        server, storage, ..
    } = app;
    drop(server);

    let app = start(storage).await;
    assert_eq!(app.call("ratelimit.limit", daily).await["remaining"], 200);
    assert_eq!(app.call("ratelimit.limit", short).await["remaining"], 2);
}
