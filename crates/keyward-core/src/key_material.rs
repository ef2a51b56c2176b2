//! Key material: generating keys, hashing them, and the ids of everything else.
//!
//! A key is `<prefix>_<base58 of N random bytes>` (or bare base58 without a prefix), N = 16..255
//! from the OS CSPRNG, so even the shortest key carries 128 bits of entropy. At rest keyward keeps
//! only SHA-256 of the whole key string, as Unkey does: for secrets of this entropy a fast hash is
//! the right tool (NIST SP 800-63B §5.1.2.2), and the digest doubles as the lookup index. Keeping
//! Unkey's exact digest also means hashes exported from Unkey stay valid here.

use std::fmt;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// SHA-256 of a key. The only form in which keys are stored or cached.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl KeyHash {
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    pub fn from_slice(bytes: &[u8]) -> Option<KeyHash> {
        bytes.try_into().ok().map(KeyHash)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digest is not secret, but there is no reason to spread it through logs either.
        write!(f, "KeyHash({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

/// A plaintext key, alive only between generation and the response that shows it once.
/// `Debug` never prints it.
pub struct PlaintextKey(String);

impl PlaintextKey {
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl From<String> for PlaintextKey {
    fn from(text: String) -> Self {
        PlaintextKey(text)
    }
}

impl fmt::Debug for PlaintextKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlaintextKey(<redacted>)")
    }
}

/// A freshly generated key: the plaintext to show once, and what gets stored.
#[derive(Debug)]
pub struct NewKey {
    pub plaintext: PlaintextKey,
    pub hash: KeyHash,
    pub start: String,
}

/// Generates a key of `byte_length` random bytes behind an optional prefix.
pub fn generate(prefix: Option<&str>, byte_length: usize) -> NewKey {
    let mut bytes = vec![0u8; byte_length];
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    let body = bs58::encode(&bytes).into_string();
    // Base58 has no underscore, so the last underscore of a key always ends its prefix. The
    // prefix is the caller's own choice, made in the open; only the body is secret.
    let shown = &body[..START_SECRET_CHARS];
    let start = match prefix {
        Some(prefix) => format!("{prefix}_{shown}"),
        None => shown.to_owned(),
    };
    let plaintext = match prefix {
        Some(prefix) => format!("{prefix}_{body}"),
        None => body,
    };
    let hash = KeyHash::of(&plaintext);
    NewKey {
        plaintext: PlaintextKey(plaintext),
        hash,
        start,
    }
}

/// How many characters of a key's secret part its `start` shows.
pub const START_SECRET_CHARS: usize = 4;

/// The `start` of a key that keyward did not generate (a bootstrap root key chosen by the
/// operator). A key of the shape keyward generates behind `server_prefix` — the prefix, `_`, and
/// at least 16 base58 characters — shows the prefix and [`START_SECRET_CHARS`] more, like a
/// generated key. Any other key shows only its first [`START_SECRET_CHARS`] characters (a quarter
/// of it at most, for a key shorter than 16), whatever underscores it has: in a chosen key,
/// text before an underscore is as secret as the rest (all of `correct_horse_battery_staple` is).
pub fn start_of_chosen(key: &str, server_prefix: &str) -> String {
    let body = key
        .strip_prefix(server_prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .filter(|body| body.len() >= 4 * START_SECRET_CHARS && body.bytes().all(is_base58));
    match body {
        Some(body) => format!("{server_prefix}_{}", &body[..START_SECRET_CHARS]),
        None => {
            let shown = START_SECRET_CHARS.min(key.chars().count() / 4);
            key.chars().take(shown).collect()
        }
    }
}

/// Whether `byte` is in the Bitcoin base58 alphabet that keys are encoded in.
fn is_base58(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() && !matches!(byte, b'0' | b'O' | b'I' | b'l')
}

/// The prefix a key was issued with, read from its `start` (everything before the last
/// underscore: prefixes may contain underscores, base58 never does).
pub fn prefix_of(start: &str) -> Option<&str> {
    start
        .rsplit_once('_')
        .map(|(prefix, _)| prefix)
        .filter(|p| !p.is_empty())
}

/// A request id `req_<ULID>`, built on the stack. Request ids need no cross-thread monotonic
/// order (nothing paginates by them), so they skip [`new_id`]'s global generator lock: the
/// random part comes from the thread-local RNG.
#[derive(Clone, Copy)]
pub struct RequestId {
    bytes: [u8; 30],
    len: u8,
}

impl RequestId {
    pub fn new() -> RequestId {
        let mut bytes = [0u8; 30];
        bytes[..4].copy_from_slice(b"req_");
        let mut ulid = [0u8; ulid::ULID_LEN];
        ulid::Ulid::generate().array_to_str(&mut ulid);
        bytes[4..].copy_from_slice(&ulid);
        RequestId { bytes, len: 30 }
    }

    /// A given id of at most 30 bytes (tests).
    pub fn from_text(text: &str) -> Option<RequestId> {
        let mut bytes = [0u8; 30];
        bytes
            .get_mut(..text.len())?
            .copy_from_slice(text.as_bytes());
        Some(RequestId {
            bytes,
            len: text.len() as u8,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).expect("built from a str")
    }
}

impl Default for RequestId {
    fn default() -> Self {
        RequestId::new()
    }
}

static ID_GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());

/// A new id `<prefix>_<ULID>`. ULIDs sort by creation time (monotonic within this process),
/// which makes ids usable as pagination cursors and audit order.
pub fn new_id(prefix: &str) -> String {
    let ulid = {
        let mut generator = ID_GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        match generator.generate() {
            Ok(ulid) => ulid,
            // 2^80 ids in one millisecond: fall back to a fresh random one.
            Err(overflow) => overflow.commit_overflow_random(),
        }
    };
    format!("{prefix}_{ulid}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_prefix_start_and_hash() {
        let key = generate(Some("sk"), 16);
        let text = key.plaintext.expose();
        assert!(text.starts_with("sk_"));
        assert!(
            text.len() >= 3 + 21,
            "16 bytes are at least 21 base58 chars: {}",
            text.len()
        );
        assert_eq!(key.start, text[..7]);
        assert_eq!(key.hash, KeyHash::of(text));
        assert_ne!(generate(Some("sk"), 16).plaintext.expose(), text);
    }

    #[test]
    fn keys_without_prefix() {
        let key = generate(None, 32);
        assert!(!key.plaintext.expose().contains('_'));
        assert_eq!(key.start.len(), 4);
    }

    #[test]
    fn hash_is_sha256_of_the_whole_key() {
        // FIPS 180-2 test vector: SHA-256("abc") = ba7816bf 8f01cfea ...
        assert_eq!(
            KeyHash::of("abc").0[..8],
            [0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea]
        );
    }

    #[test]
    fn start_of_a_chosen_key_shows_at_most_four_of_its_characters() {
        // The two keys of the report: kept up to their last underscore, one was listed whole.
        assert_eq!(
            start_of_chosen("abcdefghijklmnopqrstuvwxyz_", "kwroot"),
            "abcd"
        );
        assert_eq!(
            start_of_chosen("correct_horse_battery_staple", "kwroot"),
            "corr"
        );
        assert_eq!(
            start_of_chosen("sk_live_abcdefghijklmnop", "kwroot"),
            "sk_l"
        );
        assert_eq!(start_of_chosen("abcdefghijklmnop", "kwroot"), "abcd");
        assert_eq!(start_of_chosen("____________________", "kwroot"), "____");
        // Multi-byte characters count as characters, never split.
        assert_eq!(start_of_chosen("ééééééééééééééééé", "kwroot"), "éééé");
        // Shorter than 16 (the bootstrap refuses those): a quarter at most.
        assert_eq!(start_of_chosen("abcdefgh", "kwroot"), "ab");
        assert_eq!(start_of_chosen("abc", "kwroot"), "");
    }

    #[test]
    fn start_of_a_chosen_key_of_the_generated_shape_keeps_the_server_prefix() {
        let generated = generate(Some("kwroot"), 32);
        assert_eq!(
            start_of_chosen(generated.plaintext.expose(), "kwroot"),
            generated.start
        );
        assert_eq!(
            start_of_chosen("kwroot_abcdefghijkmnopq", "kwroot"),
            "kwroot_abcd"
        );
        // Not that shape: too short a body, a character base58 lacks, another underscore, or a
        // prefix that only begins like the server's.
        assert_eq!(start_of_chosen("kwroot_abcdefghijk", "kwroot"), "kwro");
        assert_eq!(start_of_chosen("kwroot_0bcdefghijkmnopq", "kwroot"), "kwro");
        assert_eq!(
            start_of_chosen("kwroot_abcd_efghijkmnopq", "kwroot"),
            "kwro"
        );
        assert_eq!(start_of_chosen("kwrootabcdefghijkmnopqr", "kwroot"), "kwro");
        assert_eq!(
            start_of_chosen("kwroot2_abcdefghijkmnopq", "kwroot"),
            "kwro"
        );
    }

    #[test]
    fn prefixes() {
        assert_eq!(prefix_of("sk_abcd"), Some("sk"));
        assert_eq!(prefix_of("abcd"), None);
        assert_eq!(prefix_of("sk_live_abcd"), Some("sk_live"));
        let key = generate(Some("sk_live"), 16);
        assert_eq!(key.start, key.plaintext.expose()[..12]);
        assert_eq!(prefix_of(&key.start), Some("sk_live"));
    }

    #[test]
    fn ids_sort_by_creation() {
        let ids: Vec<String> = (0..1000).map(|_| new_id("key")).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids[0].starts_with("key_") && ids[0].len() == 30);
    }

    #[test]
    fn debug_output_hides_secrets() {
        let key = generate(Some("sk"), 16);
        let shown = format!("{key:?}");
        assert!(!shown.contains(key.plaintext.expose()));
    }
}
