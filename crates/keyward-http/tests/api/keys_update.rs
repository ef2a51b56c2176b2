//! keys.updateKey, keys.updateCredits, keys.rerollKey

use serde_json::{Value, json};

use crate::helpers::TestApp;

async fn get(app: &TestApp, key_id: &str) -> Value {
    app.call("keys.getKey", json!({"keyId": key_id})).await
}

#[tokio::test]
async fn update_is_tri_state() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app
        .create_key(&api_id, json!({"name": "before", "meta": {"a": 1}, "expires": 4_000_000_000_000_i64, "externalId": "u1"}))
        .await;

    // Absent fields stay as they were.
    app.call("keys.updateKey", json!({"keyId": key_id, "name": "after"}))
        .await;
    let key = get(&app, &key_id).await;
    assert_eq!(key["name"], "after");
    assert_eq!(key["meta"], json!({"a": 1}));
    assert_eq!(key["expires"], json!(4_000_000_000_000_i64));
    assert_eq!(key["identity"]["externalId"], "u1");
    assert!(key["updatedAt"].as_i64().is_some());

    // Values replace.
    app.call("keys.updateKey", json!({"keyId": key_id, "meta": {"b": 2}, "externalId": "u2", "expires": 4_100_000_000_000_i64})).await;
    let key = get(&app, &key_id).await;
    assert_eq!(key["meta"], json!({"b": 2}));
    assert_eq!(key["identity"]["externalId"], "u2");
    assert_eq!(key["expires"], json!(4_100_000_000_000_i64));

    // null clears.
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "name": null, "meta": null, "externalId": null, "expires": null}),
    )
    .await;
    let key = get(&app, &key_id).await;
    for cleared in ["name", "meta", "identity", "expires"] {
        assert!(
            key.get(cleared).is_none(),
            "{cleared} should be cleared: {key}"
        );
    }
}

#[tokio::test]
async fn disable_and_enable_take_effect_on_the_next_verification() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": false}))
        .await;
    let verdict = app.verify(&key).await;
    assert_eq!(
        (verdict["valid"].as_bool(), verdict["code"].as_str()),
        (Some(false), Some("DISABLED"))
    );
    assert_eq!(verdict["keyId"], json!(key_id));
    assert_eq!(verdict["enabled"], json!(false));
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": true}))
        .await;
    assert_eq!(app.verify_code(&key).await, "VALID");
}

#[tokio::test]
async fn update_credits_through_update_key() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert!(
        app.verify(&key).await.get("credits").is_none(),
        "unlimited keys report no credits"
    );

    app.call("keys.updateKey", json!({"keyId": key_id, "credits": {"remaining": 3, "refill": {"interval": "daily", "amount": 3}}})).await;
    assert_eq!(
        get(&app, &key_id).await["credits"],
        json!({"remaining": 3, "refill": {"interval": "daily", "amount": 3}})
    );
    assert_eq!(app.verify(&key).await["credits"], json!(2));

    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "credits": {"refill": null}}),
    )
    .await;
    assert_eq!(get(&app, &key_id).await["credits"], json!({"remaining": 2}));

    app.call("keys.updateKey", json!({"keyId": key_id, "credits": null}))
        .await;
    assert!(get(&app, &key_id).await.get("credits").is_none());
    assert!(app.verify(&key).await.get("credits").is_none());

    let reply = app
        .post(
            "keys.updateKey",
            json!({"keyId": key_id, "credits": {"refill": {"interval": "daily", "amount": 5}}}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.credits.refill"]);
    app.post(
        "keys.updateKey",
        json!({"keyId": key_id, "credits": {"remaining": -1}}),
    )
    .await
    .error(400, "/invalid_input");
}

#[tokio::test]
async fn update_key_errors_change_nothing() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({"name": "kept"})).await;
    app.post(
        "keys.updateKey",
        json!({"keyId": "key_unknown", "name": "x"}),
    )
    .await
    .error(404, "/key_not_found");
    app.post("keys.updateKey", json!({"keyId": key_id, "name": ""}))
        .await
        .error(400, "/invalid_input");
    app.post("keys.updateKey", json!({"keyId": key_id, "nmae": "typo"}))
        .await
        .error(400, "/invalid_input");
    app.post(
        "keys.updateKey",
        json!({"keyId": key_id, "name": "x", "roles": ["admin"]}),
    )
    .await
    .error(404, "/role_not_found");
    app.post(
        "keys.updateKey",
        json!({"keyId": key_id, "name": "x", "ratelimits": [{"name": "rq", "limit": 1, "duration": 1000}]}),
    )
    .await
    .error(400, "/invalid_input");
    let scoped = app
        .root_key_with(&[&format!("api.{other_api}.update_key")])
        .await;
    app.post_as(
        Some(&scoped),
        "keys.updateKey",
        json!({"keyId": key_id, "name": "x"}),
    )
    .await
    .error(403, "/insufficient_permissions");
    let stranger = app.other_workspace_root_key().await;
    app.post_as(
        Some(&stranger),
        "keys.updateKey",
        json!({"keyId": key_id, "name": "x"}),
    )
    .await
    .error(404, "/key_not_found");
    assert_eq!(get(&app, &key_id).await["name"], "kept");
    assert!(app.audit_events("key.update").await.is_empty());
}

