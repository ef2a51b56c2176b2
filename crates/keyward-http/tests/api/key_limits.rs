//! Rate limits of keys and identities: set on createKey/updateKey/createIdentity/updateIdentity,
//! returned by getKey/listKeys/getIdentity/listIdentities, applied by verifyKey — auto-applied
//! ones on every call, named ones with a cost, all-or-nothing, before credits — and gone the
//! moment their key, identity or limit is.

use keyward_core::time::Clock;
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::ratelimit::{T0, all_at_once, app_at};

fn rl(name: &str, limit: i64, duration: i64, auto_apply: bool) -> Value {
    json!({"name": name, "limit": limit, "duration": duration, "autoApply": auto_apply})
}

async fn verify_with(app: &TestApp, key: &str, extra: Value) -> Value {
    let mut body = json!({"key": key});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    app.call("keys.verifyKey", body).await
}

async fn create_identity(app: &TestApp, external_id: &str, limits: Value) -> String {
    app.call(
        "identities.createIdentity",
        json!({"externalId": external_id, "ratelimits": limits}),
    )
    .await["identityId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn auto_applied_limits_apply_to_every_verification() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [rl("requests", 2, 1000, true)]}),
        )
        .await;
    let stored = app.call("keys.getKey", json!({"keyId": key_id})).await;
    let limit_id = stored["ratelimits"][0]["id"].as_str().unwrap().to_owned();
    assert!(limit_id.starts_with("rl_"), "{stored}");
    assert_eq!(
        stored["ratelimits"],
        json!([{"id": limit_id, "name": "requests", "limit": 2, "duration": 1000, "autoApply": true}])
    );
    let listed = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(listed[0]["ratelimits"], stored["ratelimits"]);

    for left in [1, 0] {
        let answer = app.verify(&key).await;
        assert_eq!(answer["code"], "VALID");
        assert_eq!(
            answer["ratelimits"],
            json!([{"exceeded": false, "id": limit_id, "name": "requests", "limit": 2,
                    "duration": 1000, "reset": T0 + 1000, "remaining": left, "autoApply": true}])
        );
    }
    let refused = app.verify(&key).await;
    assert_eq!(
        (refused["valid"].clone(), refused["code"].clone()),
        (json!(false), json!("RATE_LIMITED"))
    );
    assert_eq!(refused["ratelimits"][0]["exceeded"], true);
    assert_eq!(refused["ratelimits"][0]["remaining"], 0);
    // Two windows on, the key verifies again.
    clock.set(T0 + 2000);
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(
        app.metric("keyward_key_ratelimit_decisions_total{outcome=\"rejected\"}")
            .await,
        1
    );
}

#[tokio::test]
async fn named_limits_apply_when_asked_for_with_their_cost() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [rl("tokens", 10, 60_000, false)]}),
        )
        .await;
    // Not auto-applied: a plain verification leaves it alone and reports none.
    let plain = app.verify(&key).await;
    assert!(plain.get("ratelimits").is_none(), "{plain}");
    let spend = |cost: i64| {
        verify_with(
            &app,
            &key,
            json!({"ratelimits": [{"name": "tokens", "cost": cost}]}),
        )
    };
    assert_eq!(spend(7).await["ratelimits"][0]["remaining"], 3);
    let refused = spend(4).await;
    assert_eq!(refused["code"], "RATE_LIMITED");
    assert_eq!(spend(3).await["ratelimits"][0]["remaining"], 0);
    assert_eq!(
        spend(0).await["code"],
        "VALID",
        "a cost of 0 checks without spending"
    );

    // A name neither the key nor an identity has: 412, naming both.
    let detail = app
        .post(
            "keys.verifyKey",
            json!({"key": key, "ratelimits": [{"name": "nope"}]}),
        )
        .await
        .error(412, "/precondition_failed");
    assert!(
        detail.contains("'nope'") && detail.contains(&key_id) && detail.contains("no identity"),
        "{detail}"
    );
    // An ad-hoc limit: limit and duration given, counted per key, no id.
    let adhoc = |cost: i64| {
        verify_with(
            &app,
            &key,
            json!({"ratelimits": [{"name": "burst", "limit": 2, "duration": 1000, "cost": cost}]}),
        )
    };
    let first = adhoc(2).await;
    assert_eq!(
        first["ratelimits"],
        json!([{"exceeded": false, "id": "", "name": "burst", "limit": 2, "duration": 1000,
                "reset": T0 + 1000, "remaining": 0, "autoApply": false}])
    );
    assert_eq!(adhoc(1).await["code"], "RATE_LIMITED");
}

