//! apis.createApi, getApi, updateApi, deleteApi, listKeys.

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn create_and_get_an_api() {
    let app = TestApp::start().await;
    let data = app
        .call("apis.createApi", json!({"name": "payments"}))
        .await;
    let api_id = data["apiId"].as_str().unwrap();
    assert!(api_id.starts_with("api_"));
    let api = app.call("apis.getApi", json!({"apiId": api_id})).await;
    assert_eq!(
        api,
        json!({"id": api_id, "name": "payments", "deleteProtection": false})
    );
}

#[tokio::test]
async fn create_api_validates_and_checks_permission() {
    let app = TestApp::start().await;
    let reply = app.post("apis.createApi", json!({"name": "ab"})).await;
    reply.error(400, "/unkey/application/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.name"]);
    app.post("apis.createApi", json!({}))
        .await
        .error(400, "/invalid_input");

    let reader = app.root_key_with(&["api.*.read_api"]).await;
    let reply = app
        .post_as(Some(&reader), "apis.createApi", json!({"name": "payments"}))
        .await;
    let detail = reply.error(403, "/unkey/authorization/insufficient_permissions");
    assert!(detail.contains("api.*.create_api"), "{detail}");
}

#[tokio::test]
async fn get_api_errors() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    app.post("apis.getApi", json!({"apiId": "api_doesnotexist"}))
        .await
        .error(404, "/unkey/data/api_not_found");
    app.post("apis.getApi", json!({"apiId": "api_1"}))
        .await
        .error(400, "/invalid_input");

    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.read_api")])
        .await;
    app.post_as(Some(&scoped), "apis.getApi", json!({"apiId": api_id}))
        .await
        .data();
    let detail = app
        .post_as(Some(&scoped), "apis.getApi", json!({"apiId": other_api}))
        .await
        .error(403, "/insufficient_permissions");
    assert!(
        detail.contains(&format!("api.{other_api}.read_api")),
        "{detail}"
    );

    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "apis.getApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
}

#[tokio::test]
async fn update_api_renames_and_protects() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    app.call(
        "apis.updateApi",
        json!({"apiId": api_id, "name": "renamed", "deleteProtection": true}),
    )
    .await;
    let api = app.call("apis.getApi", json!({"apiId": api_id})).await;
    assert_eq!(
        (api["name"].as_str(), api["deleteProtection"].as_bool()),
        (Some("renamed"), Some(true))
    );
    app.call(
        "apis.updateApi",
        json!({"apiId": api_id, "deleteProtection": false}),
    )
    .await;
    let api = app.call("apis.getApi", json!({"apiId": api_id})).await;
    assert_eq!(
        (api["name"].as_str(), api["deleteProtection"].as_bool()),
        (Some("renamed"), Some(false))
    );

    app.post("apis.updateApi", json!({"apiId": api_id}))
        .await
        .error(400, "/invalid_input");
    app.post(
        "apis.updateApi",
        json!({"apiId": "api_unknown1", "name": "xyz"}),
    )
    .await
    .error(404, "/api_not_found");
    let reader = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(
        Some(&reader),
        "apis.updateApi",
        json!({"apiId": api_id, "name": "xyz"}),
    )
    .await
    .error(403, "/insufficient_permissions");
}

