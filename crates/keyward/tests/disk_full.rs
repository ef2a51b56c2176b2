//! A full disk under the SQLite backend: the data directory is a small tmpfs, filled up while
//! the real binary serves. Writes that do not fit must fail with a clear 503 (never a 500, never
//! half-applied; those that still fit are applied whole),
//! reads and verifications of cached keys must keep working, the database must stay intact
//! (`PRAGMA integrity_check`), and writes must resume by themselves once space returns
//! (docs/RELIABILITY.md, "Disk full").
//!
//! Mounting a tmpfs needs root (CI runs as root); elsewhere the test fails saying so.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use keyward_testing::TestStorage;
use serde_json::{Value, json};
use support::{Process, post, try_post};

/// A tmpfs mounted over a directory for the life of the value.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let uid = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout).unwrap();
        assert_eq!(
            uid.trim(),
            "0",
            "the disk-full test mounts a tmpfs as the data directory, which needs root (CI runs as root); run the suite as root"
        );
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes a file of zeros into `dir` until the file system refuses a single byte more: the
/// disk is full to its last block. (Left with a few blocks free, the database file could still
/// grow by them, and the background WAL checkpoint would then free room in the WAL for a write
/// or two: no longer a full disk.)
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    for size in [64 * 1024, 4096, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
    let _ = file.sync_all();
    path
}

fn is_unavailable(status: u16, body: &Value) -> bool {
    status == 503
        && body["error"]["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/service_unavailable"))
        && body["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("retry"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_503_keeps_reads_and_recovers_by_itself() {
    let storage = TestStorage::sqlite();
    let _tmpfs = Tmpfs::mount(storage.data_dir(), "24m");
    let client = reqwest::Client::new();
    let process = Process::start(&storage, "warn");
    let url = process.url.clone();

    let api_id = post(&client, &url, "apis.createApi", json!({"name": "full"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut keys = Vec::new();
    for _ in 0..20 {
        let data = post(&client, &url, "keys.createKey", json!({"apiId": api_id})).await;
        keys.push((
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        ));
    }
    for (_, key) in &keys {
        let verdict = post(&client, &url, "keys.verifyKey", json!({"key": key})).await;
        assert_eq!(verdict["code"], "VALID");
    }

    let filler = fill(storage.data_dir());

    // Writes: those that still fit into space SQLite holds succeed (its write-ahead log, whose
    // space is reused once the background checkpoint has copied it into the database file, and
    // pages the database file has free); the others are refused with a 503, never a 500.
    let mut created = Vec::new();
    let mut refused = 0;
    for i in 0..5_000 {
        let body = json!({"apiId": api_id, "name": format!("while-full-{i}"), "meta": {"pad": "x".repeat(2000)}});
        let (status, body) = try_post(&client, &url, "keys.createKey", &body)
            .await
            .expect("an answer");
        match status {
            200 => created.push(body["data"]["keyId"].as_str().unwrap().to_owned()),
            _ => {
                assert!(
                    is_unavailable(status, &body),
                    "{status} {body}\n{}",
                    process.log()
                );
                refused += 1;
                if refused == 20 {
                    break;
                }
            }
        }
    }
    assert_eq!(
        refused,
        20,
        "the disk never filled up: {} writes fitted",
        created.len()
    );
    // Every other kind of write, while full: applied whole (it fitted), or refused with a 503
    // and absent (checked below).
    let mut applied = Vec::new();
    for (op, body) in [
        (
            "keys.updateKey",
            json!({"keyId": keys[0].0, "name": "renamed"}),
        ),
        ("keys.deleteKey", json!({"keyId": keys[1].0})),
        ("apis.createApi", json!({"name": "another"})),
        (
            "rootKeys.createRootKey",
            json!({"permissions": ["api.*.verify_key"]}),
        ),
    ] {
        let (status, body) = try_post(&client, &url, op, &body).await.unwrap();
        assert!(
            status == 200 || is_unavailable(status, &body),
            "{op}: {status} {body}"
        );
        if status == 200 {
            applied.push(op);
        }
    }
    let renamed = applied.contains(&"keys.updateKey");
    let deleted = applied.contains(&"keys.deleteKey");

    // Reads and cached verifications keep working, and the refused writes changed nothing.
    for (i, (_, key)) in keys.iter().enumerate() {
        let verdict = post(&client, &url, "keys.verifyKey", json!({"key": key})).await;
        let expected = if i == 1 && deleted {
            "NOT_FOUND"
        } else {
            "VALID"
        };
        assert_eq!(
            verdict["code"], expected,
            "key {i} while the disk is full (deleteKey applied: {deleted})"
        );
    }
    let data = post(&client, &url, "keys.getKey", json!({"keyId": keys[0].0})).await;
    if renamed {
        assert_eq!(data["name"], "renamed", "the acknowledged rename is there");
    } else {
        assert_eq!(
            data["name"],
            Value::Null,
            "the refused rename left nothing behind"
        );
    }
    let listed = post(
        &client,
        &url,
        "apis.listKeys",
        json!({"apiId": api_id, "limit": 100}),
    )
    .await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        keys.len() - usize::from(deleted) + created.len()
    );

    // Space returns: writes resume without a restart.
    std::fs::remove_file(&filler).unwrap();
    let started = Instant::now();
    let resumed = loop {
        let body = json!({"apiId": api_id, "name": "after"});
        let (status, body) = try_post(&client, &url, "keys.createKey", &body)
            .await
            .unwrap();
        if status == 200 {
            break body["data"]["keyId"].as_str().unwrap().to_owned();
        }
        assert!(is_unavailable(status, &body), "{status} {body}");
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "writes did not resume within 15 s of space returning"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    post(
        &client,
        &url,
        "keys.updateKey",
        json!({"keyId": keys[0].0, "name": "renamed"}),
    )
    .await;
    let log = process.kill_9();
    assert!(!log.contains("panicked"), "{log}");

    // Nothing corrupt, and everything acknowledged is there after a restart.
    let mut conn = storage.inspect().await;
    let (check,): (String,) = sqlx::query_as("pragma integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    drop(conn);
    let process = Process::start(&storage, "warn");
    for key_id in created.iter().chain([&resumed]) {
        post(
            &client,
            &process.url,
            "keys.getKey",
            json!({"keyId": key_id}),
        )
        .await;
    }
    let data = post(
        &client,
        &process.url,
        "keys.getKey",
        json!({"keyId": keys[0].0}),
    )
    .await;
    assert_eq!(data["name"], "renamed");
    process.kill_9();
}
