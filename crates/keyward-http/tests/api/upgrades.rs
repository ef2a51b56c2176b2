//! A database written by an earlier keyward keeps every key, balance and record after the
//! server applies the newer migrations at start.

use std::path::PathBuf;

use keyward_testing::Backend;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::migrate::Migrator;

use crate::helpers::{ROOT_KEY, TestApp, TestStorage};

/// The migrations of the backend the test runs on: each has its own 0004.
fn migrations(storage: &TestStorage) -> PathBuf {
    let backend = match storage.database.backend() {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../keyward-store/migrations")
        .join(backend)
}

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Keys as keyward stored them before credits became a balance of their own (migration 0004).
#[tokio::test]
async fn keys_and_their_credits_survive_the_move_to_shared_balances() {
    let storage = TestStorage::new();
    let mut conn = storage.inspect().await;
    Migrator::new(migrations(&storage))
        .await
        .unwrap()
        .run_to(3, &mut conn)
        .await
        .unwrap();
    let statements: [(&str, &[&str]); 4] = [
        (
            "insert into workspaces (id, name, created_at) values ('ws_1', 'old', 1)",
            &[],
        ),
        (
            "insert into apis (id, workspace_id, name, created_at) \
             values ('api_1', 'ws_1', 'old-api', 1)",
            &[],
        ),
        (
            "insert into root_keys (id, workspace_id, hash, start, permissions, created_at) \
             values ('key_root', 'ws_1', $1, 'test', \
             '[\"api.*.read_key\",\"api.*.verify_key\"]', 1)",
            &[ROOT_KEY],
        ),
        (
            "insert into keys (id, workspace_id, api_id, hash, start, byte_length, name, enabled, \
             expires_at, remaining, refill_amount, refill_day, created_at, last_used_at, \
             deleted_at) values \
             ('key_metered', 'ws_1', 'api_1', $1, 'sk_a', 16, 'metered', true, 4102444800000, \
              5, 7, 3, 1, 1000, null), \
             ('key_unlimited', 'ws_1', 'api_1', $2, 'sk_b', 16, null, false, null, \
              null, null, null, 1, null, null), \
             ('key_deleted', 'ws_1', 'api_1', $3, 'sk_c', 16, null, true, null, \
              2, null, null, 1, null, 2)",
            &["sk_metered", "sk_unlimited", "sk_deleted"],
        ),
    ];
    for (sql, keys) in statements {
        let mut query = sqlx::query(sql);
        for key in keys {
            query = query.bind(hash(key));
        }
        query.execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let app = TestApp::start_in(storage).await;
    let metered = app
        .call("keys.getKey", json!({"keyId": "key_metered"}))
        .await;
    assert_eq!(metered["name"], "metered");
    assert_eq!(metered["expires"], json!(4_102_444_800_000_i64));
    assert_eq!(metered["lastUsedAt"], 1000);
    assert_eq!(
        metered["credits"],
        json!({"remaining": 5, "refill": {"interval": "monthly", "amount": 7, "refillDay": 3}})
    );
    let answer = app.verify("sk_metered").await;
    assert_eq!(
        (answer["code"].as_str(), answer["credits"].as_i64()),
        (Some("VALID"), Some(4))
    );

    let unlimited = app
        .call("keys.getKey", json!({"keyId": "key_unlimited"}))
        .await;
    assert!(unlimited.get("credits").is_none(), "{unlimited}");
    assert_eq!(app.verify_code("sk_unlimited").await, "DISABLED");

    app.post("keys.getKey", json!({"keyId": "key_deleted"}))
        .await
        .error(404, "/key_not_found");
    assert_eq!(app.verify_code("sk_deleted").await, "NOT_FOUND");
}

/// Identities and keys as keyward stored them before identities could be deleted (migration
/// 0005 rebuilds the SQLite table), and a first release's all-powerful root key.
#[tokio::test]
async fn identities_survive_their_rebuild_and_old_root_keys_are_upgraded() {
    let storage = TestStorage::new();
    let mut conn = storage.inspect().await;
    Migrator::new(migrations(&storage))
        .await
        .unwrap()
        .run_to(4, &mut conn)
        .await
        .unwrap();
    // Every wildcard tuple of the first release's catalog: what its bootstrap key held.
    let first_release: Vec<String> = keyward_types::permissions::Action::ALL
        .iter()
        .filter(|a| !keyward_types::permissions::ADDED_SINCE_FIRST_RELEASE.contains(a))
        .map(|a| a.wildcard())
        .collect();
    let statements: [(&str, &[&str]); 6] = [
        (
            "insert into workspaces (id, name, created_at) values ('ws_1', 'old', 1)",
            &[],
        ),
        (
            "insert into apis (id, workspace_id, name, created_at) \
             values ('api_1', 'ws_1', 'old-api', 1)",
            &[],
        ),
        (
            "insert into identities (id, workspace_id, external_id, meta, created_at) values \
             ('id_1', 'ws_1', 'customer_1', '{\"plan\":\"pro\"}', 1), \
             ('id_2', 'ws_1', 'customer_2', null, 1)",
            &[],
        ),
        (
            "insert into credits (id, workspace_id) values ('cred_1', 'ws_1')",
            &[],
        ),
        (
            "insert into keys (id, workspace_id, api_id, hash, start, byte_length, identity_id, \
             enabled, credits_id, created_at) \
             values ('key_1', 'ws_1', 'api_1', $1, 'sk_a', 16, 'id_1', true, 'cred_1', 1)",
            &["sk_of_customer_1"],
        ),
        (
            "insert into root_keys (id, workspace_id, hash, start, name, permissions, created_at) \
             values ('key_root', 'ws_1', $1, 'test', 'default root key', $2, 1)",
            &[ROOT_KEY],
        ),
    ];
    let permissions = serde_json::to_string(&first_release).unwrap();
    for (sql, keys) in statements {
        let mut query = sqlx::query(sql);
        for key in keys {
            query = query.bind(hash(key));
        }
        if sql.contains("root_keys") {
            query = query.bind(&permissions);
        }
        query.execute(&mut conn).await.unwrap();
    }
    conn.close().await.unwrap();

    let app = TestApp::start_in(storage).await;
    let answer = app.verify("sk_of_customer_1").await;
    assert_eq!(
        answer["identity"],
        json!({"id": "id_1", "externalId": "customer_1", "meta": {"plan": "pro"}})
    );
    let key = app.call("keys.getKey", json!({"keyId": "key_1"})).await;
    assert_eq!(key["identity"]["id"], "id_1");
    assert_eq!(
        app.call("identities.getIdentity", json!({"identity": "customer_2"}))
            .await["id"],
        "id_2"
    );
    // The rebuilt table keeps its rules: an externalId is unique among live identities, free
    // again once deleted, and keys still reference identities that exist.
    app.post(
        "identities.createIdentity",
        json!({"externalId": "customer_2"}),
    )
    .await
    .error(409, "/identity_already_exists");
    app.call(
        "identities.deleteIdentity",
        json!({"identity": "customer_1"}),
    )
    .await;
    assert!(
        app.verify("sk_of_customer_1")
            .await
            .get("identity")
            .is_none()
    );
    app.call(
        "identities.createIdentity",
        json!({"externalId": "customer_1"}),
    )
    .await;
    // The first release's all-powerful key can use and grant the newest operations.
    let listed = app.call("rootKeys.listKeys", json!({})).await;
    let held = listed[0]["permissions"].as_array().unwrap();
    assert!(held.contains(&json!("unkey:v1:ws_1:**#*")), "{held:?}");
    assert!(held.contains(&json!("rootkey.*.update_root_key")));
    app.call(
        "rootKeys.createKey",
        json!({"permissions": ["unkey:v1:ws_1:rootKeys/*#write"]}),
    )
    .await;
    app.call(
        "rootKeys.updateKey",
        json!({"keyId": "key_root", "name": "renamed"}),
    )
    .await;
}
