//! The load generator: a small HTTP/1.1 client on raw non-blocking sockets, one epoll loop per
//! generator thread, in the manner of wrk and wrk2. Each connection keeps at most one request in
//! flight (keep-alive, no pipelining). A request is written from bytes laid out once per phase;
//! a response is parsed only as far as its check needs: the status line, `content-length` and
//! the body, which must contain the target's marker (`"valid":true`), so a phase cannot silently
//! measure errors.
//!
//! Why not hyper's client on tokio, which it was until 2026-11-23: on a 2-CPU machine the
//! generator shares the CPUs with the server it measures, and every microsecond it spends is
//! taken from the server. Measured on the same machine the same day, hyper's client cost 10.4 µs
//! of CPU per request closed-loop and 17.5–18.5 µs open-loop (a pacer thread and a cross-thread
//! wake-up per request); this loop costs 7.2–7.7 µs and 10.7–12.6 µs. What remains is mostly the
//! kernel's: 84% of the generator thread's samples in a closed loop (`perf record -e cpu-clock`)
//! are in the kernel, the loopback TCP work of its write and read per request. At half the baseline's
//! rate, the open loop now keeps ~75% of the CPUs busy instead of 84–88%, and the baseline's p99
//! fell from 2.4–4.8 ms to 0.3–1.4 ms.
//!
//! Three plans ([`Plan`]):
//! - each once: every body once, each connection sending its share back to back (the cold pass);
//! - closed loop: every connection sends its next request as soon as the previous answer
//!   arrives; latency runs from send to last byte;
//! - open loop: request `k` is scheduled at `start + k / rate` and sent on connection `k mod C`
//!   (each connection sends its share in order, as wrk2 does). Latency runs from the *scheduled*
//!   time, so an answer that comes late and delays the next sends is charged to the server (no
//!   coordinated omission). Each thread sleeps until its next due request with `epoll_pwait2`'s
//!   nanosecond timeout (tokio's timer ticks in milliseconds, too coarse for sub-millisecond
//!   latencies).
//!
//! Every phase is bounded in time: requests still unanswered a grace period after its end are
//! errors, and open-loop requests still unsent then are reported as `missed`.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use rustix::buffer::spare_capacity;
use rustix::event::{Timespec, epoll};

use crate::client::contains;

/// What to send, where, and what a good answer contains.
pub struct Target {
    pub addr: SocketAddr,
    pub path: &'static str,
    /// The `authorization` header's value.
    pub authorization: Option<String>,
    /// Request bodies; connection `c` of `C` sends bodies `c + offset`, `c + offset + C`, … so the
    /// connections together rotate over all of them.
    pub bodies: Arc<[Bytes]>,
    /// A byte string every good response body contains.
    pub expect: &'static [u8],
}

impl Target {
    /// Every request's head, up to the value of `content-length`.
    fn head(&self) -> Vec<u8> {
        let mut head = format!(
            "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n",
            self.path, self.addr
        );
        if let Some(authorization) = &self.authorization {
            head.push_str(&format!("authorization: {authorization}\r\n"));
        }
        head.push_str("content-length: ");
        head.into_bytes()
    }
}

/// How a phase schedules its requests.
#[derive(Debug, Clone, Copy)]
pub enum Plan {
    /// Every body once; all requests are counted.
    EachOnce,
    /// One request in flight per connection for `warmup + duration`; requests sent during
    /// `duration` are counted.
    Closed {
        warmup: Duration,
        duration: Duration,
        offset: usize,
    },
    /// `rate` requests per second in total for `warmup + duration`; requests scheduled during
    /// `duration` are counted.
    Open {
        rate: f64,
        warmup: Duration,
        duration: Duration,
        offset: usize,
    },
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
    /// to tell a stall of the whole server from one slow connection ([`PhaseResult::tail`]).
    pub slow: Vec<SlowRequest>,
    /// The connections the phase ran on.
    pub connections: usize,
    /// Per counted request, in nanoseconds, sorted: how long it waited for the generator itself
    /// once it was due and its connection was free (the generator's own lateness, which the
    /// latencies charge to the server). Open loop only.
    pub generator_lags: Vec<u64>,
}

