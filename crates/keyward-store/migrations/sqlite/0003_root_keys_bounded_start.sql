-- A root key's `start` shows at most 4 characters of its secret (src/key_material.rs,
-- `start_of_chosen`). Earlier versions kept a bootstrap key chosen through
-- KEYWARD_BOOTSTRAP_ROOT_KEY up to its last `_` plus a few characters, which could be the whole
-- key. Every stored start that is not the shape of a generated root key's (`kwroot_` and 4 base58
-- characters) becomes its own first 4 characters, which are the key's first 4. One case cannot be
-- told apart from a generated key by what was stored: a chosen `kwroot_` + 16 or more characters
-- without another `_`, whose first 4 are base58; it keeps `kwroot_` + 4, as a key of exactly the
-- generated shape does today. Deleted root keys are rewritten too: their rows stay in the file.
update root_keys
set start = substr(start, 1, 4)
where start not glob 'kwroot_[1-9A-HJ-NP-Za-km-z][1-9A-HJ-NP-Za-km-z][1-9A-HJ-NP-Za-km-z][1-9A-HJ-NP-Za-km-z]';
