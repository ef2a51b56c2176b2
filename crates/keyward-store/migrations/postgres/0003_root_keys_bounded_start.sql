-- Mirrors sqlite/0003_root_keys_bounded_start.sql: a root key's `start` shows at most 4
-- characters of its secret; every stored start not of a generated root key's shape (`kwroot_` and
-- 4 base58 characters) becomes its first 4 characters.
update root_keys
set start = substr(start, 1, 4)
where start !~ '^kwroot_[1-9A-HJ-NP-Za-km-z]{4}$';
