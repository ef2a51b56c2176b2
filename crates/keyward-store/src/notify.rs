//! Cross-node messages over PostgreSQL's LISTEN/NOTIFY: the cache invalidations a commit
//! publishes, and the heartbeat each node sends itself to prove its channel is alive.
//!
//! keyward-core decides what the messages mean (`keyward_core::nodes`); this module only moves
//! text. On SQLite there is nothing to publish to (one process owns the file) and no subscriber.
//!
//! - [`publish`] runs `select pg_notify(…)` inside the mutation's transaction: PostgreSQL delivers
//!   the notification when, and only if, that transaction commits, after its changes are visible
//!   to every other session.
//! - A [`Subscriber`] holds a connection of its own (not one of the pool's: a busy pool must not
//!   delay invalidations, and the connection must not be reused for anything else) that LISTENs
//!   on the invalidation channel and on the node's own heartbeat channel. Its `application_name`
//!   is `keyward-listener <node>`, so an operator (or a test) can find it in `pg_stat_activity`.
//! - A [`Heartbeat`] sends `pg_notify` to that heartbeat channel over a second connection of its
//!   own (`keyward-heartbeat <node>`): the notification arrives only if the path from PostgreSQL
//!   to the subscriber works, which is what a silently dead connection breaks.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use crate::{Backend, Db, StoreError, StoreResult, Tx, TxInner};

/// The channel the nodes of one keyward database publish their invalidations on and listen to:
/// `keyward_<schema>`. Notifications are per PostgreSQL database, not per schema, so
/// deployments in different schemas of one database (each its own keyward) do not hear each
/// other. A schema whose name would make too long an identifier (or needs quoting) is named by a
/// hash of it instead.
pub fn channel_of(schema: &str) -> String {
    let plain = schema.len() <= 50
        && schema
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if plain {
        return format!("keyward_{schema}");
    }
    // FNV-1a: stable across versions and machines, unlike std's hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("keyward_{hash:016x}")
}

/// The largest payload PostgreSQL accepts (8000 bytes in its default build), minus a margin; a
/// caller with more to say must say it shorter.
pub const MAX_PAYLOAD: usize = 7900;

/// How long connecting (and a heartbeat) may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The heartbeat channel of `node` (an identifier: at most 63 bytes, here about 37).
fn heartbeat_channel(node: &str) -> String {
    format!("keyward_hb_{}", node.to_ascii_lowercase())
}

impl Db {
    /// Where this database's invalidations are published (`None` on SQLite, which has no other
    /// node to tell).
    pub fn invalidation_channel(&self) -> Option<Arc<str>> {
        match &self.backend {
            Backend::Postgres { channel, .. } => Some(channel.clone()),
            Backend::Sqlite { .. } => None,
        }
    }
}

/// Queues `payload` on `channel` for every subscriber, delivered when `tx` commits. Nothing on
/// SQLite.
pub async fn publish(tx: &mut Tx, channel: &str, payload: &str) -> StoreResult<()> {
    debug_assert!(
        payload.len() <= MAX_PAYLOAD,
        "the caller keeps payloads short"
    );
    if let TxInner::Postgres(tx) = &mut tx.inner {
        sqlx::query("select pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// What a [`Subscriber`] received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A payload published on the database's channel (by any node, this one included).
    Published(String),
    /// This node's own heartbeat came back.
    Heartbeat,
}

/// A listening connection; see the module documentation.
pub struct Subscriber {
    listener: PgListener,
    heartbeat: String,
}

/// Sends a node's heartbeats; cloning shares its connection.
#[derive(Clone)]
pub struct Heartbeat {
    pool: PgPool,
    channel: String,
}

/// A one-connection pool to `db`'s PostgreSQL, named `name` in `pg_stat_activity`.
async fn own_connection(db: &Db, name: &str) -> StoreResult<Option<PgPool>> {
    let Backend::Postgres { pool, .. } = &db.backend else {
        return Ok(None);
    };
    let options = (*pool.connect_options()).clone().application_name(name);
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(0)
        .acquire_timeout(CONNECT_TIMEOUT)
        // Held for as long as it works: a listener's connection is never idle in vain.
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_lazy_with(options);
    Ok(Some(pool))
}

impl Subscriber {
    /// Connects and LISTENs (`None` on SQLite). Every notification committed after this returns
    /// will be received, for as long as [`Subscriber::recv`] does not fail.
    pub async fn connect(db: &Db, node: &str) -> StoreResult<Option<Subscriber>> {
        let (Some(pool), Some(channel)) = (
            own_connection(db, &format!("keyward-listener {node}")).await?,
            db.invalidation_channel(),
        ) else {
            return Ok(None);
        };
        let heartbeat = heartbeat_channel(node);
        let subscribing = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // A lost connection ends this subscriber (the caller makes a new one, then catches
            // up); reconnecting inside `recv` would hide that notifications were lost.
            listener.eager_reconnect(false);
            listener.listen_all([&*channel, heartbeat.as_str()]).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let listener = tokio::time::timeout(CONNECT_TIMEOUT, subscribing)
            .await
            .map_err(|_| StoreError::Unavailable("subscribing timed out".into()))??;
        Ok(Some(Subscriber {
            listener,
            heartbeat,
        }))
    }

    /// The next message. An error means the connection was lost (or broke): notifications may
    /// have been missed since, and this subscriber is done.
    pub async fn recv(&mut self) -> StoreResult<Message> {
        match self.listener.try_recv().await? {
            Some(notification) if notification.channel() == self.heartbeat => {
                Ok(Message::Heartbeat)
            }
            Some(notification) => Ok(Message::Published(notification.payload().to_owned())),
            None => Err(StoreError::Unavailable(
                "the listening connection was lost".into(),
            )),
        }
    }
}

impl Heartbeat {
    /// The heartbeat sender of `node` (`None` on SQLite); connects on first use.
    pub async fn new(db: &Db, node: &str) -> StoreResult<Option<Heartbeat>> {
        Ok(own_connection(db, &format!("keyward-heartbeat {node}"))
            .await?
            .map(|pool| Heartbeat {
                pool,
                channel: heartbeat_channel(node),
            }))
    }

    /// Sends one heartbeat to the node's subscriber.
    pub async fn beat(&self) -> StoreResult<()> {
        let sending = sqlx::query("select pg_notify($1, '')")
            .bind(&self.channel)
            .execute(&self.pool);
        tokio::time::timeout(CONNECT_TIMEOUT, sending)
            .await
            .map_err(|_| StoreError::Unavailable("the heartbeat timed out".into()))??;
        Ok(())
    }

    /// Closes its connection.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_has_its_own_channel_a_valid_identifier() {
        assert_eq!(channel_of("public"), "keyward_public");
        assert_eq!(channel_of("t12"), "keyward_t12");
        let odd = channel_of("My Schema \"x\"");
        assert!(odd.starts_with("keyward_") && odd.len() == 24, "{odd}");
        assert_ne!(odd, channel_of("my schema"));
        assert!(channel_of(&"s".repeat(200)).len() < 64);
    }
}
