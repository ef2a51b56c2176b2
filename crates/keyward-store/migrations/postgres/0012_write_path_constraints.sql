-- Fewer checks per created key (docs/BENCHMARKS.md, "PostgreSQL creations: four foreign keys
-- fewer"). Each foreign key below is checked by a trigger that looks its parent row up and locks
-- it (`for key share`) for every row inserted, and none of them can fail or order anything:
-- - `keys.workspace_id`, `credits.workspace_id`: workspaces are never deleted, and the workspace
--   of a new row is the caller's own.
-- - `keys.credits_id`: a new key's balance is inserted in the same transaction; a reroll shares
--   its old key's balance while holding the old key's row lock and the balance's (`for update of
--   k, c`), which an erasure of the old key waits for; and an erasure deletes a balance in a later
--   statement, only when no key spends from it.
-- - `audit_log_targets.log_id`: written in the transaction that writes its event, and audit
--   events are never deleted.
-- `keys.api_id` stays: its lock is what orders a key creation against its API's erasure.
-- SQLite keeps all of them (dropping one there rebuilds the table; its checks are cheap).
alter table keys
    drop constraint keys_workspace_id_fkey,
    drop constraint keys_credits_id_fkey;
alter table credits drop constraint credits_workspace_id_fkey;
alter table audit_log_targets drop constraint audit_log_targets_log_id_fkey;

-- Most keys have no identity: only the ones that do need to be found by it.
drop index keys_by_identity;
create index keys_by_identity on keys (identity_id) where identity_id is not null;
