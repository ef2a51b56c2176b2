//! Request bodies read by the rules of JSON and JSON Schema (what the OpenAPI document states)
//! rather than by serde's defaults, at every depth of every request type.
//!
//! - **A struct is an object.** serde's derived `Deserialize` for a struct also accepts a JSON
//!   array of its fields in declaration order: `["<key>"]` read as `{"key": "<key>"}`, and
//!   `[null, ["api.*.verify_key"]]` as a `rootKeys.createRootKey` request, with no field names to
//!   check against `deny_unknown_fields`. Here every struct is read through `deserialize_map`,
//!   which accepts only an object.
//! - **An integer is a number without a fraction.** JSON has one number type, and JSON Schema's
//!   `integer` includes `57.0`; serde reads `57.0` as a float and refuses it for an `i64`. Here
//!   an integral float within the target's range is read as that integer.
//!
//! [`JsonBody`] wraps a deserializer and every deserializer it hands on (through the visitors,
//! map and sequence accesses and seeds), so both rules hold at any depth, for every request type
//! at once; everything else is forwarded untouched. Generic and inlined: the fast path costs what
//! plain `serde_json` costs.
//!
//! It lives with the wire types (it is the wire's reading rule) so that the HTTP crate's
//! extractor and the fuzz targets (`fuzz/`) decode with one and the same code.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, Visitor};

/// A deserializer that reads by JSON's rules. See the module docs.
pub struct JsonBody<D>(pub D);

/// `bytes` as one `T` by JSON's rules, nothing after it but whitespace: how every request body
/// is read (the HTTP crate's fast path; a body that fails is read again to name the field).
pub fn from_slice<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = T::deserialize(JsonBody(&mut deserializer))?;
    deserializer.end()?;
    Ok(value)
}

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap(visitor))
        }
    )*};
}

macro_rules! forward_integer {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Integer(Wrap(visitor)))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for JsonBody<D> {
    type Error = D::Error;

    forward_integer! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_u8
        deserialize_u16 deserialize_u32 deserialize_u64
    }

    forward! {
        deserialize_any deserialize_bool deserialize_i128 deserialize_u128 deserialize_f32
        deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        // The one change: a struct comes from an object, never from an array.
        self.0.deserialize_map(Wrap(visitor))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, Wrap(visitor))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, Wrap(visitor))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, Wrap(visitor))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, Wrap(visitor))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, Wrap(visitor))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor whose nested deserializers are [`JsonBody`] too.
struct Wrap<V>(V);

macro_rules! forward_visit {
    ($($method:ident($ty:ty))*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.0.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_f64(f64) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(JsonBody(d))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(JsonBody(d))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(Wrap(seq))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(Wrap(map))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(Wrap(data))
    }
}

/// A visitor of an integer that also takes an integral float, as the integer it equals.
struct Integer<V>(V);

/// 2^53: up to it every integer is a float exactly. Past it serde_json also reads integer
/// literals out of `i64`'s range as floats, rounded (-2^63 - 1 to -2^63), which must stay
/// refused.
const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

impl<'de, V: Visitor<'de>> Visitor<'de> for Integer<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }

    forward_visit! {
        visit_bool(bool) visit_i8(i8) visit_i16(i16) visit_i32(i32) visit_i64(i64)
        visit_i128(i128) visit_u8(u8) visit_u16(u16) visit_u32(u32) visit_u64(u64)
        visit_u128(u128) visit_f32(f32) visit_char(char) visit_str(&str)
        visit_borrowed_str(&'de str) visit_string(String) visit_bytes(&[u8])
        visit_borrowed_bytes(&'de [u8]) visit_byte_buf(Vec<u8>)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<V::Value, E> {
        if value.fract() == 0.0 && value.abs() <= EXACT_INTEGERS {
            // The visitor checks the target's own range, as for any integer.
            self.0.visit_i64(value as i64)
        } else {
            self.0.visit_f64(value)
        }
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.0.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_some(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<V::Value, D::Error> {
        self.0.visit_newtype_struct(d)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.0.visit_seq(seq)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.0.visit_map(map)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(data)
    }
}

/// A seed that deserializes through [`JsonBody`].
struct Seed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Seed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(JsonBody(d))
    }
}

impl<'de, A: de::SeqAccess<'de>> de::SeqAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.0.next_element_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::MapAccess<'de>> de::MapAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.0.next_key_seed(Seed(seed))
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, A::Error> {
        self.0.next_value_seed(Seed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for Wrap<A> {
    type Error = A::Error;
    type Variant = Wrap<A::Variant>;

    fn variant_seed<T: DeserializeSeed<'de>>(
        self,
        seed: T,
    ) -> Result<(T::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(Seed(seed))?;
        Ok((value, Wrap(variant)))
    }
}

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.0.newtype_variant_seed(Seed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.0.tuple_variant(len, Wrap(visitor))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.0.struct_variant(fields, Wrap(visitor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: i64,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
        list: Option<Vec<Inner>>,
        meta: Option<serde_json::Map<String, serde_json::Value>>,
    }

    fn parse(text: &str) -> Result<Outer, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(text);
        let value = Outer::deserialize(JsonBody(&mut de))?;
        de.end()?;
        Ok(value)
    }

    #[test]
    fn objects_parse_as_before() {
        let value =
            parse(r#"{"name":"x","inner":{"n":1},"list":[{"n":2}],"meta":{"a":[1,{"b":null}]}}"#)
                .unwrap();
        assert_eq!(value.inner, Some(Inner { n: 1 }));
        assert_eq!(value.list, Some(vec![Inner { n: 2 }]));
        assert_eq!(
            value.meta.unwrap()["a"],
            serde_json::json!([1, {"b": null}])
        );
    }

    #[test]
    fn integral_floats_are_integers() {
        let value = parse(r#"{"name":"x","inner":{"n":57.0},"list":[{"n":-3e2}]}"#).unwrap();
        assert_eq!(value.inner, Some(Inner { n: 57 }));
        assert_eq!(value.list, Some(vec![Inner { n: -300 }]));
        for text in [
            r#"{"name":"x","inner":{"n":57.5}}"#,
            r#"{"name":"x","inner":{"n":1e19}}"#,
            // Past 2^53 a float may be a rounded integer literal: -2^63 - 1 must not pass as i64::MIN.
            r#"{"name":"x","inner":{"n":-9223372036854775809}}"#,
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid type: floating point"),
                "{text}: {err}"
            );
        }
        // Floats stay floats where any JSON value is read.
        let value = parse(r#"{"name":"x","meta":{"f":57.0}}"#).unwrap();
        assert_eq!(value.meta.unwrap()["f"], serde_json::json!(57.0));
    }

    #[test]
    fn arrays_are_not_structs_at_any_depth() {
        // Plain serde_json takes all three.
        for text in [
            r#"["x", null, null, null]"#,
            r#"{"name":"x","inner":[1]}"#,
            r#"{"name":"x","list":[[2]]}"#,
        ] {
            assert!(serde_json::from_str::<Outer>(text).is_ok(), "{text}");
            let err = parse(text).unwrap_err().to_string();
            assert!(
                err.starts_with("invalid type: sequence, expected struct"),
                "{text}: {err}"
            );
        }
    }
}
