//! `keyward api permissions …`, `identities …`, the key grant commands and Unkey's root-key
//! names, end to end.

use serde_json::json;

use crate::support::TestServer;

fn verify_with(t: &TestServer, key: &str, query: &str) -> String {
    let out = t
        .keyward(&[
            "api",
            "keys",
            "verify-key",
            "--key",
            key,
            "--permissions",
            query,
        ])
        .run();
    out.ok();
    out.data()["code"].as_str().unwrap().to_owned()
}

#[test]
fn permissions_roles_and_key_grants() {
    let t = TestServer::start();
    let created = t
        .keyward(&[
            "api",
            "permissions",
            "create-permission",
            "--name=Read documents",
            "--slug=documents.read",
        ])
        .run();
    created.ok();
    assert!(
        created.data()["permissionId"]
            .as_str()
            .unwrap()
            .starts_with("perm_")
    );
    t.keyward(&[
        "api",
        "permissions",
        "create-role",
        "--name=reader",
        "--permissions=documents.read,comments.read",
    ])
    .run()
    .ok();
    let roles = t
        .keyward(&["api", "permissions", "list-roles", "--output=table"])
        .run();
    roles.ok();
    assert!(roles.stdout.contains("reader"), "{}", roles.stdout);
    let api = t.create_api("grants");
    let key = t
        .keyward(&[
            "api",
            "keys",
            "create-key",
            "--api-id",
            &api,
            "--roles=reader",
        ])
        .run();
    key.ok();
    let (key_id, key) = (
        key.data()["keyId"].as_str().unwrap().to_owned(),
        key.data()["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(
        verify_with(&t, &key, "documents.read AND comments.read"),
        "VALID"
    );
    let added = t
        .keyward(&[
            "api",
            "keys",
            "add-permissions",
            "--key-id",
            &key_id,
            "--permissions=documents.write",
        ])
        .run();
    added.ok();
    assert_eq!(added.data()[0]["slug"], "documents.write");
    assert_eq!(verify_with(&t, &key, "documents.write"), "VALID");
    t.keyward(&[
        "api",
        "keys",
        "remove-permissions",
        "--key-id",
        &key_id,
        "--permissions=documents.write",
    ])
    .run()
    .ok();
    assert_eq!(
        verify_with(&t, &key, "documents.write"),
        "INSUFFICIENT_PERMISSIONS"
    );
    t.keyward(&["api", "keys", "set-roles", "--key-id", &key_id, "--roles="])
        .run()
        .ok();
    assert_eq!(
        verify_with(&t, &key, "documents.read"),
        "INSUFFICIENT_PERMISSIONS"
    );
    t.keyward(&[
        "api",
        "keys",
        "add-roles",
        "--key-id",
        &key_id,
        "--roles=reader",
    ])
    .run()
    .ok();
    t.keyward(&[
        "api",
        "permissions",
        "set-role-permissions",
        "--role=reader",
        "--permissions=",
    ])
    .run()
    .ok();
    assert_eq!(
        verify_with(&t, &key, "documents.read"),
        "INSUFFICIENT_PERMISSIONS"
    );
    t.keyward(&[
        "api",
        "permissions",
        "update-permission",
        "--permission=documents.read",
        "--slug=docs.read",
        "--clear-description",
    ])
    .run()
    .ok();
    let got = t
        .keyward(&[
            "api",
            "permissions",
            "get-permission",
            "--permission=docs.read",
        ])
        .run();
    got.ok();
    assert_eq!(got.data()["name"], "Read documents");
    t.keyward(&["api", "permissions", "delete-role", "--role=reader"])
        .run()
        .ok();
    t.keyward(&[
        "api",
        "permissions",
        "delete-permission",
        "--permission=docs.read",
    ])
    .run()
    .ok();
    // A missing role is a 404, exit 1, saying what was not found.
    let missing = t
        .keyward(&[
            "api",
            "keys",
            "add-roles",
            "--key-id",
            &key_id,
            "--roles=ghost",
        ])
        .run();
    missing.exit(1);
    assert!(missing.stderr.contains("ghost"), "{}", missing.stderr);
    let permissions = t
        .keyward(&[
            "api",
            "permissions",
            "list-permissions",
            "--search=comments",
        ])
        .run();
    permissions.ok();
    assert_eq!(permissions.data()[0]["slug"], "comments.read");
}

#[test]
fn identities_lifecycle() {
    let t = TestServer::start();
    let created = t
        .keyward(&[
            "api",
            "identities",
            "create-identity",
            "--external-id=user_1",
            "--meta-json={\"plan\":\"pro\"}",
        ])
        .run();
    created.ok();
    let id = created.data()["identityId"].as_str().unwrap().to_owned();
    let got = t
        .keyward(&["api", "identities", "get-identity", "--identity=user_1"])
        .run();
    got.ok();
    assert_eq!(got.data()["meta"], json!({"plan": "pro"}));
    t.keyward(&[
        "api",
        "identities",
        "update-identity",
        "--identity",
        &id,
        "--meta-json={\"plan\":\"free\"}",
    ])
    .run()
    .ok();
    let listed = t
        .keyward(&["api", "identities", "list-identities", "--output=table"])
        .run();
    listed.ok();
    assert!(
        listed.stdout.contains("user_1") && listed.stdout.contains("free"),
        "{}",
        listed.stdout
    );
    t.keyward(&["api", "identities", "delete-identity", "--identity=user_1"])
        .run()
        .ok();
    t.keyward(&["api", "identities", "get-identity", "--identity=user_1"])
        .run()
        .exit(1);
}

#[test]
fn root_keys_by_unkeys_names() {
    let t = TestServer::start();
    let created = t
        .keyward(&[
            "api",
            "root-keys",
            "create-key",
            "--name=reader",
            "--permissions=api.*.read_api",
        ])
        .run();
    created.ok();
    let key_id = created.data()["keyId"].as_str().unwrap().to_owned();
    let key = created.data()["key"].as_str().unwrap().to_owned();
    let api = t.create_api("root-keys");
    let get_api = |key: &str| {
        t.keyward(&[
            "api",
            "apis",
            "get-api",
            "--api-id",
            &api,
            "--root-key",
            key,
        ])
        .run()
    };
    get_api(&key).ok();
    t.keyward(&[
        "api",
        "root-keys",
        "update-key",
        "--key-id",
        &key_id,
        "--enabled=false",
    ])
    .run()
    .ok();
    get_api(&key).exit(1);
    t.keyward(&[
        "api",
        "root-keys",
        "update-key",
        "--key-id",
        &key_id,
        "--enabled",
    ])
    .run()
    .ok();
    let rerolled = t
        .keyward(&[
            "api",
            "root-keys",
            "reroll-key",
            "--key-id",
            &key_id,
            "--expiration=null",
        ])
        .run();
    rerolled.ok();
    let new_key = rerolled.data()["key"].as_str().unwrap().to_owned();
    get_api(&new_key).ok();
    get_api(&key).ok();
    let listed = t
        .keyward(&["api", "root-keys", "list-keys", "--output=table"])
        .run();
    listed.ok();
    assert!(listed.stdout.contains(&key_id), "{}", listed.stdout);
    t.keyward(&["api", "root-keys", "delete-key", "--key-id", &key_id])
        .run()
        .ok();
    get_api(&key).exit(1);
}

#[test]
fn every_new_command_has_help_with_examples_and_completions() {
    let t = TestServer::start();
    for (group, commands) in [
        (
            "permissions",
            &[
                "create-permission",
                "get-permission",
                "list-permissions",
                "update-permission",
                "delete-permission",
                "create-role",
                "get-role",
                "list-roles",
                "update-role",
                "delete-role",
                "set-role-permissions",
            ][..],
        ),
        (
            "identities",
            &[
                "create-identity",
                "get-identity",
                "list-identities",
                "update-identity",
                "delete-identity",
            ][..],
        ),
        (
            "keys",
            &[
                "add-permissions",
                "remove-permissions",
                "set-permissions",
                "add-roles",
                "remove-roles",
                "set-roles",
            ][..],
        ),
        (
            "root-keys",
            &[
                "create-key",
                "list-keys",
                "update-key",
                "reroll-key",
                "delete-key",
            ][..],
        ),
    ] {
        for command in commands {
            let out = t.bare(&["api", group, command, "--help"]).run();
            out.ok();
            let text = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                text.contains("Examples:")
                    && text.contains(&format!("keyward api {group} {command} --")),
                "{group} {command}:\n{}",
                out.stdout
            );
            assert!(
                text.contains("Example: --"),
                "{group} {command}: flags have examples"
            );
        }
        for shell in ["bash", "zsh", "fish"] {
            let completions = t.bare(&["completions", shell]).run();
            completions.ok();
            for command in commands {
                assert!(completions.stdout.contains(command), "{shell}: {command}");
            }
        }
    }
}
