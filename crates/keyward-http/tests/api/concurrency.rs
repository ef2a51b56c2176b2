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

/// createKeys arriving together are committed together (group commit), but each is checked and
/// answered on its own: a missing API, a missing permission or another workspace fails that
/// request alone, writing nothing; every created key verifies, and has its audit event naming
/// the root key that created it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_committed_together_are_checked_and_audited_each_on_its_own() {
    let app = shared_app().await;
    let (api_a, api_b) = (app.create_api().await, app.create_api().await);
    let (limited_id, limited) = app
        .root_key_id_with(&[&format!("api.{api_a}.create_key")])
        .await;
    let foreign = app.other_workspace_root_key().await;
    let mut set = JoinSet::new();
    for i in 0..80usize {
        let app = app.clone();
        let (root_key, body, expected) = match i % 5 {
            0 => (
                limited.clone(),
                json!({"apiId": api_a, "name": format!("k{i}")}),
                200,
            ),
            1 => (limited.clone(), json!({"apiId": api_b}), 403),
            2 => (limited.clone(), json!({"apiId": "api_missing"}), 404),
            3 => (foreign.clone(), json!({"apiId": api_a}), 404),
            _ => (
                crate::helpers::ROOT_KEY.to_owned(),
                json!({"apiId": api_b, "externalId": "shared", "credits": {"remaining": 3}}),
                200,
            ),
        };
        set.spawn(async move {
            let reply = app.post_as(Some(&root_key), "keys.createKey", body).await;
            (expected, reply)
        });
    }
    let mut created = Vec::new();
    while let Some(done) = set.join_next().await {
        let (expected, reply) = done.unwrap();
        assert_eq!(reply.status.as_u16(), expected, "{:?}", reply.body);
        if expected == 200 {
            created.push(reply.data().clone());
        } else {
            assert!(reply.body["error"]["detail"].as_str().is_some());
        }
    }
    assert_eq!(created.len(), 32);
    for data in &created {
        assert_eq!(
            app.verify_code(data["key"].as_str().unwrap()).await,
            "VALID"
        );
    }
    let listed = |api: &str| {
        let app = app.clone();
        let api = api.to_owned();
        async move {
            app.call("apis.listKeys", json!({"apiId": api, "limit": 100}))
                .await
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!((listed(&api_a).await, listed(&api_b).await), (16, 16));
    let shared = app
        .call(
            "apis.listKeys",
            json!({"apiId": api_b, "externalId": "shared"}),
        )
        .await;
    assert_eq!(shared.as_array().unwrap().len(), 16, "one identity for all");
    let events = app
        .call(
            "auditLogs.listLogs",
            json!({"event": "key.create", "limit": 100}),
        )
        .await;
    let by_limited = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["id"] == limited_id.as_str())
        .count();
    assert_eq!(events.as_array().unwrap().len(), 32, "{events}");
    assert_eq!(by_limited, 16);
    // Every one of them went through the group commit (80 requests, in at most 80 batches).
    let kind = "{kind=\"key_creations\"}";
    let requests = app
        .metric(&format!("keyward_group_commit_requests_total{kind}"))
        .await;
    let batches = app
        .metric(&format!("keyward_group_commit_batches_total{kind}"))
        .await;
    assert_eq!(requests, 80);
    assert!((1..=80).contains(&batches), "{batches}");
}
