//! Group commit: the writes that arrive while the previous commit runs share the next one.
//!
//! A credit spend or a key creation is a few statements and one commit. Committed one by one,
//! each pays a transaction of its own and the hand-offs to the database connection's thread
//! (SQLite's one writer) or a round trip per statement (PostgreSQL), and the writer is busy with
//! commits rather than with the work. A [`GroupCommit`] queues such requests for one task that
//! takes every request waiting (up to [`MAX_BATCH`]), handles them in one transaction with
//! statements over the whole batch, commits once, and only then answers each: a request is
//! acknowledged when its batch is durable, exactly as before, and a failed batch answers every
//! request of it with the error (none of them was applied).
//!
//! Under no load a batch is one request and waits for nothing; under load the batch grows by
//! itself to what arrived during the previous commit, so no timer or size has to be tuned.
//!
//! A request whose client hung up before its batch started is dropped unapplied (nobody would be
//! told it happened); once its batch started it is applied like the others, and its effects
//! (cache invalidations included) happen in the task, whatever the request's future does.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::Keyward;
use crate::error::{ApiError, ApiResult};

/// Most requests in one batch: it bounds a statement's bound parameters (13 per key row; SQLite
/// takes 32,766) and the time any one request waits behind the others of its batch.
pub const MAX_BATCH: usize = 256;

/// Requests waiting beyond the running batch; past it, submitters wait for room (back-pressure
/// rather than unbounded memory).
const QUEUE: usize = 8 * MAX_BATCH;

/// One queued request: what to do, and where its answer goes.
pub struct Pending<R, A> {
    pub request: R,
    reply: oneshot::Sender<ApiResult<A>>,
}

impl<R, A> Pending<R, A> {
    /// Answers the request (ignored when its client is gone).
    pub fn answer(self, answer: ApiResult<A>) {
        let _ = self.reply.send(answer);
    }

    /// Answers the request with what `answer` makes of it.
    pub fn answer_with(self, answer: impl FnOnce(R) -> ApiResult<A>) {
        let Pending { request, reply } = self;
        let _ = reply.send(answer(request));
    }

    /// Whether nobody awaits the answer any more.
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// Answers every request of `batch` with `err` (its batch failed: none of it was applied).
pub fn answer_all<R, A>(batch: Vec<Pending<R, A>>, err: &ApiError) {
    for pending in batch {
        pending.answer(Err(err.clone()));
    }
}

/// Handles one batch: answers every request of it.
pub type Handler<R, A> =
    fn(Arc<Keyward>, Vec<Pending<R, A>>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A queue of requests of one kind and the task that commits them in batches (started on first
/// use, ended when the [`Keyward`] is dropped).
pub struct GroupCommit<R, A> {
    keyward: Weak<Keyward>,
    handler: Handler<R, A>,
    /// Batches that may commit at once (see [`GroupCommit::new`]).
    in_flight: usize,
    queue: OnceLock<mpsc::Sender<Pending<R, A>>>,
    stats: Arc<GroupStats>,
}

/// How many batches were committed and how many requests they held (`/metrics`: the ratio is
/// the mean batch size). Written once per batch, by the one task.
#[derive(Debug, Default)]
pub struct GroupStats {
    pub batches: AtomicU64,
    pub requests: AtomicU64,
}

impl<R: Send + 'static, A: Send + 'static> GroupCommit<R, A> {
    /// A group commit running `handler` on each batch, with up to `in_flight` batches committing
    /// at once. More than one pays only where a batch mostly waits (on a flush to disk or a
    /// round trip) rather than works: side by side, the requests split into smaller batches,
    /// and each batch has a fixed cost of its own.
    pub fn new(keyward: Weak<Keyward>, handler: Handler<R, A>, in_flight: usize) -> Self {
        GroupCommit {
            keyward,
            handler,
            in_flight: in_flight.max(1),
            queue: OnceLock::new(),
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> &GroupStats {
        &self.stats
    }

    /// Queues `request` and waits for the answer of its batch.
    pub async fn submit(&self, request: R) -> ApiResult<A> {
        let (reply, answer) = oneshot::channel();
        let queue = self.queue.get_or_init(|| self.start());
        if queue.send(Pending { request, reply }).await.is_err() {
            return Err(ApiError::internal("the group commit task has stopped"));
        }
        answer.await.unwrap_or_else(|_| {
            Err(ApiError::internal(
                "the group commit task dropped a request",
            ))
        })
    }

    fn start(&self) -> mpsc::Sender<Pending<R, A>> {
        let (queue, mut requests) = mpsc::channel(QUEUE);
        let (keyward, handler, stats) = (self.keyward.clone(), self.handler, self.stats.clone());
        let slots = Arc::new(Semaphore::new(self.in_flight));
        tokio::spawn(async move {
            loop {
                // A slot first, then the batch: what arrives while every slot is busy joins it.
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                // Ends when the queue's sender, owned by the `Keyward`, is dropped with it.
                let Some(first) = requests.recv().await else {
                    break;
                };
                let mut batch: Vec<Pending<R, A>> = Vec::with_capacity(MAX_BATCH);
                batch.push(first);
                while batch.len() < MAX_BATCH {
                    match requests.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                batch.retain(|pending| !pending.abandoned());
                if batch.is_empty() {
                    continue;
                }
                let Some(keyward) = keyward.upgrade() else {
                    break;
                };
                stats.batches.fetch_add(1, Relaxed);
                stats.requests.fetch_add(batch.len() as u64, Relaxed);
                tokio::spawn(async move {
                    // A panic in a handler is a bug; it must not stop every later request too.
                    if let Err(panic) = tokio::spawn(handler(keyward, batch)).await {
                        tracing::error!(%panic, "a group commit batch failed");
                    }
                    drop(slot);
                });
            }
        });
        queue
    }
}
