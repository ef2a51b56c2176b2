//! `keys.verifyKey`'s permission query: any text parses or is a syntax error, never a panic,
//! a hang or a recursion past the nesting bound; a parsed query prints back to text that parses
//! to the same query, and evaluating it terminates.
#![no_main]

use std::collections::HashSet;

use keyward_core::permission_query::Query;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let Ok(query) = Query::parse(input) else {
        return;
    };
    let printed = query.to_string();
    let again = Query::parse(&printed)
        .unwrap_or_else(|e| panic!("{input:?} printed as {printed:?}, which does not parse: {e}"));
    assert_eq!(query, again, "{input:?} → {printed:?}");
    // Evaluated against the words of the input: some leaves held, some not.
    let held: HashSet<String> = input
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
        .step_by(2)
        .map(str::to_owned)
        .collect();
    let _ = query.is_satisfied_by(&held);
});
