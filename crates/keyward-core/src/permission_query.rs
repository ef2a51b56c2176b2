//! The permission query of `keys.verifyKey`: `a.read AND (b.write OR c.admin)`.
//!
//! Grammar (Unkey's): identifiers of letters, digits and `. _ - * : /`; the operators `AND` and
//! `OR`, case-insensitive and whole words; parentheses. AND binds tighter than OR. A leaf matches
//! a permission of the key by exact string equality — `api.*` only matches a permission literally
//! named `api.*`.
//!
//! Bounded: at most [`MAX_QUERY_CHARS`] characters and [`MAX_NESTING`] levels of parentheses,
//! so parsing, evaluating and dropping a query recurse at most that deep, whatever the input
//! (a syntax error otherwise). `Display` prints a query back in this grammar, parenthesized only
//! where the grammar needs it: parsing the text gives the same query.

use std::collections::HashSet;
use std::fmt;

/// Longest query, in characters (the request's own limit for `permissions`).
pub const MAX_QUERY_CHARS: usize = 1000;
/// Deepest nesting of parentheses.
pub const MAX_NESTING: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    Permission(String),
    And(Vec<Query>),
    Or(Vec<Query>),
}

/// Where and why a query does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 0-based character position.
    pub position: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at position {}", self.message, self.position)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    And,
    Or,
    Open,
    Close,
}

fn ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '*' | ':' | '/')
}

/// The tokens of `input`, each with its 0-based character position. One pass over the text:
/// identifiers are ASCII, so each is a slice of it, copied once into its token.
fn tokenize(input: &str) -> Result<Vec<(usize, Token)>, SyntaxError> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().enumerate().peekable();
    while let Some((position, (byte, c))) = chars.next() {
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => Token::Open,
            ')' => Token::Close,
            c if ident_char(c) => {
                let mut end = byte + c.len_utf8();
                while let Some(&(_, (at, next))) = chars.peek() {
                    if !ident_char(next) {
                        break;
                    }
                    end = at + next.len_utf8();
                    chars.next();
                }
                let word = &input[byte..end];
                if word.eq_ignore_ascii_case("AND") {
                    Token::And
                } else if word.eq_ignore_ascii_case("OR") {
                    Token::Or
                } else {
                    Token::Ident(word.to_owned())
                }
            }
            c => {
                return Err(SyntaxError {
                    position,
                    message: format!("unexpected character {c:?}"),
                });
            }
        };
        tokens.push((position, token));
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    end: usize,
    /// Parentheses open around the token being read.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next).map(|(_, t)| t)
    }

    fn position(&self) -> usize {
        self.tokens.get(self.next).map_or(self.end, |(p, _)| *p)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            position: self.position(),
            message: message.into(),
        })
    }

    fn or(&mut self) -> Result<Query, SyntaxError> {
        let mut terms = vec![self.and()?];
        while self.peek() == Some(&Token::Or) {
            self.next += 1;
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 {
            terms.pop().expect("one term")
        } else {
            Query::Or(terms)
        })
    }

    fn and(&mut self) -> Result<Query, SyntaxError> {
        let mut factors = vec![self.factor()?];
        while self.peek() == Some(&Token::And) {
            self.next += 1;
            factors.push(self.factor()?);
        }
        Ok(if factors.len() == 1 {
            factors.pop().expect("one factor")
        } else {
            Query::And(factors)
        })
    }

    fn factor(&mut self) -> Result<Query, SyntaxError> {
        match self.peek() {
            Some(Token::Ident(_)) => {
                // Each token is read once: the name moves into the query.
                let (_, token) = &mut self.tokens[self.next];
                let Token::Ident(name) = std::mem::replace(token, Token::Close) else {
                    unreachable!("matched an identifier");
                };
                self.next += 1;
                Ok(Query::Permission(name))
            }
            Some(Token::Open) => {
                if self.depth == MAX_NESTING {
                    return self
                        .error(format!("parentheses nest deeper than {MAX_NESTING} levels"));
                }
                self.next += 1;
                if self.peek() == Some(&Token::Close) {
                    return self.error("empty parentheses");
                }
                self.depth += 1;
                let inner = self.or();
                self.depth -= 1;
                let inner = inner?;
                if self.peek() != Some(&Token::Close) {
                    return self.error("missing closing parenthesis");
                }
                self.next += 1;
                Ok(inner)
            }
            Some(Token::And | Token::Or) => self.error("expected a permission before the operator"),
            Some(Token::Close) => self.error("unexpected closing parenthesis"),
            None => self.error("expected a permission, found the end of the query"),
        }
    }
}

