//! verifyKey tells a caller nothing about keys it may not see: an unknown key, a deleted key, a
//! key of another workspace, a key of an API the root key may not verify, and a key outside the
//! request's `keyspaces` get the same answer — status, body and headers — on the first call (a
//! database read) and when cached. Their latency is measured, not asserted here:
//! `scripts/hardening.sh timing` (docs/RELIABILITY.md).

use serde_json::{Value, json};

use crate::helpers::{ROOT_KEY, TestApp};

/// Status, the JSON body without `meta` (its request id differs), and the header names with
/// the values of those that do not vary per request.
async fn answer(app: &TestApp, root_key: &str, body: Value) -> (u16, Value, Vec<String>) {
    let response = app
        .client
        .post(format!("{}/v2/keys.verifyKey", app.url))
        .bearer_auth(root_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let mut headers: Vec<String> = response
        .headers()
        .iter()
        .map(|(name, value)| match name.as_str() {
            "date" | "x-request-id" | "unkey-request-id" => name.to_string(),
            _ => format!("{name}: {}", value.to_str().unwrap_or("?")),
        })
        .collect();
    headers.sort();
    let mut body: Value = response.json().await.unwrap();
    body.as_object_mut().unwrap().remove("meta");
    (status, body, headers)
}

#[tokio::test]
async fn unknown_deleted_and_hidden_keys_get_one_and_the_same_answer() {
    let app = TestApp::start().await;
    let api = app.create_api().await;
    let other_api = app.create_api().await;
    let (deleted_id, deleted) = app.create_key(&api, json!({})).await;
    app.call("keys.deleteKey", json!({"keyId": deleted_id}))
        .await;
    let (_, of_other_api) = app.create_key(&other_api, json!({})).await;
    let (_, in_keyspace) = app.create_key(&api, json!({})).await;
    let stranger = app.other_workspace_root_key().await;
    let foreign_api = app
        .post_as(Some(&stranger), "apis.createApi", json!({"name": "theirs"}))
        .await
        .data()["apiId"]
        .clone();
    let foreign_key = app
        .post_as(
            Some(&stranger),
            "keys.createKey",
            json!({"apiId": foreign_api}),
        )
        .await
        .data()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let limited = app.root_key_with(&[&format!("api.{api}.verify_key")]).await;

    let cases: Vec<(&str, String, Value)> = vec![
        (
            "unknown",
            ROOT_KEY.into(),
            json!({"key": "sk_never_issued_0123456789abcdef"}),
        ),
        ("deleted", ROOT_KEY.into(), json!({"key": deleted})),
        (
            "another workspace's",
            ROOT_KEY.into(),
            json!({"key": foreign_key}),
        ),
        (
            "not verifiable by the root key",
            limited.clone(),
            json!({"key": of_other_api}),
        ),
        (
            "outside the keyspaces asked for",
            ROOT_KEY.into(),
            json!({"key": in_keyspace, "keyspaces": [other_api]}),
        ),
        (
            "unknown, with credits asked for",
            ROOT_KEY.into(),
            json!({"key": "sk_never_issued_either_0123456789", "credits": {"cost": 5}}),
        ),
    ];
    let expected = json!({"data": {"valid": false, "code": "NOT_FOUND"}});
    let mut first: Option<(u16, Value, Vec<String>)> = None;
    for round in ["first call", "cached"] {
        for (name, root_key, body) in &cases {
            let got = answer(&app, root_key, body.clone()).await;
            assert_eq!((got.0, &got.1), (200, &expected), "{name} key, {round}");
            match &first {
                None => first = Some(got),
                Some(reference) => assert_eq!(&got, reference, "{name} key, {round}"),
            }
        }
    }
    // The hidden keys are real: visible to those who may see them.
    assert_eq!(app.verify_code(&of_other_api).await, "VALID");
    assert_eq!(app.verify_code(&in_keyspace).await, "VALID");
}
