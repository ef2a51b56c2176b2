//! `keyward db copy` between SQLite and PostgreSQL, both ways: everything arrives, keys verify
//! the same on the copy as on the original, a non-empty target is refused unless forced.
//!
//! These tests need both backends whatever `KEYWARD_TEST_DATABASE` says: the suite's backend is
//! the source, the other one the target, and the copy is copied back into the suite's backend.

use keyward_testing::{Backend, TestDatabase, TestStorage};
use serde_json::{Value, json};

use crate::support::{Cli, ROOT_KEY, TestServer};

/// Storage on the backend the suite does not run on.
fn other_backend() -> TestStorage {
    match keyward_testing::backend() {
        Backend::Sqlite => TestStorage {
            dir: tempfile::tempdir().unwrap(),
            database: TestDatabase::postgres_on(&keyward_testing::postgres_admin_url()),
        },
        Backend::Postgres => TestStorage::sqlite(),
    }
}

fn db_copy(from: &TestStorage, to: &TestStorage, extra: &[&str]) -> crate::support::Out {
    let home = tempfile::tempdir().unwrap();
    let (from, to) = (from.url(), to.url());
    let mut args = vec!["db", "copy", "--from", &from, "--to", &to];
    args.extend_from_slice(extra);
    Cli::new(home.path()).args(&args).run()
}

/// Everything a client can read of the bootstrap workspace, and of a second one.
fn everything(server: &TestServer, api_id: &str, key_id: &str, other_root_key: &str) -> Value {
    let (status, other) = server.call_with(other_root_key, "rootKeys.listRootKeys", json!({}));
    assert_eq!(status, 200, "{other}");
    json!({
        "keys": server.call("apis.listKeys", json!({"apiId": api_id, "limit": 100})),
        "api": server.call("apis.getApi", json!({"apiId": api_id})),
        "rootKeys": server.call("rootKeys.listRootKeys", json!({})),
        "audit": server.call("auditLogs.listLogs", json!({"limit": 100})),
        "auditOfOneKey": server.call("auditLogs.listLogs", json!({"targetId": key_id})),
        "otherWorkspace": other["data"],
    })
}

/// Verifies each key (spending a credit from metered ones) and returns the answers.
fn verify_all(server: &TestServer, keys: &[String]) -> Vec<Value> {
    keys.iter()
        .map(|key| server.call("keys.verifyKey", json!({"key": key})))
        .collect()
}

