//! Several nodes over one PostgreSQL: every node hears every other node's cache invalidations,
//! and a node that may have missed some stops trusting its caches until it has caught up.
//!
//! - **Publishing**: [`crate::work::Work::commit`] sends the commit's invalidations, encoded by
//!   [`encode`], with `pg_notify` inside the committing transaction, so PostgreSQL delivers them
//!   exactly when the change becomes visible, and never for a change that rolled back. A payload
//!   past PostgreSQL's limit (8000 bytes) says "forget everything" instead ([`FORGET_ALL`]).
//! - **Listening**: [`start`] runs one task per node with a connection of its own
//!   (`keyward_store::notify::Subscriber`) that applies what other nodes publish with the same
//!   [`crate::Caches::apply`] the publishing node used (a node's own messages are skipped by the
//!   node id they carry: it applied them already).
//! - **Losing the channel**: notifications sent while a node is not listening are lost for it.
//!   So the moment the listening connection fails, the node bypasses its caches (every
//!   verification and root-key authentication reads the database, nothing is cached), counts the
//!   loss, logs a warning and answers `GET /v2/liveness` with 503. It resubscribes by itself
//!   (retrying at once, then backing off up to 1 s); once LISTEN is in place, every change
//!   committed later reaches it, and everything committed before is in the database, so it
//!   forgets every cache entry (and detaches loads in flight), and only then uses its caches
//!   again, with an info line in the log.
//! - **Silent loss**: a connection can also die without an error (a network partition, a stuck
//!   server process). Each node sends itself a heartbeat every [`HEARTBEAT_PERIOD`] through
//!   PostgreSQL over a second connection; when nothing (heartbeat or invalidation) has arrived
//!   for [`HEARTBEAT_DEADLINE`], the channel counts as lost as above. So a change committed
//!   anywhere is honoured by this node either when its notification arrives, or — if the
//!   channel died silently just before — at most [`HEARTBEAT_DEADLINE`] later, when the node
//!   stops using its caches. docs/ARCHITECTURE.md states this bound.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use keyward_store::BackendKind;
use keyward_store::notify::{self, Heartbeat, Message, Subscriber};
use keyward_types::liveness::InvalidationState;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::key_material::KeyHash;
use crate::work::Invalidation;
use crate::{Caches, Keyward};

/// How often a node sends itself a heartbeat.
pub const HEARTBEAT_PERIOD: Duration = Duration::from_millis(250);

/// How long a node waits for any message before it declares its channel lost.
pub const HEARTBEAT_DEADLINE: Duration = Duration::from_secs(1);

/// The longest wait between two attempts to resubscribe.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The body of a payload that asks every node to forget all its cache entries.
pub const FORGET_ALL: &str = "*";

/// This node's view of the invalidation channel.
pub struct Nodes {
    /// A random id, fresh per process: names its messages and its connections.
    pub id: Arc<str>,
    state: AtomicU8,
    losses: AtomicU64,
}

impl Nodes {
    /// `Local` until [`start`] subscribes: a keyward that never starts a listener (the unit
    /// tests of the logic layer) is alone and keeps its caches.
    pub(crate) fn new() -> Nodes {
        let id = ulid::Ulid::generate().to_string().to_ascii_lowercase();
        Nodes {
            id: id.into(),
            state: AtomicU8::new(InvalidationState::Local as u8),
            losses: AtomicU64::new(0),
        }
    }

    pub fn state(&self) -> InvalidationState {
        match self.state.load(Relaxed) {
            s if s == InvalidationState::Subscribed as u8 => InvalidationState::Subscribed,
            s if s == InvalidationState::Degraded as u8 => InvalidationState::Degraded,
            _ => InvalidationState::Local,
        }
    }

    fn set_state(&self, state: InvalidationState) {
        self.state.store(state as u8, Relaxed);
    }

    /// How many times the channel was lost since the process started.
    pub fn losses(&self) -> u64 {
        self.losses.load(Relaxed)
    }
}

/// The payload announcing `invalidations` from `node`: a header line `v1 <node>`, then one line
/// per invalidation, or [`FORGET_ALL`] when they would not fit in a notification.
pub fn encode(node: &str, invalidations: &[Invalidation]) -> String {
    let mut out = format!("v1 {node}\n");
    let header = out.len();
    for invalidation in invalidations {
        let _ = match invalidation {
            Invalidation::Key(hash) => writeln!(out, "k {}", hex(hash)),
            Invalidation::RootKey(hash) => writeln!(out, "r {}", hex(hash)),
            Invalidation::KeysOfApi(id) => writeln!(out, "a {id}"),
            Invalidation::KeysWithPermission(id) => writeln!(out, "p {id}"),
            Invalidation::KeysWithRole(id) => writeln!(out, "l {id}"),
            Invalidation::KeysOfIdentity(id) => writeln!(out, "i {id}"),
            Invalidation::Namespace(id) => writeln!(out, "n {id}"),
            Invalidation::NamespaceLookup(lookup) => writeln!(out, "N {}", hex(lookup)),
        };
        if out.len() > notify::MAX_PAYLOAD {
            out.truncate(header);
            out.push_str(FORGET_ALL);
            break;
        }
    }
    out
}