#[tokio::test]
async fn delete_api_revokes_every_key_at_once() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let mut keys = Vec::new();
    for _ in 0..3 {
        keys.push(
            app.create_key(&api_id, json!({"externalId": "user_1"}))
                .await,
        );
    }
    for (_, key) in &keys {
        assert_eq!(app.verify_code(key).await, "VALID"); // now cached
    }
    let reply = app.post("apis.deleteApi", json!({"apiId": api_id})).await;
    assert_eq!(reply.data(), &json!({}));
    assert!(
        reply.body["meta"]["requestId"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
    for (key_id, key) in &keys {
        assert_eq!(
            app.verify(key).await,
            json!({"valid": false, "code": "NOT_FOUND"})
        );
        app.post("keys.getKey", json!({"keyId": key_id}))
            .await
            .error(404, "/key_not_found");
        app.post("keys.deleteKey", json!({"keyId": key_id}))
            .await
            .error(404, "/key_not_found");
    }
    app.post("apis.listKeys", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    app.post("apis.getApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    // Idempotent in effect, not in status: a second delete is 404, like Unkey's.
    app.post("apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    app.post("apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    // Unkey accepts new keys in a deleted API; keyward does not.
    app.post("keys.createKey", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
}

#[tokio::test]
async fn delete_api_without_keys_and_right_after_creation() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    app.call("apis.deleteApi", json!({"apiId": api_id})).await;
}

#[tokio::test]
async fn delete_protection_is_412_and_changes_nothing() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    app.call(
        "apis.updateApi",
        json!({"apiId": api_id, "deleteProtection": true}),
    )
    .await;
    let detail = app
        .post("apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(412, "/unkey/application/protected_resource");
    assert!(
        detail.starts_with(
            "This API has delete protection enabled. Disable it before attempting to delete."
        ),
        "{detail}"
    );
    assert_eq!(
        app.post("apis.deleteApi", json!({"apiId": api_id}))
            .await
            .body["error"]["title"],
        "Resource is protected"
    );
    app.call("apis.getApi", json!({"apiId": api_id})).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    assert!(
        app.audit_events("api.delete").await.is_empty(),
        "a refused delete writes no audit event"
    );

    app.call(
        "apis.updateApi",
        json!({"apiId": api_id, "deleteProtection": false}),
    )
    .await;
    app.call("apis.deleteApi", json!({"apiId": api_id})).await;
    assert_eq!(app.verify_code(&key).await, "NOT_FOUND");
}

#[tokio::test]
async fn delete_api_errors() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let other_api = app.create_api().await;
    app.post("apis.deleteApi", json!({}))
        .await
        .error(400, "/invalid_input");
    app.post("apis.deleteApi", json!({"apiId": ""}))
        .await
        .error(400, "/invalid_input");
    app.post("apis.deleteApi", json!({"apiId": "api_doesnotexist"}))
        .await
        .error(404, "/api_not_found");
    app.post_as(None, "apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(400, "/unkey/authentication/missing");
    app.post_as(
        Some("not_a_root_key_at_all"),
        "apis.deleteApi",
        json!({"apiId": api_id}),
    )
    .await
    .error(401, "/unkey/authentication/key_not_found");

    let reader = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(Some(&reader), "apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(403, "/insufficient_permissions");
    let for_other = app
        .root_key_with(&[&format!("api.{other_api}.delete_api")])
        .await;
    app.post_as(Some(&for_other), "apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(403, "/insufficient_permissions");
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "apis.deleteApi", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
    // The API survived every refused attempt; a grant for exactly this API works.
    let scoped = app
        .root_key_with(&[&format!("api.{api_id}.delete_api")])
        .await;
    app.post_as(Some(&scoped), "apis.deleteApi", json!({"apiId": api_id}))
        .await
        .data();
}

#[tokio::test]
async fn list_keys_paginates_and_filters_by_external_id() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let mut mine = Vec::new();
    for i in 0..5 {
        let (key_id, _) = app
            .create_key(
                &api_id,
                json!({"externalId": "user_1", "name": format!("k{i}")}),
            )
            .await;
        mine.push(key_id);
    }
    let (other_key, _) = app
        .create_key(&api_id, json!({"externalId": "user_2"}))
        .await;
    let (deleted, _) = app
        .create_key(&api_id, json!({"externalId": "user_1"}))
        .await;
    app.call("keys.deleteKey", json!({"keyId": deleted})).await;

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"apiId": api_id, "externalId": "user_1", "limit": 2});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = app.post("apis.listKeys", body).await;
        pages += 1;
        for key in reply.data().as_array().unwrap() {
            assert_eq!(key["identity"]["externalId"], "user_1");
            assert!(
                key.get("key").is_none() && key.get("hash").is_none(),
                "never the secret: {key}"
            );
            seen.push(key["keyId"].as_str().unwrap().to_owned());
        }
        let pagination = &reply.body["pagination"];
        if pagination["hasMore"] == json!(true) {
            cursor = Some(pagination["cursor"].as_str().unwrap().to_owned());
        } else {
            assert!(pagination.get("cursor").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen, mine,
        "every live key of user_1, in creation order, once"
    );

    let all = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(all.as_array().unwrap().len(), 6);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .any(|k| k["keyId"] == json!(other_key))
    );
    let none = app
        .post(
            "apis.listKeys",
            json!({"apiId": api_id, "externalId": "nobody"}),
        )
        .await;
    assert_eq!(none.data(), &json!([]));
    assert_eq!(none.body["pagination"], json!({"hasMore": false}));
}

#[tokio::test]
async fn list_keys_errors() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    app.post("apis.listKeys", json!({"apiId": api_id, "limit": 0}))
        .await
        .error(400, "/invalid_input");
    app.post("apis.listKeys", json!({"apiId": api_id, "limit": 101}))
        .await
        .error(400, "/invalid_input");
    app.post("apis.listKeys", json!({"apiId": "api_unknown1"}))
        .await
        .error(404, "/api_not_found");
    app.post("apis.listKeys", json!({"apiId": api_id, "decrypt": true}))
        .await
        .error(412, "/precondition_failed");
    let api_only = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(Some(&api_only), "apis.listKeys", json!({"apiId": api_id}))
        .await
        .error(403, "/insufficient_permissions");
    let key_only = app.root_key_with(&["api.*.read_key"]).await;
    app.post_as(Some(&key_only), "apis.listKeys", json!({"apiId": api_id}))
        .await
        .error(403, "/insufficient_permissions");
    let both = app
        .root_key_with(&["api.*.read_key", &format!("api.{api_id}.read_api")])
        .await;
    app.post_as(Some(&both), "apis.listKeys", json!({"apiId": api_id}))
        .await
        .data();
    let stranger = app.other_workspace_root_key().await;
    app.post_as(Some(&stranger), "apis.listKeys", json!({"apiId": api_id}))
        .await
        .error(404, "/api_not_found");
}
