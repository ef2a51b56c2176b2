-- keyward schema, version 1.
-- Timestamps are unix milliseconds. Key material is stored only as SHA-256 digests (`hash`);
-- `start` is the short, non-secret beginning of a key shown in listings.

create table workspaces (
    id          text primary key,
    name        text not null,
    created_at  integer not null
);

create table root_keys (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    hash          blob not null unique,
    start         text not null,
    name          text,
    -- JSON array of permission strings (`api.*.verify_key`).
    permissions   text not null,
    created_at    integer not null,
    deleted_at    integer
);
create index root_keys_by_workspace on root_keys (workspace_id, id);

create table apis (
    id                 text primary key,
    workspace_id       text not null references workspaces (id),
    name               text not null,
    delete_protection  boolean not null default false,
    created_at         integer not null,
    updated_at         integer,
    deleted_at         integer
);
create index apis_by_workspace on apis (workspace_id, id);

-- Your users or customers, named by your own id (`external_id`).
create table identities (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    external_id   text not null,
    meta          text,
    created_at    integer not null,
    updated_at    integer,
    unique (workspace_id, external_id)
);

create table keys (
    id              text primary key,
    workspace_id    text not null references workspaces (id),
    api_id          text not null references apis (id),
    hash            blob not null unique,
    start           text not null,
    -- Random bytes of the key, kept so a reroll issues a key of the same strength.
    byte_length     integer not null,
    name            text,
    identity_id     text references identities (id),
    meta            text,
    enabled         boolean not null,
    expires_at      integer,
    -- Credits left; null = unlimited.
    remaining       integer,
    refill_amount   integer,
    -- Null with a refill_amount: daily; 1..31: monthly on that day.
    refill_day      integer,
    last_refill_at  integer,
    created_at      integer not null,
    updated_at      integer,
    deleted_at      integer
);
create index keys_by_api on keys (api_id, id);
create index keys_by_identity on keys (identity_id);

-- Audit events, written in the same transaction as the change they record. Kept when the
-- things they name are erased.
create table audit_logs (
    id            text primary key,
    workspace_id  text not null,
    time          integer not null,
    event         text not null,
    description   text not null,
    actor_type    text not null,
    actor_id      text not null,
    actor_name    text,
    remote_ip     text,
    user_agent    text,
    request_id    text,
    -- JSON array of {type, id, name?, meta?}; also indexed row by row in audit_log_targets.
    targets       text not null
);
create index audit_logs_by_workspace on audit_logs (workspace_id, id);

create table audit_log_targets (
    log_id     text not null references audit_logs (id),
    target_id  text not null,
    primary key (log_id, target_id)
);
create index audit_log_targets_by_target on audit_log_targets (target_id);
