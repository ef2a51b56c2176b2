//! A database written by an earlier keyward keeps every key, balance and record after the
//! server applies the newer migrations at start.

use std::path::Path;

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::helpers::{ROOT_KEY, TestApp};

const MIGRATIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../keyward-store/migrations/sqlite"
);

fn hash(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

/// Keys as keyward stored them before credits became a balance of their own (migration 0004).
#[tokio::test]
async fn keys_and_their_credits_survive_the_move_to_shared_balances() {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.path().join("keyward.db"))
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    Migrator::new(Path::new(MIGRATIONS))
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

    let app = TestApp::start_in(dir).await;
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
