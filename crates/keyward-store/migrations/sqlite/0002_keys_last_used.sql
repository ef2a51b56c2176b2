-- When a key was last presented to keys.verifyKey (unix ms, to the second). Written in batches
-- by the last-used flusher every `ServeConfig::last_used_flush`, never on the verification path
-- (src/last_used.rs).
alter table keys add column last_used_at integer;
