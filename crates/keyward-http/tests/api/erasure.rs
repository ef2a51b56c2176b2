//! Erasing what soft deletes keep: `keys.deleteKey {permanent: true}` on a key deleted before
//! or in a deleted API, and `apis.deleteApi {permanent: true}` for every key of an API. The
//! hash and metadata go for good (the GDPR case); the audit trail stays.

use serde_json::json;
use sqlx::Connection;

use crate::helpers::TestApp;

/// `select count(*) …` with one bound text, straight from the database.
async fn count(app: &TestApp, sql: &'static str, bound: &str) -> i64 {
    let mut conn = app.storage.inspect().await;
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(bound)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    n
}

async fn key_rows(app: &TestApp, key_id: &str) -> i64 {
    count(app, "select count(*) from keys where id = $1", key_id).await
}

/// Rows of the `credits` table (the keys' balances).
async fn balances(app: &TestApp) -> i64 {
    count(app, "select count(*) from credits where $1 = ''", "").await
}

async fn events_naming(app: &TestApp, target_id: &str) -> Vec<String> {
    app.call("auditLogs.listLogs", json!({"targetId": target_id}))
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_permanent_delete_erases_a_key_deleted_before() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let before = balances(&app).await;
    let (key_id, key) = app
        .create_key(
            &api_id,
            json!({"name": "alice", "meta": {"email": "alice@example.com"}, "credits": {"remaining": 3}}),
        )
        .await;
    app.call("keys.deleteKey", json!({"keyId": key_id})).await;
    assert_eq!(key_rows(&app, &key_id).await, 1, "kept by the soft delete");

    app.post("keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    let data = app
        .call(
            "keys.deleteKey",
            json!({"keyId": key_id, "permanent": true}),
        )
        .await;
    assert_eq!(data, json!({}));
    assert_eq!(key_rows(&app, &key_id).await, 0, "row and hash erased");
    assert_eq!(balances(&app).await, before, "and its balance");
    assert_eq!(app.verify_code(&key).await, "NOT_FOUND");
    assert_eq!(
        events_naming(&app, &key_id).await,
        ["key.delete", "key.delete", "key.create"],
        "the audit trail stays"
    );
    let erased = &app.audit_events("key.delete").await[0];
    assert_eq!(
        erased["description"],
        format!("Permanently deleted {key_id}")
    );
    app.post(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": true}),
    )
    .await
    .error(404, "/key_not_found");
}

#[tokio::test]
async fn a_permanent_delete_erases_a_key_of_a_deleted_api() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    app.call("apis.deleteApi", json!({"apiId": api_id})).await;

    app.post("keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    assert_eq!(key_rows(&app, &key_id).await, 1);
    app.call(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": true}),
    )
    .await;
    assert_eq!(key_rows(&app, &key_id).await, 0);
}

#[tokio::test]
async fn erasing_a_deleted_key_needs_the_same_permission_in_the_same_workspace() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    app.call("keys.deleteKey", json!({"keyId": key_id})).await;
    let body = json!({"keyId": key_id, "permanent": true});

    let reader = app.root_key_with(&["api.*.read_key"]).await;
    app.post_as(Some(&reader), "keys.deleteKey", body.clone())
        .await
        .error(403, "/insufficient_permissions");
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "keys.deleteKey", body.clone())
        .await
        .error(404, "/key_not_found");
    assert_eq!(
        key_rows(&app, &key_id).await,
        1,
        "refused attempts erase nothing"
    );

    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.delete_key")])
        .await;
    app.post_as(Some(&scoped), "keys.deleteKey", body)
        .await
        .data();
    assert_eq!(key_rows(&app, &key_id).await, 0);
}

#[tokio::test]
async fn a_permanent_api_delete_erases_the_api_and_every_key_it_holds() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    let (live_id, live) = app.create_key(&api_id, json!({"externalId": "u1"})).await;
    let (deleted_id, _) = app.create_key(&api_id, json!({})).await;
    app.call("keys.deleteKey", json!({"keyId": deleted_id}))
        .await;
    let (metered_id, _) = app
        .create_key(&api_id, json!({"credits": {"remaining": 5}}))
        .await;
    let rerolled = app
        .call(
            "keys.rerollKey",
            json!({"keyId": metered_id, "expiration": 60_000}),
        )
        .await;
    let (_, kept) = app.create_key(&other_api, json!({})).await;
    assert_eq!(app.verify_code(&live).await, "VALID");
    let before = balances(&app).await;

    app.call(
        "apis.deleteApi",
        json!({"apiId": api_id, "permanent": true}),
    )
    .await;
    assert_eq!(app.verify_code(&live).await, "NOT_FOUND", "revoked at once");
    assert_eq!(
        count(&app, "select count(*) from keys where api_id = $1", &api_id).await,
        0,
        "every key erased, the deleted one too"
    );
    assert_eq!(
        count(&app, "select count(*) from apis where id = $1", &api_id).await,
        0,
        "and the API"
    );
    // Three balances went: those of the live, the deleted and the rerolled key (two generations).
    assert_eq!(balances(&app).await, before - 3);
    assert_eq!(
        app.verify_code(&kept).await,
        "VALID",
        "other APIs untouched"
    );

    let event = &app.audit_events("api.delete").await[0];
    assert_eq!(
        event["description"],
        format!("Permanently deleted {api_id} and erased the 4 key(s) it held")
    );
    for id in [
        &live_id,
        &deleted_id,
        &metered_id,
        rerolled["keyId"].as_str().unwrap(),
    ] {
        assert!(
            !events_naming(&app, id).await.is_empty(),
            "the audit trail of {id} stays"
        );
    }
    app.post("apis.getApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    for body in [
        json!({"apiId": api_id}),
        json!({"apiId": api_id, "permanent": true}),
    ] {
        app.post("apis.deleteApi", body)
            .await
            .error(404, "/api_not_found");
    }
}

#[tokio::test]
async fn an_api_deleted_before_can_be_erased() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    app.call("apis.deleteApi", json!({"apiId": api_id})).await;
    app.post("apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    assert_eq!(key_rows(&app, &key_id).await, 1, "kept by the soft delete");

    app.call(
        "apis.deleteApi",
        json!({"apiId": api_id, "permanent": true}),
    )
    .await;
    assert_eq!(key_rows(&app, &key_id).await, 0);
    assert_eq!(
        count(&app, "select count(*) from apis where id = $1", &api_id).await,
        0
    );
}

#[tokio::test]
async fn a_permanent_api_delete_is_refused_like_a_soft_one() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    let body = json!({"apiId": api_id, "permanent": true});

    app.post(
        "apis.deleteApi",
        json!({"apiId": api_id, "permanent": "yes"}),
    )
    .await
    .error(400, "/invalid_input");
    let reader = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(Some(&reader), "apis.deleteApi", body.clone())
        .await
        .error(403, "/insufficient_permissions");
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "apis.deleteApi", body.clone())
        .await
        .error(404, "/api_not_found");
    app.call(
        "apis.updateApi",
        json!({"apiId": api_id, "deleteProtection": true}),
    )
    .await;
    app.post("apis.deleteApi", body)
        .await
        .error(412, "/protected_resource");

    assert_eq!(key_rows(&app, &key_id).await, 1, "nothing erased");
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert!(app.audit_events("api.delete").await.is_empty());
    assert_eq!(
        app.call("apis.getApi", json!({"apiId": api_id})).await["deleteProtection"],
        true
    );
}
