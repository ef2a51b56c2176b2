//! The permission query of `keys.verifyKey`: `a.read AND (b.write OR c.admin)`.
//!
//! Grammar (Unkey's): identifiers of letters, digits and `. _ - * : /`; the operators `AND` and
//! `OR`, case-insensitive and whole words; parentheses. AND binds tighter than OR. A leaf matches
//! a permission of the key by exact string equality — `api.*` only matches a permission literally
//! named `api.*`.

use std::collections::HashSet;

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

fn tokenize(input: &str) -> Result<Vec<(usize, Token)>, SyntaxError> {
    let chars: Vec<char> = input.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            tokens.push((i, Token::Open));
            i += 1;
        } else if c == ')' {
            tokens.push((i, Token::Close));
            i += 1;
        } else if ident_char(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let token = match word.to_ascii_uppercase().as_str() {
                "AND" => Token::And,
                "OR" => Token::Or,
                _ => Token::Ident(word),
            };
            tokens.push((start, token));
        } else {
            return Err(SyntaxError {
                position: i,
                message: format!("unexpected character {c:?}"),
            });
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    next: usize,
    end: usize,
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
        match self.peek().cloned() {
            Some(Token::Ident(name)) => {
                self.next += 1;
                Ok(Query::Permission(name))
            }
            Some(Token::Open) => {
                self.next += 1;
                if self.peek() == Some(&Token::Close) {
                    return self.error("empty parentheses");
                }
                let inner = self.or()?;
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
        let tokens = tokenize(input)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end: input.chars().count(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
