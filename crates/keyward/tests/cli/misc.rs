//! The remaining groups (root-keys, workspaces, audit-logs, liveness), completions and help.

use crate::support::{ROOT_KEY, TestServer};

#[test]
fn root_keys_create_list_delete() {
    let t = TestServer::start();
    let created = t
        .keyward(&[
            "api",
            "root-keys",
            "create-root-key",
            "--name",
            "verifier",
            "--permissions",
            "api.*.verify_key,api.*.read_api",
            "--permissions=api.*.read_key",
        ])
        .run();
    created.ok();
    let key_id = created.data()["keyId"].as_str().unwrap().to_owned();
    let key = created.data()["key"].as_str().unwrap().to_owned();

    let listed = t
        .keyward(&["api", "root-keys", "list-root-keys", "--output=table"])
        .run();
    listed.ok();
    assert!(
        listed.stdout.contains(&key_id) && listed.stdout.contains("verifier"),
        "{}",
        listed.stdout
    );
    assert!(
        listed.stdout.contains("api.*.read_key"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains(&key), "never the key itself");
    let as_json = t
        .keyward(&[
            "api",
            "root-keys",
            "list-root-keys",
            "--limit",
            "100",
            "--output=json",
        ])
        .run();
    let entry = as_json.json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["keyId"] == key_id.as_str())
        .cloned()
        .unwrap();
    assert_eq!(entry["permissions"].as_array().unwrap().len(), 3);

    // The new key can do what it holds, and no more.
    let api = t.create_api("scoped");
    t.keyward(&[
        "api",
        "apis",
        "get-api",
        "--api-id",
        &api,
        "--root-key",
        &key,
    ])
    .run()
    .ok();
    t.keyward(&[
        "api",
        "apis",
        "delete-api",
        "--api-id",
        &api,
        "--root-key",
        &key,
    ])
    .run()
    .exit(1);

    t.keyward(&["api", "root-keys", "delete-root-key", "--key-id", &key_id])
        .run()
        .ok();
    let rejected = t
        .keyward(&[
            "api",
            "apis",
            "get-api",
            "--api-id",
            &api,
            "--root-key",
            &key,
        ])
        .run();
    rejected.exit(1);
    assert!(
        rejected.stderr.starts_with("Authentication failed"),
        "{}",
        rejected.stderr
    );
}

#[test]
fn workspaces_are_isolated() {
    let t = TestServer::start();
    let api = t.create_api("first-tenant");
    let created = t
        .keyward(&["api", "workspaces", "create-workspace", "--name", "acme"])
        .run();
    created.ok();
    let data = created.data();
    assert!(data["workspaceId"].as_str().unwrap().starts_with("ws_"));
    let acme_key = data["rootKey"]["key"].as_str().unwrap().to_owned();
    let out = t
        .keyward(&[
            "api",
            "apis",
            "get-api",
            "--api-id",
            &api,
            "--root-key",
            &acme_key,
        ])
        .run();
    out.exit(1);
    assert!(out.stderr.starts_with("Not found: "), "{}", out.stderr);
}

#[test]
fn audit_logs_and_liveness() {
    let t = TestServer::start();
    let api = t.create_api("audited");
    let logs = t
        .keyward(&[
            "api",
            "audit-logs",
            "list-logs",
            "--event",
            "api.create",
            "--output=table",
        ])
        .run();
    logs.ok();
    assert!(
        logs.stdout.contains("api.create") && logs.stdout.contains("EVENT"),
        "{}",
        logs.stdout
    );
    let logs = t
        .keyward(&[
            "api",
            "audit-logs",
            "list-logs",
            "--target-id",
            &api,
            "--limit",
            "5",
        ])
        .run();
    logs.ok();
    assert_eq!(logs.data()[0]["event"], "api.create");

    // Liveness needs no root key.
    let live = t.bare(&["api", "liveness", "--api-url", &t.url]).run();
    live.ok();
    let data = live.data();
    let (database, invalidation) = match keyward_testing::backend() {
        keyward_testing::Backend::Sqlite => ("sqlite", "local"),
        keyward_testing::Backend::Postgres => ("postgres", "subscribed"),
    };
    assert_eq!(data["message"], "OK");
    assert_eq!(data["database"], database);
    assert_eq!(data["invalidation"], invalidation);
    assert!(
        data["node"].as_str().is_some_and(|n| !n.is_empty()),
        "{data}"
    );
}

#[test]
fn unkey_variable_names_work_alone() {
    let t = TestServer::start();
    let out = t
        .bare(&[
            "api",
            "apis",
            "create-api",
            "--name",
            "unkey-habits",
            "--output=json",
        ])
        .env("UNKEY_ROOT_KEY", ROOT_KEY)
        .env("UNKEY_API_BASE_URL", &t.url)
        .run();
    out.ok();
    assert!(
        out.json()["data"]["apiId"]
            .as_str()
            .unwrap()
            .starts_with("api_")
    );
}

#[test]
fn completions_for_each_shell() {
    let t = TestServer::start();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef keyward"),
        ("fish", "complete -c keyward"),
    ] {
        let out = t.bare(&["completions", shell]).run();
        out.ok();
        assert!(out.stdout.contains(marker), "{shell}: {marker}");
        assert!(
            out.stdout.contains("delete-keys") && out.stdout.contains("root-key"),
            "{shell}"
        );
    }
    t.bare(&["completions", "tcsh"]).run().exit(2);
}

#[test]
fn help_explains_every_flag_with_an_example() {
    let t = TestServer::start();
    let out = t.bare(&["api", "keys", "delete-key", "--help"]).run();
    out.ok();
    // Help is wrapped to the width of a terminal: compare with whitespace collapsed.
    let text = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "--key-id <KEY_ID>",
        "Example: --key-id=key_1234abcd",
        "--permanent",
        "Global Flags",
        "--root-key",
        "--api-url",
        "--config",
        "--output",
        "Examples:",
        "keyward api keys delete-key --key-id=key_1234abcd --permanent",
    ] {
        assert!(text.contains(expected), "{expected} in\n{}", out.stdout);
    }
    let bulk = t.bare(&["api", "keys", "delete-keys", "--help"]).run();
    bulk.ok();
    assert!(
        bulk.stdout.contains("--yes") && !bulk.stdout.contains("--pause-ms"),
        "{}",
        bulk.stdout
    );
    t.bare(&["--help"]).run().ok();
    t.bare(&["--version"]).run().ok();
}
