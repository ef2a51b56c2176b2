//! Crash safety: `keyward serve` killed with SIGKILL at random points of a mixed write load,
//! again and again, restarted each time. Every acknowledged write must be there after the
//! restart, every acknowledged delete must stay deleted, and every credit spend answered VALID
//! must be in the balance: 0 lost, 0 resurrected (docs/RELIABILITY.md, "Crash safety").

mod support;

use std::time::{Duration, Instant};

use keyward_testing::TestStorage;
use serde_json::json;
use support::{Process, Rng, post, try_post};

/// Rounds of load → kill -9 → restart → check.
const ROUNDS: usize = 20;
const WORKERS: usize = 4;
const CREDITS: i64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Live,
    Deleted,
    /// Rerolled with `expiration: 0`: the old key expired when the reroll was acknowledged.
    Retired,
}

#[derive(Debug, Clone)]
struct Tracked {
    id: String,
    key: String,
    name: String,
    state: State,
    /// The round of its last acknowledged change: what the next restart checks.
    round: usize,
}

/// The one request of a worker that got no answer when the server died: it may or may not have
/// been applied, and the restart reads which.
#[derive(Debug, Clone)]
enum Pending {
    Create,
    Update { index: usize, name: String },
    Delete { index: usize },
    Reroll { index: usize },
    Spend,
}

/// What one worker has been told: its keys, its metered key and the spends acknowledged VALID.
struct Worker {
    keys: Vec<Tracked>,
    metered: (String, String),
    spent: i64,
    pending: Option<Pending>,
    rng: Rng,
    acknowledged: usize,
}

impl Worker {
    fn live(&self) -> Vec<usize> {
        (0..self.keys.len())
            .filter(|&i| self.keys[i].state == State::Live)
            .collect()
    }
}

/// One worker's load until the server stops answering.
async fn load(
    mut w: Worker,
    client: reqwest::Client,
    url: String,
    api_id: String,
    round: usize,
    n: usize,
) -> Worker {
    let mut counter = 0u64;
    loop {
        counter += 1;
        let live = w.live();
        let choice = if live.len() < 3 { 0 } else { w.rng.below(100) };
        let pick = |rng: &mut Rng| live[rng.below(live.len() as u64) as usize];
        let (pending, answer) = match choice {
            0..30 => {
                let name = format!("w{n}-r{round}-{counter}");
                let body = json!({"apiId": api_id, "name": name});
                let answer = try_post(&client, &url, "keys.createKey", &body).await;
                if let Some((200, data)) = &answer {
                    w.keys.push(Tracked {
                        id: data["data"]["keyId"].as_str().unwrap().to_owned(),
                        key: data["data"]["key"].as_str().unwrap().to_owned(),
                        name,
                        state: State::Live,
                        round,
                    });
                }
                (Pending::Create, answer)
            }
            30..50 => {
                let index = pick(&mut w.rng);
                let name = format!("w{n}-r{round}-{counter}-renamed");
                let body = json!({"keyId": w.keys[index].id, "name": name});
                let answer = try_post(&client, &url, "keys.updateKey", &body).await;
                if let Some((200, _)) = &answer {
                    w.keys[index].name = name.clone();
                    w.keys[index].round = round;
                }
                (Pending::Update { index, name }, answer)
            }
            50..62 => {
                let index = pick(&mut w.rng);
                let body = json!({"keyId": w.keys[index].id});
                let answer = try_post(&client, &url, "keys.deleteKey", &body).await;
                if let Some((200, _)) = &answer {
                    w.keys[index].state = State::Deleted;
                    w.keys[index].round = round;
                }
                (Pending::Delete { index }, answer)
            }
            62..72 => {
                let index = pick(&mut w.rng);
                let body = json!({"keyId": w.keys[index].id, "expiration": 0});
                let answer = try_post(&client, &url, "keys.rerollKey", &body).await;
                if let Some((200, data)) = &answer {
                    let old = &mut w.keys[index];
                    old.state = State::Retired;
                    old.round = round;
                    let new = Tracked {
                        id: data["data"]["keyId"].as_str().unwrap().to_owned(),
                        key: data["data"]["key"].as_str().unwrap().to_owned(),
                        name: old.name.clone(),
                        state: State::Live,
                        round,
                    };
                    w.keys.push(new);
                }
                (Pending::Reroll { index }, answer)
            }
            _ => {
                let body = json!({"key": w.metered.1, "credits": {"cost": 1}});
                let answer = try_post(&client, &url, "keys.verifyKey", &body).await;
                if let Some((200, data)) = &answer {
                    assert_eq!(data["data"]["code"], "VALID", "{data}");
                    w.spent += 1;
                }
                (Pending::Spend, answer)
            }
        };
        match answer {
            Some((200, _)) => w.acknowledged += 1,
            Some((status, body)) => panic!("{pending:?}: {status} {body}"),
            None => {
                w.pending = Some(pending);
                return w;
            }
        }
    }
}