/// An open-loop request is "slow" past this latency: the bound of the p99 target.
pub const SLOW: Duration = Duration::from_millis(1);
/// Slow requests kept per connection: all of them at the rates this machine reaches (60,000
/// requests/s over 32 connections is ~19,000 per connection in 10 s).
const SLOW_KEPT: usize = 50_000;
/// The window is cut into slices this long to tell a stall of the whole server (slow requests on
/// most connections in the same slice) from requests slow on their own.
pub const SLICE: Duration = Duration::from_millis(10);

/// Where an open-loop phase's slow requests came from ([`PhaseResult::tail`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tail {
    /// Requests slower than [`SLOW`].
    pub slow: usize,
    /// Their share of the counted requests.
    pub share: f64,
    /// Stalls: slices of the window in which requests on at least half the connections were slow.
    pub stalls: usize,
    /// Slow requests scheduled in a stall.
    pub slow_in_stalls: usize,
    /// Slow requests that waited longer for their connection (an earlier, slow answer on it) than
    /// for their own answer.
    pub queued: usize,
    pub worst: Duration,
    /// The longest time from sending a slow request to its last response byte.
    pub longest_service: Duration,
}

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
        quantile(&self.latencies, q)
    }

    /// The `q` quantile of the generator's own lateness (see [`PhaseResult::generator_lags`]).
    pub fn generator_lag(&self, q: f64) -> Duration {
        quantile(&self.generator_lags, q)
    }

    pub fn ok(&self) -> bool {
        self.errors == 0 && self.missed == 0 && self.requests > 0
    }

    /// One phase's result from its connections' (each a `PhaseResult` without a window).
    fn merge(parts: Vec<PhaseResult>, window: Duration) -> PhaseResult {
        let mut result = PhaseResult {
            window,
            connections: parts.len(),
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
            result.generator_lags.extend(part.generator_lags);
            result.slow.extend(part.slow);
        }
        result.latencies.sort_unstable();
        result.generator_lags.sort_unstable();
        result.slow.sort_unstable_by_key(|s| s.scheduled_at);
        result
    }

    fn error(&mut self, err: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(err);
        }
    }

    /// Open loop: where the slow requests came from; `None` if there were none.
    pub fn tail(&self) -> Option<Tail> {
        if self.slow.is_empty() {
            return None;
        }
        let slice_of = |s: &SlowRequest| s.scheduled_at.as_nanos() / SLICE.as_nanos();
        let mut connections_by_slice: HashMap<u128, HashSet<usize>> = HashMap::new();
        for slow in &self.slow {
            connections_by_slice
                .entry(slice_of(slow))
                .or_default()
                .insert(slow.connection);
        }
        let stalls: HashSet<u128> = connections_by_slice
            .into_iter()
            .filter(|(_, connections)| 2 * connections.len() >= self.connections)
            .map(|(slice, _)| slice)
            .collect();
        let longest =
            |of: fn(&SlowRequest) -> Duration| self.slow.iter().map(of).max().unwrap_or_default();
        Some(Tail {
            slow: self.slow.len(),
            share: self.slow.len() as f64 / self.requests.max(1) as f64,
            stalls: stalls.len(),
            slow_in_stalls: self
                .slow
                .iter()
                .filter(|s| stalls.contains(&slice_of(s)))
                .count(),
            queued: self
                .slow
                .iter()
                .filter(|s| s.latency.saturating_sub(s.service) > s.service)
                .count(),
            worst: longest(|s| s.latency),
            longest_service: longest(|s| s.service),
        })
    }
}

impl std::fmt::Display for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "over {} ms: {} ({:.2}%, worst {:.1} ms); {} of them in {} stall(s) ({} ms slices \
             with slow requests on half the connections or more); {} waited longer for their \
             connection than for their answer; longest send-to-answer {:.1} ms",
            SLOW.as_millis(),
            self.slow,
            self.share * 100.0,
            self.worst.as_secs_f64() * 1e3,
            self.slow_in_stalls,
            self.stalls,
            SLICE.as_millis(),
            self.queued,
            self.longest_service.as_secs_f64() * 1e3,
        )
    }
}

