//! keys.getKey and keys.whoami

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn get_key_errors() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({})).await;
    app.post("keys.getKey", json!({"keyId": "key_unknown"}))
        .await
        .error(404, "/unkey/data/key_not_found");
    app.post("keys.getKey", json!({"keyId": "k"}))
        .await
        .error(400, "/invalid_input");
    app.post("keys.getKey", json!({"keyId": key_id, "decrypt": true}))
        .await
        .error(412, "/precondition_failed");
    let scoped = app
        .root_key_with(&[&format!("api.{other_api}.read_key")])
        .await;
    app.post_as(Some(&scoped), "keys.getKey", json!({"keyId": key_id}))
        .await
        .error(403, "/insufficient_permissions");
    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.read_key")])
        .await;
    app.post_as(Some(&scoped), "keys.getKey", json!({"keyId": key_id}))
        .await
        .data();
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "keys.getKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
}

#[tokio::test]
async fn whoami_identifies_a_key_from_its_secret() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"name": "mine", "externalId": "user_9"}))
        .await;
    let me = app.call("keys.whoami", json!({"key": key})).await;
    assert_eq!(me["keyId"], json!(key_id));
    assert_eq!(me["name"], "mine");
    assert_eq!(me["identity"]["externalId"], "user_9");

    app.post("keys.whoami", json!({"key": "sk_not_a_real_key"}))
        .await
        .error(404, "/key_not_found");
    app.post("keys.whoami", json!({"key": ""}))
        .await
        .error(400, "/invalid_input");
    // Without read permission, or from another workspace, a real key looks exactly like an
    // unknown one: whoami must not become an oracle for which secrets are valid.
    let no_read = app.root_key_with(&["api.*.verify_key"]).await;
    let unknown = app
        .post_as(
            Some(&no_read),
            "keys.whoami",
            json!({"key": "sk_not_a_real_key"}),
        )
        .await;
    let real = app
        .post_as(Some(&no_read), "keys.whoami", json!({"key": key}))
        .await;
    assert_eq!(
        real.error(404, "/key_not_found"),
        unknown.error(404, "/key_not_found")
    );
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "keys.whoami", json!({"key": key}))
        .await
        .error(404, "/key_not_found");
}
