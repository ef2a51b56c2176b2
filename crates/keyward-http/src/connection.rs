//! Serving connections: the accept loop, the cap on open connections, and the timeouts that
//! bound how long a client may hold a connection without sending a request.
//!
//! Without them a client that connects and sends nothing, half a request head or half a body,
//! or opens keep-alive connections and leaves them idle, holds a socket and a file descriptor
//! for as long as it likes; enough of them exhaust the server before authentication is even
//! reached. Here every connection is at any moment in one [`Phase`], and each phase in which the
//! client owes the server something has a deadline:
//!
//! | phase | from | until | limit |
//! |---|---|---|---|
//! | head | the connection is accepted, or a later request's first byte arrives | the request head is complete | header timeout |
//! | body | the head is complete | the handler has read the body to its end | body timeout |
//! | busy | the body is read (or there is none) | the response is ready | none: the server's own work |
//! | idle | the response is ready | the next request's first byte arrives | idle timeout |
//!
//! A connection past its head or idle deadline is closed without an answer (there is no request
//! to answer); one past its body deadline has the body read fail, which the body extractor
//! answers with 408 and `Connection: close`. The idle phase starts when the response is ready,
//! so the idle timeout also bounds how long a client may take to read a response.
//!
//! hyper's own `header_read_timeout` (1.12) is not used. On a keep-alive connection it starts
//! as soon as a response is written, so the idle time before the next request counts against
//! it: one timeout cannot be both a short header limit and a longer idle one. It also drops its
//! timer once a head is read and allocates a new boxed one for the next request.
//! Instead each connection's task runs a [`Watchdog`] next to the connection: the phase
//! changes are stored in one atomic word by whoever causes them (a read that brings the first
//! byte, the per-request service, the body), all in this task, and the watchdog, polled right
//! after the connection on every wake-up of the task, turns them into one timer that is reset
//! only when a deadline moves earlier or the timer fires — about once per idle timeout on a busy
//! connection, never per request.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

/// How long a client may take, and how many connections may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// To send a request's head (request line and headers).
    pub header_timeout: Duration,
    /// To send a request's body, counted from the end of its head.
    pub body_timeout: Duration,
    /// Between a response being ready and the next request's first byte.
    pub idle_timeout: Duration,
    /// Connections served at once; further ones wait in the listen queue.
    pub max_connections: usize,
}

/// Serves `listener` until `stop` completes, then stops accepting, lets every connection finish
/// the request it is serving (idle connections close at once), and returns when all are closed.
///
/// At most `limits.max_connections` connections are served at once. Past that the loop stops
/// accepting: new connections wait in the kernel's listen queue (and a client sees a slow
/// connect, not a refusal) and are taken in arrival order as open ones close, which the
/// timeouts guarantee happens. Accepting and closing them at once instead would turn every
/// client's retry into more work for a server that is already full.
pub async fn serve<S>(
    listener: TcpListener,
    mut connection: impl FnMut(SocketAddr, Arc<Activity>) -> S,
    limits: Limits,
    stop: impl Future<Output = ()>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    // At least one (zero would serve nothing), and a count the final `acquire_many` can ask for.
    let max_connections = limits.max_connections.clamp(1, u32::MAX as usize);
    let slots = Arc::new(Semaphore::new(max_connections));
    // Dropped to tell every connection to shut down gracefully.
    let (closing, closed) = watch::channel(());
    let mut stop = pin!(stop);
    let mut builder = http1::Builder::new();
    // Off: the watchdog times heads (see the module docs).
    builder.header_read_timeout(None);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
        };
        let activity = Arc::new(Activity::new());
        let service = connection(peer, Arc::clone(&activity));
        let io = TokioIo::new(WatchedStream {
            stream,
            activity: Arc::clone(&activity),
        });
        let conn = builder.serve_connection(io, service);
        let mut closed = closed.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = closed.changed().await;
            };
            match serve_connection(conn, Watchdog::new(activity, limits), shutdown).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => tracing::debug!(%peer, %err, "connection failed"),
                Err(phase) => tracing::debug!(%peer, ?phase, "connection timed out; closed"),
            }
            drop(slot);
        });
    }
    drop(listener);
    drop(closing);
    // Every connection holds a slot until it ends: all slots back means all connections closed.
    let _ = slots.acquire_many(max_connections as u32).await;
}

/// File descriptors kept for everything but client connections: the database's files (a writer
/// and four readers, each with its write-ahead log), the listener, standard streams.
const RESERVED_DESCRIPTORS: u64 = 64;

