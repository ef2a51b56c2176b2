//! The connection layer, driven by raw sockets: timeouts for slow or idle clients, the cap on
//! open connections, and keep-alive after a request rejected before its body was read.

use std::time::{Duration, Instant};

use keyward_http::ServeConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ROOT_KEY, TestApp, TestStorage};

/// A server whose limits are `adjust`ed from long defaults, so each test shortens only the one
/// it is about.
async fn app_with(adjust: impl FnOnce(&mut ServeConfig)) -> TestApp {
    TestApp::start_with(TestStorage::new(), |config| {
        config.header_timeout = Duration::from_secs(60);
        config.body_timeout = Duration::from_secs(60);
        config.idle_timeout = Duration::from_secs(60);
        adjust(config);
    })
    .await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.server.local_addr()).await.unwrap()
}

/// Waits (at most `within`) for the server to close `stream`, discarding whatever it sends
/// first; returns how long that took.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the connection was still open after {within:?}"));
    started.elapsed()
}

/// Asserts that nothing arrives on `stream`, nor does it close, for `quiet`.
async fn stays_quiet(stream: &mut TcpStream, quiet: Duration) {
    let mut byte = [0u8; 1];
    if let Ok(read) = tokio::time::timeout(quiet, stream.read(&mut byte)).await {
        panic!("expected nothing for {quiet:?}, got {read:?}");
    }
}

/// One parsed HTTP/1.1 response.
#[derive(Debug)]
struct RawResponse {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl RawResponse {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Reads one response (keyward always sends `content-length`) within 5 s.
async fn read_response(stream: &mut TcpStream) -> RawResponse {
    tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            let n = stream.read(&mut chunk).await.expect("read a response");
            assert!(n > 0, "the connection closed before a response: {buf:?}");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().split(' ').nth(1).unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|line| {
                let (name, value) = line.split_once(':').unwrap();
                (name.trim().to_owned(), value.trim().to_owned())
            })
            .collect();
        let length: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .map(|(_, v)| v.parse().unwrap())
            .expect("content-length");
        let mut body = buf[head_end + 4..].to_vec();
        while body.len() < length {
            let n = stream.read(&mut chunk).await.expect("read a body");
            assert!(n > 0, "the connection closed inside a response body");
            body.extend_from_slice(&chunk[..n]);
        }
        RawResponse {
            status: status.parse().unwrap(),
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    })
    .await
    .expect("a response within 5 s")
}

const LIVENESS: &[u8] = b"GET /v2/liveness HTTP/1.1\r\nHost: keyward\r\n\r\n";

fn verify_request(key: &str) -> Vec<u8> {
    let body = format!(r#"{{"key":"{key}"}}"#);
    format!(
        "POST /v2/keys.verifyKey HTTP/1.1\r\nHost: keyward\r\nAuthorization: Bearer {ROOT_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_timeout() {
    let app = app_with(|c| c.header_timeout = Duration::from_millis(300)).await;
    let mut silent = connect(&app).await;
    let took = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(150), "closed after {took:?}");
}

#[tokio::test]
async fn half_a_head_is_closed_after_the_header_timeout_also_on_a_reused_connection() {
    let app = app_with(|c| c.header_timeout = Duration::from_millis(300)).await;
    let mut first = connect(&app).await;
    first
        .write_all(b"POST /v2/keys.verifyKey HTTP/1.1\r\nHost: keyward\r\n")
        .await
        .unwrap();
    let took = closed_within(&mut first, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(150), "closed after {took:?}");

    // After a complete request the connection idles (60 s allowed); half a head then gets only
    // the header timeout, counted from its first byte.
    let mut reused = connect(&app).await;
    reused.write_all(LIVENESS).await.unwrap();
    assert_eq!(read_response(&mut reused).await.status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    reused
        .write_all(b"GET /v2/liveness HTTP/1.1\r\n")
        .await
        .unwrap();
    let took = closed_within(&mut reused, Duration::from_secs(5)).await;
    assert!(took >= Duration::from_millis(250), "closed after {took:?}");
}

#[tokio::test]
async fn a_head_dripped_byte_by_byte_is_cut_at_the_header_timeout() {
    let app = app_with(|c| c.header_timeout = Duration::from_millis(500)).await;
    let mut drip = connect(&app).await;
    let started = Instant::now();
    for byte in b"GET /v2/liveness HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if drip.write_all(&[*byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        if started.elapsed() > Duration::from_secs(5) {
            panic!("still open after 5 s of dripping");
        }
    }
    closed_within(&mut drip, Duration::from_secs(5)).await;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(350) && took < Duration::from_secs(3),
        "closed after {took:?}"
    );
}

