//! rootKeys.createRootKey, listRootKeys, deleteRootKey

use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn create_list_and_delete() {
    let app = TestApp::start().await;
    let data = app
        .call(
            "rootKeys.createRootKey",
            json!({"name": "ci", "permissions": ["api.*.read_api", "api.*.create_api"]}),
        )
        .await;
    let (key_id, key) = (
        data["keyId"].as_str().unwrap(),
        data["key"].as_str().unwrap(),
    );
    assert!(key.starts_with("kwroot_") && key.len() > 40);

    let api = app
        .post_as(Some(key), "apis.createApi", json!({"name": "by-ci"}))
        .await
        .data()["apiId"]
        .clone();
    app.post_as(Some(key), "apis.getApi", json!({"apiId": api}))
        .await
        .data();
    app.post_as(Some(key), "apis.deleteApi", json!({"apiId": api}))
        .await
        .error(403, "/insufficient_permissions");

    let list = app.call("rootKeys.listRootKeys", json!({})).await;
    let listed = list
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == json!(key_id))
        .expect("listed");
    assert_eq!(listed["name"], "ci");
    assert_eq!(
        listed["permissions"],
        json!(["api.*.create_api", "api.*.read_api"])
    );
    assert_eq!(listed["start"], json!(&key[.."kwroot_".len() + 4]));
    assert!(!list.to_string().contains(key), "never the secret");

    app.call("rootKeys.deleteRootKey", json!({"keyId": key_id}))
        .await;
    app.post_as(Some(key), "apis.getApi", json!({"apiId": api}))
        .await
        .error(401, "/key_not_found");
    app.post("rootKeys.deleteRootKey", json!({"keyId": key_id}))
        .await
        .error(404, "/root_key_not_found");
    let list = app.call("rootKeys.listRootKeys", json!({})).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|k| k["keyId"] != json!(key_id))
    );
    assert_eq!(app.audit_events("rootKey.delete").await.len(), 1);
}

#[tokio::test]
async fn a_root_key_grants_only_what_it_holds() {
    let app = TestApp::start().await;
    let delegator = app
        .root_key_with(&["rootkey.*.create_root_key", "api.*.read_api"])
        .await;
    app.post_as(
        Some(&delegator),
        "rootKeys.createRootKey",
        json!({"permissions": ["api.*.read_api"]}),
    )
    .await
    .data();
    let detail = app
        .post_as(
            Some(&delegator),
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.read_api", "api.*.delete_api"]}),
        )
        .await
        .error(403, "/insufficient_permissions");
    assert!(
        detail.contains("'api.*.delete_api'") && !detail.contains("'api.*.read_api'"),
        "{detail}"
    );
    // Instance-level permissions are beyond every workspace's own root keys.
    let workspace_key = app.other_workspace_root_key().await;
    app.post_as(
        Some(&workspace_key),
        "rootKeys.createRootKey",
        json!({"permissions": ["workspace.*.create_workspace"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
}

#[tokio::test]
async fn root_key_errors() {
    let app = TestApp::start().await;
    let reply = app
        .post(
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.delete_key", "apis.*.x", "api.delete_key"]}),
        )
        .await;
    reply.error(400, "/invalid_input");
    assert_eq!(
        reply.error_locations(),
        vec!["body.permissions[1]", "body.permissions[2]"]
    );
    app.post("rootKeys.createRootKey", json!({"permissions": []}))
        .await
        .error(400, "/invalid_input");
    app.post("rootKeys.createRootKey", json!({}))
        .await
        .error(400, "/invalid_input");
    app.post("rootKeys.listRootKeys", json!({"limit": 0}))
        .await
        .error(400, "/invalid_input");
    app.post("rootKeys.deleteRootKey", json!({"keyId": "key_unknown"}))
        .await
        .error(404, "/root_key_not_found");
    let plain = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(
        Some(&plain),
        "rootKeys.createRootKey",
        json!({"permissions": ["api.*.read_api"]}),
    )
    .await
    .error(403, "/insufficient_permissions");
    app.post_as(Some(&plain), "rootKeys.listRootKeys", json!({}))
        .await
        .error(403, "/insufficient_permissions");
    app.post_as(
        Some(&plain),
        "rootKeys.deleteRootKey",
        json!({"keyId": "key_unknown"}),
    )
    .await
    .error(403, "/insufficient_permissions");
    // Another workspace's root key cannot be deleted from here.
    let other = app.other_workspace_root_key().await;
    let theirs = app
        .post_as(Some(&other), "rootKeys.listRootKeys", json!({}))
        .await
        .data()[0]["keyId"]
        .clone();
    app.post("rootKeys.deleteRootKey", json!({"keyId": theirs}))
        .await
        .error(404, "/root_key_not_found");
    app.post_as(
        Some(&other),
        "apis.createApi",
        json!({"name": "still-works"}),
    )
    .await
    .data();
}

#[tokio::test]
async fn list_root_keys_paginates() {
    let app = TestApp::start().await;
    for _ in 0..4 {
        app.root_key_with(&["api.*.read_api"]).await;
    }
    let first = app.post("rootKeys.listRootKeys", json!({"limit": 3})).await;
    assert_eq!(first.data().as_array().unwrap().len(), 3);
    assert_eq!(first.body["pagination"]["hasMore"], json!(true));
    let cursor = first.body["pagination"]["cursor"].clone();
    let second = app
        .post(
            "rootKeys.listRootKeys",
            json!({"limit": 3, "cursor": cursor}),
        )
        .await;
    assert_eq!(
        second.data().as_array().unwrap().len(),
        2,
        "bootstrap key + 4 = 5"
    );
    assert_eq!(second.body["pagination"]["hasMore"], json!(false));
}
