//! No plaintext key or root key anywhere keyward writes: after a run with many keys (created,
//! rerolled, verified, failed verifications, refused requests that carry keys), none appears in
//! the database files (the write-ahead log included, read while the process is down after
//! kill -9, before anything checkpoints it) or PostgreSQL's rows, the log at `RUST_LOG=trace`,
//! `/metrics`, or the audit log.

mod support;

use keyward_testing::TestStorage;
use serde_json::{Value, json};
use support::{Process, ROOT_KEY, post, try_post};

/// Whether `needle` occurs in `haystack` (read as text, lossily: a needle is ASCII). `str`'s
/// search, since a byte-window scan over megabytes of trace log per secret is slow unoptimized.
fn contains(haystack: &str, needle: &str) -> bool {
    haystack.contains(needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_plaintext_key_in_files_wal_rows_trace_logs_metrics_or_audit_log() {
    let storage = TestStorage::new();
    let client = reqwest::Client::new();
    let process = Process::start(&storage, "trace");
    let url = process.url.clone();
    let mut secrets: Vec<String> = vec![ROOT_KEY.to_owned()];

    let api_id = post(&client, &url, "apis.createApi", json!({"name": "secrets"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut keys = Vec::new();
    for i in 0..40 {
        let extra = match i % 4 {
            0 => json!({"apiId": api_id}),
            1 => json!({"apiId": api_id, "prefix": "sk", "credits": {"remaining": 3}}),
            2 => json!({"apiId": api_id, "externalId": format!("user_{i}"), "meta": {"k": i}}),
            _ => json!({"apiId": api_id, "byteLength": 32, "name": format!("k{i}")}),
        };
        let data = post(&client, &url, "keys.createKey", extra).await;
        let key = data["key"].as_str().unwrap().to_owned();
        keys.push((data["keyId"].as_str().unwrap().to_owned(), key.clone()));
        secrets.push(key);
    }
    for (i, (key_id, key)) in keys.iter().enumerate() {
        // Valid, metered, with a failing permission query, spent out.
        for _ in 0..4 {
            post(
                &client,
                &url,
                "keys.verifyKey",
                json!({"key": key, "permissions": "a.b AND c"}),
            )
            .await;
            post(&client, &url, "keys.verifyKey", json!({"key": key})).await;
        }
        post(&client, &url, "keys.whoami", json!({"key": key})).await;
        if i % 5 == 0 {
            let data = post(
                &client,
                &url,
                "keys.rerollKey",
                json!({"keyId": key_id, "expiration": 60_000}),
            )
            .await;
            let new = data["key"].as_str().unwrap().to_owned();
            post(&client, &url, "keys.verifyKey", json!({"key": new})).await;
            secrets.push(new);
        }
        if i % 7 == 0 {
            post(&client, &url, "keys.deleteKey", json!({"keyId": key_id})).await;
            post(&client, &url, "keys.verifyKey", json!({"key": key})).await;
        }
    }
    // Keys that do not exist, sent where keys go: verified, as bearer tokens, in refused bodies.
    for i in 0..20 {
        let unknown = format!("sk_unknown_plaintext_{i:04}_x9Y8z7W6v5");
        post(&client, &url, "keys.verifyKey", json!({"key": unknown})).await;
        let response = client
            .post(format!("{url}/v2/apis.listKeys"))
            .bearer_auth(&unknown)
            .json(&json!({"apiId": api_id}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        let (status, _) = try_post(
            &client,
            &url,
            "keys.verifyKey",
            &json!({"key": unknown, "permissions": "(("}),
        )
        .await
        .unwrap();
        assert_eq!(status, 400);
        let (status, _) = try_post(
            &client,
            &url,
            "keys.verifyKey",
            &json!({"key": unknown, "unknownField": unknown}),
        )
        .await
        .unwrap();
        assert_eq!(status, 400);
        secrets.push(unknown);
    }
    for permissions in [json!(["api.*.verify_key"]), json!(["api.*.read_key"])] {
        let data = post(
            &client,
            &url,
            "rootKeys.createRootKey",
            json!({"permissions": permissions}),
        )
        .await;
        let root = data["key"].as_str().unwrap().to_owned();
        let (status, _) = try_post(&client, &url, "keys.verifyKey", &json!({"key": keys[1].1}))
            .await
            .unwrap();
        assert_eq!(status, 200);
        let rerolled = post(
            &client,
            &url,
            "rootKeys.rerollKey",
            json!({"keyId": data["keyId"], "expiration": 0}),
        )
        .await;
        secrets.push(root);
        secrets.push(rerolled["key"].as_str().unwrap().to_owned());
    }
    let workspace = post(
        &client,
        &url,
        "workspaces.createWorkspace",
        json!({"name": "other"}),
    )
    .await;
    secrets.push(workspace["rootKey"]["key"].as_str().unwrap().to_owned());

    let metrics = client
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("keys.verifyKey"), "sanity: {metrics}");
    let audit: Value = post(&client, &url, "auditLogs.listLogs", json!({"limit": 100})).await;
    let audit = audit.to_string();
    assert!(
        audit.contains(&keys[0].0),
        "sanity: the audit log names key ids"
    );

    // Killed, so that SQLite's write-ahead log is still there, unmerged, when it is read.
    let log = process.kill_9();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "sanity: trace logging was on:\n{}",
        &log[..log.len().min(3000)]
    );
    let files = String::from_utf8_lossy(&storage.contents().await).into_owned();
    assert!(
        contains(&files, &keys[3].0),
        "sanity: the database holds key ids"
    );
    if storage.database_url().is_none() {
        let wal = std::fs::read(storage.data_dir().join("keyward.db-wal")).unwrap_or_default();
        assert!(!wal.is_empty(), "sanity: the write-ahead log is read too");
    }

    let mut found = Vec::new();
    for secret in &secrets {
        for (place, text) in [
            ("the database", files.as_str()),
            ("the trace log", log.as_str()),
            ("/metrics", metrics.as_str()),
            ("the audit log", audit.as_str()),
        ] {
            if contains(text, secret) || contains(text, &hex(secret.as_bytes())) {
                found.push(format!("{secret} in {place}"));
            }
        }
    }
    assert!(found.is_empty(), "plaintext found: {found:?}");
}
