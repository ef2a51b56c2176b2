//! SQLite's WAL is checkpointed beside the writer (`checkpoint.rs`): commits leave their pages
//! in the `-wal` file, and the background checkpointer copies them into the database file while
//! the `Db` is open, without any commit doing it (the writer's own automatic checkpoint is set
//! far beyond what this test writes). SQLite only: PostgreSQL checkpoints by itself.

use std::time::{Duration, Instant};

use keyward_store::keys::{self, NewCredits};
use keyward_store::{Db, PoolOptions, workspaces};
use keyward_testing::TestStorage;

#[tokio::test]
async fn commits_reach_the_database_file_while_it_is_open() {
    let storage = TestStorage::sqlite();
    let db = Db::open(None, storage.data_dir(), &PoolOptions::default())
        .await
        .unwrap();
    let file = storage.data_dir().join("keyward.db");
    let size = || std::fs::metadata(&file).unwrap().len();
    // Let the migrations' pages settle into the file first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = size();

    let mut tx = db.begin().await.unwrap();
    workspaces::insert(&mut tx, "ws_checkpoint", "checkpoint", 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // About 2 MiB of balances, in 40 commits: some 500 pages, far below the writer's own
    // automatic checkpoint (32,768 pages), so only the checkpointer can copy them.
    for commit in 0..40 {
        let balances: Vec<NewCredits> = (0..250)
            .map(|i| NewCredits {
                id: format!("cred_{commit:03}_{i:04}_{}", "x".repeat(160)),
                workspace_id: "ws_checkpoint".into(),
                remaining: Some(i),
                refill_amount: None,
                refill_day: None,
            })
            .collect();
        let mut tx = db.begin().await.unwrap();
        keys::insert_credits_many(&mut tx, &balances).await.unwrap();
        tx.commit().await.unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    while size() < before + 1024 * 1024 {
        assert!(
            Instant::now() < deadline,
            "the database file is still {} bytes (was {before}) 10 s after 2 MiB of commits: \
             nothing checkpointed the WAL",
            size()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    db.close().await;
}
