//! Request bodies: strict JSON, every problem reported, nothing applied on failure.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{ROOT_KEY, Reply, TestApp, operations};

async fn raw(app: &TestApp, operation: &str, body: Vec<u8>) -> Reply {
    let response = app
        .client
        .post(format!("{}/v2/{operation}", app.url))
        .bearer_auth(ROOT_KEY)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    Reply {
        status: response.status(),
        body: response.json().await.unwrap(),
    }
}

#[tokio::test]
async fn unknown_fields_are_refused_everywhere() {
    let app = TestApp::start().await;
    // ratelimit.multiLimit's body is an array of checks: its items refuse unknown fields.
    for operation in operations().filter(|op| *op != "ratelimit.multiLimit") {
        let reply = app
            .post(operation, json!({"definitelyNotAField": true}))
            .await;
        reply.error(400, "/unkey/application/invalid_input");
        assert!(
            reply
                .error_locations()
                .iter()
                .any(|l| l == "body.definitelyNotAField"),
            "{operation}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn unreadable_and_oversized_bodies() {
    let app = TestApp::start().await;
    raw(&app, "apis.createApi", b"{\"name\":".to_vec())
        .await
        .error(400, "/user/bad_request/request_body_unreadable");
    raw(&app, "apis.createApi", Vec::new())
        .await
        .error(400, "/request_body_unreadable");
    raw(&app, "apis.createApi", b"[1,2]".to_vec())
        .await
        .error(400, "/invalid_input");
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(3 * 1024 * 1024));
    raw(&app, "apis.createApi", big.into_bytes())
        .await
        .error(413, "/request_body_too_large");
    let reply = raw(&app, "apis.createApi", br#"{"name": 42}"#.to_vec()).await;
    reply.error(400, "/invalid_input");
    assert_eq!(reply.error_locations(), vec!["body.name"]);
}

#[tokio::test]
async fn every_response_has_its_own_request_id() {
    let app = TestApp::start().await;
    let mut ids = HashSet::new();
    for _ in 0..20 {
        let reply = app.post("apis.createApi", json!({"name": "ok-name"})).await;
        assert!(ids.insert(reply.body["meta"]["requestId"].as_str().unwrap().to_owned()));
        let reply = app.post("apis.createApi", json!({})).await;
        assert!(ids.insert(reply.body["meta"]["requestId"].as_str().unwrap().to_owned()));
    }
}

#[tokio::test]
async fn every_400_carries_an_errors_list() {
    // Unkey's SDKs require `error.errors` on a 400 to parse it, even when no field is at fault.
    let app = TestApp::start().await;
    let query = app
        .post(
            "keys.verifyKey",
            json!({"key": "k", "permissions": "a AND"}),
        )
        .await;
    let missing_auth = app
        .post_as(None, "apis.createApi", json!({"name": "abc"}))
        .await;
    let unreadable = raw(&app, "apis.createApi", b"{".to_vec()).await;
    for reply in [query, missing_auth, unreadable] {
        assert_eq!(reply.status, 400);
        assert!(reply.body["error"]["errors"].is_array(), "{}", reply.body);
    }
}

#[tokio::test]
async fn errors_are_problem_json_when_the_client_accepts_it() {
    let app = TestApp::start().await;
    for (accept, expected) in [
        ("application/json", "application/json"),
        ("*/*", "application/problem+json"),
        ("application/problem+json", "application/problem+json"),
    ] {
        let response = app
            .client
            .post(format!("{}/v2/apis.getApi", app.url))
            .bearer_auth(ROOT_KEY)
            .header("accept", accept)
            .json(&json!({"apiId": "api_unknown1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()["content-type"],
            expected,
            "Accept: {accept}"
        );
    }
}
