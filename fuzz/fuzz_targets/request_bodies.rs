//! Request-body decoding of every operation of the registry, by the server's own rule
//! (`keyward_types::json_body`), then validation: any bytes decode or are refused, never a
//! panic, a hang or an unbounded allocation. The first byte picks the operation. The HTTP
//! crate reads a refused body a second time through `serde_path_to_error` to name the field;
//! that read must refuse exactly what the first refused, or a client would get a 200 from one
//! and a 400 from the other.
#![no_main]

use keyward_types::json_body::{JsonBody, from_slice};
use keyward_types::operations::{self, ALL, Endpoint, Visit};
use keyward_types::{Validate, Violations};
use libfuzzer_sys::fuzz_target;

struct Decode<'a> {
    target: usize,
    index: usize,
    bytes: &'a [u8],
}

impl Visit for Decode<'_> {
    fn visit<E: Endpoint>(&mut self) {
        let index = self.index;
        self.index += 1;
        if index != self.target {
            return;
        }
        let fast = from_slice::<E::Request>(self.bytes);
        let mut deserializer = serde_json::Deserializer::from_slice(self.bytes);
        let tracked: Result<E::Request, _> =
            serde_path_to_error::deserialize(JsonBody(&mut deserializer));
        let tracked = tracked.is_ok() && deserializer.end().is_ok();
        assert_eq!(
            fast.is_ok(),
            tracked,
            "{}: the fast and the path-tracking reads disagree on {:?}",
            E::OPERATION.name,
            String::from_utf8_lossy(self.bytes)
        );
        if let Ok(request) = fast {
            let mut violations = Violations::new();
            request.validate(&mut violations);
            let _ = violations.into_errors();
            // What decoded serializes back (the CLI sends requests this way).
            let _ = serde_json::to_vec(&request).expect("a decoded request serializes");
        }
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, bytes)) = input.split_first() else {
        return;
    };
    let mut decode = Decode {
        target: usize::from(selector) % ALL.len(),
        index: 0,
        bytes,
    };
    operations::for_each(&mut decode);
});