/// The connection cap the process's file-descriptor limit allows for `wanted`.
///
/// Raises the soft limit toward the hard one when `wanted` needs it. Past the limit `accept`
/// would fail (EMFILE), and so would the database opening its files, which is worse than
/// queueing: if even the hard limit is too low, the cap is lowered to fit, with a warning.
pub fn fit_descriptor_limit(wanted: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = wanted as u64 + RESERVED_DESCRIPTORS;
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current.unwrap_or(u64::MAX);
    if soft >= needed {
        return wanted;
    }
    let raised = limit.maximum.unwrap_or(u64::MAX).min(needed);
    let soft = match setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        },
    ) {
        Ok(()) => raised,
        Err(_) => soft,
    };
    if soft >= needed {
        return wanted;
    }
    let fitted = soft.saturating_sub(RESERVED_DESCRIPTORS).max(1) as usize;
    tracing::warn!(
        wanted,
        fitted,
        descriptor_limit = soft,
        "the file-descriptor limit (ulimit -n) is too low for --max-connections; serving at most {fitted} connections at once"
    );
    fitted
}

/// Drives one connection next to its watchdog until it ends, times out (`Err(phase)`), or
/// finishes after `shutdown`.
async fn serve_connection<S>(
    conn: http1::Connection<TokioIo<WatchedStream>, S>,
    mut watchdog: Watchdog,
    shutdown: impl Future<Output = ()>,
) -> Result<hyper::Result<()>, Phase>
where
    S: hyper::service::Service<Request<Incoming>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    let mut conn = pin!(conn);
    let mut shutdown = pin!(shutdown);
    let mut shutting_down = false;
    std::future::poll_fn(|cx| {
        // The connection first: the phase changes it makes are seen by the watchdog right after.
        if let Poll::Ready(result) = conn.as_mut().poll(cx) {
            return Poll::Ready(Ok(result));
        }
        if let Poll::Ready(phase) = watchdog.poll(cx) {
            return Poll::Ready(Err(phase));
        }
        if !shutting_down && shutdown.as_mut().poll(cx).is_ready() {
            shutting_down = true;
            // Closes the connection if idle, else after the response in flight.
            conn.as_mut().graceful_shutdown();
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    })
    .await
}

/// What the accept loop does when `accept` fails. Errors of one connection (it was reset
/// before being accepted) concern only it; anything else, such as running out of file
/// descriptors, would fail again at once, so the loop pauses first.
async fn accept_failed(err: io::Error) {
    use io::ErrorKind::*;
    if matches!(
        err.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    ) {
        return;
    }
    tracing::error!(%err, "cannot accept connections; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// What a connection is doing; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Head = 0,
    Body = 1,
    /// The body timeout expired; the body's reader fails from now on.
    BodyExpired = 2,
    Busy = 3,
    Idle = 4,
}

impl Phase {
    fn from_bits(bits: u64) -> Phase {
        match bits {
            0 => Phase::Head,
            1 => Phase::Body,
            2 => Phase::BodyExpired,
            3 => Phase::Busy,
            _ => Phase::Idle,
        }
    }
}

/// The phase of one connection and when it began, shared by the pieces that change it.
///
/// One word: the phase in the top bits, the start in nanoseconds since the connection was
/// accepted in the rest, or [`UNSTAMPED`] when the writer did not read the clock (the watchdog
/// stamps it when it first sees the phase, which is at the end of the same poll). Every writer
/// runs in the connection's task, so plain loads and stores suffice.
pub struct Activity {
    word: AtomicU64,
    accepted: Instant,
}

const PHASE_SHIFT: u32 = 61;
const SINCE_MASK: u64 = (1 << PHASE_SHIFT) - 1;
const UNSTAMPED: u64 = SINCE_MASK;

fn pack(phase: Phase, since: u64) -> u64 {
    ((phase as u64) << PHASE_SHIFT) | (since & SINCE_MASK)
}

impl Activity {
    fn new() -> Activity {
        Activity {
            word: AtomicU64::new(pack(Phase::Head, 0)),
            accepted: Instant::now(),
        }
    }

    fn load(&self) -> (Phase, u64) {
        let word = self.word.load(Ordering::Relaxed);
        (Phase::from_bits(word >> PHASE_SHIFT), word & SINCE_MASK)
    }

    fn set(&self, phase: Phase, since: u64) {
        self.word.store(pack(phase, since), Ordering::Relaxed);
    }

    fn phase(&self) -> Phase {
        self.load().0
    }

    fn nanos_since_accepted(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.accepted).as_nanos())
            .unwrap_or(UNSTAMPED - 1)
            .min(UNSTAMPED - 1)
    }

    /// A request's head has been read; `has_body` when a body follows.
    pub fn request_started(&self, has_body: bool) {
        let phase = if has_body { Phase::Body } else { Phase::Busy };
        self.set(phase, UNSTAMPED);
    }

    /// The response is ready at `at`. Returns whether the request's body was left unread: the
    /// connection must then close after this response, since the rest of the body is still on
    /// its way and would be read as the next request (the caller says so with `Connection:
    /// close`, which keep-alive clients need to hear before they reuse the connection).
    pub fn response_ready(&self, at: Instant) -> bool {
        let unread = matches!(self.phase(), Phase::Body | Phase::BodyExpired);
        self.set(Phase::Idle, self.nanos_since_accepted(at));
        unread
    }

    fn body_finished(&self) {
        if self.phase() == Phase::Body {
            self.set(Phase::Busy, UNSTAMPED);
        }
    }

    fn bytes_arrived(&self) {
        if self.phase() == Phase::Idle {
            self.set(Phase::Head, UNSTAMPED);
        }
    }
}