#[tokio::test]
async fn identity_limits_are_shared_and_a_keys_own_limit_wins() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let identity_id = create_identity(
        &app,
        "customer_1",
        json!([
            rl("requests", 3, 60_000, true),
            rl("exports", 1, 60_000, false)
        ]),
    )
    .await;
    let (a_id, a) = app
        .create_key(&api_id, json!({"externalId": "customer_1"}))
        .await;
    let (_, b) = app
        .create_key(&api_id, json!({"externalId": "customer_1"}))
        .await;
    // A key with its own "requests" limit: it is counted for that key alone.
    let (_, own) = app
        .create_key(
            &api_id,
            json!({"externalId": "customer_1", "ratelimits": [rl("requests", 100, 60_000, true)]}),
        )
        .await;

    let identity = app
        .call("identities.getIdentity", json!({"identity": identity_id}))
        .await;
    assert_eq!(
        identity["ratelimits"].as_array().unwrap().len(),
        2,
        "{identity}"
    );
    assert_eq!(identity["ratelimits"][0]["name"], "exports");
    let listed = app.call("identities.listIdentities", json!({})).await;
    assert_eq!(listed[0]["ratelimits"], identity["ratelimits"]);
    let key = app.call("keys.getKey", json!({"keyId": a_id})).await;
    assert!(
        key.get("ratelimits").is_none(),
        "the identity's limits sit under identity: {key}"
    );
    assert_eq!(key["identity"]["ratelimits"], identity["ratelimits"]);

    assert_eq!(app.verify(&a).await["ratelimits"][0]["remaining"], 2);
    assert_eq!(app.verify(&b).await["ratelimits"][0]["remaining"], 1);
    let mine = app.verify(&own).await;
    assert_eq!(
        mine["ratelimits"][0]["limit"], 100,
        "the key's own wins: {mine}"
    );
    assert_eq!(app.verify(&a).await["ratelimits"][0]["remaining"], 0);
    assert_eq!(
        app.verify_code(&b).await,
        "RATE_LIMITED",
        "shared across the identity's keys"
    );
    assert_eq!(app.verify_code(&own).await, "VALID");
    // The verification carries the identity with its limits.
    assert_eq!(mine["identity"]["ratelimits"].as_array().unwrap().len(), 2);
    // A named limit of the identity, asked for by a key of it.
    let detail = app
        .post(
            "keys.verifyKey",
            json!({"key": a, "ratelimits": [{"name": "nope"}]}),
        )
        .await
        .error(412, "/precondition_failed");
    assert!(
        detail.contains(&identity_id) && detail.contains("customer_1"),
        "{detail}"
    );
}

