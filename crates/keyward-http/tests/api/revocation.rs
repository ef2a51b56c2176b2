//! The cache and revocation: hits read nothing, misses load once, revocation is immediate on
//! this node whatever the cache holds, and credits never overspend under concurrency.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::helpers::TestApp;

const KEY_LOADS: &str = "keyward_cache_loads_total{cache=\"keys\"}";

#[tokio::test]
async fn a_cache_hit_reads_nothing_from_the_database() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    let loads = app.metric(KEY_LOADS).await;
    for _ in 0..20 {
        assert_eq!(app.verify_code(&key).await, "VALID");
    }
    assert_eq!(
        app.metric(KEY_LOADS).await,
        loads,
        "20 verifications, no database load"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_load_once() {
    let app = Arc::new(TestApp::start().await);
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let before = app.metric(KEY_LOADS).await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (app, key) = (app.clone(), key.clone());
            tokio::spawn(async move { app.verify_code(&key).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), "VALID");
    }
    assert_eq!(
        app.metric(KEY_LOADS).await,
        before + 1,
        "40 concurrent first verifications, one load"
    );
}

#[tokio::test]
async fn every_revocation_is_immediate_on_this_node() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    for round in 0..10 {
        let (key_id, key) = app.create_key(&api_id, json!({})).await;
        assert_eq!(app.verify_code(&key).await, "VALID");
        let revocation = match round % 3 {
            0 => json!({"keyId": key_id, "enabled": false}),
            1 => json!({"keyId": key_id}),
            _ => json!({"keyId": key_id, "permanent": true}),
        };
        let (operation, expected) = match round % 3 {
            0 => ("keys.updateKey", "DISABLED"),
            _ => ("keys.deleteKey", "NOT_FOUND"),
        };
        app.call(operation, revocation).await;
        assert_eq!(app.verify_code(&key).await, expected, "round {round}");
    }
}

/// Verifications race with a delete. Whatever loads were in flight when the delete committed,
/// every verification that starts after the delete returned must see it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_wins_against_verifications_in_flight() {
    let app = Arc::new(TestApp::start().await);
    let api_id = app.create_api().await;
    for _ in 0..5 {
        let (key_id, key) = app.create_key(&api_id, json!({})).await;
        let stop = Arc::new(AtomicBool::new(false));
        let hammers: Vec<_> = (0..4)
            .map(|_| {
                let (app, key, stop) = (app.clone(), key.clone(), stop.clone());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        app.verify_code(&key).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        app.call("keys.deleteKey", json!({"keyId": key_id})).await;
        for _ in 0..20 {
            assert_eq!(app.verify_code(&key).await, "NOT_FOUND");
        }
        stop.store(true, Ordering::Relaxed);
        for hammer in hammers {
            hammer.await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_never_overspend() {
    let app = Arc::new(TestApp::start().await);
    let api_id = app.create_api().await;
    let credits = 15;
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": credits}}))
        .await;
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let (app, key) = (app.clone(), key.clone());
            tokio::spawn(async move { app.verify_code(&key).await })
        })
        .collect();
    let mut valid = 0;
    for task in tasks {
        match task.await.unwrap().as_str() {
            "VALID" => valid += 1,
            "USAGE_EXCEEDED" => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(valid, credits, "exactly min(N, C) verifications succeed");
    assert_eq!(
        app.call("keys.getKey", json!({"keyId": key_id})).await["credits"]["remaining"],
        json!(0)
    );
}

#[tokio::test]
async fn deleting_a_root_key_locks_it_out_at_once() {
    let app = TestApp::start().await;
    let data = app
        .call(
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.create_api"]}),
        )
        .await;
    let (key_id, key) = (
        data["keyId"].as_str().unwrap(),
        data["key"].as_str().unwrap(),
    );
    app.post_as(Some(key), "apis.createApi", json!({"name": "first"}))
        .await
        .data();
    app.call("rootKeys.deleteRootKey", json!({"keyId": key_id}))
        .await;
    app.post_as(Some(key), "apis.createApi", json!({"name": "second"}))
        .await
        .error(401, "/key_not_found");
}
