//! keys.verifyKey: outcomes, their order, credits, authorization.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::TestApp;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn verify_with(app: &TestApp, body: Value) -> Value {
    app.call("keys.verifyKey", body).await
}

#[tokio::test]
async fn a_valid_key_returns_its_details() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let expires = now_ms() + 3_600_000;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"name": "n", "meta": {"m": true}, "externalId": "user_1", "expires": expires}),
        )
        .await;
    let data = app.verify(&key).await;
    assert_eq!(data["valid"], json!(true));
    assert_eq!(data["code"], "VALID");
    assert_eq!(data["keyId"], json!(key_id));
    assert_eq!(data["name"], "n");
    assert_eq!(data["meta"], json!({"m": true}));
    assert_eq!(data["expires"], json!(expires));
    assert_eq!(data["enabled"], json!(true));
    assert_eq!(data["identity"]["externalId"], "user_1");
    assert!(data.get("credits").is_none());
}

#[tokio::test]
async fn unknown_keys_are_not_found_with_nothing_else() {
    let app = TestApp::start().await;
    for key in ["sk_unknown", "x", &"a".repeat(512)] {
        let reply = app.post("keys.verifyKey", json!({"key": key})).await;
        assert_eq!(reply.data(), &json!({"valid": false, "code": "NOT_FOUND"}));
    }
}

#[tokio::test]
async fn expiry() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app
        .create_key(&api_id, json!({"expires": now_ms() + 1_000}))
        .await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let data = app.verify(&key).await;
    assert_eq!(
        (data["valid"].as_bool(), data["code"].as_str()),
        (Some(false), Some("EXPIRED"))
    );
    // createKey refuses a past expiry; updateKey sets one, to expire a key now.
    let (past_id, past) = app.create_key(&api_id, json!({})).await;
    app.call("keys.updateKey", json!({"keyId": past_id, "expires": 0}))
        .await;
    assert_eq!(app.verify_code(&past).await, "EXPIRED");
}

#[tokio::test]
async fn credits_follow_unkeys_rules() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    // Default cost 1 on a metered key.
    let (_, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 5}}))
        .await;
    assert_eq!(app.verify(&key).await["credits"], json!(4));
    // Cost of all that is left.
    let (_, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 5}}))
        .await;
    let data = verify_with(&app, json!({"key": key, "credits": {"cost": 5}})).await;
    assert_eq!(
        (data["code"].as_str(), data["credits"].as_i64()),
        (Some("VALID"), Some(0))
    );
    // Nothing left.
    let data = app.verify(&key).await;
    assert_eq!(
        (
            data["valid"].as_bool(),
            data["code"].as_str(),
            data["credits"].as_i64()
        ),
        (Some(false), Some("USAGE_EXCEEDED"), Some(0))
    );
    // Cost 0 is allowed even at 0.
    let data = verify_with(&app, json!({"key": key, "credits": {"cost": 0}})).await;
    assert_eq!(
        (data["code"].as_str(), data["credits"].as_i64()),
        (Some("VALID"), Some(0))
    );
    // An insufficient balance deducts nothing.
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 5}}))
        .await;
    let data = verify_with(&app, json!({"key": key, "credits": {"cost": 15}})).await;
    assert_eq!(
        (data["code"].as_str(), data["credits"].as_i64()),
        (Some("USAGE_EXCEEDED"), Some(5))
    );
    assert_eq!(
        app.call("keys.getKey", json!({"keyId": key_id})).await["credits"]["remaining"],
        json!(5)
    );
    // Unlimited keys ignore costs.
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let data = verify_with(&app, json!({"key": key, "credits": {"cost": 1000}})).await;
    assert_eq!(data["code"], "VALID");
    assert!(data.get("credits").is_none());
}

#[tokio::test]
async fn outcome_order_and_no_spending_on_failure() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    // Disabled beats expired.
    let (key_id, key) = app.create_key(&api_id, json!({"enabled": false})).await;
    app.call("keys.updateKey", json!({"keyId": key_id, "expires": 0}))
        .await;
    assert_eq!(app.verify_code(&key).await, "DISABLED");
    // Expired beats usage exceeded, and spends nothing.
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 0}}))
        .await;
    app.call("keys.updateKey", json!({"keyId": key_id, "expires": 0}))
        .await;
    assert_eq!(app.verify_code(&key).await, "EXPIRED");
    // A disabled metered key keeps its credits, and reports them.
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "expires": null, "enabled": false, "credits": {"remaining": 3}}),
    )
    .await;
    let data = app.verify(&key).await;
    assert_eq!(
        (data["code"].as_str(), data["credits"].as_i64()),
        (Some("DISABLED"), Some(3))
    );
    // Insufficient permissions beats credits.
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": true}))
        .await;
    let data = verify_with(&app, json!({"key": key, "permissions": "documents.read"})).await;
    assert_eq!(
        (
            data["valid"].as_bool(),
            data["code"].as_str(),
            data["credits"].as_i64()
        ),
        (Some(false), Some("INSUFFICIENT_PERMISSIONS"), Some(3))
    );
}

