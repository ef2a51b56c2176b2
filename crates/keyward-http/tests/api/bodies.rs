//! What a request body must be: a JSON object (at every depth where the schema says object),
//! sent as `application/json`.

use serde_json::{Value, json};

use crate::helpers::{ROOT_KEY, Reply, TestApp, operations};

async fn send(app: &TestApp, operation: &str, content_type: Option<&str>, body: &str) -> Reply {
    let mut request = app
        .client
        .post(format!("{}/v2/{operation}", app.url))
        .bearer_auth(ROOT_KEY)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    let response = request.send().await.unwrap();
    Reply {
        status: response.status(),
        body: response.json().await.unwrap(),
    }
}

async fn root_key_count(app: &TestApp) -> usize {
    app.call("rootKeys.listRootKeys", json!({}))
        .await
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn array_bodies_are_refused_where_serde_would_read_them_as_structs() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let before = root_key_count(&app).await;

    let reply = send(
        &app,
        "rootKeys.createRootKey",
        Some("application/json"),
        r#"[null,["api.*.verify_key"]]"#,
    )
    .await;
    let detail = reply.error(400, "/unkey/application/invalid_input");
    assert!(detail.contains("JSON object"), "{detail}");
    assert_eq!(reply.error_locations(), vec!["body"]);
    assert_eq!(
        root_key_count(&app).await,
        before,
        "no root key was created"
    );

    let reply = send(
        &app,
        "keys.verifyKey",
        Some("application/json"),
        &json!([key]).to_string(),
    )
    .await;
    reply.error(400, "/unkey/application/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body"]);

    // ratelimit.multiLimit's body is an array, as Unkey's is (ratelimit.rs tests it).
    for operation in operations().filter(|op| *op != "ratelimit.multiLimit") {
        for body in ["[]", r#"["x", null]"#, "null", "\"x\"", "42", "true"] {
            let reply = send(&app, operation, Some("application/json"), body).await;
            reply.error(400, "/unkey/application/invalid_input");
            assert_eq!(
                reply.error_locations(),
                vec!["body"],
                "{operation} {body}: {}",
                reply.body
            );
        }
    }
}

#[tokio::test]
async fn nested_objects_must_be_objects_too() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let reply = app
        .post("keys.createKey", json!({"apiId": api_id, "credits": [5]}))
        .await;
    reply.error(400, "/unkey/application/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.credits"]);
    let reply = app
        .post(
            "keys.createKey",
            json!({"apiId": api_id, "credits": {"remaining": 5, "refill": ["daily", 5]}}),
        )
        .await;
    reply.error(400, "/unkey/application/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.credits.refill"]);
    let listed = app.call("apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(listed, json!([]), "no key was created");

    let (key_id, key) = app.create_key(&api_id, json!({})).await;
    let reply = app
        .post("keys.verifyKey", json!({"key": key, "credits": [1]}))
        .await;
    reply.error(400, "/unkey/application/invalid_input");
    let reply = app
        .post(
            "keys.updateKey",
            json!({"keyId": key_id, "credits": [null, null]}),
        )
        .await;
    reply.error(400, "/unkey/application/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.credits"]);
}

#[tokio::test]
async fn bodies_not_sent_as_json_are_refused_with_415() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let body = json!({"key": key}).to_string();
    for content_type in [
        "text/plain",
        // curl -d's default
        "application/x-www-form-urlencoded",
        "application/jsonx",
        "application/problem+json",
        "multipart/form-data; boundary=x",
    ] {
        let reply = send(&app, "keys.verifyKey", Some(content_type), &body).await;
        let detail = reply.error(415, "/user/bad_request/unsupported_media_type");
        assert!(
            detail.contains("application/json") && detail.contains(content_type),
            "{detail}"
        );
    }
    for content_type in [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("Application/JSON ;charset=UTF-8"),
        // No Content-Type at all: read as JSON (docs/API.md).
        None,
    ] {
        let reply = send(&app, "keys.verifyKey", content_type, &body).await;
        assert_eq!(reply.data()["valid"], Value::Bool(true), "{content_type:?}");
    }
}

#[tokio::test]
async fn a_refused_media_type_changes_nothing_on_any_operation() {
    let app = TestApp::start().await;
    let before = root_key_count(&app).await;
    for operation in operations() {
        let reply = send(&app, operation, Some("text/plain"), "{}").await;
        reply.error(415, "/user/bad_request/unsupported_media_type");
    }
    let reply = send(
        &app,
        "rootKeys.createRootKey",
        Some("text/plain"),
        r#"{"permissions":["api.*.verify_key"]}"#,
    )
    .await;
    reply.error(415, "/unsupported_media_type");
    assert_eq!(root_key_count(&app).await, before);
}

/// JSON has one number type and JSON Schema's `integer` includes `5.0`.
#[tokio::test]
async fn integral_floats_are_integers() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app
        .create_key(&api_id, json!({"credits": {"remaining": 10.0}}))
        .await;
    let key = app.call("keys.getKey", json!({"keyId": key_id})).await;
    assert_eq!(key["credits"]["remaining"], json!(10));
    app.call("rootKeys.listRootKeys", json!({"limit": 5.0}))
        .await;
    for body in [json!({"limit": 5.5}), json!({"limit": 1e300})] {
        let reply = app.post("rootKeys.listRootKeys", body).await;
        reply.error(400, "/invalid_input");
        assert_eq!(reply.error_locations(), vec!["body.limit"]);
    }
}
