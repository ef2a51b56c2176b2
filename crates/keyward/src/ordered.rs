//! JSON that keeps the order of object fields, for printing answers as the server wrote them
//! (`meta` before `data`, `keyId` before `start`, …).
//!
//! `serde_json::Value` sorts object keys unless serde_json's `preserve_order` feature is on, and
//! that feature would be unified into every crate of the workspace (the server included). This
//! small type keeps the CLI's printing faithful without changing anyone else's JSON.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

#[derive(Debug, Clone, PartialEq)]
pub enum OrderedJson {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<OrderedJson>),
    Object(Vec<(String, OrderedJson)>),
}

impl OrderedJson {
    /// The field `name` of an object.
    pub fn get(&self, name: &str) -> Option<&OrderedJson> {
        match self {
            OrderedJson::Object(fields) => fields.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The value at a JSON pointer such as `/identity/externalId` (no `~` escapes).
    pub fn pointer(&self, pointer: &str) -> Option<&OrderedJson> {
        pointer
            .split('/')
            .skip(1)
            .try_fold(self, |value, token| match value {
                OrderedJson::Object(_) => value.get(token),
                OrderedJson::Array(items) => token.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
    }

    /// Indented as `serde_json::to_string_pretty` does (`{}` for an empty object).
    pub fn pretty(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

impl From<&serde_json::Value> for OrderedJson {
    fn from(value: &serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => OrderedJson::Null,
            Value::Bool(b) => OrderedJson::Bool(*b),
            Value::Number(n) => OrderedJson::Number(n.clone()),
            Value::String(s) => OrderedJson::String(s.clone()),
            Value::Array(items) => OrderedJson::Array(items.iter().map(Into::into).collect()),
            Value::Object(fields) => {
                OrderedJson::Object(fields.iter().map(|(k, v)| (k.clone(), v.into())).collect())
            }
        }
    }
}

impl Serialize for OrderedJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            OrderedJson::Null => serializer.serialize_unit(),
            OrderedJson::Bool(b) => serializer.serialize_bool(*b),
            OrderedJson::Number(n) => n.serialize(serializer),
            OrderedJson::String(s) => serializer.serialize_str(s),
            OrderedJson::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            OrderedJson::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for OrderedJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OrderedVisitor)
    }
}

struct OrderedVisitor;

impl<'de> Visitor<'de> for OrderedVisitor {
    type Value = OrderedJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }

    fn visit_none<E>(self) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<OrderedJson, E> {
        Ok(OrderedJson::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<OrderedJson, E> {
        serde_json::Number::from_f64(v)
            .map(OrderedJson::Number)
            .ok_or_else(|| E::custom("a number JSON cannot hold"))
    }

    fn visit_str<E>(self, v: &str) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<OrderedJson, E> {
        Ok(OrderedJson::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OrderedJson, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(OrderedJson::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedJson, A::Error> {
        let mut fields = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, OrderedJson>()? {
            fields.push((key, value));
        }
        Ok(OrderedJson::Object(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_field_order_and_pretty_prints_like_serde_json() {
        let text = r#"{"meta":{"requestId":"req_1"},"data":{"keyId":"key_1","start":"sk_ab","enabled":true,"n":-1.5,"e":{},"a":[]}}"#;
        let value: OrderedJson = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), text);
        assert_eq!(
            value.get("data").and_then(|d| d.get("e")).unwrap().pretty(),
            "{}"
        );
        let reference: serde_json::Value =
            serde_json::from_str(r#"{"a":[1,{"b":null}],"c":"x"}"#).unwrap();
        assert_eq!(
            OrderedJson::from(&reference).pretty(),
            serde_json::to_string_pretty(&reference).unwrap()
        );
    }
}