/// The `q` quantile (0..=1) of sorted nanosecond samples.
fn quantile(sorted: &[u64], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Duration::from_nanos(sorted[rank - 1])
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// When a phase's requests are due, resolved to instants.
struct Schedule {
    plan: Plan,
    connections: usize,
    bodies: usize,
    start: Instant,
    /// Requests scheduled from here on are counted.
    measure_from: Instant,
    /// No request is scheduled from here on.
    end: Instant,
    /// Requests unanswered (or, open loop, unsent) by now are abandoned.
    give_up: Instant,
}

/// What a free connection does next.
enum Next {
    /// Send now; the request counts as scheduled at this instant.
    Send(Instant),
    /// Nothing is due before this instant.
    At(Instant),
    Done,
}

impl Schedule {
    fn new(plan: Plan, connections: usize, bodies: usize) -> Schedule {
        // A moment to let every thread reach its loop before the first request is due.
        let start = Instant::now() + Duration::from_millis(20);
        let (measure_from, end, give_up) = match plan {
            Plan::EachOnce => {
                // Generous: a cold pass reads every key from the database once.
                let bound = Duration::from_secs(600) + Duration::from_millis(bodies as u64);
                (start, start + bound, start + bound)
            }
            Plan::Closed {
                warmup, duration, ..
            }
            | Plan::Open {
                warmup, duration, ..
            } => {
                let end = start + warmup + duration;
                (
                    start + warmup,
                    end,
                    end + duration.max(Duration::from_secs(2)),
                )
            }
        };
        Schedule {
            plan,
            connections,
            bodies,
            start,
            measure_from,
            end,
            give_up,
        }
    }

    /// The first body connection `number` sends.
    fn first_body(&self, number: usize) -> usize {
        match self.plan {
            Plan::EachOnce => number,
            Plan::Closed { offset, .. } | Plan::Open { offset, .. } => {
                (number + offset) % self.bodies
            }
        }
    }

    /// The body a connection sends after `body`; `None` when it has sent its share.
    fn next_body(&self, body: usize) -> Option<usize> {
        let next = body + self.connections;
        match self.plan {
            Plan::EachOnce => (next < self.bodies).then_some(next),
            Plan::Closed { .. } | Plan::Open { .. } => Some(next % self.bodies),
        }
    }

    /// Open loop: when the `sent`-th request of connection `number` is due.
    fn due(&self, rate: f64, number: usize, sent: u64) -> Instant {
        let k = sent * self.connections as u64 + number as u64;
        self.start + Duration::from_secs_f64(k as f64 / rate)
    }

    fn next(&self, conn: &Connection, now: Instant) -> Next {
        match self.plan {
            Plan::EachOnce | Plan::Closed { .. } if now < self.start => Next::At(self.start),
            Plan::EachOnce => match conn.body {
                Some(_) => Next::Send(now),
                None => Next::Done,
            },
            Plan::Closed { .. } if now < self.end => Next::Send(now),
            Plan::Closed { .. } => Next::Done,
            Plan::Open { rate, .. } => {
                let due = self.due(rate, conn.number, conn.sent);
                if due >= self.end {
                    Next::Done
                } else if due <= now {
                    Next::Send(due)
                } else {
                    Next::At(due)
                }
            }
        }
    }

    /// Open loop: how many requests of `conn` were scheduled but never sent.
    fn unsent(&self, conn: &Connection) -> u64 {
        let Plan::Open { rate, .. } = self.plan else {
            return 0;
        };
        let mut unsent = 0;
        let mut sent = conn.sent;
        while self.due(rate, conn.number, sent) < self.end {
            unsent += 1;
            sent += 1;
        }
        unsent
    }
}

/// A request on the wire.
struct InFlight {
    scheduled: Instant,
    sent: Instant,
}

/// One keep-alive connection of a generator thread.
struct Connection {
    /// Its number among all the phase's connections.
    number: usize,
    stream: TcpStream,
    /// The next body to send; `None` once a plan with a finite share has sent it.
    body: Option<usize>,
    /// Requests sent so far (open loop: the next one's place in this connection's schedule).
    sent: u64,
    request: Vec<u8>,
    written: usize,
    /// Whether epoll is watching for writability (a request did not fit the socket at once).
    wants_write: bool,
    response: Vec<u8>,
    in_flight: Option<InFlight>,
    /// When its last answer arrived: a request due before that waited for the server, not for
    /// the generator.
    free_since: Instant,
    finished: bool,
    /// What this connection measured (merged into the phase's at the end).
    result: PhaseResult,
}

/// A parsed response: its status and where its body is.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    Incomplete,
    Complete { status: u16, body: Range<usize> },
}

/// Responses are small JSON documents; a head this long means the bytes are not what we expect.
const MAX_HEAD: usize = 16 * 1024;

