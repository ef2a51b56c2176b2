//! What a single SQLite writer hid: concurrent requests on one key or one identity, which on
//! PostgreSQL run in transactions side by side. No update is lost, no credit is overspent, one
//! external id is one identity.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::TestApp;

async fn shared_app() -> Arc<TestApp> {
    Arc::new(TestApp::start().await)
}

/// Runs every call at once; returns the replies' `data` in the calls' order (asserting 200).
async fn all_at_once(app: &Arc<TestApp>, calls: Vec<(&'static str, Value)>) -> Vec<Value> {
    let mut set = JoinSet::new();
    for (i, (operation, body)) in calls.into_iter().enumerate() {
        let app = app.clone();
        set.spawn(async move { (i, app.call(operation, body).await) });
    }
    let mut replies = vec![Value::Null; set.len()];
    while let Some(done) = set.join_next().await {
        let (i, data) = done.unwrap();
        replies[i] = data;
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_of_one_key_lose_none() {
    let app = shared_app().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 1_000}}))
        .await;
    let mut expected_credits = 1_000;
    for round in 0..8i64 {
        // Each field changed by its own request, all at once, with credits added and spent.
        let mut calls = vec![
            (
                "keys.updateKey",
                json!({"keyId": key_id, "name": format!("round-{round}")}),
            ),
            (
                "keys.updateKey",
                json!({"keyId": key_id, "meta": {"round": round}}),
            ),
            (
                "keys.updateKey",
                json!({"keyId": key_id, "expires": 4_000_000_000_000i64 + round}),
            ),
            (
                "keys.updateKey",
                json!({"keyId": key_id, "externalId": format!("owner-{round}")}),
            ),
        ];
        for _ in 0..6 {
            calls.push((
                "keys.updateCredits",
                json!({"keyId": key_id, "operation": "increment", "value": 2}),
            ));
            calls.push((
                "keys.verifyKey",
                json!({"key": key, "credits": {"cost": 1}}),
            ));
        }
        let replies = all_at_once(&app, calls).await;
        let spent = replies.iter().filter(|r| r["code"] == "VALID").count() as i64;
        assert_eq!(spent, 6, "{replies:?}");
        expected_credits += 6 * 2 - spent;

        let data = app.call("keys.getKey", json!({"keyId": key_id})).await;
        assert_eq!(data["name"], format!("round-{round}"), "{data}");
        assert_eq!(data["meta"], json!({"round": round}), "{data}");
        assert_eq!(data["expires"], 4_000_000_000_000i64 + round, "{data}");
        assert_eq!(
            data["identity"]["externalId"],
            format!("owner-{round}"),
            "{data}"
        );
        assert_eq!(
            data["credits"]["remaining"], expected_credits,
            "every increment and every spend counted: {data}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_with_one_external_id_make_one_identity() {
    let app = shared_app().await;
    let api_id = app.create_api().await;
    for round in 0..4 {
        let external_id = format!("customer-{round}");
        let calls = (0..12)
            .map(|_| {
                (
                    "keys.createKey",
                    json!({"apiId": api_id, "externalId": external_id}),
                )
            })
            .collect();
        let created = all_at_once(&app, calls).await;
        let mut identities = Vec::new();
        for data in &created {
            let key = app
                .call("keys.getKey", json!({"keyId": data["keyId"]}))
                .await;
            assert_eq!(key["identity"]["externalId"], external_id.as_str());
            identities.push(key["identity"]["id"].as_str().unwrap().to_owned());
        }
        identities.dedup();
        assert_eq!(identities.len(), 1, "one identity: {identities:?}");
        let listed = app
            .call(
                "apis.listKeys",
                json!({"apiId": api_id, "externalId": external_id}),
            )
            .await;
        assert_eq!(listed.as_array().unwrap().len(), 12);
    }
}

/// min(N, C) with a cost: 50 verifications costing 3 of a key with 100 credits, at once. 33
/// succeed; the others find too few credits and spend none, leaving exactly 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_spends_of_a_cost_stop_exactly_at_the_balance() {
    let app = shared_app().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 100}}))
        .await;
    let calls = (0..50)
        .map(|_| {
            (
                "keys.verifyKey",
                json!({"key": key, "credits": {"cost": 3}}),
            )
        })
        .collect();
    let replies = all_at_once(&app, calls).await;
    let codes = |code: &str| replies.iter().filter(|r| r["code"] == code).count();
    assert_eq!(
        (codes("VALID"), codes("USAGE_EXCEEDED")),
        (33, 17),
        "{replies:?}"
    );
    let data = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(data["credits"]["remaining"], 1);
}

/// A refused spend reports the balance it was refused on: never as many credits as it cost,
/// though increments land meanwhile. (A balance read after the refusal, outside its lock, could
/// show credits a concurrent increment had just added.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_spend_reports_the_balance_it_was_refused_on() {
    let app = shared_app().await;
    let api_id = app.create_api().await;
    for _ in 0..10 {
        let (key_id, key) = app
            .create_key(&api_id, json!({"credits": {"remaining": 2}}))
            .await;
        let mut calls = Vec::new();
        for _ in 0..12 {
            calls.push((
                "keys.verifyKey",
                json!({"key": key, "credits": {"cost": 3}}),
            ));
            calls.push((
                "keys.updateCredits",
                json!({"keyId": key_id, "operation": "increment", "value": 1}),
            ));
        }
        let replies = all_at_once(&app, calls).await;
        let mut spent = 0;
        for reply in replies.iter().filter(|r| r.get("code").is_some()) {
            match reply["code"].as_str().unwrap() {
                "VALID" => spent += 3,
                "USAGE_EXCEEDED" => assert!(reply["credits"].as_i64().unwrap() < 3, "{reply}"),
                other => panic!("unexpected {other}"),
            }
        }
        let data = app.call("keys.getKey", json!({"keyId": key_id})).await;
        assert_eq!(
            data["credits"]["remaining"].as_i64().unwrap() + spent,
            2 + 12
        );
    }
}
