//! A client that hangs up in the middle of a revocation cannot leave the key valid.
//!
//! Found black-box: send a revoking request on a raw socket and reset the connection a fraction
//! of a millisecond later. When the reset drops the request's future after the commit began but
//! before the cache was invalidated, the database says "revoked" while the cache keeps answering
//! from the old entry until its TTL (600 s). Each test below does exactly that, many times with
//! random delays, and then requires every verification to agree with what the database holds.

use std::hash::{BuildHasher, RandomState};
use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::Connection;

use crate::helpers::{ROOT_KEY, TestApp};

/// Revocations sent per operation. Enough for the bug to show many times over (about one in
/// twenty hung-up revocations left the key valid), few enough for a few seconds per operation.
const ATTEMPTS: usize = 150;

/// The first revocations are sent in full, to learn how long one takes on this machine and build.
const CALIBRATION: usize = 5;

/// How long the server may take to settle a revocation whose client is gone: far less than the
/// TTL the bug leaves the key valid for.
const SETTLED_WITHIN: Duration = Duration::from_secs(3);

/// Sends revocations: the first [`CALIBRATION`] in full, timing them; the others on a raw
/// socket reset at a random point between at once and twice the median time a revocation took
/// (about 0 to 3 ms in a debug build), so that the resets fall before, during and after the
/// commit.
struct HangUps {
    random: u64,
    took: Vec<Duration>,
}

impl HangUps {
    fn new() -> HangUps {
        HangUps {
            random: RandomState::new().hash_one(0u8),
            took: Vec::with_capacity(CALIBRATION),
        }
    }

    async fn send(&mut self, app: &TestApp, operation: &str, body: &Value) {
        if self.took.len() < CALIBRATION {
            let started = Instant::now();
            app.post(operation, body.clone()).await.data();
            self.took.push(started.elapsed());
            self.took.sort_unstable();
        } else {
            let delay = self.next_delay();
            send_and_hang_up(app, operation, body, delay).await;
        }
    }

