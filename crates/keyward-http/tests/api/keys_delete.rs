//! keys.deleteKey: soft by default, permanent on request; both immediate.

use serde_json::json;
use sqlx::Connection;

use crate::helpers::TestApp;

/// (rows with this id, of which soft-deleted) read straight from the database.
async fn stored(app: &TestApp, key_id: &str) -> (i64, i64) {
    let mut conn = app.storage.inspect().await;
    let row: (i64, i64) =
        sqlx::query_as("select count(*), count(deleted_at) from keys where id = $1")
            .bind(key_id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    row
}

#[tokio::test]
async fn soft_delete_keeps_the_record_and_revokes_at_once() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({"externalId": "u1"})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");

    assert_eq!(
        app.call("keys.deleteKey", json!({"keyId": key_id})).await,
        json!({})
    );
    assert_eq!(
        app.verify(&key).await,
        json!({"valid": false, "code": "NOT_FOUND"})
    );
    app.post("keys.getKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    assert_eq!(
        app.call(
            "apis.listKeys",
            json!({"apiId": api_id, "externalId": "u1"})
        )
        .await,
        json!([])
    );
    assert_eq!(
        stored(&app, &key_id).await,
        (1, 1),
        "the record stays, marked deleted"
    );

    let events = app.audit_events("key.delete").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["description"], format!("Deleted {key_id}"));
    assert_eq!(events[0]["targets"][0]["id"], json!(key_id));

    // A second soft delete finds nothing (as in Unkey); a permanent one erases what the first
    // kept (Unkey answers 404, which leaves the record for good: see tests/api/erasure.rs).
    app.post("keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    app.call(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": true}),
    )
    .await;
    assert_eq!(stored(&app, &key_id).await, (0, 0), "erased");
    app.post(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": true}),
    )
    .await
    .error(404, "/key_not_found");
}

#[tokio::test]
async fn permanent_delete_erases_the_row_and_keeps_the_audit_trail() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    app.call(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": true}),
    )
    .await;
    assert_eq!(app.verify_code(&key).await, "NOT_FOUND");
    assert_eq!(stored(&app, &key_id).await, (0, 0), "row and hash are gone");
    let events = app
        .call("auditLogs.listLogs", json!({"targetId": key_id}))
        .await;
    let names: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["key.delete", "key.create"]);
    assert_eq!(
        events[0]["description"],
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
async fn delete_key_errors() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    let (key_id, key) = app.create_key(&api_id, json!({})).await;

    let reply = app.post("keys.deleteKey", json!({})).await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.keyId"]);
    let detail = app
        .post("keys.deleteKey", json!({"keyId": ""}))
        .await
        .error(400, "/invalid_input");
    assert!(
        detail.starts_with("POST request body for '/v2/keys.deleteKey' failed to validate schema"),
        "{detail}"
    );
    app.post(
        "keys.deleteKey",
        json!({"keyId": key_id, "permanent": "yes"}),
    )
    .await
    .error(400, "/invalid_input");

    app.post_as(None, "keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(400, "/authentication/missing");
    app.post_as(
        Some("wrong_root_key_value"),
        "keys.deleteKey",
        json!({"keyId": key_id}),
    )
    .await
    .error(401, "/key_not_found");

    let nothing = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(Some(&nothing), "keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(403, "/insufficient_permissions");
    let create_only = app.root_key_with(&["api.*.create_key"]).await;
    app.post_as(
        Some(&create_only),
        "keys.deleteKey",
        json!({"keyId": key_id}),
    )
    .await
    .error(403, "/insufficient_permissions");
    let other = app
        .root_key_with(&[&format!("api.{other_api}.delete_key")])
        .await;
    app.post_as(Some(&other), "keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(403, "/insufficient_permissions");
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    app.post("keys.deleteKey", json!({"keyId": "key_unknown"}))
        .await
        .error(404, "/key_not_found");

    assert_eq!(
        app.verify_code(&key).await,
        "VALID",
        "no refused attempt touched the key"
    );
    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.delete_key")])
        .await;
    app.post_as(Some(&scoped), "keys.deleteKey", json!({"keyId": key_id}))
        .await
        .data();
    assert_eq!(app.verify_code(&key).await, "NOT_FOUND");
}
