-- Rate limits: standalone namespaces and their overrides, the limits of keys and identities,
-- the limiter's checkpointed counters, and when a key's refill was configured.

-- `ratelimit.limit` namespaces, created on first use. A name is unique among a workspace's live
-- namespaces; requests name a namespace by name or id.
create table ratelimit_namespaces (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    name          text not null,
    created_at    integer not null,
    updated_at    integer,
    deleted_at    integer
);
create unique index ratelimit_namespaces_by_name on ratelimit_namespaces (workspace_id, name)
    where deleted_at is null;

-- Limits for the identifiers of a namespace that replace the request's: an exact identifier, or
-- a pattern with `*` wildcards. Unique per namespace among live overrides; setOverride updates
-- the live one in place, keeping its id. Soft-deleted by deleteOverride.
create table ratelimit_overrides (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    namespace_id  text not null references ratelimit_namespaces (id),
    identifier    text not null,
    max_requests  integer not null,
    duration        integer not null,
    created_at    integer not null,
    updated_at    integer,
    deleted_at    integer
);
create unique index ratelimit_overrides_by_identifier
    on ratelimit_overrides (namespace_id, identifier) where deleted_at is null;
create index ratelimit_overrides_by_namespace on ratelimit_overrides (namespace_id, id);

-- Limits of a key or of an identity (exactly one of key_id, identity_id), unique by name for
-- each. A key's go with the key when it is erased; a deleted identity's stop applying because
-- verification reads live identities only.
create table ratelimits (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    key_id        text references keys (id) on delete cascade,
    identity_id   text references identities (id) on delete cascade,
    name          text not null,
    max_requests  integer not null,
    duration        integer not null,
    auto_apply    boolean not null,
    created_at    integer not null,
    updated_at    integer,
    check ((key_id is null) <> (identity_id is null))
);
create unique index ratelimits_by_key on ratelimits (key_id, name) where key_id is not null;
create unique index ratelimits_by_identity on ratelimits (identity_id, name)
    where identity_id is not null;

-- The limiter's counts of windows longer than a minute, written on graceful shutdown and
-- periodically, read at start (see keyward-core's ratelimit::checkpoint). Replaced whole by
-- each checkpoint.
create table ratelimit_counters (
    scope         text not null,
    identifier    text not null,
    duration      integer not null,
    sequence      integer not null,
    current_count integer not null,
    previous_count integer not null,
    primary key (scope, identifier, duration)
);

-- When the balance's refill was last configured: a refill acts from the next period after it.
-- Refills configured before this version never ran; they start with the next period too,
-- rather than all at the first run after the upgrade.
alter table credits add column refill_since integer;
update credits set refill_since = cast((julianday('now') - 2440587.5) * 86400000 as integer) where refill_amount is not null;
