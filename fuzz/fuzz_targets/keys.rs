//! Key parsing: the `Authorization` header's bearer token, the `start` shown for a chosen key,
//! the prefix read back from a `start`, and the hash. Any text is handled without a panic; a
//! token never contains whitespace; a chosen key's `start` never shows more than a quarter of a
//! short key, nor more than the prefix and four characters of a long one.
#![no_main]

use keyward_core::auth::bearer_token;
use keyward_core::key_material::{KeyHash, START_SECRET_CHARS, prefix_of, start_of_chosen};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Some(token) = bearer_token(input) {
        assert!(
            !token.is_empty() && !token.contains(char::is_whitespace),
            "{input:?}"
        );
        assert!(input.contains(token));
    }
    for key in [input, input.trim()] {
        let start = start_of_chosen(key, "kwroot");
        if let Some(body) = start.strip_prefix("kwroot_") {
            assert_eq!(
                body.chars().count(),
                START_SECRET_CHARS,
                "{key:?} → {start:?}"
            );
            assert!(key.starts_with(&start));
        } else {
            let shown = start.chars().count();
            assert!(
                shown <= START_SECRET_CHARS && shown <= key.chars().count() / 4,
                "{key:?} → {start:?}"
            );
            assert!(key.starts_with(&start));
        }
        if let Some(prefix) = prefix_of(&start) {
            assert!(!prefix.is_empty() && start.starts_with(prefix));
        }
        let hash = KeyHash::of(key);
        assert_eq!(KeyHash::from_slice(hash.as_bytes()), Some(hash));
    }
});