/// What a payload asks of this node.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// It came from this node, which applied it when it committed.
    Own,
    Apply(Vec<Invalidation>),
    /// Forget every cache entry: the sender had too much to say, or this version cannot read it.
    ForgetAll,
}

/// Reads a payload of [`encode`] for node `me`. Anything unreadable (a newer version's format)
/// means "forget everything", which is always safe.
pub fn decode(me: &str, payload: &str) -> Decoded {
    let mut lines = payload.lines();
    let Some(from) = lines.next().and_then(|l| l.strip_prefix("v1 ")) else {
        return Decoded::ForgetAll;
    };
    if from == me {
        return Decoded::Own;
    }
    let mut out = Vec::new();
    for line in lines {
        let Some((kind, arg)) = line.split_once(' ') else {
            return Decoded::ForgetAll;
        };
        let id = || Arc::<str>::from(arg);
        out.push(match kind {
            "k" => match unhex(arg) {
                Some(hash) => Invalidation::Key(hash),
                None => return Decoded::ForgetAll,
            },
            "r" => match unhex(arg) {
                Some(hash) => Invalidation::RootKey(hash),
                None => return Decoded::ForgetAll,
            },
            "a" => Invalidation::KeysOfApi(id()),
            "p" => Invalidation::KeysWithPermission(id()),
            "l" => Invalidation::KeysWithRole(id()),
            "i" => Invalidation::KeysOfIdentity(id()),
            "n" => Invalidation::Namespace(id()),
            "N" => match unhex(arg) {
                Some(lookup) => Invalidation::NamespaceLookup(lookup),
                None => return Decoded::ForgetAll,
            },
            _ => return Decoded::ForgetAll,
        });
    }
    if out.is_empty() {
        // The header alone, or the header and `*`.
        return Decoded::ForgetAll;
    }
    Decoded::Apply(out)
}