#[tokio::test]
async fn update_credits_operations() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 10, "refill": {"interval": "daily", "amount": 10}}}),
        )
        .await;
    let update = |operation: &str, value: Value| json!({"keyId": key_id, "operation": operation, "value": value});

    assert_eq!(
        app.call("keys.updateCredits", update("increment", json!(5)))
            .await["remaining"],
        json!(15)
    );
    assert_eq!(
        app.call("keys.updateCredits", update("decrement", json!(4)))
            .await["remaining"],
        json!(11)
    );
    let floored = app
        .call("keys.updateCredits", update("decrement", json!(100)))
        .await;
    assert_eq!(
        floored,
        json!({"remaining": 0, "refill": {"interval": "daily", "amount": 10}})
    );
    assert_eq!(app.verify_code(&key).await, "USAGE_EXCEEDED");
    assert_eq!(
        app.call("keys.updateCredits", update("set", json!(2)))
            .await["remaining"],
        json!(2)
    );
    assert_eq!(app.verify_code(&key).await, "VALID");

    // set null: unlimited, and the refill goes with it.
    assert_eq!(
        app.call("keys.updateCredits", update("set", Value::Null))
            .await,
        json!({"remaining": null})
    );
    assert_eq!(app.verify_code(&key).await, "VALID");
    let detail = app
        .post("keys.updateCredits", update("increment", json!(1)))
        .await
        .error(400, "/invalid_input");
    assert!(detail.contains("unlimited"), "{detail}");

    let reply = app
        .post(
            "keys.updateCredits",
            json!({"keyId": key_id, "operation": "increment"}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.value"]);
    app.post("keys.updateCredits", update("multiply", json!(2)))
        .await
        .error(400, "/invalid_input");
    app.post("keys.updateCredits", update("set", json!(-1)))
        .await
        .error(400, "/invalid_input");
    app.post(
        "keys.updateCredits",
        json!({"keyId": "key_unknown", "operation": "set", "value": 1}),
    )
    .await
    .error(404, "/key_not_found");
    let reader = app.root_key_with(&["api.*.read_key"]).await;
    app.post_as(Some(&reader), "keys.updateCredits", update("set", json!(1)))
        .await
        .error(403, "/insufficient_permissions");
}

#[tokio::test]
async fn update_key_takes_a_past_expiry_to_expire_a_key_now() {
    // Unlike createKey (400), as in Unkey: this is how a key is made to expire at once.
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "expires": now - 1}),
    )
    .await;
    assert_eq!(app.verify_code(&key).await, "EXPIRED");
    assert_eq!(
        app.call("keys.getKey", json!({"keyId": key_id})).await["expires"],
        json!(now - 1)
    );
}

