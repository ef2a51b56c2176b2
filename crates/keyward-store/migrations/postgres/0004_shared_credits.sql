-- Mirrors sqlite/0004_shared_credits.sql: a key's credits move into a row of their own, which
-- every generation of the key shares (a reroll hands the new key the old key's balance instead
-- of a copy), so C credits yield at most C VALID verifications across all generations. Spending
-- stays one statement on that row. Every key has a credits row (unlimited: `remaining` null);
-- a row goes when its last key is erased.

create table credits (
    id              text primary key,
    workspace_id    text not null references workspaces (id),
    -- Credits left; null = unlimited.
    remaining       bigint,
    refill_amount   bigint,
    -- Null with a refill_amount: daily; 1..31: monthly on that day.
    refill_day      bigint,
    last_refill_at  bigint
);

insert into credits (id, workspace_id, remaining, refill_amount, refill_day, last_refill_at)
select 'cred_' || id, workspace_id, remaining, refill_amount, refill_day, last_refill_at
from keys;

-- The balance this key spends from, shared with the keys it was rerolled from or into.
alter table keys add column credits_id text references credits (id);
update keys set credits_id = 'cred_' || id;
alter table keys alter column credits_id set not null;
alter table keys
    drop column remaining,
    drop column refill_amount,
    drop column refill_day,
    drop column last_refill_at;
create index keys_by_credits on keys (credits_id);