    fn next_delay(&mut self) -> Duration {
        // splitmix64
        self.random = self.random.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.random;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // From at once (the reset beats the server to the request: nothing commits) to twice a
        // revocation (the revocation has long committed), so that on a loaded machine as on an
        // idle one some resets fall before, some during and some after the commit.
        let median = self.took[self.took.len() / 2];
        (median * 2).mul_f64((z >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Asserts that some hung-up revocations committed and some did not: the resets straddled
    /// the commit, so the test exercised what it names.
    fn assert_straddled(&self, operation: &str, committed: usize) {
        let hung_up = ATTEMPTS - CALIBRATION;
        let committed_hung_up = committed - CALIBRATION;
        assert!(
            committed_hung_up > 0 && committed_hung_up < hung_up,
            "{operation}: {committed_hung_up} of {hung_up} hung-up revocations committed \
             (a revocation took {:?}): the resets do not straddle the commit",
            self.took
        );
    }
}

/// Sends `POST /v2/<operation>` with `body` on a raw socket and, `delay` after the request is
/// written, resets the connection (`SO_LINGER` 0: the close sends RST) without reading a byte.
async fn send_and_hang_up(app: &TestApp, operation: &str, body: &Value, delay: Duration) {
    let addr: SocketAddr = app.server.local_addr();
    let body = body.to_string();
    let request = format!(
        "POST /v2/{operation} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {ROOT_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // A blocking thread: sub-millisecond sleeps, and none of the server's workers held up.
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        stream
            .write_all(request.as_bytes())
            .expect("request written");
        std::thread::sleep(delay);
        socket2::SockRef::from(&stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER 0");
    })
    .await
    .expect("the hang-up thread");
}

/// Waits until `consistent` holds, failing with what it last saw after [`SETTLED_WITHIN`].
async fn eventually<F, Fut>(what: &str, mut consistent: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = tokio::time::Instant::now() + SETTLED_WITHIN;
    loop {
        match consistent().await {
            Ok(()) => return,
            Err(seen) if tokio::time::Instant::now() >= deadline => {
                panic!("{what}: the verification disagrees with the database: {seen}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// A key, verified once so that it is cached.
async fn cached_key(app: &TestApp, api_id: &str, extra: Value) -> (String, String) {
    let (key_id, key) = app.create_key(api_id, extra).await;
    assert_eq!(app.verify_code(&key).await, "VALID");
    (key_id, key)
}

/// For `ATTEMPTS` cached keys: sends the revocation `body_for(key_id)` to `operation` and hangs
/// up; then, for every key, the verification must answer what `expected(getKey reply)` says.
async fn hang_up_during(
    operation: &str,
    extra: Value,
    body_for: impl Fn(&str) -> Value,
    expected: impl Fn(&crate::helpers::Reply) -> &'static str,
) {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let mut hang_ups = HangUps::new();
    let mut keys = Vec::with_capacity(ATTEMPTS);
    for _ in 0..ATTEMPTS {
        let (key_id, key) = cached_key(&app, &api_id, extra.clone()).await;
        hang_ups.send(&app, operation, &body_for(&key_id)).await;
        keys.push((key_id, key));
    }
    let mut revoked = 0;
    for (key_id, key) in &keys {
        eventually(&format!("{operation} of {key_id}"), || async {
            let stored = app.post("keys.getKey", json!({"keyId": key_id})).await;
            let code = app.verify_code(key).await;
            let expected = expected(&stored);
            if code == expected {
                Ok(())
            } else {
                Err(format!("verifyKey {code}, getKey {}", stored.body))
            }
        })
        .await;
        if expected(&app.post("keys.getKey", json!({"keyId": key_id})).await) != "VALID" {
            revoked += 1;
        }
    }
    hang_ups.assert_straddled(operation, revoked);
}

fn live_or(revoked: &'static str) -> impl Fn(&crate::helpers::Reply) -> &'static str {
    move |stored| match stored.status.as_u16() {
        200 => "VALID",
        404 => revoked,
        other => panic!("getKey answered {other}: {}", stored.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling() {
    hang_up_during(
        "keys.updateKey",
        json!({}),
        |key_id| json!({"keyId": key_id, "enabled": false}),
        |stored| match stored.data()["enabled"].as_bool() {
            Some(true) => "VALID",
            _ => "DISABLED",
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_deleting() {
    hang_up_during(
        "keys.deleteKey",
        json!({}),
        |key_id| json!({"keyId": key_id}),
        live_or("NOT_FOUND"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanently_deleting() {
    hang_up_during(
        "keys.deleteKey",
        json!({}),
        |key_id| json!({"keyId": key_id, "permanent": true}),
        live_or("NOT_FOUND"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerolling_with_no_grace_period() {
    hang_up_during(
        "keys.rerollKey",
        json!({}),
        |key_id| json!({"keyId": key_id, "expiration": 0}),
        |stored| {
            if stored.data()["expires"].is_null() {
                "VALID"
            } else {
                "EXPIRED"
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_an_unlimited_key_out_of_credits() {
    hang_up_during(
        "keys.updateCredits",
        json!({}),
        |key_id| json!({"keyId": key_id, "operation": "set", "value": 0}),
        |stored| {
            if stored.data()["credits"].is_null() {
                "VALID"
            } else {
                "USAGE_EXCEEDED"
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_api() {
    let app = TestApp::start().await;
    let mut hang_ups = HangUps::new();
    let mut cases = Vec::with_capacity(ATTEMPTS);
    for _ in 0..ATTEMPTS {
        let api_id = app.create_api().await;
        let (_, key) = cached_key(&app, &api_id, json!({})).await;
        hang_ups
            .send(&app, "apis.deleteApi", &json!({"apiId": api_id}))
            .await;
        cases.push((api_id, key));
    }
    let mut deleted = 0;
    for (api_id, key) in &cases {
        let live = || async {
            let stored = app.post("apis.getApi", json!({"apiId": api_id})).await;
            match stored.status.as_u16() {
                200 => true,
                404 => false,
                other => panic!("getApi answered {other}: {}", stored.body),
            }
        };
        eventually(&format!("apis.deleteApi of {api_id}"), || async {
            let expected = if live().await { "VALID" } else { "NOT_FOUND" };
            match app.verify_code(key).await {
                code if code == expected => Ok(()),
                code => Err(format!("verifyKey {code}, getApi says {expected}")),
            }
        })
        .await;
        deleted += usize::from(!live().await);
    }
    hang_ups.assert_straddled("apis.deleteApi", deleted);
}

/// Whether the root key `key_id` is deleted, read from the database (listRootKeys pages).
async fn root_key_deleted(app: &TestApp, key_id: &str) -> bool {
    let mut conn = app.storage.inspect().await;
    // A count rather than a boolean: SQLite answers `is not null` with an integer.
    let (deleted,): (i64,) =
        sqlx::query_as("select count(*) from root_keys where id = $1 and deleted_at is not null")
            .bind(key_id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    deleted == 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_root_key() {
    let app = TestApp::start().await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, json!({})).await;
    let mut hang_ups = HangUps::new();
    let mut root_keys = Vec::with_capacity(ATTEMPTS);
    for _ in 0..ATTEMPTS {
        let data = app
            .call(
                "rootKeys.createRootKey",
                json!({"permissions": ["api.*.verify_key"]}),
            )
            .await;
        let (key_id, root_key) = (
            data["keyId"].as_str().unwrap().to_owned(),
            data["key"].as_str().unwrap().to_owned(),
        );
        // Authenticated once: cached.
        app.post_as(Some(&root_key), "keys.verifyKey", json!({"key": key}))
            .await
            .data();
        hang_ups
            .send(&app, "rootKeys.deleteRootKey", &json!({"keyId": key_id}))
            .await;
        root_keys.push((key_id, root_key));
    }
    let mut deleted = 0;
    for (key_id, root_key) in &root_keys {
        eventually(&format!("rootKeys.deleteRootKey of {key_id}"), || async {
            let expected = if root_key_deleted(&app, key_id).await {
                401
            } else {
                200
            };
            let reply = app
                .post_as(Some(root_key), "keys.verifyKey", json!({"key": key}))
                .await;
            if reply.status.as_u16() == expected {
                Ok(())
            } else {
                Err(format!(
                    "answered {} while the database says {expected}",
                    reply.status
                ))
            }
        })
        .await;
        deleted += usize::from(root_key_deleted(&app, key_id).await);
    }
    hang_ups.assert_straddled("rootKeys.deleteRootKey", deleted);
}