#[tokio::test]
async fn set_without_a_value_makes_credits_unlimited() {
    // Unkey's spec makes `value` optional for `set`: absent, like null, means unlimited.
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 1, "refill": {"interval": "daily", "amount": 1}}}),
        )
        .await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(app.verify_code(&key).await, "USAGE_EXCEEDED");

    let set = json!({"keyId": key_id, "operation": "set"});
    assert_eq!(
        app.call("keys.updateCredits", set.clone()).await,
        json!({"remaining": null})
    );
    let stored = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert!(
        stored.get("credits").is_none(),
        "unlimited, no refill: {stored}"
    );
    for _ in 0..3 {
        assert_eq!(app.verify_code(&key).await, "VALID");
    }
    // Setting an unlimited key unlimited again changes nothing and still answers.
    assert_eq!(
        app.call("keys.updateCredits", set).await,
        json!({"remaining": null})
    );
    let events = app.audit_events("key.update").await;
    assert_eq!(events.len(), 2);
    assert!(
        events[0]["description"]
            .as_str()
            .unwrap()
            .ends_with("→ unlimited"),
        "{}",
        events[0]
    );

    app.post(
        "keys.updateCredits",
        json!({"keyId": "key_unknown", "operation": "set"}),
    )
    .await
    .error(404, "/key_not_found");
}

#[tokio::test]
async fn reroll_issues_a_copy_and_retires_the_old_key() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (old_id, old_key) = app
        .create_key(
            &api_id,
            json!({"prefix": "sk", "byteLength": 24, "name": "prod", "meta": {"tier": 2}, "externalId": "u1",
                   "credits": {"remaining": 7}}),
        )
        .await;
    let data = app
        .call(
            "keys.rerollKey",
            json!({"keyId": old_id, "expiration": 60_000}),
        )
        .await;
    let (new_id, new_key) = (
        data["keyId"].as_str().unwrap(),
        data["key"].as_str().unwrap(),
    );
    assert_ne!(new_id, old_id);
    assert!(new_key.starts_with("sk_") && new_key != old_key);
    assert!(
        new_key.len() - 3 >= 32,
        "the old key's strength (24 bytes) is kept: {new_key}"
    );

    let new = get(&app, new_id).await;
    assert_eq!(new["name"], "prod");
    assert_eq!(new["meta"], json!({"tier": 2}));
    assert_eq!(new["identity"]["externalId"], "u1");
    assert_eq!(new["credits"], json!({"remaining": 7}));
    assert_eq!(app.verify_code(new_key).await, "VALID");

    // The old key works during the grace period and carries its end.
    let old = app.verify(&old_key).await;
    assert_eq!(old["code"], "VALID");
    let expires = old["expires"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now + 50_000..=now + 61_000).contains(&expires),
        "{expires} vs {now}"
    );

    // expiration 0 retires it at once.
    let data = app
        .call("keys.rerollKey", json!({"keyId": new_id, "expiration": 0}))
        .await;
    assert_eq!(app.verify_code(new_key).await, "EXPIRED");
    assert_eq!(
        app.verify_code(data["key"].as_str().unwrap()).await,
        "VALID"
    );
    assert_eq!(app.audit_events("key.reroll").await.len(), 2);
}

#[tokio::test]
async fn reroll_errors() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    app.post("keys.rerollKey", json!({"keyId": key_id}))
        .await
        .error(400, "/invalid_input");
    app.post("keys.rerollKey", json!({"keyId": key_id, "expiration": -1}))
        .await
        .error(400, "/invalid_input");
    app.post(
        "keys.rerollKey",
        json!({"keyId": "key_unknown", "expiration": 0}),
    )
    .await
    .error(404, "/key_not_found");
    let reader = app
        .root_key_with(&["api.*.read_key", "api.*.update_key"])
        .await;
    app.post_as(
        Some(&reader),
        "keys.rerollKey",
        json!({"keyId": key_id, "expiration": 0}),
    )
    .await
    .error(403, "/insufficient_permissions");
    assert_eq!(
        app.call("apis.listKeys", json!({"apiId": api_id}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