impl Query {
    pub fn parse(input: &str) -> Result<Query, SyntaxError> {
        let end = input.chars().count();
        if end > MAX_QUERY_CHARS {
            return Err(SyntaxError {
                position: MAX_QUERY_CHARS,
                message: format!("the query is longer than {MAX_QUERY_CHARS} characters"),
            });
        }
        let tokens = tokenize(input)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end,
            depth: 0,
        };
        let query = parser.or()?;
        if parser.next < parser.tokens.len() {
            return parser.error("unexpected token after the end of the query");
        }
        Ok(query)
    }

    /// Whether a key holding `permissions` satisfies the query.
    pub fn is_satisfied_by(&self, permissions: &HashSet<String>) -> bool {
        match self {
            Query::Permission(p) => permissions.contains(p),
            Query::And(all) => all.iter().all(|q| q.is_satisfied_by(permissions)),
            Query::Or(any) => any.iter().any(|q| q.is_satisfied_by(permissions)),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A child is parenthesized where printing it bare would parse differently: an OR
        // inside anything, an AND inside an AND (both would merge into the parent's list).
        let child = |f: &mut fmt::Formatter<'_>, q: &Query, inside_and: bool| match q {
            Query::Permission(_) => write!(f, "{q}"),
            Query::And(_) if !inside_and => write!(f, "{q}"),
            _ => write!(f, "({q})"),
        };
        match self {
            Query::Permission(name) => f.write_str(name),
            Query::And(all) | Query::Or(all) => {
                let (separator, inside_and) = match self {
                    Query::And(_) => (" AND ", true),
                    _ => (" OR ", false),
                };
                for (i, q) in all.iter().enumerate() {
                    if i > 0 {
                        f.write_str(separator)?;
                    }
                    child(f, q, inside_and)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn perms(list: &[&str]) -> HashSet<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let q = Query::parse("a OR b AND c").unwrap();
        assert_eq!(
            q,
            Query::Or(vec![
                Query::Permission("a".into()),
                Query::And(vec![
                    Query::Permission("b".into()),
                    Query::Permission("c".into())
                ]),
            ])
        );
        assert!(q.is_satisfied_by(&perms(&["a"])));
        assert!(!q.is_satisfied_by(&perms(&["b"])));
        assert!(q.is_satisfied_by(&perms(&["b", "c"])));
    }

    #[test]
    fn parentheses_and_case_insensitive_operators() {
        let q = Query::parse("(a or b) and c").unwrap();
        assert!(q.is_satisfied_by(&perms(&["b", "c"])));
        assert!(!q.is_satisfied_by(&perms(&["a", "b"])));
    }

    #[test]
    fn leaves_match_literally() {
        let q = Query::parse("api.*").unwrap();
        assert!(!q.is_satisfied_by(&perms(&["api.read"])));
        assert!(q.is_satisfied_by(&perms(&["api.*"])));
        assert!(Query::parse("urn:x/y-z_1").is_ok());
    }

    #[test]
    fn syntax_errors_name_a_position() {
        for (input, position) in [
            ("a AND", 5),
            ("(a OR b", 7),
            ("()", 1),
            ("AND a", 0),
            ("a b", 2),
            ("a $ b", 2),
            ("", 0),
            ("a)", 1),
        ] {
            let err = Query::parse(input).unwrap_err();
            assert_eq!(err.position, position, "{input:?}: {err}");
        }
    }

    #[test]
    fn long_queries() {
        let input = (0..25)
            .map(|i| format!("p{i}"))
            .collect::<Vec<_>>()
            .join(" OR ");
        let q = Query::parse(&input).unwrap();
        assert!(q.is_satisfied_by(&perms(&["p24"])));
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let at_limit = format!("{}a{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(Query::parse(&at_limit), Ok(Query::Permission("a".into())));
        let deeper = format!("({at_limit})");
        let err = Query::parse(&deeper).unwrap_err();
        assert!(err.message.contains("nest"), "{err}");
        assert_eq!(err.position, MAX_NESTING);
        // Far deeper than any stack would take, refused just as fast.
        let huge = "(".repeat(100_000);
        assert!(Query::parse(&huge).is_err());
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(Query::parse(&long).unwrap_err().position, MAX_QUERY_CHARS);
    }

    #[test]
    fn printing_parenthesizes_only_where_needed() {
        for text in [
            "a",
            "a AND b OR c",
            "a AND (b OR c)",
            "(a AND b) AND c",
            "a OR (b OR c)",
        ] {
            assert_eq!(Query::parse(text).unwrap().to_string(), text);
        }
    }

    /// Permission names: identifier characters, never an operator.
    fn name() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9._*:/-]{1,12}".prop_filter("not an operator", |s| {
            !s.eq_ignore_ascii_case("and") && !s.eq_ignore_ascii_case("or")
        })
    }

    /// Queries as the parser builds them: AND and OR with two or more children.
    fn query() -> impl Strategy<Value = Query> {
        name()
            .prop_map(Query::Permission)
            .prop_recursive(6, 48, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 2..4).prop_map(Query::And),
                    prop::collection::vec(inner, 2..4).prop_map(Query::Or),
                ]
            })
    }

    fn depth(q: &Query) -> usize {
        match q {
            Query::Permission(_) => 0,
            Query::And(all) | Query::Or(all) => 1 + all.iter().map(depth).max().unwrap_or(0),
        }
    }

    /// The permissions of the leaves at even positions, for an evaluation to compare.
    fn some_leaves(q: &Query, out: &mut HashSet<String>, i: &mut usize) {
        match q {
            Query::Permission(p) => {
                if i.is_multiple_of(2) {
                    out.insert(p.clone());
                }
                *i += 1;
            }
            Query::And(all) | Query::Or(all) => {
                all.iter().for_each(|q| some_leaves(q, out, i));
            }
        }
    }

    proptest! {
        #[test]
        fn printed_queries_parse_back_to_themselves(q in query()) {
            let text = q.to_string();
            prop_assume!(text.chars().count() <= MAX_QUERY_CHARS && depth(&q) <= MAX_NESTING);
            prop_assert_eq!(Query::parse(&text), Ok(q.clone()), "{}", text);
            // Spacing and operator case do not matter.
            let loose = text.replace(" AND ", "  and\t").replace(" OR ", "\nOr ");
            let reparsed = Query::parse(&loose);
            prop_assert_eq!(reparsed.as_ref().ok(), Some(&q));
            let mut held = HashSet::new();
            some_leaves(&q, &mut held, &mut 0);
            prop_assert_eq!(
                Query::parse(&text).unwrap().is_satisfied_by(&held),
                q.is_satisfied_by(&held)
            );
        }

        #[test]
        fn any_input_parses_or_fails_without_panicking(input in "[()a-c ANDOR$]{0,200}") {
            if let Err(err) = Query::parse(&input) {
                prop_assert!(err.position <= input.chars().count());
            }
        }

        #[test]
        fn nested_input_is_refused_beyond_the_bound(levels in 0usize..200) {
            let text = format!("{}x{}", "(".repeat(levels), ")".repeat(levels));
            prop_assert_eq!(Query::parse(&text).is_ok(), levels <= MAX_NESTING);
        }
    }
}