#[tokio::test]
async fn half_a_body_is_answered_408_and_closed_after_the_body_timeout() {
    let app = app_with(|c| c.body_timeout = Duration::from_millis(300)).await;
    let mut slow = connect(&app).await;
    let started = Instant::now();
    slow.write_all(
        format!(
            "POST /v2/keys.verifyKey HTTP/1.1\r\nHost: keyward\r\nAuthorization: Bearer {ROOT_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"key\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let response = read_response(&mut slow).await;
    let took = started.elapsed();
    assert_eq!(response.status, 408, "{response:?}");
    assert!(response.closes(), "{response:?}");
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        body["error"]["type"],
        "https://unkey.com/docs/errors/user/bad_request/request_timeout"
    );
    assert!(
        body["error"]["detail"].as_str().unwrap().contains("body"),
        "{body}"
    );
    assert!(
        took >= Duration::from_millis(250),
        "answered after {took:?}"
    );
    closed_within(&mut slow, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = app_with(|c| c.idle_timeout = Duration::from_millis(1000)).await;
    let mut conn = connect(&app).await;
    // Requests closer together than the idle timeout keep the connection open past it: the
    // timeout counts from the last response, not from the connection's start.
    let started = Instant::now();
    let mut last_response = started;
    for i in 0..6 {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        conn.write_all(LIVENESS).await.unwrap();
        let response = read_response(&mut conn).await;
        last_response = Instant::now();
        assert_eq!(response.status, 200);
        assert!(!response.closes(), "{response:?}");
    }
    assert!(started.elapsed() > Duration::from_millis(1000));
    closed_within(&mut conn, Duration::from_secs(5)).await;
    let idle = last_response.elapsed();
    assert!(
        idle >= Duration::from_millis(800) && idle < Duration::from_secs(4),
        "closed {idle:?} after the last response"
    );
}

#[tokio::test]
async fn past_the_connection_cap_new_connections_wait_until_one_closes() {
    let app = app_with(|c| c.max_connections = 2).await;
    let mut holders = vec![connect(&app).await, connect(&app).await];
    // The two are being served: each answers.
    for holder in &mut holders {
        holder.write_all(LIVENESS).await.unwrap();
        assert_eq!(read_response(holder).await.status, 200);
    }
    // A third connects (the kernel queues it) but is not served while both are open.
    let mut waiting = connect(&app).await;
    waiting.write_all(LIVENESS).await.unwrap();
    stays_quiet(&mut waiting, Duration::from_millis(500)).await;
    // Once one closes, it is.
    drop(holders.pop());
    let response = read_response(&mut waiting).await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn the_timeouts_free_the_slots_of_silent_connections() {
    let app = app_with(|c| {
        c.max_connections = 3;
        c.header_timeout = Duration::from_millis(500);
    })
    .await;
    let mut silent = Vec::new();
    for _ in 0..3 {
        silent.push(connect(&app).await);
    }
    let started = Instant::now();
    let mut fresh = connect(&app).await;
    fresh.write_all(LIVENESS).await.unwrap();
    let response = read_response(&mut fresh).await;
    assert_eq!(response.status, 200);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(350),
        "answered after {took:?}, before any slot was free"
    );
    for mut stream in silent {
        closed_within(&mut stream, Duration::from_secs(1)).await;
    }
}

#[tokio::test]
async fn shutdown_is_not_held_up_by_idle_or_silent_connections() {
    let app = app_with(|_| {}).await;
    let _silent = connect(&app).await;
    let mut idle = connect(&app).await;
    idle.write_all(LIVENESS).await.unwrap();
    assert_eq!(read_response(&mut idle).await.status, 200);
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.server.shutdown())
        .await
        .expect("shutdown within 5 s")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    closed_within(&mut idle, Duration::from_secs(1)).await;
}

/// Sends `head` and a body of `body_len` bytes (from another task, as a client streaming a
/// body does) and reads the answer.
async fn send_rejected(
    stream: TcpStream,
    head: String,
    body_len: usize,
) -> (TcpStream, RawResponse) {
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = write.write_all(head.as_bytes()).await;
        let _ = write.write_all(&vec![b' '; body_len]).await;
        write
    });
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Reassemble the stream for `read_response`, which takes a TcpStream: read the head here.
    let response = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(buf[..end].to_vec()).unwrap();
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap();
                if buf.len() >= end + 4 + length {
                    break;
                }
            }
            let n = read.read(&mut chunk).await.expect("read the response");
            assert!(n > 0, "closed without a response");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await;
    response.expect("a response within 5 s");
    let write = tokio::time::timeout(Duration::from_secs(5), writer)
        .await
        .expect("the body sent or refused within 5 s")
        .unwrap();
    let stream = read.reunite(write).unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|line| {
            let (n, v) = line.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    (
        stream,
        RawResponse {
            status,
            headers,
            body: body.to_owned(),
        },
    )
}

