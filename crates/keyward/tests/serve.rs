//! `keyward serve` as a process: crash durability (kill -9), graceful shutdown, and the promise
//! that plaintext keys never reach the database files or the logs.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keyward_testing::TestStorage;
use serde_json::{Value, json};
use support::{Process, ROOT_KEY, post};

/// `keyward serve` on `storage`, listening on a free port, with nothing else in its environment.
fn serve(storage: &TestStorage) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(storage.data_dir())
        .env_clear();
    if let Some(url) = storage.database_url() {
        command.arg("--database-url").arg(url);
    }
    command
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// `bytes` in lowercase hex, as PostgreSQL shows `bytea`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9_and_plaintext_is_never_stored_or_logged() {
    let storage = TestStorage::new();
    let client = reqwest::Client::new();
    let first = Process::start(&storage, "trace");
    let url = first.url.clone();

    let api_id = post(&client, &url, "apis.createApi", json!({"name": "durable"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut keys = Vec::new();
    for i in 0..30 {
        let data = post(&client, &url, "keys.createKey", json!({"apiId": api_id, "prefix": "sk", "name": format!("k{i}"), "credits": {"remaining": 10}})).await;
        keys.push((
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        ));
    }
    // Spend credits, disable one key, delete another, reroll a third: all acknowledged.
    for (_, key) in &keys {
        let verdict = post(
            &client,
            &url,
            "keys.verifyKey",
            json!({"key": key, "credits": {"cost": 3}}),
        )
        .await;
        assert_eq!(verdict["credits"], json!(7));
    }
    post(
        &client,
        &url,
        "keys.updateKey",
        json!({"keyId": keys[0].0, "enabled": false}),
    )
    .await;
    post(&client, &url, "keys.deleteKey", json!({"keyId": keys[1].0})).await;
    let rerolled = post(
        &client,
        &url,
        "keys.rerollKey",
        json!({"keyId": keys[2].0, "expiration": 3_600_000}),
    )
    .await;
    let rerolled_key = rerolled["key"].as_str().unwrap().to_owned();
    let root = post(
        &client,
        &url,
        "rootKeys.createRootKey",
        json!({"permissions": ["api.*.verify_key"]}),
    )
    .await;
    let new_root_key = root["key"].as_str().unwrap().to_owned();

    let first_log = first.kill_9();

    let second = Process::start(&storage, "trace");
    let url = second.url.clone();
    let verdict = |key: String| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            post(
                &client,
                &url,
                "keys.verifyKey",
                json!({"key": key, "credits": {"cost": 0}}),
            )
            .await
        }
    };
    assert_eq!(verdict(keys[0].1.clone()).await["code"], "DISABLED");
    assert_eq!(verdict(keys[1].1.clone()).await["code"], "NOT_FOUND");
    assert_eq!(verdict(rerolled_key.clone()).await["code"], "VALID");
    for (_, key) in &keys[2..] {
        let data = verdict(key.clone()).await;
        assert_eq!(
            (data["code"].as_str(), data["credits"].as_i64()),
            (Some("VALID"), Some(7)),
            "{key}"
        );
    }
    let listed = post(&client, &url, "apis.listKeys", json!({"apiId": api_id})).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        30,
        "30 created - 1 deleted + 1 rerolled"
    );
    let audit = post(&client, &url, "auditLogs.listLogs", json!({"limit": 100})).await;
    assert_eq!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "key.create")
            .count(),
        30
    );
    let audit_text = audit.to_string();

    // Graceful shutdown: SIGTERM ends the process cleanly.
    let status = Command::new("kill")
        .args(["-TERM", &second.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut second = second;
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = second.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "keyward did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    std::thread::sleep(Duration::from_millis(100));
    let second_log = second.log();
    assert!(second_log.contains("keyward stopped"), "{second_log}");

    // Plaintext appears nowhere: not in the database (every SQLite file, or every row of every
    // PostgreSQL table, as text or as the hex of bytes), not in the logs, not in the audit log.
    let files = storage.contents().await;
    assert!(
        contains(&files, &keys[5].0),
        "sanity: the files do hold key ids"
    );
    let logs = format!("{first_log}{second_log}");
    assert!(logs.contains("request"), "sanity: requests were logged");
    let secrets = keys.iter().map(|(_, k)| k.clone()).chain([
        rerolled_key,
        new_root_key,
        ROOT_KEY.to_owned(),
    ]);
    for secret in secrets {
        assert!(
            !contains(&files, &secret) && !contains(&files, &hex(secret.as_bytes())),
            "plaintext {secret} found in the database"
        );
        assert!(
            !logs.contains(&secret),
            "plaintext {secret} found in the logs"
        );
        assert!(
            !audit_text.contains(&secret),
            "plaintext {secret} found in the audit log"
        );
    }
}

/// `post`, returning `None` where no answer came (the server died mid-request).
async fn try_post(client: &reqwest::Client, url: &str, op: &str, body: Value) -> Option<Value> {
    let response = client
        .post(format!("{url}/v2/{op}"))
        .bearer_auth(ROOT_KEY)
        .json(&body)
        .send()
        .await
        .ok()?;
    assert_eq!(response.status(), 200, "{op}");
    let body: Value = response.json().await.ok()?;
    Some(body["data"].clone())
}

/// kill -9 while many writes are in flight: every write that was answered is there after the
/// restart (keys created, credits spent), and nothing unanswered is half-done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_a_write_load_loses_no_acknowledged_write() {
    const CREDITS: i64 = 1_000_000;
    let storage = TestStorage::new();
    let client = reqwest::Client::new();
    let first = Process::start(&storage, "trace");
    let url = first.url.clone();
    let api_id = post(&client, &url, "apis.createApi", json!({"name": "load"})).await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let metered = post(
        &client,
        &url,
        "keys.createKey",
        json!({"apiId": api_id, "credits": {"remaining": CREDITS}}),
    )
    .await;
    let (metered_id, metered_key) = (
        metered["keyId"].as_str().unwrap().to_owned(),
        metered["key"].as_str().unwrap().to_owned(),
    );

    // Writers until the server dies: half create keys, half spend credits.
    let mut writers = tokio::task::JoinSet::new();
    for worker in 0..8 {
        let (client, url, api_id, metered_key) = (
            client.clone(),
            url.clone(),
            api_id.clone(),
            metered_key.clone(),
        );
        writers.spawn(async move {
            let (mut created, mut spent, mut unanswered) = (Vec::new(), 0i64, 0i64);
            loop {
                let answer = if worker % 2 == 0 {
                    let body = json!({"apiId": api_id, "externalId": format!("w{worker}")});
                    try_post(&client, &url, "keys.createKey", body)
                        .await
                        .map(|data| {
                            created.push((
                                data["keyId"].as_str().unwrap().to_owned(),
                                data["key"].as_str().unwrap().to_owned(),
                            ));
                        })
                } else {
                    let body = json!({"key": metered_key});
                    try_post(&client, &url, "keys.verifyKey", body)
                        .await
                        .map(|data| {
                            assert_eq!(data["code"], "VALID");
                            spent += 1;
                        })
                };
                if answer.is_none() {
                    unanswered += 1;
                    return (created, spent, unanswered);
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    first.kill_9();
    let (mut created, mut spent, mut unanswered) = (Vec::new(), 0, 0);
    while let Some(done) = writers.join_next().await {
        let (c, s, u) = done.unwrap();
        created.extend(c);
        spent += s;
        unanswered += u;
    }
    assert!(
        created.len() > 20 && spent > 20,
        "a load ran: {} keys, {spent} spends",
        created.len()
    );

    let second = Process::start(&storage, "trace");
    let url = second.url.clone();
    for (key_id, key) in &created {
        let data = post(&client, &url, "keys.verifyKey", json!({"key": key})).await;
        assert_eq!(data["code"], "VALID", "acknowledged key {key_id} is there");
    }
    let data = post(&client, &url, "keys.getKey", json!({"keyId": metered_id})).await;
    let left = data["credits"]["remaining"].as_i64().unwrap();
    assert!(
        CREDITS - left >= spent && CREDITS - left <= spent + unanswered,
        "{spent} acknowledged spends, {unanswered} unanswered requests, {} spent",
        CREDITS - left
    );
    let listed = post(
        &client,
        &url,
        "apis.listKeys",
        json!({"apiId": api_id, "limit": 100}),
    )
    .await;
    assert!(!listed.as_array().unwrap().is_empty());
    second.kill_9();
}

#[tokio::test]
async fn a_generated_bootstrap_key_is_printed_once() {
    let storage = TestStorage::new();
    let start = || {
        let mut child = serve(&storage).stderr(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap())
            .lines()
            .map_while(Result::ok);
        let before_ready: Vec<String> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("keyward listening on"))
            .collect();
        child.kill().unwrap();
        child.wait().unwrap();
        before_ready.join("\n")
    };
    let first = start();
    let key = std::fs::read_to_string(storage.data_dir().join("bootstrap-root-key"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(first.contains(&key), "printed on first start:\n{first}");
    let second = start();
    assert!(!second.contains(&key), "never printed again:\n{second}");
}

/// The connection settings reach the server from the environment, and a connection cap the
/// file-descriptor limit cannot hold is lowered to fit it (accepting past the limit would fail,
/// and so would the database opening its files).
#[tokio::test]
async fn connection_settings_apply_and_the_cap_fits_the_descriptor_limit() {
    let storage = TestStorage::new();
    let serve = serve(&storage);
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"ulimit -n 200 && exec "$0" "$@""#)
        .arg(serve.get_program())
        .args(serve.get_args())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
        .env("KEYWARD_HEADER_TIMEOUT_SECS", "1")
        .env("KEYWARD_MAX_CONNECTIONS", "10000")
        .env("NO_COLOR", "1")
        .env("KEYWARD_DB_MAX_CONNECTIONS", "3")
        .env("KEYWARD_DB_ACQUIRE_TIMEOUT_MS", "1234")
        .env("KEYWARD_DB_STATEMENT_TIMEOUT_MS", "4321");
    let mut process = Process::spawn(command);
    let log = process.log();
    assert!(
        log.contains("db_max_connections=3")
            && log.contains("db_acquire_timeout_ms=1234")
            && log.contains("db_statement_timeout_ms=4321"),
        "the database settings reach the server:\n{log}"
    );
    assert!(
        log.contains("serving at most 136 connections at once"),
        "200 descriptors less 64 reserved:\n{log}"
    );

    let address = process.url.trim_start_matches("http://").to_owned();
    let mut silent = std::net::TcpStream::connect(&address).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let started = Instant::now();
    let read = std::io::Read::read(&mut silent, &mut [0u8; 16]);
    let took = started.elapsed();
    assert!(
        matches!(read, Ok(0))
            && took >= Duration::from_millis(800)
            && took < Duration::from_secs(5),
        "a silent connection closes after KEYWARD_HEADER_TIMEOUT_SECS=1: {read:?} after {took:?}"
    );
    let client = reqwest::Client::new();
    let liveness = client
        .get(format!("{}/v2/liveness", process.url))
        .send()
        .await
        .unwrap();
    assert_eq!(liveness.status(), 200);
    process.child.kill().unwrap();
    process.child.wait().unwrap();
}

/// A second process on one SQLite database would never hear of the first one's changes (a key
/// the first deleted would stay VALID in its cache): it refuses to start and says to use
/// PostgreSQL. SQLite only, by nature: on PostgreSQL any number of processes serve one database
/// (tests/nodes.rs).
#[tokio::test]
async fn a_second_process_on_one_sqlite_database_refuses_to_start() {
    let storage = TestStorage::sqlite();
    let first = Process::start(&storage, "trace");
    let second = serve(&storage)
        .env("KEYWARD_BOOTSTRAP_ROOT_KEY", ROOT_KEY)
        .stdout(Stdio::null())
        .output()
        .expect("keyward runs");
    assert!(
        !second.status.success(),
        "the second process must not serve"
    );
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another keyward process is already serving the SQLite database")
            && stderr.contains("postgres://"),
        "{stderr}"
    );
    // The same file named by URL is the same database.
    let url = format!(
        "sqlite://{}",
        storage.data_dir().join("keyward.db").display()
    );
    let by_url = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &url,
            "--data-dir",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .env_clear()
        .stdout(Stdio::null())
        .output()
        .expect("keyward runs");
    assert!(!by_url.status.success());
    // The first one serves on, and once it is gone (even by kill -9) the lock goes with it.
    let client = reqwest::Client::new();
    post(
        &client,
        &first.url,
        "apis.createApi",
        json!({"name": "still-here"}),
    )
    .await;
    first.kill_9();
    let again = Process::start(&storage, "trace");
    post(
        &client,
        &again.url,
        "apis.createApi",
        json!({"name": "after-restart"}),
    )
    .await;
    again.kill_9();
}