/// Enforces a connection's deadlines; see the module docs.
struct Watchdog {
    activity: Arc<Activity>,
    limits: Limits,
    timer: Pin<Box<tokio::time::Sleep>>,
    /// When `timer` fires.
    armed: Instant,
}

impl Watchdog {
    fn new(activity: Arc<Activity>, limits: Limits) -> Watchdog {
        let armed = activity.accepted + limits.header_timeout;
        Watchdog {
            activity,
            limits,
            timer: Box::pin(tokio::time::sleep_until(armed.into())),
            armed,
        }
    }

    /// The deadline of the current phase, stamping its start if its writer left it unstamped.
    fn deadline(&self) -> (Phase, Option<Instant>) {
        let (phase, since) = self.activity.load();
        let limit = match phase {
            Phase::Head => self.limits.header_timeout,
            Phase::Body => self.limits.body_timeout,
            Phase::Idle => self.limits.idle_timeout,
            Phase::Busy | Phase::BodyExpired => return (phase, None),
        };
        let start = if since == UNSTAMPED {
            let now = Instant::now();
            self.activity
                .set(phase, self.activity.nanos_since_accepted(now));
            now
        } else {
            self.activity.accepted + Duration::from_nanos(since)
        };
        (phase, Some(start + limit))
    }

    fn arm(&mut self, at: Instant) {
        self.armed = at;
        self.timer.as_mut().reset(at.into());
    }

    /// Ready with the phase whose deadline passed when the connection must be closed.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Phase> {
        loop {
            let (phase, deadline) = self.deadline();
            if let Some(deadline) = deadline
                && deadline < self.armed
            {
                self.arm(deadline);
            }
            if self.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            match deadline {
                Some(deadline) if deadline <= now => {
                    if phase != Phase::Body {
                        return Poll::Ready(phase);
                    }
                    // Let the handler answer: its next read of the body fails (408).
                    self.activity.set(Phase::BodyExpired, UNSTAMPED);
                    cx.waker().wake_by_ref();
                }
                // Not yet (the phase changed since the timer was set): wait for the
                // current deadline.
                Some(deadline) => self.arm(deadline),
                // Nothing is owed now; a phase that starts owing moves the timer earlier.
                None => self.arm(now + self.limits.idle_timeout),
            }
        }
    }
}

/// The client's socket, telling the activity when the first byte of a request arrives.
struct WatchedStream {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for WatchedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let filled = buf.filled().len();
        let poll = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > filled {
            this.activity.bytes_arrived();
        }
        poll
    }
}

impl AsyncWrite for WatchedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// A request body that tells the activity when it has been read to its end, and fails with
/// [`BodyTimedOut`] once the body timeout expired.
pub struct WatchedBody {
    body: Incoming,
    activity: Arc<Activity>,
}

impl WatchedBody {
    pub fn new(body: Incoming, activity: Arc<Activity>) -> WatchedBody {
        WatchedBody { body, activity }
    }
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.activity.phase() == Phase::BodyExpired {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        let frame = std::task::ready!(Pin::new(&mut this.body).poll_frame(cx));
        if frame.is_none() || this.body.is_end_stream() {
            this.activity.body_finished();
        }
        Poll::Ready(frame.map(|frame| frame.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The body did not arrive within the body timeout.
#[derive(Debug)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive within the body timeout")
    }
}

impl std::error::Error for BodyTimedOut {}
