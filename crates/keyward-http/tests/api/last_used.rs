//! `lastUsedAt` on keys.getKey, keys.whoami and apis.listKeys.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStorage};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn last_used(app: &TestApp, key_id: &str) -> Value {
    app.call("keys.getKey", json!({"keyId": key_id})).await["lastUsedAt"].clone()
}

#[tokio::test]
async fn a_verification_shows_as_last_used_at_once_on_every_read_of_the_serving_node() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(
        last_used(&app, &key_id).await,
        Value::Null,
        "never used yet"
    );

    let before = now_ms();
    assert_eq!(app.verify_code(&key).await, "VALID");
    let after = now_ms();
    let at = last_used(&app, &key_id).await.as_i64().expect("lastUsedAt");
    assert!(
        (before..=after).contains(&at),
        "{before} <= {at} <= {after}"
    );

    let me = app.call("keys.whoami", json!({"key": key})).await;
    assert_eq!(me["lastUsedAt"], json!(at));
    let listed = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(listed[0]["lastUsedAt"], json!(at));

    // Uses are kept to the second: one within the second does not move the time, a later one
    // does, on this node at once (the database is written every 300 s by default).
    app.verify(&key).await;
    assert_eq!(last_used(&app, &key_id).await, json!(at));
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let before = now_ms();
    app.verify(&key).await;
    let later = last_used(&app, &key_id).await.as_i64().expect("lastUsedAt");
    assert!(later >= before && later > at, "{later} after {before}");
}

#[tokio::test]
async fn any_outcome_of_a_found_key_is_a_use_but_a_key_hidden_from_the_caller_is_not() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (disabled_id, disabled) = app.create_key(&api_id, json!({"enabled": false})).await;
    assert_eq!(app.verify_code(&disabled).await, "DISABLED");
    assert!(last_used(&app, &disabled_id).await.is_i64());

    // NOT_FOUND for another workspace, or for a root key without verify_key on the API, must
    // not leave a trace on the key either.
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    let stranger = app.other_workspace_root_key().await;
    let elsewhere = app.root_key_with(&["api.api_other.verify_key"]).await;
    for root_key in [&stranger, &elsewhere] {
        let reply = app
            .post_as(Some(root_key), "keys.verifyKey", json!({"key": key}))
            .await;
        assert_eq!(reply.data()["code"], "NOT_FOUND");
    }
    assert_eq!(last_used(&app, &key_id).await, Value::Null);
}

#[tokio::test]
async fn last_used_at_is_written_to_the_database_and_survives_a_restart() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    app.verify(&key).await;
    let at = last_used(&app, &key_id).await;
    assert!(at.is_i64());

    // A graceful stop writes the pending times (the flusher's period, 300 s, has not come).
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");
    let app = TestApp::start_in(storage).await;
    assert_eq!(last_used(&app, &key_id).await, at);
}

#[tokio::test]
async fn another_node_on_the_same_database_sees_last_used_at_within_one_flush_period() {
    let period = Duration::from_millis(200);
    let node_a = TestApp::start_with(TestStorage::new(), |c| c.last_used_flush = period).await;
    let api_id = node_a.create_api().await;
    let (key_id, key) = node_a.create_key(&api_id, json!({})).await;
    // A second server on the same database, as a second node would share it.
    let node_b = TestApp::start_with(TestStorage::new(), |c| {
        c.database_url = Some(node_a.database_url());
        c.last_used_flush = period;
    })
    .await;
    assert_eq!(last_used(&node_b, &key_id).await, Value::Null);

    node_a.verify(&key).await;
    let at = last_used(&node_a, &key_id).await;
    let deadline = tokio::time::Instant::now() + period * 10;
    loop {
        let seen = last_used(&node_b, &key_id).await;
        if seen == at {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "node B still shows {seen}, node A {at}"
        );
        tokio::time::sleep(period / 4).await;
    }

    // A use on node B a second later moves it forward for both; nothing moves it back.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    node_b.verify(&key).await;
    let later = last_used(&node_b, &key_id).await;
    assert!(later.as_i64() > at.as_i64());
    let deadline = tokio::time::Instant::now() + period * 10;
    while last_used(&node_a, &key_id).await != later {
        assert!(
            tokio::time::Instant::now() < deadline,
            "node A never saw {later}"
        );
        tokio::time::sleep(period / 4).await;
    }
}

