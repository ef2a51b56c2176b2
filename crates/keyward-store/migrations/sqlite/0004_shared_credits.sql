-- A key's credits move into a row of their own, which every generation of the key shares:
-- `keys.rerollKey` hands the new key the old key's balance instead of a copy, and the old key,
-- during its grace period, spends from that same balance, so C credits yield at most C VALID
-- verifications across all generations. Spending stays one statement on that row
-- (`update credits … where remaining >= cost returning remaining`), exact under concurrency.
--
-- Every key has a credits row (unlimited: `remaining` null), so that the generations of a key
-- stay linked whatever their balance becomes later. A row goes when its last key is erased.

create table credits (
    id              text primary key,
    workspace_id    text not null references workspaces (id),
    -- Credits left; null = unlimited.
    remaining       integer,
    refill_amount   integer,
    -- Null with a refill_amount: daily; 1..31: monthly on that day.
    refill_day      integer,
    last_refill_at  integer
);

insert into credits (id, workspace_id, remaining, refill_amount, refill_day, last_refill_at)
select 'cred_' || id, workspace_id, remaining, refill_amount, refill_day, last_refill_at
from keys;

-- SQLite cannot add a required column to a table, so `keys` is rebuilt without the credit
-- columns and with `credits_id`. No table references `keys`.
create table keys_with_shared_credits (
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
    -- The balance this key spends from, shared with the keys it was rerolled from or into.
    credits_id      text not null references credits (id),
    created_at      integer not null,
    updated_at      integer,
    deleted_at      integer,
    -- When the key was last presented to keys.verifyKey (0002_keys_last_used.sql).
    last_used_at    integer
);

insert into keys_with_shared_credits (id, workspace_id, api_id, hash, start, byte_length, name,
    identity_id, meta, enabled, expires_at, credits_id, created_at, updated_at, deleted_at,
    last_used_at)
select id, workspace_id, api_id, hash, start, byte_length, name, identity_id, meta, enabled,
    expires_at, 'cred_' || id, created_at, updated_at, deleted_at, last_used_at
from keys;

drop table keys;
alter table keys_with_shared_credits rename to keys;
create index keys_by_api on keys (api_id, id);
create index keys_by_identity on keys (identity_id);
create index keys_by_credits on keys (credits_id);