fn hex(hash: &KeyHash) -> String {
    let mut out = String::with_capacity(64);
    for byte in hash.0 {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<KeyHash> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut hash = [0u8; 32];
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(KeyHash(hash))
}

impl Caches {
    /// Forgets every entry of every cache, loads in flight included.
    pub fn forget_all(&self) {
        self.keys.clear();
        self.root_keys.clear();
        self.namespaces.clear();
    }

    fn set_bypass(&self, bypass: bool) {
        self.keys.set_bypass(bypass);
        self.root_keys.set_bypass(bypass);
        self.namespaces.set_bypass(bypass);
    }
}

/// The listening task of a node; aborted on drop (and so on shutdown).
pub struct Listener {
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts listening for the other nodes' invalidations (`None` on SQLite). Returns once the first
/// attempt to subscribe has succeeded or failed: a node that could not subscribe starts degraded,
/// bypassing its caches, and keeps trying.
pub async fn start(keyward: &Arc<Keyward>) -> Option<Listener> {
    if keyward.db.kind() != BackendKind::Postgres {
        return None;
    }
    // Nothing was missed before this point only if nothing was cached: bypass until subscribed.
    keyward.caches.set_bypass(true);
    keyward.nodes.set_state(InvalidationState::Degraded);
    let first = match Subscriber::connect(&keyward.db, &keyward.nodes.id).await {
        Ok(subscriber) => subscriber,
        Err(err) => {
            tracing::warn!(%err, "cannot subscribe to invalidations yet; bypassing the caches until then");
            None
        }
    };
    if first.is_some() {
        catch_up(keyward, false);
    }
    Some(Listener {
        task: tokio::spawn(run(keyward.clone(), first)),
    })
}

/// Subscribed: forget what may be stale, then trust the caches again.
fn catch_up(keyward: &Keyward, recovered: bool) {
    keyward.caches.forget_all();
    keyward.nodes.set_state(InvalidationState::Subscribed);
    keyward.caches.set_bypass(false);
    if recovered {
        tracing::info!(
            node = %keyward.nodes.id,
            "invalidation channel restored: caches forgotten and in use again"
        );
    } else {
        tracing::info!(node = %keyward.nodes.id, "listening for the other nodes' invalidations");
    }
}

/// The wait before resubscribing after `failures` consecutive short-lived subscriptions.
fn backoff(failures: u32) -> Duration {
    match failures {
        0 => Duration::ZERO,
        n => (Duration::from_millis(50) * 2u32.saturating_pow(n - 1)).min(MAX_BACKOFF),
    }
}

async fn run(keyward: Arc<Keyward>, first: Option<Subscriber>) {
    let _beating = match Heartbeat::new(&keyward.db, &keyward.nodes.id).await {
        Ok(Some(heartbeat)) => Some(Listener {
            task: tokio::spawn(beat(heartbeat)),
        }),
        _ => None,
    };
    let mut subscriber = first;
    let mut failures = 0u32;
    loop {
        let mut current = match subscriber.take() {
            Some(current) => current,
            None => match Subscriber::connect(&keyward.db, &keyward.nodes.id).await {
                Ok(Some(current)) => {
                    catch_up(&keyward, true);
                    current
                }
                Ok(None) => return,
                Err(err) => {
                    failures = failures.saturating_add(1);
                    if failures.is_power_of_two() {
                        tracing::warn!(%err, attempts = failures, "cannot resubscribe to invalidations yet; still bypassing the caches");
                    }
                    tokio::time::sleep(backoff(failures)).await;
                    continue;
                }
            },
        };
        let since = Instant::now();
        let reason = listen(&keyward, &mut current).await;
        // Bypass first: from here on, nothing cached is trusted.
        keyward.caches.set_bypass(true);
        keyward.nodes.set_state(InvalidationState::Degraded);
        keyward.nodes.losses.fetch_add(1, Relaxed);
        tracing::warn!(
            node = %keyward.nodes.id,
            %reason,
            "lost the invalidation channel: every verification and root-key authentication reads \
             the database until it is restored"
        );
        drop(current);
        // A subscription that lasted is a new incident: retry at once. One that failed fast is
        // the same incident again: back off.
        failures = if since.elapsed() > Duration::from_secs(5) {
            0
        } else {
            failures.saturating_add(1)
        };
        tokio::time::sleep(backoff(failures)).await;
    }
}

/// Applies what arrives until the channel is lost, and says why it was.
async fn listen(keyward: &Keyward, subscriber: &mut Subscriber) -> String {
    let mut deadline = Instant::now() + HEARTBEAT_DEADLINE;
    loop {
        match tokio::time::timeout_at(deadline, subscriber.recv()).await {
            Err(_) => {
                return format!("nothing arrived for {HEARTBEAT_DEADLINE:?}, heartbeats included");
            }
            Ok(Err(err)) => return err.to_string(),
            Ok(Ok(message)) => {
                deadline = Instant::now() + HEARTBEAT_DEADLINE;
                if let Message::Published(payload) = message {
                    apply(keyward, &payload);
                }
            }
        }
    }
}

fn apply(keyward: &Keyward, payload: &str) {
    match decode(&keyward.nodes.id, payload) {
        Decoded::Own => {}
        Decoded::Apply(invalidations) => {
            for invalidation in &invalidations {
                keyward.caches.apply(invalidation);
            }
        }
        Decoded::ForgetAll => keyward.caches.forget_all(),
    }
}

async fn beat(heartbeat: Heartbeat) {
    let mut every = tokio::time::interval(HEARTBEAT_PERIOD);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(err) = heartbeat.beat().await {
            // The listener notices the missing heartbeat; this says why.
            tracing::debug!(%err, "a heartbeat failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<Invalidation> {
        vec![
            Invalidation::Key(KeyHash::of("sk_one")),
            Invalidation::RootKey(KeyHash::of("root")),
            Invalidation::KeysOfApi("api_1".into()),
            Invalidation::KeysWithPermission("perm_1".into()),
            Invalidation::KeysWithRole("role_1".into()),
            Invalidation::KeysOfIdentity("id_1".into()),
            Invalidation::Namespace("ns_1".into()),
            Invalidation::NamespaceLookup(KeyHash::of("ws_1/api.requests")),
        ]
    }

    #[test]
    fn every_invalidation_round_trips() {
        let payload = encode("node_a", &all_kinds());
        assert_eq!(decode("node_b", &payload), Decoded::Apply(all_kinds()));
        assert_eq!(decode("node_a", &payload), Decoded::Own);
    }

    #[test]
    fn too_much_to_say_becomes_forget_all() {
        let many: Vec<Invalidation> = (0..200)
            .map(|n| Invalidation::Key(KeyHash::of(&format!("sk_{n}"))))
            .collect();
        let payload = encode("node_a", &many);
        assert!(payload.len() <= notify::MAX_PAYLOAD, "{}", payload.len());
        assert_eq!(decode("node_b", &payload), Decoded::ForgetAll);
        // Just under the limit still names them.
        let few = &many[..100];
        assert_eq!(
            decode("node_b", &encode("node_a", few)),
            Decoded::Apply(few.to_vec())
        );
    }

    #[test]
    fn unreadable_payloads_forget_everything() {
        for payload in [
            "",
            "v2 node_a\nk 00",
            "v1 node_a\nk nothex",
            "v1 node_a\nz x",
            "v1 node_a\nnospace",
            "v1 node_a",
        ] {
            assert_eq!(decode("node_b", payload), Decoded::ForgetAll, "{payload:?}");
        }
    }

    #[test]
    fn backoff_starts_at_once_and_stays_bounded() {
        assert_eq!(backoff(0), Duration::ZERO);
        assert_eq!(backoff(1), Duration::from_millis(50));
        assert_eq!(backoff(2), Duration::from_millis(100));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
