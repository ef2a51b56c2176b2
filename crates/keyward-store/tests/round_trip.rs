//! Every column type keyward stores — integers, text, bytes, booleans, timestamps, JSON text —
//! round-trips identically on SQLite and PostgreSQL, at its edges, and through `db copy` in both
//! directions. Each test writes through the storage functions keyward uses, reads back through
//! them, and compares. These tests need both backends whatever `KEYWARD_TEST_DATABASE` says.

use keyward_store::apis::{self, ApiRecord};
use keyward_store::audit::{self, AuditFilter, AuditRecord, NewAuditEvent};
use keyward_store::keys::{self, KeyRecord, NewCredits, NewKey};
use keyward_store::{Db, PoolOptions, copy, identities, workspaces};
use keyward_testing::TestDatabase;
use tempfile::TempDir;

const WORKSPACE: &str = "ws_round_trip";
const API: &str = "api_round_trip";

/// A database on one backend, and what keeps it alive.
struct Store {
    db: Db,
    _dir: TempDir,
    _database: TestDatabase,
}

async fn sqlite() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("k.db").display());
    Store {
        db: Db::open(Some(&url), dir.path(), &PoolOptions::default())
            .await
            .unwrap(),
        _dir: dir,
        _database: TestDatabase::sqlite(),
    }
}

async fn postgres() -> Store {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::postgres_on(&keyward_testing::postgres_admin_url());
    Store {
        db: Db::open(database.url(), dir.path(), &PoolOptions::default())
            .await
            .unwrap(),
        _dir: dir,
        _database: database,
    }
}

/// The workspace, the API, and an identity with a unicode external id, meta and id.
async fn seed(db: &Db) -> String {
    let mut tx = db.begin().await.unwrap();
    workspaces::insert(&mut tx, WORKSPACE, "wörkspace ☃", 0)
        .await
        .unwrap();
    apis::insert(
        &mut tx,
        &ApiRecord {
            id: API.into(),
            workspace_id: WORKSPACE.into(),
            name: "api".into(),
            delete_protection: true,
            created_at: i64::MAX,
        },
    )
    .await
    .unwrap();
    let identity = identities::upsert(&mut tx, "id_round_trip", WORKSPACE, "user.1", -1)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    identity
}

/// A key and its balance, as written.
#[derive(Debug, Clone)]
struct Written {
    key: NewKey,
    credits: NewCredits,
}

/// A key with every optional field empty; tests set the fields they are about.
fn key(n: usize) -> Written {
    Written {
        key: NewKey {
            id: format!("key_{n:04}"),
            workspace_id: WORKSPACE.into(),
            api_id: API.into(),
            hash: format!("hash-{n}").into_bytes(),
            start: "sk_".into(),
            byte_length: 16,
            name: None,
            identity_id: None,
            meta: None,
            enabled: true,
            expires_at: None,
            credits_id: format!("cred_{n:04}"),
            created_at: 1,
        },
        credits: NewCredits {
            id: format!("cred_{n:04}"),
            workspace_id: WORKSPACE.into(),
            remaining: None,
            refill_amount: None,
            refill_day: None,
        },
    }
}

