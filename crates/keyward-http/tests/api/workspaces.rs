//! workspaces.createWorkspace and bootstrap.

use serde_json::json;

use crate::helpers::{ROOT_KEY, TestApp, TestStorage, serve_config};

#[tokio::test]
async fn create_a_workspace_with_its_root_key() {
    let app = TestApp::start().await;
    let data = app
        .call("workspaces.createWorkspace", json!({"name": "acme"}))
        .await;
    assert!(data["workspaceId"].as_str().unwrap().starts_with("ws_"));
    let key = data["rootKey"]["key"].as_str().unwrap();
    assert!(
        data["rootKey"]["keyId"]
            .as_str()
            .unwrap()
            .starts_with("key_")
    );
    let api = app
        .post_as(Some(key), "apis.createApi", json!({"name": "acme-api"}))
        .await
        .data()["apiId"]
        .clone();
    let created = app
        .post_as(Some(key), "keys.createKey", json!({"apiId": api}))
        .await
        .data()["key"]
        .clone();
    let verdict = app
        .post_as(Some(key), "keys.verifyKey", json!({"key": created}))
        .await;
    assert_eq!(verdict.data()["code"], "VALID");
    // A workspace's root key holds every workspace permission, but not the instance-level one.
    app.post_as(
        Some(key),
        "workspaces.createWorkspace",
        json!({"name": "nested"}),
    )
    .await
    .error(403, "/insufficient_permissions");
    // Both workspaces record the creation.
    assert_eq!(
        app.audit_events("workspace.create").await.len(),
        2,
        "bootstrap + acme in the creator's log"
    );
    let theirs = app
        .post_as(
            Some(key),
            "auditLogs.listLogs",
            json!({"event": "workspace.create"}),
        )
        .await;
    assert_eq!(theirs.data().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn create_workspace_errors() {
    let app = TestApp::start().await;
    app.post("workspaces.createWorkspace", json!({"name": ""}))
        .await
        .error(400, "/invalid_input");
    app.post("workspaces.createWorkspace", json!({}))
        .await
        .error(400, "/invalid_input");
    let limited = app.root_key_with(&["api.*.create_api"]).await;
    app.post_as(
        Some(&limited),
        "workspaces.createWorkspace",
        json!({"name": "x"}),
    )
    .await
    .error(403, "/insufficient_permissions");
}

#[tokio::test]
async fn bootstrap_key_from_the_environment_is_used_once() {
    let app = TestApp::start().await;
    app.call("apis.createApi", json!({"name": "persisted"}))
        .await;
    let storage = {
        let TestApp {
            server, storage, ..
        } = app;
        server.shutdown().await.unwrap();
        storage
    };
    // Restart on the same database with a different bootstrap key: it is ignored.
    let config = keyward_http::ServeConfig {
        bootstrap_root_key: Some("a_completely_different_key".into()),
        ..serve_config(&storage)
    };
    let server = keyward_http::Server::start(config).await.unwrap();
    let client = reqwest::Client::new();
    let status = |key: &'static str| {
        client
            .post(format!("{}/v2/rootKeys.listRootKeys", server.url()))
            .bearer_auth(key)
            .json(&json!({}))
            .send()
    };
    assert_eq!(status(ROOT_KEY).await.unwrap().status(), 200);
    assert_eq!(
        status("a_completely_different_key").await.unwrap().status(),
        401
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bootstrap_generates_a_key_file_readable_only_by_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let storage = TestStorage::new();
    let server = keyward_http::Server::start(serve_config(&storage))
        .await
        .unwrap();
    let path = storage.data_dir().join("bootstrap-root-key");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let key = std::fs::read_to_string(&path).unwrap().trim().to_owned();
    assert!(key.starts_with("kwroot_"));
    let response = reqwest::Client::new()
        .post(format!("{}/v2/workspaces.createWorkspace", server.url()))
        .bearer_auth(&key)
        .json(&json!({"name": "instance-level"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "the bootstrap key holds the instance-level permission"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_short_bootstrap_key_is_a_startup_error() {
    let storage = TestStorage::new();
    let config = keyward_http::ServeConfig {
        bootstrap_root_key: Some("too_short".into()),
        ..serve_config(&storage)
    };
    let err = keyward_http::Server::start(config)
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("at least 16 characters"), "{err}");
}
