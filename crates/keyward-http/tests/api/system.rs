//! Liveness, the OpenAPI document, metrics, unknown routes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, operations};

#[tokio::test]
async fn liveness_needs_no_key() {
    let app = TestApp::start().await;
    let response = app
        .client
        .get(format!("{}/v2/liveness", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"], json!({"message": "OK"}));
    assert!(
        body["meta"]["requestId"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
}

#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = TestApp::start().await;
    let doc: Value = app
        .client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for op in operations() {
        let path = &paths[&format!("/v2/{op}")]["post"];
        assert_eq!(path["operationId"], json!(op));
        assert!(path["requestBody"].is_object(), "{op} documents its body");
        assert!(
            path["responses"]["200"].is_object() && path["responses"]["400"].is_object(),
            "{op}"
        );
    }
    assert!(paths["/v2/liveness"]["get"].is_object());
    assert!(doc["components"]["schemas"]["DeleteKeyRequest"].is_object());
    assert!(doc["components"]["securitySchemes"]["rootKey"].is_object());
    assert!(paths["/v2/apis.deleteApi"]["post"]["responses"]["412"].is_object());
}

#[tokio::test]
async fn metrics_count_requests_and_verifications() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    app.verify(&key).await;
    app.verify("unknown").await;
    let text = app.metrics().await;
    assert!(
        text.contains("keyward_http_requests_total{route=\"/v2/keys.verifyKey\",status=\"2xx\"} 2"),
        "{text}"
    );
    assert!(text.contains("keyward_verifications_total{code=\"VALID\"} 1"));
    assert!(text.contains("keyward_verifications_total{code=\"NOT_FOUND\"} 1"));
    assert!(text.contains("# TYPE keyward_http_request_duration_seconds histogram"));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let app = TestApp::start().await;
    let response = app
        .client
        .post(format!("{}/v2/keys.nope", app.url))
        .send()
        .await
        .unwrap();
    let reply = crate::helpers::Reply {
        status: response.status(),
        body: response.json().await.unwrap(),
    };
    reply.error(404, "/route_not_found");
    let response = app
        .client
        .get(format!("{}/v2/keys.verifyKey", app.url))
        .send()
        .await
        .unwrap();
    let reply = crate::helpers::Reply {
        status: response.status(),
        body: response.json().await.unwrap(),
    };
    let detail = reply.error(405, "/method_not_allowed");
    assert!(detail.contains("POST"), "{detail}");
}

/// The permission bits of `path`, in octal.
fn mode(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let metadata = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    format!("{:o}", metadata.permissions().mode() & 0o777)
}

#[tokio::test]
async fn database_files_and_a_new_data_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("new/keyward-data");
    let app = TestApp::start_with(tempfile::tempdir().unwrap(), |c| {
        c.data_dir = data_dir.clone();
    })
    .await;
    app.create_api().await;
    let db = data_dir.join("keyward.db");
    let files = [
        db.clone(),
        data_dir.join("keyward.db-wal"),
        data_dir.join("keyward.db-shm"),
    ];
    for file in &files {
        assert_eq!(mode(file), "600", "{}", file.display());
    }
    assert_eq!(mode(&data_dir), "700");
    assert_eq!(mode(&dir.path().join("new")), "700");
    app.server.shutdown().await.unwrap();

    // Files an earlier version left readable by everyone are made private at the next start.
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let app = TestApp::start_with(tempfile::tempdir().unwrap(), |c| {
        c.data_dir = data_dir.clone();
    })
    .await;
    app.create_api().await;
    for file in &files {
        assert_eq!(mode(file), "600", "{}", file.display());
    }
    app.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_database_named_by_url_is_private_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let app = TestApp::start_with(tempfile::tempdir().unwrap(), |c| {
        c.database_url = Some(format!("sqlite://{}", db.display()));
    })
    .await;
    app.create_api().await;
    for suffix in ["", "-wal", "-shm"] {
        let file = std::path::PathBuf::from(format!("{}{suffix}", db.display()));
        assert_eq!(mode(&file), "600", "{}", file.display());
    }
    app.server.shutdown().await.unwrap();
}
