//! Unknown root keys and keys are remembered apart from the real ones: a flood of distinct
//! unknown tokens costs one database read each, never evicts a cached key, and holds bounded
//! memory (`keyward_cache_*` in `/metrics`).

use serde_json::json;

use crate::helpers::{ROOT_KEY, TestApp, TestStorage};

/// Distinct unknown tokens sent by a flood: far more than the caches below hold.
const FLOOD: usize = 2_000;
/// Cache capacity of the servers here: two values per shard (64 shards), so the two root keys
/// cached below fit whichever shards their hashes fall in (one per shard evicted one of them
/// whenever both fell in the same shard, one run in 64).
const CAPACITY: usize = 128;
/// What the absent sets may hold at that capacity: two generations of one hash per shard.
const ABSENT_BOUND: u64 = 2 * 64;

async fn small_cache_app() -> TestApp {
    TestApp::start_with(TestStorage::new(), |c| c.cache_capacity = CAPACITY).await
}

/// `keyward_cache_<name>{cache="<cache>"}`.
async fn cache_metric(app: &TestApp, name: &str, cache: &str) -> u64 {
    app.metric(&format!("keyward_cache_{name}{{cache=\"{cache}\"}}"))
        .await
}

/// Sends `FLOOD` requests, each made by `request(n)`, 8 at a time, asserting each status.
async fn flood<F, Fut>(request: F)
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let request = std::sync::Arc::new(request);
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let request = request.clone();
            tokio::spawn(async move {
                for n in (worker..FLOOD).step_by(8) {
                    request(n).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
}

#[tokio::test]
async fn bogus_bearer_tokens_cannot_evict_real_root_keys() {
    let app = small_cache_app().await;
    let narrow = app.root_key_with(&["api.*.read_api"]).await;
    for key in [ROOT_KEY, narrow.as_str()] {
        app.post_as(Some(key), "rootKeys.listRootKeys", json!({}))
            .await;
    }
    let loads = cache_metric(&app, "loads_total", "root_keys").await;

    let (url, client) = (app.url.clone(), app.client.clone());
    flood(move |n| {
        let (url, client) = (url.clone(), client.clone());
        async move {
            let response = client
                .post(format!("{url}/v2/apis.createApi"))
                .bearer_auth(format!("bogus_token_number_{n}"))
                .json(&json!({"name": "never"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 401);
        }
    })
    .await;

    // One database read per distinct token: the price of telling it from a new key.
    let after_flood = cache_metric(&app, "loads_total", "root_keys").await;
    assert_eq!(after_flood, loads + FLOOD as u64);
    assert_eq!(cache_metric(&app, "entries", "root_keys").await, 2);
    let absent = cache_metric(&app, "absent_entries", "root_keys").await;
    assert!((1..=ABSENT_BOUND).contains(&absent), "{absent}");

    // The real root keys are still cached: no load for them.
    for key in [ROOT_KEY, narrow.as_str()] {
        app.post_as(Some(key), "apis.createApi", json!({"name": "still-fast"}))
            .await;
    }
    assert_eq!(
        cache_metric(&app, "loads_total", "root_keys").await,
        after_flood
    );
    // A token tried again is answered from memory.
    for _ in 0..3 {
        app.post_as(
            Some("retried_bogus_token"),
            "apis.createApi",
            json!({"name": "x"}),
        )
        .await
        .error(401, "/key_not_found");
    }
    assert_eq!(
        cache_metric(&app, "loads_total", "root_keys").await,
        after_flood + 1
    );
}

#[tokio::test]
async fn unknown_keys_cannot_evict_real_keys_from_the_verification_cache() {
    let app = small_cache_app().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    let loads = cache_metric(&app, "loads_total", "keys").await;

    let (url, client) = (app.url.clone(), app.client.clone());
    flood(move |n| {
        let (url, client) = (url.clone(), client.clone());
        async move {
            let response: serde_json::Value = client
                .post(format!("{url}/v2/keys.verifyKey"))
                .bearer_auth(ROOT_KEY)
                .json(&json!({"key": format!("guessed_key_{n}")}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(response["data"]["code"], "NOT_FOUND");
        }
    })
    .await;

    let after_flood = cache_metric(&app, "loads_total", "keys").await;
    assert_eq!(after_flood, loads + FLOOD as u64);
    assert_eq!(cache_metric(&app, "entries", "keys").await, 1);
    let absent = cache_metric(&app, "absent_entries", "keys").await;
    assert!((1..=ABSENT_BOUND).contains(&absent), "{absent}");

    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(cache_metric(&app, "loads_total", "keys").await, after_flood);

    // An unknown key tried again is answered from memory.
    for _ in 0..3 {
        assert_eq!(app.verify_code("guessed_key_again").await, "NOT_FOUND");
    }
    assert_eq!(
        cache_metric(&app, "loads_total", "keys").await,
        after_flood + 1,
        "the retried unknown key was read once"
    );
}
