//! keys.createKey

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn defaults() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert!(key_id.starts_with("key_"));
    assert!(!key.contains('_'), "no prefix by default: {key}");
    assert!(
        key.len() >= 21 && key.chars().all(|c| c.is_ascii_alphanumeric()),
        "base58 of 16 bytes: {key}"
    );
    let stored = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(stored["keyId"], json!(key_id));
    assert_eq!(stored["start"], json!(&key[..4]));
    assert_eq!(stored["enabled"], json!(true));
    assert!(stored["createdAt"].as_i64().unwrap() > 1_700_000_000_000);
    for absent in [
        "name",
        "meta",
        "expires",
        "credits",
        "identity",
        "updatedAt",
    ] {
        assert!(
            stored.get(absent).is_none(),
            "{absent} should be absent: {stored}"
        );
    }
    assert_eq!(app.verify_code(&key).await, "VALID");
}

#[tokio::test]
async fn every_field_is_stored() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let expires = 4_000_000_000_000_i64;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({
                "prefix": "sk_live",
                "byteLength": 32,
                "name": "Acme production",
                "externalId": "acme.corp-1",
                "meta": {"plan": "pro", "seats": 5},
                "expires": expires,
                "enabled": false,
                "credits": {"remaining": 1000, "refill": {"interval": "monthly", "amount": 1000}},
            }),
        )
        .await;
    assert!(key.starts_with("sk_live_"));
    assert!(
        key.len() - "sk_live_".len() >= 43,
        "32 bytes are at least 43 base58 chars: {key}"
    );
    let stored = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(stored["start"], json!(&key[.."sk_live_".len() + 4]));
    assert_eq!(stored["name"], "Acme production");
    assert_eq!(stored["meta"], json!({"plan": "pro", "seats": 5}));
    assert_eq!(stored["expires"], json!(expires));
    assert_eq!(stored["enabled"], json!(false));
    assert_eq!(stored["identity"]["externalId"], "acme.corp-1");
    assert!(
        stored["identity"]["id"]
            .as_str()
            .unwrap()
            .starts_with("id_")
    );
    // Monthly without refillDay means the 1st, as Unkey's docs promise.
    assert_eq!(
        stored["credits"],
        json!({"remaining": 1000, "refill": {"interval": "monthly", "amount": 1000, "refillDay": 1}})
    );
    assert_eq!(app.verify_code(&key).await, "DISABLED");

    let (daily_id, _) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 5, "refill": {"interval": "daily", "amount": 10}}}),
        )
        .await;
    let daily = app.call("keys.getKey", json!({"keyId": daily_id})).await;
    assert_eq!(
        daily["credits"],
        json!({"remaining": 5, "refill": {"interval": "daily", "amount": 10}})
    );
}

#[tokio::test]
async fn the_same_external_id_is_the_same_identity() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (a, _) = app
        .create_key(&api_id, json!({"externalId": "user_1"}))
        .await;
    let (b, _) = app
        .create_key(&api_id, json!({"externalId": "user_1"}))
        .await;
    let a = app.call("keys.getKey", json!({"keyId": a})).await;
    let b = app.call("keys.getKey", json!({"keyId": b})).await;
    assert_eq!(a["identity"]["id"], b["identity"]["id"]);
}

#[tokio::test]
async fn keys_and_ids_are_unique() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let mut keys = HashSet::new();
    let mut ids = HashSet::new();
    for _ in 0..50 {
        let (id, key) = app.create_key(&api_id, json!({"prefix": "sk"})).await;
        assert!(keys.insert(key) && ids.insert(id));
    }
}

#[tokio::test]
async fn invalid_requests_list_every_problem() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let meta: serde_json::Map<String, serde_json::Value> =
        (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
    let reply = app
        .post(
            "keys.createKey",
            json!({
                "apiId": api_id,
                "prefix": "bad-prefix",
                "byteLength": 8,
                "externalId": "has space",
                "meta": meta,
                "expires": 5_000_000_000_000_i64,
                "credits": {"remaining": null, "refill": {"interval": "daily", "amount": 0, "refillDay": 3}},
            }),
        )
        .await;
    let detail = reply.error(400, "/unkey/application/invalid_input");
    assert!(detail.contains("/v2/keys.createKey"), "{detail}");
    let locations = reply.error_locations();
    for field in [
        "body.prefix",
        "body.byteLength",
        "body.externalId",
        "body.meta",
        "body.expires",
        "body.credits.refill",
        "body.credits.refill.amount",
        "body.credits.refill.refillDay",
    ] {
        assert!(
            locations.contains(&field.to_string()),
            "{field} in {locations:?}"
        );
    }
    let keys = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(keys, json!([]), "nothing is created by a refused request");
}

