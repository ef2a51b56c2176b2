//! The Authorization header, and the wall between workspaces.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn authorization_header_forms() {
    let app = TestApp::start().await;
    let send = |value: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}/v2/apis.createApi", app.url))
            .json(&json!({"name": "abc"}));
        if let Some(value) = value {
            request = request.header("Authorization", value);
        }
        request.send()
    };
    for (header, status, type_suffix) in [
        (None, 400, "/unkey/authentication/missing"),
        (Some(""), 400, "/unkey/authentication/malformed"),
        (Some("Bearer"), 400, "/unkey/authentication/malformed"),
        (Some("Bearer "), 400, "/unkey/authentication/malformed"),
        (
            Some("Basic dXNlcjpwYXNz"),
            400,
            "/unkey/authentication/malformed",
        ),
        (
            Some("test_bootstrap_root_key_0123456789"),
            400,
            "/unkey/authentication/malformed",
        ),
        (
            Some("Bearer not_a_known_key"),
            401,
            "/unkey/authentication/key_not_found",
        ),
    ] {
        let response = send(header).await.unwrap();
        let reply = crate::helpers::Reply {
            status: response.status(),
            body: response.json().await.unwrap(),
        };
        reply.error(status, type_suffix);
    }
}

/// The auth scheme is case-insensitive (RFC 9110 §11.1).
#[tokio::test]
async fn the_bearer_scheme_is_matched_case_insensitively() {
    let app = TestApp::start().await;
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app
            .client
            .post(format!("{}/v2/apis.createApi", app.url))
            .header(
                "Authorization",
                format!("{scheme} {}", crate::helpers::ROOT_KEY),
            )
            .json(&json!({"name": "abc"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{scheme}");
    }
    for malformed in ["Bearerx", "Bearer", "bearer ", "Basic x"] {
        let response = app
            .client
            .post(format!("{}/v2/apis.createApi", app.url))
            .header("Authorization", malformed)
            .json(&json!({"name": "abc"}))
            .send()
            .await
            .unwrap();
        let reply = crate::helpers::Reply {
            status: response.status(),
            body: response.json().await.unwrap(),
        };
        reply.error(400, "/unkey/authentication/malformed");
    }
}

/// Everything of one workspace is invisible to another's root key, even one holding every
/// workspace permission: lookups answer as if the thing did not exist.
#[tokio::test]
async fn workspaces_see_nothing_of_each_other() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, key) = app
        .create_key(&api_id, json!({"externalId": "user_1"}))
        .await;
    let stranger = app.other_workspace_root_key().await;
    let as_stranger =
        |op: &'static str, body: serde_json::Value| app.post_as(Some(&stranger), op, body);

    as_stranger("apis.getApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    as_stranger("apis.updateApi", json!({"apiId": api_id, "name": "mine"}))
        .await
        .error(404, "/api_not_found");
    as_stranger("apis.listKeys", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    as_stranger("apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    as_stranger("keys.createKey", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    as_stranger("keys.getKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    as_stranger("keys.whoami", json!({"key": key}))
        .await
        .error(404, "/key_not_found");
    as_stranger("keys.updateKey", json!({"keyId": key_id, "enabled": false}))
        .await
        .error(404, "/key_not_found");
    as_stranger(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": 0}),
    )
    .await
    .error(404, "/key_not_found");
    as_stranger("keys.rerollKey", json!({"keyId": key_id, "expiration": 0}))
        .await
        .error(404, "/key_not_found");
    as_stranger("keys.deleteKey", json!({"keyId": key_id}))
        .await
        .error(404, "/key_not_found");
    assert_eq!(
        as_stranger("keys.verifyKey", json!({"key": key}))
            .await
            .data(),
        &json!({"valid": false, "code": "NOT_FOUND"})
    );
    let theirs = as_stranger("auditLogs.listLogs", json!({})).await;
    assert!(
        !theirs.body.to_string().contains(&key_id),
        "no audit event of ours: {}",
        theirs.body
    );
    let root_keys = as_stranger("rootKeys.listRootKeys", json!({})).await;
    assert_eq!(
        root_keys.data().as_array().unwrap().len(),
        1,
        "only their own root key"
    );

    // And nothing was touched.
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert_eq!(
        app.call("apis.getApi", json!({"apiId": api_id})).await["name"],
        "test-api"
    );

    // The stranger's own data works for them and is invisible to us.
    let their_api = as_stranger("apis.createApi", json!({"name": "theirs"}))
        .await
        .data()["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post("apis.getApi", json!({"apiId": their_api}))
        .await
        .error(404, "/api_not_found");
}
