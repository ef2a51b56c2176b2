//! A database that cannot serve — locked, exhausted, or gone — is a 503 with a `detail` and
//! `Retry-After`, within the configured timeouts: never a hang, never a 500. Cached keys keep
//! verifying meanwhile (a cache hit touches no database), and the server recovers by itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use keyward_testing::{Backend, PgCluster, TestDatabase};
use serde_json::json;
use sqlx::{Connection, Executor};
use tokio::task::JoinSet;

use crate::helpers::{ROOT_KEY, TestApp, TestStorage};

/// Longest a request may take while the database cannot serve: the acquire or statement
/// timeout, with room for a loaded machine.
const BOUND: Duration = Duration::from_secs(4);

/// POSTs and returns (status, Retry-After, body, time taken).
async fn timed(
    app: &TestApp,
    operation: &str,
    body: serde_json::Value,
) -> (u16, Option<String>, serde_json::Value, Duration) {
    let started = Instant::now();
    let request = app
        .client
        .post(format!("{}/v2/{operation}", app.url))
        .bearer_auth(ROOT_KEY)
        .json(&body)
        .send();
    let response = tokio::time::timeout(BOUND * 3, request)
        .await
        .unwrap_or_else(|_| panic!("{operation} hung"))
        .expect("the server answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.expect("a JSON body");
    (status, retry_after, body, started.elapsed())
}

fn assert_unavailable(status: u16, retry_after: &Option<String>, body: &serde_json::Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
    assert!(
        body["error"]["type"]
            .as_str()
            .unwrap()
            .ends_with("/service_unavailable"),
        "{body}"
    );
    assert!(
        body["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("database cannot serve"),
        "{body}"
    );
}

#[tokio::test]
async fn a_locked_or_exhausted_database_is_a_503_within_the_timeouts_and_passes() {
    let app = TestApp::start_with(TestStorage::new(), |c| {
        c.db_max_connections = 1;
        c.db_acquire_timeout = Duration::from_millis(300);
        c.db_statement_timeout = Duration::from_millis(300);
    })
    .await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify_code(&key).await, "VALID", "now cached");

    // Another client holds what keyward's writes need: SQLite's write lock, PostgreSQL's row
    // lock on the key.
    let mut holder = app.storage.inspect().await;
    match app.storage.database.backend() {
        Backend::Sqlite => {
            holder.execute("begin immediate").await.unwrap();
        }
        Backend::Postgres => {
            holder.execute("begin").await.unwrap();
            sqlx::query("select id from keys where id = $1 for update")
                .bind(&key_id)
                .fetch_one(&mut holder)
                .await
                .unwrap();
        }
    }

    // One update waits for the lock until the statement timeout; the others wait for the one
    // connection until the acquire timeout. Every one is answered 503 in time.
    let app = Arc::new(app);
    let mut updates = JoinSet::new();
    for i in 0..4 {
        let (app, key_id) = (app.clone(), key_id.clone());
        updates.spawn(async move {
            timed(
                &app,
                "keys.updateKey",
                json!({"keyId": key_id, "name": format!("n{i}")}),
            )
            .await
        });
    }
    while let Some(done) = updates.join_next().await {
        let (status, retry_after, body, took) = done.unwrap();
        assert_unavailable(status, &retry_after, &body);
        assert!(took < BOUND, "answered after {took:?}");
    }
    // The cached key needs no database.
    assert_eq!(app.verify_code(&key).await, "VALID");

    holder.execute("rollback").await.unwrap();
    holder.close().await.unwrap();
    let (status, _, body, _) = timed(
        &app,
        "keys.updateKey",
        json!({"keyId": key_id, "name": "after"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(data["name"], "after", "none of the refused updates applied");
}

/// Counts of what a load saw, by outcome.
#[derive(Debug, Default)]
struct Seen {
    ok: usize,
    unavailable: usize,
    valid_spends: i64,
    slowest: Duration,
}

/// PostgreSQL stops under a load of metered verifications and key creations, then starts again:
/// every request is answered 200 or 503 (with Retry-After) in bounded time, the cached key
/// verifies throughout, requests succeed again without restarting keyward, and the credits
/// spent are exactly the acknowledged spends. On a private cluster, so that stopping it disturbs
/// no other test; it runs whatever `KEYWARD_TEST_DATABASE` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopping_under_load_is_a_503_and_keyward_recovers_when_it_returns() {
    const CREDITS: i64 = 1_000_000;
    let cluster = PgCluster::start();
    let storage = TestStorage {
        dir: tempfile::tempdir().unwrap(),
        database: TestDatabase::postgres_on(&cluster.url("postgres")),
    };
    let app = TestApp::start_with(storage, |c| {
        c.db_acquire_timeout = Duration::from_millis(500);
        c.db_statement_timeout = Duration::from_secs(2);
    })
    .await;
    let api_id = app.create_api().await;
    let (_, plain) = app.create_key(&api_id, json!({})).await;
    let (metered_id, metered) = app
        .create_key(&api_id, json!({"credits": {"remaining": CREDITS}}))
        .await;
    assert_eq!(app.verify_code(&plain).await, "VALID");
    let app = Arc::new(app);

    let stop_at = Instant::now() + Duration::from_secs(12);
    let mut load = JoinSet::new();
    for worker in 0..4 {
        let (app, api_id, metered) = (app.clone(), api_id.clone(), metered.clone());
        load.spawn(async move {
            let mut seen = Seen::default();
            let mut last_ok = Instant::now();
            while Instant::now() < stop_at {
                let (operation, body) = if worker % 2 == 0 {
                    ("keys.verifyKey", json!({"key": metered}))
                } else {
                    ("keys.createKey", json!({"apiId": api_id}))
                };
                let (status, retry_after, body, took) = timed(&app, operation, body).await;
                seen.slowest = seen.slowest.max(took);
                match status {
                    200 => {
                        seen.ok += 1;
                        last_ok = Instant::now();
                        if body["data"]["code"] == "VALID" {
                            seen.valid_spends += 1;
                        }
                    }
                    _ => {
                        assert_unavailable(status, &retry_after, &body);
                        seen.unavailable += 1;
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (seen, last_ok)
        });
    }

    tokio::time::sleep(Duration::from_secs(2)).await;
    cluster.stop();
    let down = Instant::now();
    // While it is down a write is refused in bounded time, and so, soon, is a cached key: this
    // node no longer hears the other nodes' invalidations, and past the heartbeat deadline (1 s)
    // it stops answering from its cache (docs/ARCHITECTURE.md, "Several nodes"). On SQLite, where
    // no other node exists, a cached key keeps verifying.
    let (mut cached_during_outage, mut refused_cached) = (0, 0);
    while down.elapsed() < Duration::from_secs(3) {
        let at = down.elapsed();
        let (status, retry_after, body, took) =
            timed(&app, "keys.verifyKey", json!({"key": plain})).await;
        assert!(took < BOUND, "answered after {took:?}");
        if status == 200 {
            assert_eq!(body["data"]["code"], "VALID", "{body}");
            assert!(
                at < Duration::from_secs(2),
                "a cached answer {at:?} into the outage, past the bound"
            );
            cached_during_outage += 1;
        } else {
            assert_unavailable(status, &retry_after, &body);
            refused_cached += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        refused_cached >= 3,
        "{cached_during_outage} cached answers, {refused_cached} refusals"
    );
    let (status, retry_after, body, took) =
        timed(&app, "apis.createApi", json!({"name": "during"})).await;
    assert_unavailable(status, &retry_after, &body);
    assert!(took < BOUND, "answered after {took:?}");
    cluster.start_again();
    let restarted = Instant::now();

    let mut total = Seen::default();
    while let Some(done) = load.join_next().await {
        let (seen, last_ok) = done.unwrap();
        assert!(seen.slowest < BOUND, "a request took {:?}", seen.slowest);
        assert!(
            last_ok > restarted,
            "every worker succeeds again after the restart: {seen:?}"
        );
        total.ok += seen.ok;
        total.unavailable += seen.unavailable;
        total.valid_spends += seen.valid_spends;
    }
    assert!(total.unavailable > 0, "the outage was seen: {total:?}");
    // Back: the node resubscribed by itself, and the cached key verifies again.
    let back = Instant::now();
    while app.verify_code(&plain).await != "VALID" {
        assert!(back.elapsed() < BOUND, "the key never verified again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let data = app.call("keys.getKey", json!({"keyId": metered_id})).await;
    let spent = CREDITS - data["credits"]["remaining"].as_i64().unwrap();
    // Every acknowledged spend is kept; a spend whose answer the outage cut off may have
    // committed, and nothing else is spent.
    assert!(
        spent >= total.valid_spends && spent <= total.valid_spends + total.unavailable as i64,
        "spent {spent}, acknowledged {total:?}"
    );
}
