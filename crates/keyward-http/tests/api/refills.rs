//! Credit refills: daily and monthly (the last day of a shorter month for a later day), by the
//! server's job, once per period — also with two servers on one database, and across restarts —
//! with an audit event each, and `lastRefillAt` on getKey.

use std::time::Duration;

use keyward_core::time::Clock;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStorage};
use crate::ratelimit::app_on;

const DAY: i64 = 86_400_000;
/// 2026-03-14T00:00:00Z.
const MARCH_14: i64 = 1_773_446_400_000;
/// 2026-01-20T00:00:00Z.
const JANUARY_20: i64 = MARCH_14 - 53 * DAY;

/// A server whose refill job waits (an hour) unless a test runs it.
async fn app_with_clock(storage: TestStorage, clock: &Clock) -> TestApp {
    let clock = clock.clone();
    TestApp::start_with(storage, move |c| {
        c.clock = clock;
        c.refill_interval = Duration::from_secs(3600);
    })
    .await
}

/// Runs the refill job once, as its schedule would; how many balances it refilled.
async fn run_refills(app: &TestApp) -> u64 {
    keyward_core::refill::run(&app.server.app().keyward)
        .await
        .expect("the refill job runs")
}

async fn credits(app: &TestApp, key_id: &str) -> Value {
    app.call("keys.getKey", json!({"keyId": key_id})).await["credits"].clone()
}

async fn spend(app: &TestApp, key: &str, cost: i64) {
    let answer = app
        .call(
            "keys.verifyKey",
            json!({"key": key, "credits": {"cost": cost}}),
        )
        .await;
    assert_eq!(answer["code"], "VALID", "{answer}");
}

#[tokio::test]
async fn a_daily_refill_happens_once_a_day_from_the_day_after_it_was_set() {
    let clock = Clock::manual(MARCH_14 + 10 * 3_600_000);
    let app = app_with_clock(TestStorage::new(), &clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 10, "refill": {"interval": "daily", "amount": 100}}}),
        )
        .await;
    spend(&app, &key, 8).await;
    assert_eq!(
        run_refills(&app).await,
        0,
        "set today: the first refill is tomorrow"
    );
    clock.set(MARCH_14 + DAY + 300_000);
    assert_eq!(run_refills(&app).await, 1);
    let refilled = credits(&app, &key_id).await;
    assert_eq!(
        refilled,
        json!({"remaining": 100, "refill": {"interval": "daily", "amount": 100, "lastRefillAt": MARCH_14 + DAY + 300_000}})
    );
    spend(&app, &key, 30).await;
    clock.advance(3_600_000);
    assert_eq!(run_refills(&app).await, 0, "once per day");
    assert_eq!(credits(&app, &key_id).await["remaining"], 70);
    let events = app.audit_events("key.update").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["actor"]["type"], "system");
    assert_eq!(events[0]["targets"][0]["id"], key_id.as_str());
    let description = events[0]["description"].as_str().unwrap();
    assert!(
        description.contains("Refilled") && description.contains("2026-03-15"),
        "{description}"
    );
    // A balance holding more than the amount is left as it is (the refill replaces, never adds).
    app.call(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": 500}),
    )
    .await;
    clock.set(MARCH_14 + 2 * DAY);
    assert_eq!(run_refills(&app).await, 1);
    assert_eq!(credits(&app, &key_id).await["remaining"], 500);
}

#[tokio::test]
async fn a_monthly_refill_on_the_31st_happens_on_the_last_day_of_a_shorter_month() {
    let clock = Clock::manual(JANUARY_20);
    let app = app_with_clock(TestStorage::new(), &clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 5, "refill": {"interval": "monthly", "amount": 50, "refillDay": 31}}}),
        )
        .await;
    spend(&app, &key, 5).await;
    // 2026-01-31: the day itself.
    clock.set(JANUARY_20 + 11 * DAY + 1);
    assert_eq!(run_refills(&app).await, 1);
    spend(&app, &key, 50).await;
    // 2026-02-27: not yet; 2026-02-28, the last day of February: refilled.
    clock.set(JANUARY_20 + 38 * DAY);
    assert_eq!(run_refills(&app).await, 0);
    clock.set(JANUARY_20 + 39 * DAY);
    assert_eq!(run_refills(&app).await, 1);
    assert_eq!(credits(&app, &key_id).await["remaining"], 50);
    // 2026-03-01 .. 03-30: nothing more.
    clock.set(JANUARY_20 + 68 * DAY);
    assert_eq!(run_refills(&app).await, 0);
}

/// Two keyward processes sharing one database refill each balance once per period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_database_refill_once() {
    let clock = Clock::manual(MARCH_14);
    let node_a = app_with_clock(TestStorage::new(), &clock).await;
    let api_id = node_a.create_api().await;
    let mut keys = Vec::new();
    for _ in 0..20 {
        let (key_id, key) = node_a
            .create_key(
                &api_id,
                json!({"credits": {"remaining": 1, "refill": {"interval": "daily", "amount": 3}}}),
            )
            .await;
        spend(&node_a, &key, 1).await;
        keys.push(key_id);
    }
    let shared = node_a.database_url();
    let clock_b = clock.clone();
    let node_b = TestApp::start_with(TestStorage::new(), move |c| {
        c.database_url = Some(shared);
        c.clock = clock_b;
        c.refill_interval = Duration::from_secs(3600);
    })
    .await;
    clock.set(MARCH_14 + DAY + 1);
    let (a, b) = tokio::join!(run_refills(&node_a), run_refills(&node_b));
    assert_eq!(a + b, 20, "every balance refilled once: {a} + {b}");
    assert_eq!(node_a.audit_events("key.update").await.len(), 20);
    for key_id in &keys {
        assert_eq!(credits(&node_b, key_id).await["remaining"], 3);
    }
}

/// The schedule lives in the database: the server's own job refills, and a restart neither
/// repeats a refill nor forgets one.
#[tokio::test]
async fn the_servers_job_refills_and_a_restart_does_not_refill_again() {
    let clock = Clock::manual(MARCH_14);
    let storage = TestStorage::new();
    let app = app_with_clock(storage, &clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 2, "refill": {"interval": "daily", "amount": 9}}}),
        )
        .await;
    spend(&app, &key, 2).await;
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");

    // The next day a server starts, and its job (every 50 ms here) refills.
    clock.set(MARCH_14 + DAY + 60_000);
    let fast = clock.clone();
    let app = TestApp::start_with(storage, move |c| {
        c.clock = fast;
        c.refill_interval = Duration::from_millis(50);
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while credits(&app, &key_id).await["remaining"] != 9 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no refill within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    spend(&app, &key, 4).await;
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");
    let app = app_on(storage, &clock).await;
    assert_eq!(run_refills(&app).await, 0);
    assert_eq!(credits(&app, &key_id).await["remaining"], 5);
    assert_eq!(app.audit_events("key.update").await.len(), 1);
}
