//! Root-key permission strings, both forms (`api.*.verify_key`, `unkey:v1:ws_1:keyspaces/*#x`):
//! any text parses into a grant or is refused, never a panic; a grant prints back to text that
//! parses to the same grant; checking and covering terminate for any pair.
#![no_main]

use keyward_types::permissions::{self, Action, Grant, Grants, Target};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    // Several strings per input, one per line: a root key's list.
    let lines: Vec<&str> = input.lines().collect();
    let mut grants = Grants::default();
    for line in &lines {
        let checked = permissions::check(line).is_ok();
        let Ok(grant) = Grant::parse(line) else {
            assert!(!checked, "check accepts {line:?}, parse refuses it");
            continue;
        };
        assert!(checked, "parse accepts {line:?}, check refuses it");
        let printed = grant.to_string();
        assert_eq!(
            Grant::parse(&printed).as_ref(),
            Ok(&grant),
            "{line:?} printed as {printed:?}"
        );
        let _ = grant.allows(
            "ws_1",
            Action::VerifyKey,
            &Target::Key {
                api_id: "api_1",
                key_id: "key_1",
            },
        );
        grants.insert(grant);
    }
    // A set covers each grant of its own workspace it holds (what delegation relies on: a root
    // key may hand on what it has).
    for line in &lines {
        if let Ok(grant) = Grant::parse(line) {
            let printed = grant.to_string();
            if !printed.starts_with("unkey:") || printed.starts_with("unkey:v1:ws_1:") {
                assert!(
                    grants.covers("ws_1", &grant),
                    "{printed:?} not covered by itself"
                );
            }
        }
    }
    for action in Action::ALL {
        let _ = grants.allows("ws_1", *action, &Target::Api("api_1"));
        let _ = grants.allows("ws_1", *action, &Target::Workspace);
    }
    let _ = permissions::upgrade(
        "ws_1",
        &lines.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
    );
});