#[tokio::test]
async fn root_key_authorization_answers_not_found() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({"enabled": false})).await;
    let not_found = json!({"valid": false, "code": "NOT_FOUND"});

    let no_verify = app.root_key_with(&["api.*.read_key"]).await;
    assert_eq!(
        app.post_as(Some(&no_verify), "keys.verifyKey", json!({"key": key}))
            .await
            .data(),
        &not_found
    );
    let other = app
        .root_key_with(&[&format!("api.{other_api}.verify_key")])
        .await;
    assert_eq!(
        app.post_as(Some(&other), "keys.verifyKey", json!({"key": key}))
            .await
            .data(),
        &not_found
    );
    let stranger = app.other_workspace_root_key().await;
    assert_eq!(
        app.post_as(Some(&stranger), "keys.verifyKey", json!({"key": key}))
            .await
            .data(),
        &not_found
    );

    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.verify_key")])
        .await;
    assert_eq!(
        app.post_as(Some(&scoped), "keys.verifyKey", json!({"key": key}))
            .await
            .data()["code"],
        "DISABLED"
    );
    let wildcard = app.root_key_with(&["api.*.verify_key"]).await;
    assert_eq!(
        app.post_as(Some(&wildcard), "keys.verifyKey", json!({"key": key}))
            .await
            .data()["code"],
        "DISABLED"
    );
}

#[tokio::test]
async fn permission_queries() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let data = verify_with(
        &app,
        json!({"key": key, "permissions": "a.read AND (b.write OR c)"}),
    )
    .await;
    assert_eq!(data["code"], "INSUFFICIENT_PERMISSIONS");
    for bad in ["a AND", "(a OR b", "()", "OR a", "a b", "a $"] {
        let reply = app
            .post("keys.verifyKey", json!({"key": key, "permissions": bad}))
            .await;
        let detail = reply.error(400, "/user/bad_request/permissions_query_syntax_error");
        assert!(detail.contains("position"), "{bad}: {detail}");
    }
    // Even for an unknown key: the query is the caller's bug either way.
    app.post(
        "keys.verifyKey",
        json!({"key": "unknown_key", "permissions": "a AND"}),
    )
    .await
    .error(400, "/permissions_query_syntax_error");
}

#[tokio::test]
async fn rate_limits_that_do_not_exist() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 5}}))
        .await;
    let detail = app
        .post(
            "keys.verifyKey",
            json!({"key": key, "ratelimits": [{"name": "requests"}]}),
        )
        .await
        .error(412, "/unkey/application/precondition_failed");
    assert!(
        detail.contains("'requests'") && detail.contains(&key_id),
        "{detail}"
    );
    // An ad-hoc limit's window is bounded as a stored one's is.
    let reply = app
        .post(
            "keys.verifyKey",
            json!({"key": key, "ratelimits": [{"name": "requests", "limit": 10, "duration": 10}]}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.ratelimits[0].duration"]);
    assert_eq!(
        app.call("keys.getKey", json!({"keyId": key_id})).await["credits"]["remaining"],
        json!(5),
        "nothing spent"
    );
}

#[tokio::test]
async fn invalid_verify_requests() {
    let app = TestApp::start().await;
    for (body, location) in [
        (json!({}), "body.key"),
        (json!({"key": ""}), "body.key"),
        (json!({"key": "k", "tags": vec!["t"; 21]}), "body.tags"),
        (json!({"key": "k", "tags": [""]}), "body.tags[0]"),
        (
            json!({"key": "k", "tags": ["x".repeat(513)]}),
            "body.tags[0]",
        ),
        (
            json!({"key": "k", "credits": {"cost": -1}}),
            "body.credits.cost",
        ),
        (
            json!({"key": "k", "ratelimits": [{"name": "abc", "cost": -1}]}),
            "body.ratelimits[0].cost",
        ),
        (json!({"key": "k", "unknown": 1}), "body.unknown"),
    ] {
        let reply = app.post("keys.verifyKey", body.clone()).await;
        reply.error(400, "/invalid_input");
        assert!(
            reply.error_locations().contains(&location.to_string()),
            "{body} → {:?}",
            reply.error_locations()
        );
    }
    // Free-form tags are accepted.
    let tags = json!([
        "path=/v1/x",
        "unicode=é✓",
        "with space",
        "a",
        "b",
        "c",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "j",
        "k",
        "l",
        "m",
        "n",
        "o",
        "p",
        "q"
    ]);
    let reply = app
        .post("keys.verifyKey", json!({"key": "k", "tags": tags}))
        .await;
    assert_eq!(reply.data()["code"], "NOT_FOUND");

    app.post_as(None, "keys.verifyKey", json!({"key": "k"}))
        .await
        .error(400, "/authentication/missing");
    app.post_as(
        Some("bad_root_key_value"),
        "keys.verifyKey",
        json!({"key": "k"}),
    )
    .await
    .error(401, "/authentication/key_not_found");
}
