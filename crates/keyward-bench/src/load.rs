//! The load generator: HTTP/1.1 keep-alive connections over hyper's low-level client (one
//! connection per task, no pool), driven closed-loop (each connection sends its next request as
//! soon as the previous answer arrives) or open-loop (requests scheduled at a fixed rate, latency
//! measured from each request's *scheduled* send time, so a slow answer that delays the next
//! sends is charged to the server: no coordinated omission).
//!
//! Every response is checked: status 200 and a body containing the expected marker
//! (`"valid":true`), so a phase cannot silently measure errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What to send, where, and what a good answer contains.
pub struct Target {
    pub addr: SocketAddr,
    pub path: &'static str,
    pub authorization: Option<HeaderValue>,
    /// Request bodies; connection `c` of `C` sends bodies `c + offset`, `c + offset + C`, … so the
    /// connections together rotate over all of them.
    pub bodies: Arc<[Bytes]>,
    /// A byte string every good response body contains.
    pub expect: &'static [u8],
}

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    host: HeaderValue,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Conn {
            sender,
            host: HeaderValue::from_str(&addr.to_string())?,
        })
    }

    /// Sends one POST and returns the status and the whole body.
    pub async fn post(
        &mut self,
        path: &str,
        authorization: Option<&HeaderValue>,
        body: Bytes,
    ) -> anyhow::Result<(u16, Bytes)> {
        self.request(Method::POST, path, authorization, body).await
    }

    /// Sends one request and returns the status and the whole body.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        authorization: Option<&HeaderValue>,
        body: Bytes,
    ) -> anyhow::Result<(u16, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let request = request.body(Full::new(body))?;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// One request to `target`, checked.
    async fn call(&mut self, target: &Target, body: Bytes) -> Result<(), String> {
        match self
            .post(target.path, target.authorization.as_ref(), body)
            .await
        {
            Ok((200, body)) if contains(&body, target.expect) => Ok(()),
            Ok((status, body)) => Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body))),
            Err(err) => Err(format!("{err:#}")),
        }
    }
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// What one phase measured.
#[derive(Debug, Default)]
pub struct PhaseResult {
    /// Requests counted in the measurement window.
    pub requests: u64,
    /// Successful requests of the whole phase, warm-up included (for CPU time per request).
    pub all_requests: u64,
    pub window: Duration,
    /// Failed requests (any status but 200, a body without the marker, or a transport error).
    pub errors: u64,
    pub first_error: Option<String>,
    /// Open loop: scheduled requests never sent because the phase hit its time bound.
    pub missed: u64,
    /// Latencies of the counted requests in nanoseconds, sorted.
    pub latencies: Vec<u64>,
    /// Open loop: the counted requests slower than [`SLOW`] (at most [`SLOW_KEPT`] per connection),
    /// to tell a stall of the whole server from one slow connection.
    pub slow: Vec<SlowRequest>,
    /// Open loop: the longest the pacer thread ran behind its schedule (a generator stall, which
    /// the latencies charge to the server).
    pub pacer_lag: Duration,
}

/// An open-loop request is "slow" past this latency.
pub const SLOW: Duration = Duration::from_millis(50);
const SLOW_KEPT: usize = 2_000;

/// One slow open-loop request.
#[derive(Debug, Clone, Copy)]
pub struct SlowRequest {
    pub connection: usize,
    /// When it was scheduled, from the start of the measurement window.
    pub scheduled_at: Duration,
    /// From its scheduled time to its last response byte.
    pub latency: Duration,
    /// From sending it to its last response byte: the server's (and the network's) share, the
    /// rest of `latency` having been spent queued behind earlier requests of its connection.
    pub service: Duration,
}

impl PhaseResult {
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.window.as_secs_f64()
    }

    /// The `q` quantile (0..=1) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((q * self.latencies.len() as f64).ceil() as usize).clamp(1, self.latencies.len());
        Duration::from_nanos(self.latencies[rank - 1])
    }

    pub fn ok(&self) -> bool {
        self.errors == 0 && self.missed == 0 && self.requests > 0
    }

    fn merge(parts: Vec<ConnResult>, window: Duration) -> PhaseResult {
        let mut result = PhaseResult {
            window,
            ..PhaseResult::default()
        };
        for part in parts {
            result.requests += part.requests;
            result.all_requests += part.all_requests;
            result.errors += part.errors;
            result.missed += part.missed;
            if result.first_error.is_none() {
                result.first_error = part.first_error;
            }
            result.latencies.extend(part.latencies);
            result.slow.extend(part.slow);
        }
        result.latencies.sort_unstable();
        result.slow.sort_unstable_by_key(|s| s.scheduled_at);
        result
    }

    /// Open loop: where the slow requests were; `None` if there were none.
    pub fn slow_summary(&self) -> Option<String> {
        let first = self.slow.first()?;
        let last = self.slow.last()?;
        let connections: std::collections::HashSet<usize> =
            self.slow.iter().map(|s| s.connection).collect();
        let longest =
            |of: fn(&SlowRequest) -> Duration| self.slow.iter().map(of).max().unwrap_or_default();
        let (worst, service) = (longest(|s| s.latency), longest(|s| s.service));
        Some(format!(
            "{} slow (>{} ms, worst {:.1} ms) on {} connection(s), scheduled {:.3}–{:.3} s into \
             the window; longest send-to-answer {:.1} ms",
            self.slow.len(),
            SLOW.as_millis(),
            worst.as_secs_f64() * 1e3,
            connections.len(),
            first.scheduled_at.as_secs_f64(),
            last.scheduled_at.as_secs_f64(),
            service.as_secs_f64() * 1e3,
        ))
    }
}