/// Parses the one HTTP/1.1 response `buf` holds, once all of it has arrived.
fn parse_response(buf: &[u8]) -> Result<Parsed, String> {
    let Some(head_end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(format!(
                "no end of the response head in {} bytes",
                buf.len()
            ))
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let head = std::str::from_utf8(&buf[..head_end])
        .map_err(|_| "the response head is not UTF-8".to_owned())?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("not an HTTP/1.1 status line: {status_line:?}"))?;
    let mut length = None;
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("not a header line: {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| format!("content-length {value:?} is not a number"))?,
            );
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(format!("transfer-encoding {value:?} is not supported"));
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            return Err("the server closes the connection after this response".into());
        }
    }
    let length = length.ok_or("the response has no content-length")?;
    let body = head_end + 4..head_end + 4 + length;
    match buf.len().cmp(&body.end) {
        std::cmp::Ordering::Less => Ok(Parsed::Incomplete),
        std::cmp::Ordering::Equal => Ok(Parsed::Complete { status, body }),
        std::cmp::Ordering::Greater => Err(format!(
            "{} bytes arrived after the response",
            buf.len() - body.end
        )),
    }
}

impl Connection {
    /// Lays out and starts writing the request for the next body.
    fn send(
        &mut self,
        epoll: &OwnedFd,
        index: usize,
        target: &Target,
        head: &[u8],
        schedule: &Schedule,
        scheduled: Instant,
    ) -> io::Result<()> {
        let body_index = self.body.expect("a plan only sends while a body is left");
        let body = &target.bodies[body_index];
        self.request.clear();
        self.request.extend_from_slice(head);
        write!(self.request, "{}\r\n\r\n", body.len())?;
        self.request.extend_from_slice(body);
        self.written = 0;
        self.body = schedule.next_body(body_index);
        self.sent += 1;
        self.in_flight = Some(InFlight {
            scheduled,
            sent: Instant::now(),
        });
        self.flush(epoll, index)
    }

    /// Writes what the socket takes of the request; watches for writability if some is left.
    fn flush(&mut self, epoll: &OwnedFd, index: usize) -> io::Result<()> {
        while self.written < self.request.len() {
            match self.stream.write(&self.request[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if !self.wants_write {
                        let flags = epoll::EventFlags::IN | epoll::EventFlags::OUT;
                        epoll::modify(epoll, &self.stream, event_data(index), flags)?;
                        self.wants_write = true;
                    }
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        if self.wants_write {
            epoll::modify(
                epoll,
                &self.stream,
                event_data(index),
                epoll::EventFlags::IN,
            )?;
            self.wants_write = false;
        }
        Ok(())
    }

    /// Reads what has arrived; completes the request in flight once its answer is whole.
    fn receive(
        &mut self,
        scratch: &mut [u8],
        target: &Target,
        schedule: &Schedule,
    ) -> io::Result<()> {
        loop {
            let n = match self.stream.read(scratch) {
                Ok(0) => return Err(io::Error::other("the server closed the connection")),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            };
            self.response.extend_from_slice(&scratch[..n]);
            match parse_response(&self.response).map_err(io::Error::other)? {
                Parsed::Incomplete => {}
                Parsed::Complete { status, body } => {
                    let outcome =
                        if status == 200 && contains(&self.response[body.clone()], target.expect) {
                            Ok(())
                        } else {
                            Err(format!(
                                "HTTP {status}: {}",
                                String::from_utf8_lossy(&self.response[body])
                            ))
                        };
                    self.complete(outcome, schedule)?;
                    return Ok(());
                }
            }
        }
    }

    fn complete(&mut self, outcome: Result<(), String>, schedule: &Schedule) -> io::Result<()> {
        let now = Instant::now();
        let in_flight = self
            .in_flight
            .take()
            .ok_or_else(|| io::Error::other("a response arrived with no request in flight"))?;
        if self.written < self.request.len() {
            return Err(io::Error::other(
                "a response arrived before its request was sent",
            ));
        }
        self.response.clear();
        self.free_since = now;
        match outcome {
            Ok(()) => {
                self.result.all_requests += 1;
                if in_flight.scheduled >= schedule.measure_from {
                    let latency = now - in_flight.scheduled;
                    self.result.requests += 1;
                    self.result.latencies.push(nanos(latency));
                    if latency > SLOW
                        && matches!(schedule.plan, Plan::Open { .. })
                        && self.result.slow.len() < SLOW_KEPT
                    {
                        self.result.slow.push(SlowRequest {
                            connection: self.number,
                            scheduled_at: in_flight.scheduled - schedule.measure_from,
                            latency,
                            service: now - in_flight.sent,
                        });
                    }
                }
            }
            Err(err) => self.result.error(err),
        }
        Ok(())
    }
}

/// Runs one phase: `connections` connections to `target`, driven by `threads` generator threads.
/// Blocks until the phase is over.
pub fn run(
    target: &Target,
    plan: Plan,
    connections: usize,
    threads: usize,
) -> anyhow::Result<PhaseResult> {
    anyhow::ensure!(connections > 0, "a phase needs at least one connection");
    anyhow::ensure!(!target.bodies.is_empty(), "a phase needs at least one body");
    if let Plan::Open { rate, .. } = plan {
        anyhow::ensure!(
            rate.is_finite() && rate > 0.0,
            "the open-loop rate must be positive"
        );
    }
    let threads = threads.clamp(1, connections);
    let mut shares: Vec<Vec<(usize, TcpStream)>> = (0..threads).map(|_| Vec::new()).collect();
    for number in 0..connections {
        let stream = TcpStream::connect(target.addr)
            .with_context(|| format!("cannot connect to {}", target.addr))?;
        stream.set_nodelay(true)?;
        stream.set_nonblocking(true)?;
        shares[number % threads].push((number, stream));
    }
    let head = target.head();
    let schedule = Schedule::new(plan, connections, target.bodies.len());
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| {
                let (schedule, head) = (&schedule, &head[..]);
                std::thread::Builder::new()
                    .name("generator".into())
                    .spawn_scoped(scope, move || drive(share, target, head, schedule))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a generator thread panicked"))),
                Err(err) => Err(err.into()),
            })
            .collect::<Vec<_>>()
    });
    let mut parts = Vec::new();
    for outcome in outcomes {
        parts.extend(outcome?);
    }
    let window = match plan {
        Plan::EachOnce => schedule.start.elapsed(),
        Plan::Closed { duration, .. } | Plan::Open { duration, .. } => duration,
    };
    Ok(PhaseResult::merge(parts, window))
}

