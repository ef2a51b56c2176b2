//! Tri-state fields for partial updates: absent (leave unchanged), `null` (clear), or a value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A field of an update request.
///
/// Use with `#[serde(default, skip_serializing_if = "Nullable::is_absent")]`: a missing field
/// deserializes to [`Nullable::Absent`], an explicit `null` to [`Nullable::Null`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Nullable<T> {
    /// The field was not sent: keep the stored value.
    #[default]
    Absent,
    /// The field was sent as `null`: clear the stored value.
    Null,
    /// The field was sent with a value: store it.
    Value(T),
}

impl<T> Nullable<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }

    /// The value if one was sent.
    pub fn value(&self) -> Option<&T> {
        match self {
            Nullable::Value(v) => Some(v),
            _ => None,
        }
    }

    /// `None` when absent, `Some(None)` when null, `Some(Some(v))` with a value.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Nullable::Absent => None,
            Nullable::Null => Some(None),
            Nullable::Value(v) => Some(Some(v)),
        }
    }
}

impl<T> From<Option<T>> for Nullable<T> {
    fn from(value: Option<T>) -> Self {
        match value {
            Some(v) => Nullable::Value(v),
            None => Nullable::Null,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only reached when the field is present (absence is handled by `#[serde(default)]`).
        Ok(Option::<T>::deserialize(deserializer)?.into())
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Value(v) => v.serialize(serializer),
            Nullable::Absent | Nullable::Null => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize, Serialize)]
    struct Patch {
        #[serde(default, skip_serializing_if = "Nullable::is_absent")]
        name: Nullable<String>,
    }

    #[test]
    fn distinguishes_absent_null_and_value() {
        let absent: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.name, Nullable::Absent);
        let null: Patch = serde_json::from_str(r#"{"name":null}"#).unwrap();
        assert_eq!(null.name, Nullable::Null);
        let value: Patch = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert_eq!(value.name, Nullable::Value("x".to_string()));
    }

    #[test]
    fn round_trips() {
        for text in ["{}", r#"{"name":null}"#, r#"{"name":"x"}"#] {
            let patch: Patch = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&patch).unwrap(), text);
        }
    }
}
