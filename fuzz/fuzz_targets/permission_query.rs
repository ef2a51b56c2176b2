//! `keys.verifyKey`'s permission query: any text parses or is a syntax error, never a panic,
//! a hang or a recursion past the nesting bound; a parsed query prints back to text that parses
//! to the same query (when that text is within the length bound), and evaluating it terminates.
#![no_main]

use std::collections::HashSet;

use keyward_core::permission_query::{MAX_QUERY_CHARS, Query};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let Ok(query) = Query::parse(input) else {
        return;
    };
    let printed = query.to_string();
    // Printing puts one space on each side of every operator, so a query near the length bound
    // can print longer than the parser takes (`a)OR(b` → `a) OR (b`): the round trip holds for
    // the printed forms within the bound.
    if printed.chars().count() <= MAX_QUERY_CHARS {
        let again = Query::parse(&printed).unwrap_or_else(|e| {
            panic!("{input:?} printed as {printed:?}, which does not parse: {e}")
        });
        assert_eq!(query, again, "{input:?} → {printed:?}");
    }
    // Evaluated against the words of the input: some leaves held, some not.
    let held: HashSet<String> = input
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '.')
        .step_by(2)
        .map(str::to_owned)
        .collect();
    let _ = query.is_satisfied_by(&held);
});