/// One generator thread: its connections' event loop, until every one of them is done.
fn drive(
    share: Vec<(usize, TcpStream)>,
    target: &Target,
    head: &[u8],
    schedule: &Schedule,
) -> anyhow::Result<Vec<PhaseResult>> {
    let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
    let mut conns = Vec::with_capacity(share.len());
    for (index, (number, stream)) in share.into_iter().enumerate() {
        epoll::add(&epoll, &stream, event_data(index), epoll::EventFlags::IN)?;
        conns.push(Connection {
            number,
            stream,
            body: Some(schedule.first_body(number)).filter(|&b| b < schedule.bodies),
            sent: 0,
            request: Vec::with_capacity(head.len() + 256),
            written: 0,
            wants_write: false,
            response: Vec::with_capacity(4096),
            in_flight: None,
            free_since: schedule.start,
            finished: false,
            result: PhaseResult::default(),
        });
    }
    let mut events = Vec::with_capacity(conns.len());
    let mut scratch = vec![0u8; 64 * 1024];
    loop {
        let now = Instant::now();
        if now >= schedule.give_up {
            for conn in conns.iter_mut().filter(|c| !c.finished) {
                if conn.in_flight.is_some() {
                    conn.result.error(format!(
                        "no answer within {:.1} s of the phase's end",
                        (schedule.give_up - schedule.end).as_secs_f64()
                    ));
                }
                conn.result.missed += schedule.unsent(conn);
            }
            break;
        }
        let mut wake = schedule.give_up;
        for (index, conn) in conns.iter_mut().enumerate() {
            if conn.finished || conn.in_flight.is_some() {
                continue;
            }
            match schedule.next(conn, now) {
                Next::Done => conn.finished = true,
                Next::At(due) => wake = wake.min(due),
                Next::Send(scheduled) => {
                    if scheduled >= schedule.measure_from
                        && matches!(schedule.plan, Plan::Open { .. })
                    {
                        let lag = now.saturating_duration_since(scheduled.max(conn.free_since));
                        conn.result.generator_lags.push(nanos(lag));
                    }
                    if let Err(err) = conn.send(&epoll, index, target, head, schedule, scheduled) {
                        fail(&epoll, conn, format!("sending: {err}"));
                    }
                }
            }
        }
        // A connection finishes only with no request in flight.
        if conns.iter().all(|c| c.finished) {
            break;
        }
        let timeout = Timespec::try_from(wake.saturating_duration_since(now))
            .context("an epoll timeout out of range")?;
        events.clear();
        match epoll::wait(&epoll, spare_capacity(&mut events), Some(&timeout)) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(err) => return Err(err.into()),
        }
        for event in &events {
            let index = event.data.u64() as usize;
            let flags = event.flags;
            let conn = &mut conns[index];
            if conn.finished {
                continue;
            }
            let outcome = if flags.contains(epoll::EventFlags::OUT) && conn.wants_write {
                conn.flush(&epoll, index)
            } else {
                Ok(())
            }
            .and_then(|()| conn.receive(&mut scratch, target, schedule));
            if let Err(err) = outcome {
                fail(&epoll, conn, format!("{err}"));
            }
        }
    }
    Ok(conns.into_iter().map(|c| c.result).collect())
}