/// Unkey's overcommit test: a rejected call charges none of its limits.
#[tokio::test]
async fn several_limits_are_all_or_nothing() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (_, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [rl("per_minute", 12, 60_000, true), rl("per_month", 200, 2_592_000_000, true)]}),
        )
        .await;
    for _ in 0..12 {
        assert_eq!(app.verify_code(&key).await, "VALID");
    }
    let refused = app.verify(&key).await;
    assert_eq!(refused["code"], "RATE_LIMITED");
    let month = refused["ratelimits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "per_month")
        .unwrap()
        .clone();
    assert_eq!(
        (month["exceeded"].clone(), month["remaining"].clone()),
        (json!(false), json!(188))
    );
    // The month counter was not charged by the refused call.
    clock.set(T0 + 120_000);
    let next = app.verify(&key).await;
    let month = next["ratelimits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "per_month")
        .unwrap()
        .clone();
    assert_eq!(month["remaining"], 187);
}

#[tokio::test]
async fn rate_limited_calls_spend_no_credits_and_refused_credits_charge_no_limit() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"credits": {"remaining": 1}, "ratelimits": [rl("requests", 2, 60_000, true)]}),
        )
        .await;
    let first = app.verify(&key).await;
    assert_eq!(
        (first["code"].clone(), first["credits"].clone()),
        (json!("VALID"), json!(0))
    );
    assert_eq!(first["ratelimits"][0]["remaining"], 1);
    // No credits left: refused, and the limit it was charged is given back.
    let broke = app.verify(&key).await;
    assert_eq!(broke["code"], "USAGE_EXCEEDED");
    assert_eq!(broke["ratelimits"][0]["remaining"], 1);
    app.call(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": 5}),
    )
    .await;
    let again = app.verify(&key).await;
    assert_eq!(again["code"], "VALID");
    assert_eq!(
        again["ratelimits"][0]["remaining"], 0,
        "one charge was taken back"
    );
    assert_eq!(again["credits"], 4);
    // Rate limited: no credit spent.
    let limited = app.verify(&key).await;
    assert_eq!(
        (limited["code"].clone(), limited["credits"].clone()),
        (json!("RATE_LIMITED"), json!(4))
    );
    assert_eq!(
        app.call("keys.getKey", json!({"keyId": key_id})).await["credits"]["remaining"],
        4
    );
}

/// N concurrent verifications of a key with an auto-applied limit L: exactly L are VALID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_limit_admits_exactly_its_limit_of_concurrent_verifications() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (_, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [rl("requests", 15, 60_000, true)]}),
        )
        .await;
    let bodies = (0..40).map(|_| json!({"key": key})).collect();
    let answers = all_at_once(&app, "keys.verifyKey", bodies).await;
    assert_eq!(answers.iter().filter(|a| a["code"] == "VALID").count(), 15);
    assert_eq!(
        answers
            .iter()
            .filter(|a| a["code"] == "RATE_LIMITED")
            .count(),
        25
    );
}