#[tokio::test]
async fn an_older_use_written_later_never_moves_last_used_at_back() {
    // Node A keeps its mark until it stops (its period, 300 s, never comes); node B writes a
    // later use within 200 ms. A's older mark, written last, must not win.
    let node_a = TestApp::start().await;
    let api_id = node_a.create_api().await;
    let (key_id, key) = node_a.create_key(&api_id, json!({})).await;
    let database_url = node_a.database_url();
    let node_b = TestApp::start_with(TestStorage::new(), |c| {
        c.database_url = Some(database_url.clone());
        c.last_used_flush = Duration::from_millis(200);
    })
    .await;
    node_a.verify(&key).await;
    let older = last_used(&node_a, &key_id).await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    node_b.verify(&key).await;
    let later = last_used(&node_b, &key_id).await;
    assert!(later.as_i64() > older.as_i64());
    node_b.server.shutdown().await.expect("B stops");
    node_a
        .server
        .shutdown()
        .await
        .expect("A stops, writing its older mark");

    let node_c = TestApp::start_with(TestStorage::new(), |c| {
        c.database_url = Some(database_url);
    })
    .await;
    assert_eq!(last_used(&node_c, &key_id).await, later);
}

/// The mark lives with the key, not with its cache entry: a change that invalidates the entry
/// (and the reload that replaces it) must not lose a use that is not written yet.
#[tokio::test]
async fn last_used_at_survives_every_change_that_replaces_the_cache_entry() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    app.verify(&key).await;
    let at = last_used(&app, &key_id).await;
    assert!(at.is_i64());

    let changes = [
        (
            "keys.updateKey",
            json!({"keyId": key_id, "name": "renamed"}),
        ),
        (
            "keys.updateCredits",
            json!({"keyId": key_id, "operation": "set", "value": 100}),
        ),
        ("keys.updateKey", json!({"keyId": key_id, "enabled": true})),
    ];
    for (operation, change) in changes {
        app.call(operation, change.clone()).await;
        assert_eq!(
            last_used(&app, &key_id).await,
            at,
            "after {operation} {change}"
        );
        // Verified again within the same second: reloaded, and still the same time.
        app.verify(&key).await;
        assert_eq!(
            last_used(&app, &key_id).await,
            at,
            "reloaded after {operation}"
        );
    }
    // The old key of a reroll keeps its last use; the new one has none yet.
    let new_id = app
        .call(
            "keys.rerollKey",
            json!({"keyId": key_id, "expiration": 60_000}),
        )
        .await["keyId"]
        .clone();
    assert_eq!(last_used(&app, &key_id).await, at);
    assert_eq!(last_used(&app, new_id.as_str().unwrap()).await, Value::Null);

    // And it is still written: a graceful stop flushes it.
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");
    let app = TestApp::start_in(storage).await;
    assert_eq!(last_used(&app, &key_id).await, at);
}

/// Far more keys than the cache holds: every evicted key still shows, and writes, its use.
#[tokio::test]
async fn last_used_at_survives_eviction() {
    // A capacity of 1 still holds one key per shard: about 64.
    let app = TestApp::start_with(TestStorage::new(), |c| c.cache_capacity = 1).await;
    let api_id = app.create_api().await;
    let mut keys = Vec::new();
    let before = now_ms();
    for _ in 0..150 {
        let (key_id, key) = app.create_key(&api_id, json!({})).await;
        assert_eq!(app.verify_code(&key).await, "VALID");
        keys.push(key_id);
    }
    let after = now_ms();
    assert!(app.metric("keyward_cache_entries{cache=\"keys\"}").await < 150);
    for key_id in &keys {
        let at = last_used(&app, key_id).await;
        let at = at
            .as_i64()
            .unwrap_or_else(|| panic!("{key_id}: lastUsedAt {at}"));
        assert!((before..=after).contains(&at), "{key_id}: {at}");
    }
    let TestApp {
        server, storage, ..
    } = app;
    server.shutdown().await.expect("clean shutdown");
    let app = TestApp::start_in(storage).await;
    for key_id in &keys {
        assert!(last_used(&app, key_id).await.is_i64(), "{key_id} written");
    }
}

/// A background refresh (stale-while-revalidate) replaces the entry too.
#[tokio::test]
async fn last_used_at_survives_a_background_refresh() {
    let ttl = Duration::from_millis(300);
    let app = TestApp::start_with(TestStorage::new(), |c| c.cache_ttl = ttl).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    let refreshes = app
        .metric("keyward_cache_refreshes_total{cache=\"keys\"}")
        .await;
    app.verify(&key).await;
    let at = last_used(&app, &key_id).await;
    // Stale but within twice the TTL: answered from the entry, refreshed behind it. The use is
    // within the second of the first, so it marks nothing new.
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    app.verify(&key).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        app.metric("keyward_cache_refreshes_total{cache=\"keys\"}")
            .await,
        refreshes + 1
    );
    assert_eq!(last_used(&app, &key_id).await, at);
}
