//! Liveness, the OpenAPI document, metrics, unknown routes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestStorage, operations};

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
    // The database and, on PostgreSQL, whether the node hears the other nodes' changes.
    let (database, invalidation) = match keyward_testing::backend() {
        keyward_testing::Backend::Sqlite => ("sqlite", "local"),
        keyward_testing::Backend::Postgres => ("postgres", "subscribed"),
    };
    let node = body["data"]["node"]
        .as_str()
        .expect("the node's id")
        .to_owned();
    assert_eq!(node, app.server.app().keyward.nodes.id.to_string());
    assert_eq!(
        body["data"],
        json!({"message": "OK", "database": database, "invalidation": invalidation, "node": node})
    );
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

/// SQLite's files, on whichever backend the suite runs: PostgreSQL keeps its own files.
#[tokio::test]
async fn database_files_and_a_new_data_directory_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("new/keyward-data");
    let app = TestApp::start_with(TestStorage::sqlite(), |c| {
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
    let app = TestApp::start_with(TestStorage::sqlite(), |c| {
        c.data_dir = data_dir.clone();
    })
    .await;
    app.create_api().await;
    for file in &files {
        assert_eq!(mode(file), "600", "{}", file.display());
    }
    app.server.shutdown().await.unwrap();
}

/// SQLite only, like the test above.
#[tokio::test]
async fn a_database_named_by_url_is_private_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("elsewhere.db");
    let app = TestApp::start_with(TestStorage::sqlite(), |c| {
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

async fn openapi_document(app: &TestApp) -> Value {
    app.client
        .get(format!("{}/openapi.json", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// What `scripts/schemathesis.sh` checks against a live server at length, checked here on the
/// document itself: errors in both media types keyward sends, the limits the server enforces,
/// and nothing offered that the server refuses.
#[tokio::test]
async fn openapi_document_states_what_the_server_enforces() {
    let app = TestApp::start().await;
    let doc = openapi_document(&app).await;
    for op in operations() {
        let responses = &doc["paths"][format!("/v2/{op}")]["post"]["responses"];
        for status in ["400", "401", "408", "413", "415", "500"] {
            let content = &responses[status]["content"];
            for media in ["application/json", "application/problem+json"] {
                assert_eq!(
                    content[media]["schema"]["$ref"], "#/components/schemas/ErrorEnvelope",
                    "{op} {status} {media}: {content}"
                );
            }
        }
    }
    let schemas = &doc["components"]["schemas"];
    let create_key = &schemas["CreateKeyRequest"]["properties"];
    assert_eq!(create_key["apiId"]["pattern"], "^[a-zA-Z0-9_]+$");
    assert_eq!(create_key["apiId"]["maxLength"], 255);
    assert_eq!(create_key["externalId"]["pattern"], "^[a-zA-Z0-9_.-]+$");
    assert_eq!(create_key["expires"]["maximum"], 4_102_444_800_000_i64);
    assert_eq!(create_key["meta"]["maxProperties"], 100);
    assert_eq!(create_key["recoverable"]["enum"], json!([false, null]));
    for request in ["CreateKeyRequest", "UpdateKeyRequest"] {
        let properties = &schemas[request]["properties"];
        assert_eq!(properties["permissions"]["maxItems"], 1000, "{request}");
        assert_eq!(
            properties["permissions"]["items"]["pattern"], "^[a-zA-Z0-9_:\\-\\.\\*]+$",
            "{request}"
        );
        assert_eq!(properties["roles"]["items"]["maxLength"], 128, "{request}");
    }
    // Rate limits of keys and identities: offered, with the bounds the server enforces.
    for request in [
        "CreateKeyRequest",
        "UpdateKeyRequest",
        "CreateIdentityRequest",
        "UpdateIdentityRequest",
    ] {
        assert_eq!(
            schemas[request]["properties"]["ratelimits"]["maxItems"], 50,
            "{request}"
        );
    }
    let limit = &schemas["RatelimitRequest"]["properties"];
    assert_eq!(limit["duration"]["minimum"], 1000);
    assert_eq!(limit["duration"]["maximum"], 2_592_000_000_i64);
    assert_eq!(limit["name"]["minLength"], 3);
    assert_eq!(
        schemas["RerollKeyRequest"]["required"],
        json!(["keyId", "expiration"])
    );
    assert_eq!(
        schemas["RerollRootKeyRequest"]["required"],
        json!(["keyId", "expiration"])
    );
    assert!(schemas["SetRolePermissionsRequest"]["oneOf"].is_array());
    assert_eq!(
        schemas["KeyCredits"]["properties"]["remaining"]["maximum"],
        9_007_199_254_740_991_i64
    );
    assert!(schemas["CreditsRefill"]["if"].is_object());
    assert!(schemas["UpdateApiRequest"]["anyOf"].is_array());
    // listKeys refuses ids no API can have with 400 (docs/API.md): the schema says which.
    let list_keys_api_id = &schemas["ListKeysRequest"]["properties"]["apiId"];
    assert_eq!(list_keys_api_id["pattern"], "^[a-zA-Z0-9_]+$");
    assert_eq!(list_keys_api_id["maxLength"], 255);
    assert!(
        schemas["CreateRootKeyRequest"]["properties"]["permissions"]["items"]["pattern"]
            .as_str()
            .unwrap()
            .contains("api\\.(?:\\*|[a-zA-Z0-9_]+)\\.(?:create_api|")
    );
}

#[tokio::test]
async fn list_keys_refuses_ids_no_api_can_have_as_the_document_says() {
    let app = TestApp::start().await;
    for api_id in ["api-1".to_owned(), "api 1".to_owned(), "a".repeat(256)] {
        let reply = app.post("apis.listKeys", json!({"apiId": api_id})).await;
        reply.error(400, "/invalid_input");
        assert_eq!(reply.error_locations(), vec!["body.apiId"], "{api_id}");
    }
    app.post("apis.listKeys", json!({"apiId": "api_doesnotexist"}))
        .await
        .error(404, "/api_not_found");
}
