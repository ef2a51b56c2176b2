//! auditLogs.listLogs, and the rule that every mutation writes exactly one event.

use serde_json::{Value, json};

use crate::helpers::{ROOT_KEY, TestApp};

fn events(data: &Value) -> Vec<String> {
    data.as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_mutation_is_audited_newest_first() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (key_id, _) = app.create_key(&api_id, json!({"name": "audited"})).await;
    app.call("keys.updateKey", json!({"keyId": key_id, "enabled": false}))
        .await;
    app.call(
        "keys.updateCredits",
        json!({"keyId": key_id, "operation": "set", "value": 5}),
    )
    .await;
    app.call("keys.rerollKey", json!({"keyId": key_id, "expiration": 0}))
        .await;
    app.call("keys.deleteKey", json!({"keyId": key_id})).await;
    app.call(
        "apis.updateApi",
        json!({"apiId": api_id, "name": "renamed"}),
    )
    .await;
    app.call("apis.deleteApi", json!({"apiId": api_id})).await;

    let all = app.call("auditLogs.listLogs", json!({})).await;
    assert_eq!(
        events(&all),
        vec![
            "api.delete",
            "api.update",
            "key.delete",
            "key.reroll",
            "key.update",
            "key.update",
            "key.create",
            "api.create",
            "rootKey.create",
            "workspace.create",
        ]
    );
    let create = &all[6];
    assert_eq!(create["actor"]["type"], "rootKey");
    assert!(create["actor"]["id"].as_str().unwrap().starts_with("key_"));
    assert_eq!(create["remoteIp"], "127.0.0.1");
    assert!(create["requestId"].as_str().unwrap().starts_with("req_"));
    assert!(create["id"].as_str().unwrap().starts_with("log_"));
    assert_eq!(
        create["targets"][0],
        json!({"type": "key", "id": key_id, "name": "audited"})
    );
    let bootstrap = &all[9];
    assert_eq!(bootstrap["actor"]["type"], "system");

    let for_key = app
        .call("auditLogs.listLogs", json!({"targetId": key_id}))
        .await;
    assert_eq!(
        events(&for_key),
        vec![
            "key.delete",
            "key.reroll",
            "key.update",
            "key.update",
            "key.create"
        ]
    );
    // An event is found by each of its targets: key.create names the key and its API.
    let for_api = events(
        &app.call("auditLogs.listLogs", json!({"targetId": api_id}))
            .await,
    );
    for event in ["api.delete", "api.update", "key.create", "api.create"] {
        assert!(
            for_api.iter().any(|e| e == event),
            "{event} missing from {for_api:?}"
        );
    }
    let updates = app
        .call("auditLogs.listLogs", json!({"event": "key.update"}))
        .await;
    assert_eq!(updates.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn filters_by_time_and_paginates() {
    let app = TestApp::start().await;
    for _ in 0..5 {
        app.create_api().await;
    }
    let all = app
        .call("auditLogs.listLogs", json!({"event": "api.create"}))
        .await;
    let times: Vec<i64> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["time"].as_i64().unwrap())
        .collect();
    let (newest, oldest) = (times[0], times[4]);
    let since = app
        .call(
            "auditLogs.listLogs",
            json!({"event": "api.create", "since": newest}),
        )
        .await;
    assert!(
        since
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["time"].as_i64().unwrap() >= newest)
    );
    let until = app
        .call(
            "auditLogs.listLogs",
            json!({"event": "api.create", "until": oldest + 1}),
        )
        .await;
    assert!(
        until
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["time"].as_i64().unwrap() <= oldest)
    );
    assert!(!until.as_array().unwrap().is_empty());

    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"event": "api.create", "limit": 2});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let reply = app.post("auditLogs.listLogs", body).await;
        ids.extend(
            reply
                .data()
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].clone()),
        );
        match reply.body["pagination"]["cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<Value> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].clone())
        .collect();
    assert_eq!(ids, expected);
}

#[tokio::test]
async fn list_logs_errors() {
    let app = TestApp::start().await;
    let no_audit = app.root_key_with(&["api.*.read_api"]).await;
    app.post_as(Some(&no_audit), "auditLogs.listLogs", json!({}))
        .await
        .error(403, "/insufficient_permissions");
    app.post("auditLogs.listLogs", json!({"limit": 1000}))
        .await
        .error(400, "/invalid_input");
    app.post("auditLogs.listLogs", json!({"since": 10, "until": 5}))
        .await
        .error(400, "/invalid_input");
    app.post_as(Some("nope_not_a_root_key"), "auditLogs.listLogs", json!({}))
        .await
        .error(401, "/key_not_found");
    assert!(!ROOT_KEY.is_empty());
}