#[derive(Default)]
struct ConnResult {
    requests: u64,
    all_requests: u64,
    errors: u64,
    missed: u64,
    first_error: Option<String>,
    latencies: Vec<u64>,
    slow: Vec<SlowRequest>,
}

impl ConnResult {
    fn error(&mut self, err: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err);
        }
    }
}

async fn open_all(addr: SocketAddr, connections: usize) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(Conn::open(addr).await?);
    }
    Ok(conns)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Sends every body once (in `connections` parallel streams); returns the count and the time.
/// Used to warm keyward's cache: each key's first verification is a cache miss.
pub async fn each_once(target: Arc<Target>, connections: usize) -> anyhow::Result<PhaseResult> {
    let conns = open_all(target.addr, connections).await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = ConnResult::default();
            for i in (c..target.bodies.len()).step_by(connections) {
                match conn.call(&target, target.bodies[i].clone()).await {
                    Ok(()) => {
                        result.requests += 1;
                        result.all_requests += 1;
                    }
                    Err(err) => result.error(err),
                }
            }
            result
        }));
    }
    let mut parts = Vec::new();
    for task in tasks {
        parts.push(task.await?);
    }
    Ok(PhaseResult::merge(parts, started.elapsed()))
}

/// Closed loop: every connection keeps exactly one request in flight for `warmup + duration`;
/// requests started during `duration` are counted, with their latency from send to last byte.
pub async fn closed_loop(
    target: Arc<Target>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
    offset: usize,
) -> anyhow::Result<PhaseResult> {
    let conns = open_all(target.addr, connections).await?;
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut tasks = Vec::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = ConnResult::default();
            let n = target.bodies.len();
            let mut i = (c + offset) % n;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let outcome = conn.call(&target, target.bodies[i].clone()).await;
                let latency = sent.elapsed();
                i = (i + connections) % n;
                if outcome.is_ok() {
                    result.all_requests += 1;
                }
                if sent < measure_from {
                    continue;
                }
                match outcome {
                    Ok(()) => {
                        result.requests += 1;
                        result.latencies.push(nanos(latency));
                    }
                    Err(err) => result.error(err),
                }
            }
            result
        }));
    }
    let mut parts = Vec::new();
    for task in tasks {
        parts.push(task.await?);
    }
    Ok(PhaseResult::merge(parts, duration))
}

/// Open loop: `rate` requests per second in total, request `k` scheduled at `start + k / rate`
/// and handed to connection `k mod C` (each connection sends its share in order, as wrk2 does).
/// A request's latency runs from its scheduled time to its last response byte, so waiting for a
/// busy connection counts. The schedule is kept by a dedicated OS thread (tokio's timer ticks in
/// milliseconds, too coarse for sub-millisecond latencies). Requests still unsent `grace` after
/// the end are abandoned and reported as `missed`.
pub async fn open_loop(
    target: Arc<Target>,
    connections: usize,
    rate: f64,
    warmup: Duration,
    duration: Duration,
    offset: usize,
) -> anyhow::Result<PhaseResult> {
    anyhow::ensure!(rate > 0.0, "the open-loop rate must be positive");
    let conns = open_all(target.addr, connections).await?;
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let give_up = end + duration.max(Duration::from_secs(2));
    let interval = Duration::from_secs_f64(1.0 / rate);

    let mut senders = Vec::with_capacity(connections);
    let mut tasks = Vec::new();
    for (c, mut conn) in conns.into_iter().enumerate() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
        senders.push(tx);
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut result = ConnResult::default();
            let n = target.bodies.len();
            let mut i = (c + offset) % n;
            while let Some(scheduled) = rx.recv().await {
                if Instant::now() >= give_up {
                    result.missed += 1;
                    continue;
                }
                let sent = Instant::now();
                let outcome = conn.call(&target, target.bodies[i].clone()).await;
                let latency = scheduled.elapsed();
                let service = sent.elapsed();
                i = (i + connections) % n;
                if outcome.is_ok() {
                    result.all_requests += 1;
                }
                if scheduled < measure_from {
                    continue;
                }
                match outcome {
                    Ok(()) => {
                        result.requests += 1;
                        result.latencies.push(nanos(latency));
                        if latency > SLOW && result.slow.len() < SLOW_KEPT {
                            result.slow.push(SlowRequest {
                                connection: c,
                                scheduled_at: scheduled - measure_from,
                                latency,
                                service,
                            });
                        }
                    }
                    Err(err) => result.error(err),
                }
            }
            result
        }));
    }

    let pacer = std::thread::Builder::new()
        .name("pacer".into())
        .spawn(move || {
            let mut k: u64 = 0;
            let mut lag = Duration::ZERO;
            loop {
                let due = start + interval.mul_f64(k as f64);
                if due >= end {
                    break;
                }
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                } else if due >= measure_from {
                    lag = lag.max(now - due);
                }
                // A closed channel means its task died; its result will say why.
                let _ = senders[(k % senders.len() as u64) as usize].send(due);
                k += 1;
            }
            // Dropping the senders lets every connection task finish once its queue is drained.
            drop(senders);
            lag
        })?;

    let mut parts = Vec::new();
    for task in tasks {
        parts.push(task.await?);
    }
    let pacer_lag = pacer
        .join()
        .map_err(|_| anyhow::anyhow!("the pacer thread panicked"))?;
    Ok(PhaseResult {
        pacer_lag,
        ..PhaseResult::merge(parts, duration)
    })
}
