//! `keyward api keys …`: the key lifecycle of the revocation guide, command by command.

use serde_json::json;

use crate::support::TestServer;

#[test]
fn create_verify_disable_enable_reroll_delete() {
    let t = TestServer::start();
    let api = t.create_api("payments");

    let created = t
        .keyward(&[
            "api",
            "keys",
            "create-key",
            "--api-id",
            &api,
            "--prefix",
            "sk",
            "--external-id",
            "user_123",
            "--name",
            "CI token",
            "--meta-json",
            r#"{"plan":"pro"}"#,
            "--credits-json",
            r#"{"remaining":5}"#,
        ])
        .run();
    created.ok();
    let data = created.data();
    let key_id = data["keyId"].as_str().unwrap().to_owned();
    let key = data["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("sk_"));

    let verified = t
        .keyward(&[
            "api",
            "keys",
            "verify-key",
            "--key",
            &key,
            "--tags",
            "path=/v1,region=eu",
            "--tags=x",
        ])
        .run();
    verified.ok();
    let data = verified.data();
    assert_eq!(
        (data["valid"].clone(), data["code"].clone()),
        (json!(true), json!("VALID"))
    );
    assert_eq!(data["credits"], 4);
    assert_eq!(data["meta"], json!({"plan": "pro"}));

    let cost = t
        .keyward(&[
            "api",
            "keys",
            "verify-key",
            "--key",
            &key,
            "--credits-json",
            r#"{"cost":2}"#,
        ])
        .run();
    assert_eq!(cost.data()["credits"], 2);

    // The key string from stdin keeps it out of `ps`.
    let whoami = t
        .keyward(&["api", "keys", "whoami", "--key=-"])
        .stdin(&format!("{key}\n"))
        .run();
    whoami.ok();
    assert_eq!(whoami.data()["keyId"], key_id.as_str());
    assert_eq!(whoami.data()["identity"]["externalId"], "user_123");

    let got = t
        .keyward(&[
            "api",
            "keys",
            "get-key",
            "--key-id",
            &key_id,
            "--output=table",
        ])
        .run();
    got.ok();
    assert!(
        got.stdout.contains("CI token") && got.stdout.contains(r#"{"plan":"pro"}"#),
        "{}",
        got.stdout
    );

    // Disable: an invalid key is still a successful call (exit 0).
    t.keyward(&[
        "api",
        "keys",
        "update-key",
        "--key-id",
        &key_id,
        "--enabled=false",
    ])
    .run()
    .ok();
    let disabled = t
        .keyward(&["api", "keys", "verify-key", "--key", &key, "--output=json"])
        .run();
    disabled.ok();
    assert_eq!(disabled.json()["data"]["code"], "DISABLED");
    t.keyward(&[
        "api",
        "keys",
        "update-key",
        "--key-id",
        &key_id,
        "--enabled",
    ])
    .run()
    .ok();
    assert_eq!(t.verify(&key), "VALID");

    let credits = t
        .keyward(&[
            "api",
            "keys",
            "update-credits",
            "--key-id",
            &key_id,
            "--operation",
            "increment",
            "--value",
            "10",
        ])
        .run();
    credits.ok();
    // 5, minus 1, minus 2, minus the VALID verification after enabling (DISABLED ones are free).
    assert_eq!(credits.data()["remaining"], 11);
    let unlimited = t
        .keyward(&[
            "api",
            "keys",
            "update-credits",
            "--key-id",
            &key_id,
            "--operation=set",
            "--value=null",
        ])
        .run();
    unlimited.ok();
    assert_eq!(unlimited.data()["remaining"], serde_json::Value::Null);

    let rerolled = t
        .keyward(&[
            "api",
            "keys",
            "reroll-key",
            "--key-id",
            &key_id,
            "--expiration",
            "0",
        ])
        .run();
    rerolled.ok();
    let new_key = rerolled.data()["key"].as_str().unwrap().to_owned();
    let new_id = rerolled.data()["keyId"].as_str().unwrap().to_owned();
    assert_eq!(t.verify(&new_key), "VALID");
    assert_ne!(t.verify(&key), "VALID");

    let deleted = t
        .keyward(&["api", "keys", "delete-key", "--key-id", &new_id])
        .run();
    deleted.ok();
    assert_eq!(deleted.data(), json!({}));
    assert_eq!(t.verify(&new_key), "NOT_FOUND");

    let again = t
        .keyward(&["api", "keys", "delete-key", "--key-id", &new_id])
        .run();
    again.exit(1);
    assert!(again.stderr.starts_with("Not found: "), "{}", again.stderr);

    let permanent = t
        .keyward(&[
            "api",
            "keys",
            "delete-key",
            "--key-id",
            &key_id,
            "--permanent",
            "--output=json",
        ])
        .run();
    permanent.ok();
    assert_eq!(permanent.json()["data"], json!({}));
}

#[test]
fn update_key_sets_and_clears_fields() {
    let t = TestServer::start();
    let api = t.create_api("updates");
    let created = t
        .keyward(&[
            "api",
            "keys",
            "create-key",
            "--api-id",
            &api,
            "--name",
            "old",
            "--external-id",
            "user_1",
            "--meta-json",
            r#"{"a":1}"#,
            "--expires",
            "4102444700000",
        ])
        .run();
    let key_id = created.data()["keyId"].as_str().unwrap().to_owned();

    t.keyward(&[
        "api",
        "keys",
        "update-key",
        "--key-id",
        &key_id,
        "--name",
        "new",
        "--credits-json",
        r#"{"remaining":7}"#,
    ])
    .run()
    .ok();
    let key = t.call("keys.getKey", json!({"keyId": key_id}));
    assert_eq!(
        (key["name"].clone(), key["credits"]["remaining"].clone()),
        (json!("new"), json!(7))
    );
    assert_eq!(
        key["meta"],
        json!({"a": 1}),
        "fields left out stay as they are"
    );

    t.keyward(&[
        "api",
        "keys",
        "update-key",
        "--key-id",
        &key_id,
        "--clear-name",
        "--clear-expires",
        "--clear-external-id",
        "--meta-json=null",
        "--credits-json=null",
    ])
    .run()
    .ok();
    let key = t.call("keys.getKey", json!({"keyId": key_id}));
    for field in ["name", "expires", "identity", "meta"] {
        assert!(key.get(field).is_none(), "{field} cleared: {key}");
    }
    assert!(
        key.get("credits").is_none_or(|c| c["remaining"].is_null()),
        "credits unlimited: {key}"
    );

    let conflict = t
        .keyward(&[
            "api",
            "keys",
            "update-key",
            "--key-id",
            &key_id,
            "--name",
            "x",
            "--clear-name",
        ])
        .run();
    conflict.exit(2);
}