/// The rows of each table the copy reports on stdout.
fn counts(stdout: &str) -> Vec<(String, u64)> {
    stdout
        .lines()
        .skip(1)
        .filter_map(|line| {
            let (table, rows) = line.split_once(char::is_whitespace)?;
            Some((table.to_owned(), rows.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn db_copy_carries_everything_both_ways_and_keys_verify_the_same_on_the_copy() {
    let server = TestServer::start();
    let api_id = server.create_api("payments");
    let mut keys = Vec::new();
    for body in [
        json!({"externalId": "user.1", "meta": {"plan": "☃ pro", "n": 9_007_199_254_740_993u64}}),
        json!({"credits": {"remaining": 1_000, "refill": {"interval": "monthly", "amount": 500, "refillDay": 31}}}),
        json!({"credits": {"remaining": 0}, "name": "empty 空"}),
        json!({"enabled": false, "externalId": "user.1"}),
        json!({"expires": 4_102_444_800_000u64, "name": "expires 2100"}),
        json!({"prefix": "sk_live", "byteLength": 32}),
    ] {
        let mut body = body;
        body["apiId"] = json!(api_id);
        let data = server.call("keys.createKey", body);
        keys.push((
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        ));
    }
    let deleted = server.call("keys.createKey", json!({"apiId": api_id}));
    server.call("keys.deleteKey", json!({"keyId": deleted["keyId"]}));
    let rerolled = server.call(
        "keys.rerollKey",
        json!({"keyId": keys[5].0, "expiration": 0}),
    );
    let plaintexts: Vec<String> = keys
        .iter()
        .map(|(_, key)| key.clone())
        .chain([
            deleted["key"].as_str().unwrap().to_owned(),
            rerolled["key"].as_str().unwrap().to_owned(),
        ])
        .collect();
    let limited = server.root_key_with(&["api.*.verify_key", "api.*.read_key"]);
    let other = server.call("workspaces.createWorkspace", json!({"name": "other"}));
    let other_root_key = other["rootKey"]["key"].as_str().unwrap().to_owned();
    // Uses set lastUsedAt, and spend credits.
    verify_all(&server, &plaintexts);
    let before = everything(&server, &api_id, &keys[0].0, &other_root_key);
    let original = server.stop();

    let copy = other_backend();
    let out = db_copy(&original, &copy, &[]);
    out.ok();
    for table in [
        "workspaces",
        "root_keys",
        "apis",
        "identities",
        "keys",
        "audit_logs",
    ] {
        assert!(
            out.stderr.contains(&format!("copying {table}: ")),
            "progress on stderr:\n{}",
            out.stderr
        );
    }
    let copied = counts(&out.stdout);
    let rows = |table: &str| copied.iter().find(|(t, _)| t == table).map(|(_, n)| *n);
    assert_eq!(rows("workspaces"), Some(2), "{}", out.stdout);
    assert_eq!(
        rows("keys"),
        Some(8),
        "6 + deleted + rerolled:\n{}",
        out.stdout
    );
    assert_eq!(rows("root_keys"), Some(3), "{}", out.stdout);
    assert_eq!(rows("identities"), Some(1), "{}", out.stdout);
    assert!(out.stdout.contains("matches the source"), "{}", out.stdout);

    // And back into the suite's backend: both directions.
    let back = TestStorage::new();
    db_copy(&copy, &back, &[]).ok();

    let original = TestServer::start_on(original);
    let copy = TestServer::start_on(copy);
    let back = TestServer::start_on(back);
    assert_eq!(
        everything(&copy, &api_id, &keys[0].0, &other_root_key),
        before
    );
    assert_eq!(
        everything(&back, &api_id, &keys[0].0, &other_root_key),
        before
    );
    // The same keys give the same answers, credits included, on all three.
    let answers = verify_all(&original, &plaintexts);
    assert_eq!(verify_all(&copy, &plaintexts), answers);
    assert_eq!(verify_all(&back, &plaintexts), answers);
    let codes: Vec<&str> = answers
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        // The rerolled key's old self expired at once (expiration 0); the deleted key is gone.
        [
            "VALID",
            "VALID",
            "USAGE_EXCEEDED",
            "DISABLED",
            "VALID",
            "EXPIRED",
            "NOT_FOUND",
            "VALID"
        ],
        "{answers:?}"
    );
    // Root keys carry their permissions: the limited one may verify on the copy.
    let (status, body) = copy.call_with(&limited, "keys.verifyKey", json!({"key": plaintexts[0]}));
    assert_eq!(
        (status, body["data"]["code"].as_str()),
        (200, Some("VALID")),
        "{body}"
    );
    let (status, _) = copy.call_with(&limited, "apis.createApi", json!({"name": "not-allowed"}));
    assert_eq!(status, 403);
}

#[test]
fn db_copy_refuses_a_target_holding_rows_unless_forced() {
    let server = TestServer::start();
    let first_api = server.create_api("first");
    let original = server.stop();
    let target = other_backend();
    db_copy(&original, &target, &[]).ok();

    let server = TestServer::start_on(original);
    let second_api = server.create_api("second");
    let original = server.stop();

    let refused = db_copy(&original, &target, &[]);
    refused.exit(1);
    assert!(
        refused.stderr.contains("not empty") && refused.stderr.contains("--force"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    let target = {
        let server = TestServer::start_on(target);
        let (status, _) = server.call_with(ROOT_KEY, "apis.getApi", json!({"apiId": second_api}));
        assert_eq!(status, 404, "a refused copy changes nothing");
        server.stop()
    };

    let forced = db_copy(&original, &target, &["--force"]);
    forced.ok();
    let server = TestServer::start_on(target);
    for api_id in [&first_api, &second_api] {
        let (status, body) = server.call_with(ROOT_KEY, "apis.getApi", json!({"apiId": api_id}));
        assert_eq!(status, 200, "{body}");
    }
    let audit = server.call("auditLogs.listLogs", json!({"event": "api.create"}));
    assert_eq!(
        audit.as_array().unwrap().len(),
        2,
        "the target holds the source's rows, not twice the first copy's: {audit}"
    );
}

#[test]
fn db_copy_from_a_missing_sqlite_file_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let target = tempfile::tempdir().unwrap();
    let out = Cli::new(home.path())
        .args(&[
            "db",
            "copy",
            "--from",
            "sqlite:///nonexistent/keyward.db",
            "--to",
            &format!("sqlite://{}/copy.db", target.path().display()),
        ])
        .run();
    out.exit(1);
    assert!(
        out.stderr
            .contains("there is no SQLite database at /nonexistent/keyward.db"),
        "{}",
        out.stderr
    );
}