/// The server's view of a key: its verification code and name.
async fn observe(client: &reqwest::Client, url: &str, key: &Tracked) -> (String, Option<String>) {
    let verdict = post(client, url, "keys.verifyKey", json!({"key": key.key})).await;
    let code = verdict["code"].as_str().unwrap().to_owned();
    let name = if code == "NOT_FOUND" {
        None
    } else {
        let data = post(client, url, "keys.getKey", json!({"keyId": key.id})).await;
        data["name"].as_str().map(str::to_owned)
    };
    (code, name)
}

/// After a restart: resolves the worker's pending request from what the server holds, then
/// checks every key changed since `since` (all of them when `since` is 0) and the balance.
/// Returns the failures, one line each.
async fn check(client: &reqwest::Client, url: &str, w: &mut Worker, since: usize) -> Vec<String> {
    let mut failures = Vec::new();
    match w.pending.take() {
        Some(Pending::Update { index, name }) => {
            let (_, seen) = observe(client, url, &w.keys[index]).await;
            if seen.as_deref() == Some(name.as_str()) {
                w.keys[index].name = name;
            }
        }
        Some(Pending::Delete { index }) => {
            if observe(client, url, &w.keys[index]).await.0 == "NOT_FOUND" {
                w.keys[index].state = State::Deleted;
            }
        }
        Some(Pending::Reroll { index }) => {
            // Applied or not, the new key's plaintext was never seen: only the old key is known.
            if observe(client, url, &w.keys[index]).await.0 == "EXPIRED" {
                w.keys[index].state = State::Retired;
            }
        }
        Some(Pending::Spend) => {
            let data = post(client, url, "keys.getKey", json!({"keyId": w.metered.0})).await;
            let remaining = data["credits"]["remaining"].as_i64().unwrap();
            let spent = CREDITS - remaining;
            if spent == w.spent + 1 {
                w.spent = spent;
            }
        }
        Some(Pending::Create) | None => {}
    }
    for key in w.keys.iter().filter(|k| k.round >= since) {
        let (code, name) = observe(client, url, key).await;
        let expected = match key.state {
            State::Live => "VALID",
            State::Deleted => "NOT_FOUND",
            State::Retired => "EXPIRED",
        };
        if code != expected {
            failures.push(format!(
                "key {} ({:?}): verifyKey answers {code}, expected {expected}",
                key.id, key.state
            ));
        } else if key.state != State::Deleted && name.as_deref() != Some(key.name.as_str()) {
            failures.push(format!(
                "key {}: name {name:?}, acknowledged {:?}",
                key.id, key.name
            ));
        }
    }
    let data = post(client, url, "keys.getKey", json!({"keyId": w.metered.0})).await;
    let spent = CREDITS - data["credits"]["remaining"].as_i64().unwrap();
    if spent != w.spent {
        failures.push(format!(
            "metered key {}: {spent} credits spent, {} spends acknowledged VALID",
            w.metered.0, w.spent
        ));
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_points_loses_and_resurrects_nothing() {
    let storage = TestStorage::new();
    let client = reqwest::Client::new();
    let mut rng = Rng::from_time();
    eprintln!("crash test seed {}", rng.0);

    let mut process = Process::start(&storage, "warn");
    let api_id = post(
        &client,
        &process.url,
        "apis.createApi",
        json!({"name": "crash"}),
    )
    .await["apiId"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let data = post(
            &client,
            &process.url,
            "keys.createKey",
            json!({"apiId": api_id, "credits": {"remaining": CREDITS}}),
        )
        .await;
        workers.push(Worker {
            keys: Vec::new(),
            metered: (
                data["keyId"].as_str().unwrap().to_owned(),
                data["key"].as_str().unwrap().to_owned(),
            ),
            spent: 0,
            pending: None,
            rng: Rng(rng.next() | 1),
            acknowledged: 0,
        });
    }

    let started = Instant::now();
    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        let mut tasks = tokio::task::JoinSet::new();
        for (n, w) in workers.drain(..).enumerate() {
            tasks.spawn(load(
                w,
                client.clone(),
                process.url.clone(),
                api_id.clone(),
                round,
                n,
            ));
        }
        // A random point of the load: between 0.2 and 1 s in.
        tokio::time::sleep(Duration::from_millis(200 + rng.below(800))).await;
        process.kill_9();
        while let Some(w) = tasks.join_next().await {
            workers.push(w.unwrap());
        }
        process = Process::start(&storage, "warn");
        for w in &mut workers {
            for failure in check(&client, &process.url, w, round).await {
                failures.push(format!("round {round}: {failure}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
    // Finally every key ever acknowledged, deleted ones included: still as acknowledged.
    for w in &mut workers {
        failures.extend(check(&client, &process.url, w, 0).await);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let acknowledged: usize = workers.iter().map(|w| w.acknowledged).sum();
    let keys: usize = workers.iter().map(|w| w.keys.len()).sum();
    let spent: i64 = workers.iter().map(|w| w.spent).sum();
    assert!(
        acknowledged > 100 * ROUNDS / 10 && spent > 0 && keys > ROUNDS,
        "a load ran: {acknowledged} acknowledged writes, {keys} keys, {spent} spends"
    );
    eprintln!(
        "{ROUNDS} kill -9 rounds in {:?}: {acknowledged} acknowledged writes, {keys} keys checked, {spent} credits spent; 0 lost, 0 resurrected",
        started.elapsed()
    );
    process.kill_9();
}
