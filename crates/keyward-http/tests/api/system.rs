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