#[tokio::test]
async fn unsupported_fields_are_refused_not_dropped() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    // Rate limits on keys arrive with the rate limiter: refused until then.
    let reply = app
        .post(
            "keys.createKey",
            json!({"apiId": api_id, "permissions": ["documents.read"], "ratelimits": [{"name": "requests", "limit": 0, "duration": 1000}]}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.ratelimits[0].limit"]);
    // An unknown role is a 404, and the key is not created without it.
    app.post(
        "keys.createKey",
        json!({"apiId": api_id, "permissions": ["documents.read"], "roles": ["admin"]}),
    )
    .await
    .error(404, "/role_not_found");
    assert_eq!(
        app.call("permissions.listPermissions", json!({})).await,
        json!([]),
        "nothing half-applied: no permission was created either"
    );
    app.post(
        "keys.createKey",
        json!({"apiId": api_id, "recoverable": true}),
    )
    .await
    .error(412, "/precondition_failed");
    assert_eq!(
        app.call("apis.listKeys", json!({"apiId": api_id})).await,
        json!([])
    );
}

#[tokio::test]
async fn api_must_exist_in_the_callers_workspace_and_permission_is_checked() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    app.post("keys.createKey", json!({"apiId": "api_unknown1"}))
        .await
        .error(404, "/unkey/data/api_not_found");
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "keys.createKey", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");

    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.create_key")])
        .await;
    app.post_as(Some(&scoped), "keys.createKey", json!({"apiId": api_id}))
        .await
        .data();
    let detail = app
        .post_as(Some(&scoped), "keys.createKey", json!({"apiId": other_api}))
        .await
        .error(403, "/insufficient_permissions");
    assert!(
        detail.contains("api.*.create_key")
            && detail.contains(&format!("api.{other_api}.create_key")),
        "{detail}"
    );
}

#[tokio::test]
async fn start_is_the_prefix_and_four_characters_and_rerolls_keep_the_prefix() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    for prefix in ["a", "sk", "sk_live", "sk_", "__", "a_b_c_d_e_f_g_h_"] {
        let (key_id, key) = app.create_key(&api_id, json!({"prefix": prefix})).await;
        let body = key
            .strip_prefix(&format!("{prefix}_"))
            .unwrap_or_else(|| panic!("{key} begins with {prefix}_"));
        assert!(!body.contains('_') && body.len() >= 21, "{key}");
        let start = app.call("keys.getKey", json!({"keyId": key_id})).await["start"].clone();
        assert_eq!(start, json!(format!("{prefix}_{}", &body[..4])), "{key}");

        // The reroll reads the prefix back from `start`, underscores and all.
        let rerolled = app
            .call("keys.rerollKey", json!({"keyId": key_id, "expiration": 0}))
            .await;
        let (new_id, new_key) = (
            rerolled["keyId"].as_str().unwrap(),
            rerolled["key"].as_str().unwrap(),
        );
        let new_body = new_key
            .strip_prefix(&format!("{prefix}_"))
            .unwrap_or_else(|| panic!("the rerolled {new_key} begins with {prefix}_"));
        assert!(!new_body.contains('_'), "{new_key}");
        let new_start = app.call("keys.getKey", json!({"keyId": new_id})).await["start"].clone();
        assert_eq!(new_start, json!(format!("{prefix}_{}", &new_body[..4])));
    }
}

#[tokio::test]
async fn a_key_cannot_be_created_expired() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // A minute ago, the epoch, and now in seconds where milliseconds belong.
    for expires in [now - 60_000, 0, now / 1000] {
        let reply = app
            .post(
                "keys.createKey",
                json!({"apiId": api_id, "expires": expires}),
            )
            .await;
        let detail = reply.error(400, "/invalid_input");
        assert_eq!(reply.error_locations(), vec!["body.expires"]);
        assert!(
            detail.contains("must be in the future") && detail.contains("milliseconds"),
            "{detail}"
        );
    }
    let keys = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(keys, json!([]), "nothing is created by a refused request");
    assert!(app.audit_events("key.create").await.is_empty());

    let (_, key) = app
        .create_key(&api_id, json!({"expires": now + 60_000}))
        .await;
    assert_eq!(app.verify_code(&key).await, "VALID");
}
