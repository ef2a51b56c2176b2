//! The unit of work: the one way a mutation changes anything.
//!
//! ```text
//! let mut work = Work::begin(keyward, actor).await?;      // opens the transaction
//! let key = keys::find_live_by_id_for_update(work.tx(), …) // locking reads
//! … check permissions and preconditions, then write through work.tx() …
//! work.audit(workspace, Event::KeyUpdate, "…", targets);  // at least one, or commit refuses
//! work.invalidate(Invalidation::Key(hash));               // applied after the commit
//! work.commit().await?;
//! ```
//!
//! [`Work::commit`] writes the audit events into the transaction, commits it and then applies
//! the collected cache invalidations — all in a task of its own that the request only awaits. A
//! client hanging up drops the request's future, but not that task: once a commit has started, its
//! invalidations run whatever the client does (before this, a hang-up between the commit and the
//! invalidation left a deleted key verifying from the cache for the entry's whole TTL). Dropped
//! before `commit`, the work rolls back and invalidates nothing. On PostgreSQL it is also where the
//! invalidations are published to the other nodes, inside the transaction ([`crate::nodes`]).

use std::sync::Arc;

use keyward_store::audit::NewAuditEvent;
use keyward_store::{StoreResult, Tx};

use crate::audit::{Actor, Event, Target};
use crate::error::{ApiError, ApiResult};
use crate::key_material::KeyHash;
use crate::{Caches, Keyward};

/// A cache entry (or a set of them) a committed change made stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalidation {
    /// The key with this hash (also: a cached "no such key" for a hash just created).
    Key(KeyHash),
    /// Every key of this API (deleting the API).
    KeysOfApi(Arc<str>),
    /// The root key with this hash.
    RootKey(KeyHash),
    /// Every key holding this permission, directly or through a role (the permission was
    /// deleted, renamed, or a role's set of permissions changed).
    KeysWithPermission(Arc<str>),
    /// Every key holding this role (the role was deleted, renamed, or its permissions changed).
    KeysWithRole(Arc<str>),
    /// Every key of this identity (its meta or limits changed, or it was deleted).
    KeysOfIdentity(Arc<str>),
    /// The rate-limit namespace with this id, under its name and its id (its overrides changed).
    Namespace(Arc<str>),
    /// A namespace looked up by this [`crate::namespace_lookup`] (a remembered absence of a
    /// namespace just created).
    NamespaceLookup(KeyHash),
}

impl Caches {
    /// Forgets what `invalidation` names, including loads in flight (see [`crate::cache`]).
    pub fn apply(&self, invalidation: &Invalidation) {
        match invalidation {
            Invalidation::Key(hash) => self.keys.invalidate(hash),
            Invalidation::KeysOfApi(api_id) => {
                self.keys.invalidate_where(|k| *k.api_id == **api_id)
            }
            Invalidation::RootKey(hash) => self.root_keys.invalidate(hash),
            Invalidation::KeysWithPermission(id) => {
                self.keys.invalidate_where(|k| k.holds_permission(id))
            }
            Invalidation::KeysWithRole(id) => self.keys.invalidate_where(|k| k.holds_role(id)),
            Invalidation::KeysOfIdentity(id) => self
                .keys
                .invalidate_where(|k| k.identity_id.as_deref() == Some(&**id)),
            Invalidation::Namespace(id) => self.namespaces.invalidate_where(|ns| ns.id == *id),
            Invalidation::NamespaceLookup(lookup) => self.namespaces.invalidate(lookup),
        }
    }
}

/// An open mutation. See the module documentation.
pub struct Work {
    tx: Tx,
    actor: Actor,
    events: Vec<NewAuditEvent>,
    invalidations: Vec<Invalidation>,
    /// Applied on this node only ([`Work::invalidate_here`]).
    here: Vec<Invalidation>,
    caches: Caches,
    /// This node's id and the database's invalidation channel, when other nodes may share the
    /// database (PostgreSQL): the invalidations are then published to them too
    /// ([`crate::nodes`]).
    publish: Option<(Arc<str>, Arc<str>)>,
}

impl Work {
    /// Opens the transaction of a change made by `actor`.
    pub async fn begin(keyward: &Keyward, actor: Actor) -> ApiResult<Work> {
        Ok(Work {
            tx: keyward.db.begin().await?,
            actor,
            events: Vec::new(),
            invalidations: Vec::new(),
            here: Vec::new(),
            caches: keyward.caches.clone(),
            publish: keyward
                .db
                .invalidation_channel()
                .map(|channel| (keyward.nodes.id.clone(), channel)),
        })
    }

