//! keys.rerollKey and credits: the generations of a key share one balance, so C credits yield
//! at most C VALID verifications however often the key is rerolled (Unkey copies the balance).

use std::sync::Arc;

use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::TestApp;

/// Rerolls `key_id` with a grace period of a minute; returns the new (keyId, key).
async fn reroll(app: &TestApp, key_id: &str) -> (String, String) {
    let data = app
        .call(
            "keys.rerollKey",
            json!({"keyId": key_id, "expiration": 60_000}),
        )
        .await;
    (
        data["keyId"].as_str().unwrap().to_owned(),
        data["key"].as_str().unwrap().to_owned(),
    )
}

async fn credits(app: &TestApp, key_id: &str) -> Value {
    app.call("keys.getKey", json!({"keyId": key_id})).await["credits"].clone()
}

/// What `select count(*) …` counts, read from the database.
async fn count(app: &TestApp, query: &'static str) -> i64 {
    let mut conn = app.storage.inspect().await;
    let (count,): (i64,) = sqlx::query_as(query).fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    count
}

/// Rows of the `credits` table.
async fn stored_balances(app: &TestApp) -> i64 {
    count(app, "select count(*) from credits").await
}

#[tokio::test]
async fn a_reroll_hands_the_balance_on_and_the_old_key_spends_from_it() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (old_id, old_key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 4}}))
        .await;
    assert_eq!(app.verify(&old_key).await["credits"], 3);
    let (new_id, new_key) = reroll(&app, &old_id).await;

    // One balance, seen from both generations.
    assert_eq!(credits(&app, &new_id).await, json!({"remaining": 3}));
    assert_eq!(credits(&app, &old_id).await, json!({"remaining": 3}));
    assert_eq!(app.verify(&old_key).await["credits"], 2);
    assert_eq!(credits(&app, &new_id).await, json!({"remaining": 2}));
    assert_eq!(app.verify(&new_key).await["credits"], 1);
    assert_eq!(app.verify(&old_key).await["credits"], 0);
    for key in [&old_key, &new_key] {
        let answer = app.verify(key).await;
        assert_eq!(answer["code"], "USAGE_EXCEEDED");
        assert_eq!(answer["credits"], 0);
    }
}

#[tokio::test]
async fn five_rerolls_of_a_ten_credit_key_yield_ten_valid_verifications_in_all() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (first_id, first_key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 10}}))
        .await;
    let mut generations = vec![(first_id, first_key)];
    for _ in 0..5 {
        let newest = generations.last().unwrap().0.clone();
        generations.push(reroll(&app, &newest).await);
    }
    let mut valid = 0;
    for round in 0..4 {
        for (key_id, key) in &generations {
            match app.verify_code(key).await.as_str() {
                "VALID" => valid += 1,
                "USAGE_EXCEEDED" => {}
                other => panic!("round {round}, {key_id}: {other}"),
            }
        }
    }
    assert_eq!(valid, 10, "24 verifications over six generations");
    for (key_id, _) in &generations {
        assert_eq!(credits(&app, key_id).await, json!({"remaining": 0}));
    }
}

/// Verifications spread over both generations, all in flight at once: the balance is spent
/// by one statement on the shared row, so exactly C succeed, each reporting a distinct balance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_verifications_of_both_generations_never_overspend() {
    let app = Arc::new(TestApp::start().await);
    let api_id = app.create_api().await;
    let credits_given = 20;
    let (old_id, old_key) = app
        .create_key(&api_id, json!({"credits": {"remaining": credits_given}}))
        .await;
    let (new_id, new_key) = reroll(&app, &old_id).await;
    let tasks: Vec<_> = (0..60)
        .map(|i| {
            let app = app.clone();
            let key = if i % 2 == 0 { &old_key } else { &new_key }.clone();
            tokio::spawn(async move { app.verify(&key).await })
        })
        .collect();
    let mut left_after_valid = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match answer["code"].as_str().unwrap() {
            "VALID" => left_after_valid.push(answer["credits"].as_i64().unwrap()),
            "USAGE_EXCEEDED" => {}
            other => panic!("unexpected {other}"),
        }
    }
    left_after_valid.sort_unstable();
    assert_eq!(left_after_valid, (0..credits_given).collect::<Vec<_>>());
    for key_id in [&old_id, &new_id] {
        assert_eq!(credits(&app, key_id).await, json!({"remaining": 0}));
    }
}

