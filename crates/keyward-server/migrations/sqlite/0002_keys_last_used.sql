-- When a key was last presented to keys.verifyKey (unix ms), at the resolution of
-- `ServeConfig::last_used_resolution`. Written in batches by the last-used flusher, never on the
-- verification path (src/last_used.rs).
alter table keys add column last_used_at integer;