#[tokio::test]
async fn changing_or_deleting_limits_applies_at_once() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [rl("requests", 1, 60_000, true)]}),
        )
        .await;
    let limit_id =
        app.call("keys.getKey", json!({"keyId": key_id})).await["ratelimits"][0]["id"].clone();
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(app.verify_code(&key).await, "RATE_LIMITED");
    // Raised by name: the same limit (same id, same count) with the new number, at once.
    app.call(
        "keys.updateKey",
        json!({"keyId": key_id, "ratelimits": [rl("requests", 3, 60_000, true), rl("other", 5, 1000, false)]}),
    )
    .await;
    let raised = app.verify(&key).await;
    assert_eq!(raised["code"], "VALID");
    assert_eq!(raised["ratelimits"][0]["id"], limit_id);
    assert_eq!(raised["ratelimits"][0]["remaining"], 1);
    assert_eq!(
        app.call("keys.getKey", json!({"keyId": key_id})).await["ratelimits"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Removed: none applies.
    app.call("keys.updateKey", json!({"keyId": key_id, "ratelimits": []}))
        .await;
    for _ in 0..3 {
        let answer = app.verify(&key).await;
        assert_eq!(answer["code"], "VALID");
        assert!(answer.get("ratelimits").is_none(), "{answer}");
    }
    assert!(
        app.call("keys.getKey", json!({"keyId": key_id}))
            .await
            .get("ratelimits")
            .is_none()
    );
    app.post(
        "keys.verifyKey",
        json!({"key": key, "ratelimits": [{"name": "requests"}]}),
    )
    .await
    .error(412, "/precondition_failed");

    // An identity's limits stop when they are removed, and when the identity is deleted.
    create_identity(&app, "c1", json!([rl("shared", 1, 60_000, true)])).await;
    let (_, member) = app.create_key(&api_id, json!({"externalId": "c1"})).await;
    assert_eq!(app.verify_code(&member).await, "VALID");
    assert_eq!(app.verify_code(&member).await, "RATE_LIMITED");
    let updated = app
        .call(
            "identities.updateIdentity",
            json!({"identity": "c1", "ratelimits": [rl("shared", 2, 60_000, true)]}),
        )
        .await;
    assert_eq!(updated["ratelimits"][0]["limit"], 2);
    assert_eq!(app.verify_code(&member).await, "VALID", "raised at once");
    assert_eq!(app.verify_code(&member).await, "RATE_LIMITED");
    app.call("identities.deleteIdentity", json!({"identity": "c1"}))
        .await;
    assert_eq!(
        app.verify_code(&member).await,
        "VALID",
        "a deleted identity limits nothing"
    );
    // A deleted key verifies NOT_FOUND, limits or not.
    app.call(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": true}),
    )
    .await;
    assert_eq!(app.verify_code(&key).await, "NOT_FOUND");
}

#[tokio::test]
async fn a_rerolled_key_keeps_its_limits() {
    let clock = Clock::manual(T0);
    let app = app_at(&clock).await;
    let api_id = app.create_api().await;
    let (key_id, _) = app
        .create_key(
            &api_id,
            json!({"ratelimits": [rl("requests", 1, 60_000, true)]}),
        )
        .await;
    let rerolled = app
        .call("keys.rerollKey", json!({"keyId": key_id, "expiration": 0}))
        .await;
    let new_key = rerolled["key"].as_str().unwrap();
    let stored = app
        .call("keys.getKey", json!({"keyId": rerolled["keyId"]}))
        .await;
    assert_eq!(stored["ratelimits"][0]["name"], "requests");
    assert_eq!(app.verify_code(new_key).await, "VALID");
    assert_eq!(app.verify_code(new_key).await, "RATE_LIMITED");
}

#[tokio::test]
async fn limits_out_of_bounds_are_refused_and_change_nothing() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    let many: Vec<Value> = (0..51)
        .map(|i| rl(&format!("limit_{i}"), 1, 1000, false))
        .collect();
    for (operation, body, location) in [
        (
            "keys.createKey",
            json!({"apiId": api_id, "ratelimits": many}),
            "body.ratelimits",
        ),
        (
            "keys.createKey",
            json!({"apiId": api_id, "ratelimits": [rl("requests", 1, 2_592_000_001, true)]}),
            "body.ratelimits[0].duration",
        ),
        (
            "keys.updateKey",
            json!({"keyId": key_id, "ratelimits": [rl("a", 1, 1000, true)]}),
            "body.ratelimits[0].name",
        ),
        (
            "keys.updateKey",
            json!({"keyId": key_id, "ratelimits": [rl("same", 1, 1000, true), rl("same", 2, 1000, true)]}),
            "body.ratelimits[1].name",
        ),
        (
            "identities.createIdentity",
            json!({"externalId": "x", "ratelimits": [rl("requests", 0, 1000, true)]}),
            "body.ratelimits[0].limit",
        ),
        (
            "keys.verifyKey",
            json!({"key": "k", "ratelimits": [{"name": "burst", "limit": 1, "duration": 999}]}),
            "body.ratelimits[0].duration",
        ),
        (
            "keys.verifyKey",
            json!({"key": "k", "ratelimits": [{"name": "burst", "cost": 1_000_000_000_001_i64}]}),
            "body.ratelimits[0].cost",
        ),
        (
            "keys.createKey",
            json!({"apiId": api_id, "credits": {"remaining": 1, "refill": {"interval": "daily", "amount": 1, "lastRefillAt": 5}}}),
            "body.credits.refill.lastRefillAt",
        ),
    ] {
        let reply = app.post(operation, body).await;
        reply.error(400, "/invalid_input");
        assert_eq!(
            reply.error_locations(),
            vec![location.to_owned()],
            "{operation}"
        );
    }
    assert!(
        app.call("keys.getKey", json!({"keyId": key_id}))
            .await
            .get("ratelimits")
            .is_none()
    );
    assert_eq!(
        app.call("apis.listKeys", json!({"apiId": api_id}))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