    /// The transaction, for the store's reads and writes.
    pub fn tx(&mut self) -> &mut Tx {
        &mut self.tx
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Records `event` in the audit log of `workspace_id`, written with the change.
    pub fn audit(
        &mut self,
        workspace_id: &str,
        event: Event,
        description: impl Into<String>,
        targets: Vec<Target>,
    ) {
        self.events.push(
            self.actor
                .record(workspace_id, event, description.into(), targets),
        );
    }

    /// Like [`Work::audit`], for a change made by another actor than the work's own (a batch of
    /// several callers' changes: [`crate::group_commit`]).
    pub fn audit_as(
        &mut self,
        actor: &Actor,
        workspace_id: &str,
        event: Event,
        description: impl Into<String>,
        targets: Vec<Target>,
    ) {
        self.events
            .push(actor.record(workspace_id, event, description.into(), targets));
    }

    /// Forgets `invalidation` from the caches once the change has committed, on this node and
    /// (PostgreSQL) on every other.
    pub fn invalidate(&mut self, invalidation: Invalidation) {
        self.invalidations.push(invalidation);
    }

    /// Like [`Work::invalidate`], on this node only: for what no other node can have cached —
    /// the hash of a key generated by this change (its remembered absence is what this forgets,
    /// and no client can try a random key before it exists). Publishing those would make every
    /// `keys.createKey` a message to every node, and a batch of them a "forget everything".
    pub fn invalidate_here(&mut self, invalidation: Invalidation) {
        self.here.push(invalidation);
    }

    /// Writes the audit events, commits, and applies the invalidations, in a task of its own
    /// (see the module documentation). Refuses a change that recorded no audit event.
    pub async fn commit(self) -> ApiResult<()> {
        let Work {
            mut tx,
            events,
            invalidations,
            here,
            caches,
            publish,
            ..
        } = self;
        if events.is_empty() {
            // A bug, not a user error: every mutation must say what it did.
            return Err(ApiError::internal(
                "a mutation tried to commit without an audit event; it was rolled back",
            ));
        }
        let committing = tokio::spawn(async move {
            let committed: StoreResult<()> = async {
                if let Some((node, channel)) = publish.filter(|_| !invalidations.is_empty()) {
                    // Delivered to the other nodes when, and only if, this transaction commits.
                    let payload = crate::nodes::encode(&node, &invalidations);
                    keyward_store::notify::publish(&mut tx, &channel, &payload).await?;
                }
                keyward_store::audit::insert(&mut tx, &events).await?;
                tx.commit().await
            }
            .await;
            // Whatever the outcome: a commit whose answer was lost (the connection broke during
            // COMMIT) may still have applied, and forgetting a cache entry is always safe.
            for invalidation in invalidations.iter().chain(&here) {
                caches.apply(invalidation);
            }
            committed
        });
        match committing.await {
            Ok(committed) => Ok(committed?),
            Err(join) => Err(ApiError::internal(format_args!(
                "the commit task failed: {join}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CoreConfig;
    use crate::audit::TargetKind;
    use crate::verify::lookup;
    use keyward_store::{Db, PoolOptions, workspaces};

    /// A keyward on the test suite's backend (SQLite, or PostgreSQL with
    /// `KEYWARD_TEST_DATABASE=postgres`).
    async fn keyward() -> (keyward_testing::TestStorage, Arc<Keyward>) {
        let storage = keyward_testing::TestStorage::new();
        let url = storage.database_url();
        let db = Db::open(url.as_deref(), storage.data_dir(), &PoolOptions::default())
            .await
            .unwrap();
        (storage, Keyward::new(db, &CoreConfig::default()))
    }

    #[tokio::test]
    async fn a_change_without_an_audit_event_is_refused_and_rolled_back() {
        let (_dir, keyward) = keyward().await;
        let mut work = Work::begin(&keyward, Actor::system()).await.unwrap();
        workspaces::insert(work.tx(), "ws_1", "one", 1)
            .await
            .unwrap();
        let err = work.commit().await.unwrap_err();
        assert_eq!(err.code.status(), 500);
        let mut work = Work::begin(&keyward, Actor::system()).await.unwrap();
        assert!(
            workspaces::none_exist(work.tx()).await.unwrap(),
            "the change was rolled back"
        );
    }

    /// A change writing the key `plaintext` (and its workspace, API and balance) that forgets
    /// whatever is cached for its hash, as `keys.createKey` does.
    async fn create_key(keyward: &Keyward, plaintext: &str) -> Work {
        use keyward_store::{apis, keys};
        let mut work = Work::begin(keyward, Actor::system()).await.unwrap();
        workspaces::insert(work.tx(), "ws_1", "one", 1)
            .await
            .unwrap();
        let api = apis::ApiRecord {
            id: "api_1".into(),
            workspace_id: "ws_1".into(),
            name: "one".into(),
            delete_protection: false,
            created_at: 1,
        };
        apis::insert(work.tx(), &api).await.unwrap();
        let credits = keys::NewCredits {
            id: "cred_1".into(),
            workspace_id: "ws_1".into(),
            remaining: None,
            refill_amount: None,
            refill_day: None,
        };
        keys::insert_credits(work.tx(), &credits).await.unwrap();
        let hash = KeyHash::of(plaintext);
        let key = keys::NewKey {
            id: "key_1".into(),
            workspace_id: "ws_1".into(),
            api_id: "api_1".into(),
            hash: hash.as_bytes().to_vec(),
            start: "sk_t".into(),
            byte_length: 16,
            name: None,
            identity_id: None,
            meta: None,
            enabled: true,
            expires_at: None,
            credits_id: "cred_1".into(),
            created_at: 1,
        };
        keys::insert(work.tx(), &key).await.unwrap();
        work.audit(
            "ws_1",
            Event::KeyCreate,
            "Created key_1",
            vec![Target::new(TargetKind::Key, "key_1", None)],
        );
        work.invalidate_here(Invalidation::Key(hash));
        work
    }

    /// What `keys.createKey` relies on to make a key whose absence was remembered VALID at once
    /// (through HTTP no client can know a key's hash before it is created).
    #[tokio::test]
    async fn a_committed_insert_replaces_the_remembered_absence_of_its_key() {
        let (_dir, keyward) = keyward().await;
        let hash = KeyHash::of("sk_chosen_plaintext");
        assert!(lookup(&keyward, hash).await.unwrap().is_none());
        assert!(
            lookup(&keyward, hash).await.unwrap().is_none(),
            "remembered"
        );
        assert_eq!(keyward.caches.keys.stats().loads, 1);

        create_key(&keyward, "sk_chosen_plaintext")
            .await
            .commit()
            .await
            .unwrap();
        let found = lookup(&keyward, hash)
            .await
            .unwrap()
            .expect("found at once");
        assert_eq!(found.id, "key_1");
    }

    /// Dropped without a commit, a change writes nothing and forgets nothing.
    #[tokio::test]
    async fn an_abandoned_change_rolls_back_and_invalidates_nothing() {
        let (_dir, keyward) = keyward().await;
        let hash = KeyHash::of("sk_chosen_plaintext");
        assert!(lookup(&keyward, hash).await.unwrap().is_none());
        drop(create_key(&keyward, "sk_chosen_plaintext").await);
        assert!(lookup(&keyward, hash).await.unwrap().is_none());
        assert_eq!(
            keyward.caches.keys.stats().loads,
            1,
            "the absence is still remembered"
        );
        keyward.caches.keys.invalidate(&hash);
        assert!(
            lookup(&keyward, hash).await.unwrap().is_none(),
            "nothing was written"
        );
    }

    #[tokio::test]
    async fn a_change_with_its_event_commits_both() {
        let (_dir, keyward) = keyward().await;
        let mut work = Work::begin(&keyward, Actor::system()).await.unwrap();
        workspaces::insert(work.tx(), "ws_1", "one", 1)
            .await
            .unwrap();
        work.audit(
            "ws_1",
            Event::WorkspaceCreate,
            "Created ws_1",
            vec![Target::new(TargetKind::Workspace, "ws_1", Some("one"))],
        );
        work.commit().await.unwrap();
        let mut conn = keyward.db.reader().await.unwrap();
        assert!(!workspaces::none_exist(&mut conn).await.unwrap());
        let events = keyward_store::audit::list(
            &mut conn,
            "ws_1",
            &keyward_store::audit::AuditFilter::default(),
            10,
        )
        .await
        .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event, "workspace.create");
        assert_eq!(events[0].request_id, None, "no request, no request id");
    }
}
