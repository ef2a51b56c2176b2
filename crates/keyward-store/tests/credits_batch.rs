//! `keys::spend_credits_batch` and `keys::spend_credits_committed`, the group commit of credit
//! spends: a batch decides each spend in order on the balance the earlier ones left, exactly as
//! the same spends one after another would, on the suite's backend (SQLite, or PostgreSQL with
//! `KEYWARD_TEST_DATABASE=postgres`, where the committed form is one statement of its own,
//! `keyward_spend_credits`, and must decide as the transaction's form does).

use keyward_store::apis::{self, ApiRecord};
use keyward_store::keys::{self, LockedSpend, NewCredits, NewKey};
use keyward_store::{Db, PoolOptions, workspaces};
use keyward_testing::TestStorage;

const WORKSPACE: &str = "ws_batch";

async fn open(storage: &TestStorage) -> Db {
    let url = storage.database_url();
    Db::open(url.as_deref(), storage.data_dir(), &PoolOptions::default())
        .await
        .unwrap()
}

/// Writes key `id` spending from the balance `credits_id` (created with `remaining` when new).
async fn key(db: &Db, id: &str, credits_id: &str, remaining: Option<Option<i64>>) {
    let mut tx = db.begin().await.unwrap();
    if let Some(remaining) = remaining {
        keys::insert_credits(
            &mut tx,
            &NewCredits {
                id: credits_id.into(),
                workspace_id: WORKSPACE.into(),
                remaining,
                refill_amount: None,
                refill_day: None,
            },
        )
        .await
        .unwrap();
    }
    keys::insert(
        &mut tx,
        &NewKey {
            id: id.into(),
            workspace_id: WORKSPACE.into(),
            api_id: "api_batch".into(),
            hash: id.as_bytes().to_vec(),
            start: "sk_x".into(),
            byte_length: 16,
            name: None,
            identity_id: None,
            meta: None,
            enabled: true,
            expires_at: None,
            credits_id: credits_id.into(),
            created_at: 1,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

async fn balance(db: &Db, key_id: &str) -> Option<Option<i64>> {
    let mut conn = db.reader().await.unwrap();
    keys::remaining(&mut conn, key_id).await.unwrap()
}

/// How a batch is spent: inside a transaction the caller commits, or committed by itself.
#[derive(Clone, Copy)]
enum Spender {
    InTransaction,
    Committed,
}

async fn spend(db: &Db, spender: Spender, spends: &[(&str, i64)]) -> Vec<LockedSpend> {
    match spender {
        Spender::InTransaction => {
            let mut tx = db.begin().await.unwrap();
            let outcomes = keys::spend_credits_batch(&mut tx, spends).await.unwrap();
            tx.commit().await.unwrap();
            outcomes
        }
        Spender::Committed => keys::spend_credits_committed(db, spends).await.unwrap(),
    }
}

#[tokio::test]
async fn a_batch_decides_each_spend_on_what_the_earlier_ones_left() {
    decides_in_order(Spender::InTransaction).await;
}

#[tokio::test]
async fn a_batch_committed_by_itself_decides_as_one_in_a_transaction() {
    decides_in_order(Spender::Committed).await;
}

async fn decides_in_order(spender: Spender) {
    let storage = TestStorage::new();
    let db = open(&storage).await;
    let mut tx = db.begin().await.unwrap();
    workspaces::insert(&mut tx, WORKSPACE, "batch", 0)
        .await
        .unwrap();
    apis::insert(
        &mut tx,
        &ApiRecord {
            id: "api_batch".into(),
            workspace_id: WORKSPACE.into(),
            name: "api".into(),
            delete_protection: false,
            created_at: 0,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    key(&db, "key_a", "cred_a", Some(Some(10))).await;
    // Two generations of one key (a reroll) share one balance.
    key(&db, "key_b1", "cred_b", Some(Some(5))).await;
    key(&db, "key_b2", "cred_b", None).await;
    key(&db, "key_unlimited", "cred_u", Some(None)).await;
    key(&db, "key_deleted", "cred_d", Some(Some(100))).await;
    let mut conn = db.writer().await.unwrap();
    keys::soft_delete(&mut conn, "key_deleted", 2)
        .await
        .unwrap();
    drop(conn);

    let spends = [
        ("key_a", 4),
        ("key_b1", 3),
        ("key_a", 7),  // 6 left: refused, spends nothing
        ("key_b2", 3), // 2 left of the shared balance: refused
        ("key_a", 6),  // exactly what is left
        ("key_unlimited", 1000),
        ("key_b2", 2),
        ("key_deleted", 1),
        ("key_missing", 1),
        ("key_a", 1), // nothing left
    ];
    let outcomes = spend(&db, spender, &spends).await;
    use LockedSpend::*;
    assert_eq!(
        outcomes,
        vec![
            Spent(6),
            Spent(2),
            Refused(6),
            Refused(2),
            Spent(0),
            Unlimited,
            Spent(0),
            Gone,
            Gone,
            Refused(0),
        ]
    );
    assert_eq!(balance(&db, "key_a").await, Some(Some(0)));
    assert_eq!(balance(&db, "key_b1").await, Some(Some(0)));
    assert_eq!(balance(&db, "key_unlimited").await, Some(None));

    // Balances that cover the batch's whole draw on them (on PostgreSQL, charged in one
    // update each) beside one it would overdraw (decided spend by spend): every spend is
    // answered with what its balance held right after it, in arrival order.
    key(&db, "key_e", "cred_e", Some(Some(10))).await;
    key(&db, "key_f1", "cred_f", Some(Some(i64::MAX))).await;
    key(&db, "key_f2", "cred_f", None).await;
    key(&db, "key_g", "cred_g", Some(Some(5))).await;
    let spends = [
        ("key_e", 3),
        ("key_g", 4),
        ("key_f1", 1),
        ("key_e", 7), // exactly what is left
        ("key_g", 2), // 1 left: refused, though a later, smaller spend fits
        ("key_f2", i64::MAX - 1),
        ("key_g", 1),
        ("key_missing", 1),
    ];
    let outcomes = spend(&db, spender, &spends).await;
    assert_eq!(
        outcomes,
        vec![
            Spent(7),
            Spent(1),
            Spent(i64::MAX - 1),
            Spent(0),
            Refused(1),
            Spent(0),
            Spent(0),
            Gone,
        ]
    );
    assert_eq!(balance(&db, "key_e").await, Some(Some(0)));
    assert_eq!(balance(&db, "key_f1").await, Some(Some(0)));
    assert_eq!(balance(&db, "key_g").await, Some(Some(0)));
    // A balance spent to zero by one batch refuses the next.
    assert_eq!(
        spend(&db, spender, &[("key_e", 1), ("key_f2", 0)]).await,
        vec![Refused(0), Spent(0)]
    );

    // Costs whose sum no 64-bit integer holds: the balance cannot cover them together, so
    // they are decided one by one.
    key(&db, "key_h", "cred_h", Some(Some(i64::MAX))).await;
    assert_eq!(
        spend(&db, spender, &[("key_h", i64::MAX), ("key_h", i64::MAX)]).await,
        vec![Spent(0), Refused(0)]
    );

    // An empty batch decides nothing.
    assert_eq!(spend(&db, spender, &[]).await, vec![]);

    // Dropped without a commit, a batch spends nothing.
    key(&db, "key_c", "cred_c", Some(Some(3))).await;
    let mut tx = db.begin().await.unwrap();
    let outcomes = keys::spend_credits_batch(&mut tx, &[("key_c", 2)])
        .await
        .unwrap();
    assert_eq!(outcomes, vec![Spent(1)]);
    drop(tx);
    assert_eq!(balance(&db, "key_c").await, Some(Some(3)));
}
