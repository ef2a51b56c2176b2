//! A namespace of the standalone limiter as `ratelimit.limit` needs it, cached: its id and its
//! overrides, matched without touching the database.

use std::collections::HashMap;
use std::sync::Arc;

use keyward_store::ratelimits::{NamespaceRecord, OverrideRecord};

use super::Decisions;

/// A namespace and its live overrides.
#[derive(Debug)]
pub struct CachedNamespace {
    pub id: Arc<str>,
    pub workspace_id: String,
    pub name: String,
    /// Overrides without `*`, by identifier.
    exact: HashMap<String, CachedOverride>,
    /// Overrides with `*`, oldest first: the first that matches applies.
    wildcards: Vec<CachedOverride>,
    /// This namespace's admitted and rejected decisions, for `/metrics`.
    pub decisions: Arc<Decisions>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedOverride {
    pub id: String,
    pub identifier: String,
    pub limit: i64,
    pub duration: i64,
}

impl CachedNamespace {
    pub fn new(
        record: NamespaceRecord,
        overrides: Vec<OverrideRecord>,
        decisions: Arc<Decisions>,
    ) -> CachedNamespace {
        let mut exact = HashMap::new();
        let mut wildcards = Vec::new();
        for o in overrides {
            let cached = CachedOverride {
                id: o.id,
                identifier: o.identifier,
                limit: o.max_requests,
                duration: o.duration,
            };
            if cached.identifier.contains('*') {
                wildcards.push(cached);
            } else {
                exact.insert(cached.identifier.clone(), cached);
            }
        }
        CachedNamespace {
            id: Arc::from(record.id),
            workspace_id: record.workspace_id,
            name: record.name,
            exact,
            wildcards,
            decisions,
        }
    }

    /// The override that applies to `identifier`: Unkey's rule, an exact identifier first, else
    /// the oldest wildcard pattern matching it whole. (A pattern is also matched exactly: the
    /// identifier `a*` gets the override `a*`.)
    pub fn override_for(&self, identifier: &str) -> Option<&CachedOverride> {
        self.exact.get(identifier).or_else(|| {
            self.wildcards
                .iter()
                .find(|o| o.identifier == identifier)
                .or_else(|| {
                    self.wildcards
                        .iter()
                        .find(|o| glob_matches(&o.identifier, identifier))
                })
        })
    }
}

/// Whether `text` matches `pattern` whole, `*` standing for any run of characters (empty
/// included) and every other character for itself. Linear in practice: the classic greedy
/// matcher that backtracks only to the last `*`.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` take one more character.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_identifiers() {
        for (pattern, text, expected) in [
            ("*@gmail.com", "test@gmail.com", true),
            ("*@gmail.com", "test@yahoo.com", false),
            ("hello*", "hello world", true),
            ("*world", "hello world", true),
            ("h*d", "hello world", true),
            ("h*d", "hello worlds", false),
            ("*", "", true),
            ("a*b*c", "abc", true),
            ("a*b*c", "aXbYbZc", true),
            ("a*b*c", "aXbYbZ", false),
            ("user.*", "user.1", true),
            ("user.*", "userX1", false),
            ("**", "anything", true),
            ("a", "a", true),
            ("a", "ab", false),
        ] {
            assert_eq!(glob_matches(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    fn record(id: &str, identifier: &str, created_at: i64) -> OverrideRecord {
        OverrideRecord {
            id: id.into(),
            namespace_id: "rlns_1".into(),
            identifier: identifier.into(),
            max_requests: 1,
            duration: 1000,
            created_at,
        }
    }

    #[test]
    fn an_exact_identifier_wins_over_wildcards_and_the_oldest_wildcard_over_newer_ones() {
        let ns = CachedNamespace::new(
            NamespaceRecord {
                id: "rlns_1".into(),
                workspace_id: "ws_1".into(),
                name: "api".into(),
                created_at: 0,
            },
            vec![
                record("rlor_1", "user_*", 1),
                record("rlor_2", "user_1*", 2),
                record("rlor_3", "user_12", 3),
            ],
            Arc::default(),
        );
        assert_eq!(ns.override_for("user_12").unwrap().id, "rlor_3");
        assert_eq!(ns.override_for("user_13").unwrap().id, "rlor_1");
        assert_eq!(ns.override_for("user_*").unwrap().id, "rlor_1");
        assert!(ns.override_for("admin").is_none());
    }
}
