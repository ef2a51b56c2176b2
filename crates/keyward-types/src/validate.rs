//! Request validation beyond what the JSON shape enforces: lengths, ranges, patterns.
//!
//! Each request type implements [`Validate`], collecting every problem at once into
//! [`Violations`] so a client learns about all of them in one round trip. Limits are the
//! reference's (Unkey's OpenAPI spec); lengths count characters, as JSON Schema does.

use crate::error::ValidationError;

/// Checks a request's fields against the documented limits.
pub trait Validate {
    fn validate(&self, v: &mut Violations);
}

/// Character classes of the reference's patterns.
pub mod charset {
    /// `^[a-zA-Z0-9_]+$`: ids and key prefixes.
    pub fn id(c: char) -> bool {
        c.is_ascii_alphanumeric() || c == '_'
    }
    /// `^[a-zA-Z0-9_.-]+$`: external ids.
    pub fn external_id(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
    }
    /// `^[a-zA-Z0-9_:\-\.\*]+$`: permission slugs.
    pub fn slug(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.' | '*')
    }
}

/// The problems found in one request.
#[derive(Debug, Default)]
pub struct Violations {
    errors: Vec<ValidationError>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<ValidationError> {
        self.errors
    }

    /// Records a problem at `body.<field>` (`body` for an empty `field`, `body[<i>]…` for one
    /// starting with `[`: an item of a body that is an array).
    pub fn push(&mut self, field: &str, message: impl Into<String>, fix: Option<String>) {
        let location = match field {
            "" => "body".to_owned(),
            f if f.starts_with('[') => format!("body{f}"),
            f => format!("body.{f}"),
        };
        self.errors.push(ValidationError {
            location,
            message: message.into(),
            fix,
        });
    }

    /// The string must have between `min` and `max` characters.
    pub fn length(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let len = value.chars().count();
        if len < min || len > max {
            let message = if len < min && min == 1 {
                "must not be empty".to_string()
            } else {
                format!("must be {min} to {max} characters long, got {len}")
            };
            self.push(field, message, None);
        }
    }

    /// Like [`Violations::length`], and every character must satisfy `allowed`.
    pub fn pattern(
        &mut self,
        field: &str,
        value: &str,
        min: usize,
        max: usize,
        allowed: fn(char) -> bool,
        allowed_text: &str,
    ) {
        self.length(field, value, min, max);
        if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
            self.push(
                field,
                format!("contains the character {bad:?}, which is not allowed"),
                Some(format!("use only {allowed_text}")),
            );
        }
    }

    /// The number must lie in `min..=max`.
    pub fn range(&mut self, field: &str, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            self.push(
                field,
                format!("must be between {min} and {max}, got {value}"),
                None,
            );
        }
    }

    /// The list may hold at most `max` items (and at least `min`).
    pub fn items(&mut self, field: &str, len: usize, min: usize, max: usize) {
        if len < min {
            self.push(field, format!("must hold at least {min} item(s)"), None);
        } else if len > max {
            self.push(
                field,
                format!("may hold at most {max} items, got {len}"),
                None,
            );
        }
    }

    /// Validates an optional string field.
    pub fn opt_length(&mut self, field: &str, value: Option<&str>, min: usize, max: usize) {
        if let Some(value) = value {
            self.length(field, value, min, max);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_every_problem() {
        let mut v = Violations::new();
        v.length("name", "", 1, 10);
        v.pattern(
            "apiId",
            "api-1",
            3,
            255,
            charset::id,
            "letters, digits and _",
        );
        v.range("byteLength", 8, 16, 255);
        v.items("tags", 21, 0, 20);
        let errors = v.into_errors();
        assert_eq!(errors.len(), 4);
        assert_eq!(errors[0].location, "body.name");
        assert_eq!(errors[0].message, "must not be empty");
        assert!(errors[1].message.contains("'-'"));
        assert_eq!(errors[2].message, "must be between 16 and 255, got 8");
    }

    #[test]
    fn lengths_count_characters() {
        let mut v = Violations::new();
        v.length("name", "ééé", 3, 3);
        assert!(v.is_empty());
    }

    #[test]
    fn charsets_follow_the_reference() {
        assert!("key_123AZ".chars().all(charset::id));
        assert!(!"key-1".chars().all(charset::id));
        assert!("user.1-a_b".chars().all(charset::external_id));
        assert!(!"user 1".chars().all(charset::external_id));
        assert!("api.*.read:x-y".chars().all(charset::slug));
        assert!(!"a/b".chars().all(charset::slug));
    }
}