/// A request rejected before its body is read must leave the connection usable for the next
/// request, or say `Connection: close` so the client does not reuse it: never drop it silently.
#[tokio::test]
async fn a_request_rejected_before_its_body_is_read_never_breaks_keep_alive_silently() {
    let app = app_with(|_| {}).await;
    let api_id = app.create_api().await;
    let (_, key) = app.create_key(&api_id, serde_json::json!({})).await;
    let head = |path: &str, headers: &str, len: usize| {
        format!("POST {path} HTTP/1.1\r\nHost: keyward\r\n{headers}Content-Length: {len}\r\n\r\n")
    };
    let json = "Content-Type: application/json\r\n";
    let auth = format!("Authorization: Bearer {ROOT_KEY}\r\n");
    let cases = [
        (
            "unknown root key",
            head(
                "/v2/keys.verifyKey",
                &format!("Authorization: Bearer nope\r\n{json}"),
                0,
            ),
            401,
        ),
        ("no Authorization", head("/v2/keys.verifyKey", json, 0), 400),
        (
            "wrong media type",
            head(
                "/v2/keys.verifyKey",
                &format!("{auth}Content-Type: text/plain\r\n"),
                0,
            ),
            415,
        ),
        (
            "unknown route",
            head("/v2/keys.nope", &format!("{auth}{json}"), 0),
            404,
        ),
        (
            "too large",
            head("/v2/keys.verifyKey", &format!("{auth}{json}"), 0),
            413,
        ),
    ];
    for body_len in [64, 1 << 20, 3 << 20] {
        for (what, head_template, status) in &cases {
            if *status == 413 && body_len <= 2 << 20 {
                continue;
            }
            let head =
                head_template.replace("Content-Length: 0", &format!("Content-Length: {body_len}"));
            let (mut stream, response) = send_rejected(connect(&app).await, head, body_len).await;
            assert_eq!(
                response.status, *status,
                "{what}, {body_len} bytes: {response:?}"
            );
            if response.closes() {
                closed_within(&mut stream, Duration::from_secs(5)).await;
                stream = connect(&app).await;
            }
            stream.write_all(&verify_request(&key)).await.unwrap();
            let next = read_response(&mut stream).await;
            assert_eq!(
                next.status, 200,
                "{what}, {body_len} bytes: the next request: {next:?}"
            );
            assert!(next.body.contains("\"valid\":true"), "{}", next.body);
        }
    }
}