#[tokio::test]
async fn credit_changes_through_either_generation_apply_to_both_at_once() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (old_id, old_key) = app.create_key(&api_id, json!({})).await;
    let (new_id, new_key) = reroll(&app, &old_id).await;
    // Both cached as unlimited.
    assert_eq!(app.verify_code(&old_key).await, "VALID");
    assert_eq!(app.verify_code(&new_key).await, "VALID");

    // Through the new key: the old key, cached as unlimited, must not go on answering VALID.
    app.call(
        "keys.updateCredits",
        json!({"keyId": new_id, "operation": "set", "value": 0}),
    )
    .await;
    assert_eq!(app.verify_code(&old_key).await, "USAGE_EXCEEDED");
    assert_eq!(credits(&app, &old_id).await, json!({"remaining": 0}));

    // Through the old key, with updateKey.
    app.call(
        "keys.updateKey",
        json!({"keyId": old_id, "credits": {"remaining": 2, "refill": {"interval": "daily", "amount": 2}}}),
    )
    .await;
    let expected = json!({"remaining": 2, "refill": {"interval": "daily", "amount": 2}});
    assert_eq!(credits(&app, &new_id).await, expected);
    assert_eq!(app.verify(&new_key).await["credits"], 1);
    app.call(
        "keys.updateCredits",
        json!({"keyId": old_id, "operation": "increment", "value": 5}),
    )
    .await;
    assert_eq!(app.verify(&new_key).await["credits"], 5);

    // Unlimited again, through the new key: both verify without a balance.
    app.call("keys.updateKey", json!({"keyId": new_id, "credits": null}))
        .await;
    for key in [&old_key, &new_key] {
        let answer = app.verify(key).await;
        assert_eq!(answer["code"], "VALID");
        assert!(answer.get("credits").is_none(), "{answer}");
    }
    assert_eq!(credits(&app, &old_id).await, Value::Null);

    // A change of other fields stays with the key it was made on.
    app.call("keys.updateKey", json!({"keyId": new_id, "name": "new"}))
        .await;
    let old = app.call("keys.getKey", json!({"keyId": old_id})).await;
    assert!(old.get("name").is_none(), "{old}");
}

#[tokio::test]
async fn an_expired_key_cannot_be_rerolled() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (old_id, _) = app
        .create_key(&api_id, json!({"credits": {"remaining": 10}}))
        .await;
    let data = app
        .call("keys.rerollKey", json!({"keyId": old_id, "expiration": 0}))
        .await;
    let new_id = data["keyId"].as_str().unwrap();

    // Retired by the reroll: another successor would be another claim on the balance.
    let detail = app
        .post(
            "keys.rerollKey",
            json!({"keyId": old_id, "expiration": 60_000}),
        )
        .await
        .error(412, "/precondition_failed");
    assert!(
        detail.contains(&old_id)
            && detail.contains("expired")
            && detail.contains("Reroll the key that replaced it"),
        "{detail}"
    );
    let listed = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "no third key: {listed}"
    );
    assert_eq!(app.audit_events("key.reroll").await.len(), 1);

    // Its successor, still valid, can be rerolled.
    reroll(&app, new_id).await;
}

#[tokio::test]
async fn erasing_a_generation_keeps_the_balance_until_the_last_one_goes() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let balances = stored_balances(&app).await;
    let (old_id, old_key) = app
        .create_key(&api_id, json!({"credits": {"remaining": 3}}))
        .await;
    let (new_id, _) = reroll(&app, &old_id).await;
    assert_eq!(stored_balances(&app).await, balances + 1, "one shared row");

    app.call(
        "keys.deleteKey",
        json!({"keyId": new_id, "permanent": true}),
    )
    .await;
    assert_eq!(app.verify(&old_key).await["credits"], 2);
    assert_eq!(stored_balances(&app).await, balances + 1);

    app.call(
        "keys.deleteKey",
        json!({"keyId": old_id, "permanent": true}),
    )
    .await;
    assert_eq!(
        stored_balances(&app).await,
        balances,
        "erased with its last key"
    );
}

/// Keys whose balance row is missing, read from the database. PostgreSQL has no foreign key on
/// `keys.credits_id` (migration 0012): the row locks a reroll and an erasure take are what keep
/// a shared balance from being erased under a new generation.
async fn keys_without_a_balance(app: &TestApp) -> i64 {
    count(
        app,
        "select count(*) from keys k where not exists \
         (select 1 from credits c where c.id = k.credits_id)",
    )
    .await
}

#[tokio::test]
async fn a_reroll_racing_erasures_never_leaves_a_key_without_its_balance() {
    let app = Arc::new(TestApp::start().await);
    for round in 0..12 {
        let api_id = app.create_api().await;
        let (key_id, _) = app
            .create_key(&api_id, json!({"credits": {"remaining": 5}}))
            .await;
        let erase = if round % 2 == 0 {
            (
                "keys.deleteKey",
                json!({"keyId": key_id, "permanent": true}),
            )
        } else {
            (
                "apis.deleteApi",
                json!({"apiId": api_id, "permanent": true}),
            )
        };
        let rerolling = {
            let app = app.clone();
            let body = json!({"keyId": key_id, "expiration": 60_000});
            tokio::spawn(async move { app.post("keys.rerollKey", body).await })
        };
        let erasing = {
            let app = app.clone();
            tokio::spawn(async move { app.post(erase.0, erase.1).await })
        };
        let (rerolled, erased) = (rerolling.await.unwrap(), erasing.await.unwrap());
        // Whichever goes first, the other finds the key gone (404) or waits for it; two
        // transactions PostgreSQL finds waiting on each other end one of them with a 503.
        for (what, reply) in [("reroll", &rerolled), ("erasure", &erased)] {
            assert!(
                [200, 404, 503].contains(&reply.status.as_u16()),
                "{what} in round {round}: {} {}",
                reply.status,
                reply.body
            );
        }
        assert_eq!(keys_without_a_balance(&app).await, 0, "round {round}");
        if rerolled.status == 200 {
            let new_id = rerolled.body["data"]["keyId"].as_str().unwrap();
            let lookup = app.post("keys.getKey", json!({"keyId": new_id})).await;
            if lookup.status == 200 {
                assert_eq!(lookup.body["data"]["credits"], json!({"remaining": 5}));
            }
        }
    }
}