async fn write(db: &Db, keys: &[Written]) {
    let mut tx = db.begin().await.unwrap();
    for w in keys {
        keys::insert_credits(&mut tx, &w.credits).await.unwrap();
        keys::insert(&mut tx, &w.key).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn read(db: &Db, keys: &[Written]) -> Vec<KeyRecord> {
    let mut conn = db.reader().await.unwrap();
    let mut records = Vec::new();
    for Written { key: k, .. } in keys {
        let record = keys::find_live_by_id(&mut conn, WORKSPACE, &k.id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} was stored", k.id));
        records.push(record);
    }
    records
}

/// Asserts that `record` holds exactly what `written` wrote.
fn assert_holds(record: &KeyRecord, written: &Written) {
    let Written { key: k, credits } = written;
    assert_eq!(
        (
            &record.id,
            &record.hash,
            &record.start,
            record.byte_length,
            &record.name
        ),
        (&k.id, &k.hash, &k.start, k.byte_length, &k.name),
    );
    assert_eq!(
        (
            &record.identity_id,
            &record.meta,
            record.enabled,
            record.expires_at
        ),
        (&k.identity_id, &k.meta, k.enabled, k.expires_at),
    );
    assert_eq!(
        (
            &record.credits_id,
            record.remaining,
            record.refill_amount,
            record.refill_day
        ),
        (
            &k.credits_id,
            credits.remaining,
            credits.refill_amount,
            credits.refill_day
        ),
    );
    assert_eq!(record.created_at, k.created_at);
    let external_id = k.identity_id.as_ref().map(|_| "user.1");
    assert_eq!(record.identity_external_id.as_deref(), external_id);
}

fn same(a: &[KeyRecord], b: &[KeyRecord]) {
    assert_eq!(format!("{a:#?}"), format!("{b:#?}"));
}

/// Writes `keys` on each backend, reads them back, copies them to the other backend and back
/// again, and checks every read against what was written.
async fn round_trip(mut keys: Vec<Written>) {
    for (first, second) in [
        (sqlite().await, postgres().await),
        (postgres().await, sqlite().await),
    ] {
        let identity = seed(&first.db).await;
        for w in &mut keys {
            if w.key.identity_id.as_deref() == Some("identity") {
                w.key.identity_id = Some(identity.clone());
            }
        }
        write(&first.db, &keys).await;
        let stored = read(&first.db, &keys).await;
        for (record, written) in stored.iter().zip(&keys) {
            assert_holds(record, written);
        }

        copy::copy(&first.db, &second.db, false, |_| {})
            .await
            .unwrap();
        same(&read(&second.db, &keys).await, &stored);
        let third = match first.db.kind() {
            keyward_store::BackendKind::Sqlite => sqlite().await,
            keyward_store::BackendKind::Postgres => postgres().await,
        };
        copy::copy(&second.db, &third.db, false, |_| {})
            .await
            .unwrap();
        same(&read(&third.db, &keys).await, &stored);
    }
}

#[tokio::test]
async fn integers_round_trip_at_their_edges() {
    let values = [
        0,
        1,
        -1,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        i32::MAX as i64 + 1,
    ];
    let keys = values
        .into_iter()
        .enumerate()
        .map(|(n, value)| {
            let mut w = key(n);
            w.key.byte_length = value;
            w.credits.remaining = Some(value);
            w.credits.refill_amount = Some(value);
            w.credits.refill_day = Some(value);
            w
        })
        .collect();
    round_trip(keys).await;
}

#[tokio::test]
async fn timestamps_round_trip_at_their_edges() {
    let times = [0, -86_400_000, 4_102_444_800_000, i64::MAX, i64::MIN];
    let keys = times
        .into_iter()
        .enumerate()
        .map(|(n, at)| {
            let mut w = key(n);
            w.key.created_at = at;
            w.key.expires_at = Some(at);
            w
        })
        .collect();
    round_trip(keys).await;
}

#[tokio::test]
async fn text_round_trips_unicode_and_edges() {
    let texts = [
        String::new(),
        "ü ☃ 😀 日本語 שלום e\u{301}".to_owned(),
        "quotes ' \" backslash \\ percent % underscore _ newline \n tab \t".to_owned(),
        "\u{10FFFF}\u{FEFF}\u{200D}".to_owned(),
        "x".repeat(100_000),
    ];
    let keys = texts
        .iter()
        .enumerate()
        .map(|(n, text)| {
            let mut w = key(n);
            w.key.name = Some(text.clone());
            w.key.start = text.chars().take(8).collect();
            w.key.identity_id = Some("identity".into());
            w
        })
        .collect();
    round_trip(keys).await;
}

#[tokio::test]
async fn bytes_round_trip_every_value() {
    let hashes: Vec<Vec<u8>> = vec![
        (0..=255).collect(),
        vec![0],
        Vec::new(),
        vec![0xff; 64],
        "not utf-8: \u{0}".bytes().chain([0xc3, 0x28]).collect(),
    ];
    let keys = hashes
        .into_iter()
        .enumerate()
        .map(|(n, hash)| {
            let mut w = key(n);
            w.key.hash = hash;
            w
        })
        .collect();
    round_trip(keys).await;
}

#[tokio::test]
async fn booleans_and_nulls_round_trip() {
    let mut disabled = key(1);
    disabled.key.enabled = false;
    let mut every_field = key(2);
    every_field.key.enabled = false;
    every_field.key.name = Some("set".into());
    every_field.key.meta = Some("{}".into());
    every_field.key.expires_at = Some(5);
    every_field.key.identity_id = Some("identity".into());
    every_field.credits.remaining = Some(5);
    every_field.credits.refill_amount = Some(5);
    every_field.credits.refill_day = Some(5);
    round_trip(vec![key(0), disabled, every_field]).await;
}

#[tokio::test]
async fn json_text_round_trips_as_written() {
    let metas = [
        r#"{}"#,
        r#"{"plan":"pro","n":9007199254740993,"f":1e308,"neg":-0.0}"#,
        r#"{"nested":{"a":[1,{"b":null}],"ü":"☃"},"escaped":"\u0000\n\"\\"}"#,
        r#"{ "spaced" : true }"#,
    ];
    let keys = metas
        .iter()
        .enumerate()
        .map(|(n, meta)| {
            let mut w = key(n);
            w.key.meta = Some((*meta).to_owned());
            w
        })
        .collect();
    round_trip(keys).await;
}

/// `lastUsedAt` (written by its own statement) and audit events (text, JSON and times) survive
/// the copy too.
#[tokio::test]
async fn last_used_and_audit_events_round_trip() {
    for (first, second) in [
        (sqlite().await, postgres().await),
        (postgres().await, sqlite().await),
    ] {
        seed(&first.db).await;
        let keys = vec![key(0), key(1)];
        write(&first.db, &keys).await;
        let mut conn = first.db.writer().await.unwrap();
        keys::record_last_used(
            &mut conn,
            &[("key_0000".into(), i64::MAX), ("key_0001".into(), 0)],
        )
        .await
        .unwrap();
        drop(conn);
        let event = |id: &str, time: i64| NewAuditEvent {
            record: AuditRecord {
                id: id.into(),
                workspace_id: WORKSPACE.into(),
                time,
                event: "key.create".into(),
                description: "créé ☃".into(),
                actor_type: "key".into(),
                actor_id: "key_root".into(),
                actor_name: None,
                remote_ip: Some("::1".into()),
                user_agent: Some("agent/1.0 (ü)".into()),
                request_id: Some("req_1".into()),
                targets: r#"[{"type":"key","id":"key_0000","meta":{"ü":1}}]"#.into(),
            },
            target_ids: vec!["key_0000".into(), "api_round_trip".into()],
        };
        let mut tx = first.db.begin().await.unwrap();
        audit::insert(
            &mut tx,
            &[event("evt_1", i64::MAX), event("evt_2", i64::MIN)],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        copy::copy(&first.db, &second.db, false, |_| {})
            .await
            .unwrap();
        for db in [&first.db, &second.db] {
            let records = read(db, &keys).await;
            assert_eq!(records[0].last_used_at, Some(i64::MAX));
            assert_eq!(records[1].last_used_at, Some(0));
            let mut conn = db.reader().await.unwrap();
            let filter = AuditFilter {
                target_id: Some("api_round_trip"),
                ..AuditFilter::default()
            };
            let events = audit::list(&mut conn, WORKSPACE, &filter, 10)
                .await
                .unwrap();
            let shown: Vec<(String, i64, String, String)> = events
                .into_iter()
                .map(|e| (e.id, e.time, e.description, e.targets))
                .collect();
            let targets = r#"[{"type":"key","id":"key_0000","meta":{"ü":1}}]"#.to_owned();
            assert_eq!(
                shown,
                [
                    ("evt_2".into(), i64::MIN, "créé ☃".into(), targets.clone()),
                    ("evt_1".into(), i64::MAX, "créé ☃".into(), targets),
                ]
            );
        }
    }
}

/// Every table the migrations create is in `copy::TABLES` (so `db copy` carries it), after the
/// tables it references (so its rows can be inserted with foreign keys checked), on both
/// backends.
#[tokio::test]
async fn every_table_is_copied_after_the_tables_it_references() {
    let listed: Vec<&str> = copy::TABLES.iter().map(|t| t.name).collect();
    for store in [sqlite().await, postgres().await] {
        let mut conn = store.db.reader().await.unwrap();
        let mut tables = copy::table_names(&mut conn).await.unwrap();
        tables.retain(|t| t != "_sqlx_migrations");
        tables.sort();
        let mut sorted = listed.clone();
        sorted.sort();
        assert_eq!(
            tables,
            sorted,
            "copy::TABLES in keyward-store/src/copy.rs must list every table ({:?})",
            store.db.kind()
        );
        for (position, table) in listed.iter().enumerate() {
            for parent in copy::referenced_tables(&mut conn, table).await.unwrap() {
                let parent_position = listed.iter().position(|t| *t == parent);
                assert!(
                    parent_position.is_some_and(|p| p < position) || parent == *table,
                    "{table} references {parent}, which copy::TABLES must list before it"
                );
            }
        }
    }
}