/// Tells epoll which of a thread's connections an event is for: its index there.
fn event_data(index: usize) -> epoll::EventData {
    epoll::EventData::new_u64(index as u64)
}

/// Gives up on a broken connection: its request in flight (if any) is an error.
fn fail(epoll: &OwnedFd, conn: &mut Connection, err: String) {
    conn.result.error(err);
    conn.in_flight = None;
    conn.finished = true;
    // Level-triggered: a closed socket would otherwise report readiness forever.
    let _ = epoll::delete(epoll, &conn.stream);
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 14\r\n\r\n{\"valid\":true}";

    #[test]
    fn a_whole_response_is_complete() {
        let head_len = OK.len() - 14;
        assert_eq!(
            parse_response(OK),
            Ok(Parsed::Complete {
                status: 200,
                body: head_len..OK.len()
            })
        );
    }

    #[test]
    fn a_response_in_pieces_is_incomplete_until_its_last_byte() {
        for cut in [0, 5, 40, OK.len() - 15, OK.len() - 14, OK.len() - 1] {
            assert_eq!(
                parse_response(&OK[..cut]),
                Ok(Parsed::Incomplete),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn header_names_are_case_insensitive_and_the_status_is_read() {
        let response = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            parse_response(response),
            Ok(Parsed::Complete {
                status: 404,
                body: response.len() - 2..response.len()
            })
        );
    }

    #[test]
    fn what_the_generator_cannot_check_is_an_error() {
        let cases: [&[u8]; 5] = [
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}{}",
            b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n{}",
        ];
        for case in cases {
            assert!(
                parse_response(case).is_err(),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn open_loop_requests_rotate_over_the_connections_at_the_rate() {
        let plan = Plan::Open {
            rate: 1000.0,
            warmup: Duration::ZERO,
            duration: Duration::from_secs(1),
            offset: 0,
        };
        let schedule = Schedule::new(plan, 4, 10);
        // Request k = sent * 4 + number is due k ms after the start.
        assert_eq!(
            schedule.due(1000.0, 1, 0) - schedule.start,
            Duration::from_millis(1)
        );
        assert_eq!(
            schedule.due(1000.0, 1, 2) - schedule.start,
            Duration::from_millis(9)
        );
        assert_eq!(schedule.first_body(3), 3);
        assert_eq!(schedule.next_body(9), Some(3));
    }

    #[test]
    fn the_tail_tells_stalls_of_the_whole_server_from_requests_slow_on_their_own() {
        let ms = Duration::from_millis;
        let slow = |connection, scheduled_at, latency, service| SlowRequest {
            connection,
            scheduled_at,
            latency,
            service,
        };
        let result = PhaseResult {
            requests: 200,
            connections: 4,
            slow: vec![
                // Slice 0: two of four connections slow at once, a stall.
                slow(0, ms(1), ms(2), ms(2)),
                slow(1, ms(9), ms(3), ms(2)),
                // Slice 5: one connection, its request queued behind a slow one.
                slow(2, ms(52), ms(4), ms(1)),
                // Slice 7: one connection alone is no stall, whatever its latency.
                slow(3, ms(75), ms(9), ms(8)),
            ],
            ..PhaseResult::default()
        };
        let tail = result.tail().expect("slow requests");
        assert_eq!(
            tail,
            Tail {
                slow: 4,
                share: 0.02,
                stalls: 1,
                slow_in_stalls: 2,
                queued: 1,
                worst: ms(9),
                longest_service: ms(8),
            }
        );
        assert!(PhaseResult::default().tail().is_none());
    }
}
