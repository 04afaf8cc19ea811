//! Server events read straight from their JSON text. Each event arrives as `RawValue` text
//! and is read one level at a time: an object becomes its list of (key, value text), and
//! strings are borrowed unless they hold escapes. No `serde_json::Value` tree is built or
//! dropped for the event as a whole; this runs for every event of every intake.
//!
//! The request's reader only skipped over each event's text: it checked the brackets and
//! quotes, not what a JSON reader checks inside them (numbers in range, escapes that are not
//! lone surrogates, nesting depth). Reading a part here makes those checks for that part, so
//! reading it can fail on bad JSON as well as on a type; what is never read (the value of a
//! field the relay ignores) is never checked, and is not sent anywhere either.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON string, borrowed from the text unless it holds escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON object as its entries in the order given, each value left as text. A key given
/// twice is kept twice; `get` takes the last, as a `serde_json` map would.
#[derive(Debug, Default)]
pub struct Object<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object<'de>, A::Error> {
                let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(16).min(64));
                while let Some((k, v)) = map.next_entry::<Text<'de>, &'de RawValue>()? {
                    entries.push((k.0, v));
                }
                Ok(Object(entries))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Object<'a> {
    /// The object `raw` holds; None when it holds anything else, an error when its keys are
    /// not valid JSON strings.
    pub fn parse(raw: &'a RawValue) -> Result<Option<Self>, serde_json::Error> {
        if !raw.get().starts_with('{') {
            return Ok(None);
        }
        serde_json::from_str(raw.get()).map(Some)
    }

    /// The value of `key` (the last one, if it is given twice).
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    /// The entries in the order given, duplicates included.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &'a RawValue)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), *v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The string `raw` holds, unescaped, or None when it holds anything else.
pub fn text(raw: &RawValue) -> Option<Cow<'_, str>> {
    if !raw.get().starts_with('"') {
        return None;
    }
    serde_json::from_str::<Text<'_>>(raw.get())
        .ok()
        .map(|t| t.0)
}

/// The integer `raw` holds (as `serde_json::Value::as_i64` reads it), or None.
pub fn int(raw: &RawValue) -> Option<i64> {
    serde_json::from_str(raw.get()).ok()
}

/// The items of the array `raw` holds, each as text, or None when it holds anything else.
pub fn array(raw: &RawValue) -> Option<Vec<&RawValue>> {
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    #[test]
    fn objects_keep_entries_and_the_last_duplicate_wins() {
        let r = raw(r#"{"b": 1, "a\u0041": "x", "b": [2, {"c": 3}]}"#);
        let o = Object::parse(&r).unwrap().unwrap();
        assert_eq!(o.len(), 3);
        assert_eq!(o.get("b").map(RawValue::get), Some(r#"[2, {"c": 3}]"#));
        assert_eq!(o.get("aA").map(RawValue::get), Some(r#""x""#));
        assert!(o.get("c").is_none(), "only the top level is read");
        for not_object in ["[1]", "\"{}\"", "null", "7"] {
            assert!(
                Object::parse(&raw(not_object)).unwrap().is_none(),
                "{not_object}"
            );
        }
        assert!(Object::parse(&raw("{}")).unwrap().unwrap().is_empty());
        // What the request's reader let through, refused on reading.
        assert!(Object::parse(&raw(r#"{"\ud800": 1}"#)).is_err());
        assert_eq!(text(&raw(r#""\ud800""#)), None);
        assert_eq!(int(&raw("1e400")), None);
    }

    #[test]
    fn strings_numbers_and_arrays_are_read_by_type() {
        assert_eq!(text(&raw(r#""plain""#)).as_deref(), Some("plain"));
        assert!(matches!(text(&raw(r#""plain""#)), Some(Cow::Borrowed(_))));
        assert_eq!(
            text(&raw(r#""a\"b\n\u00eb""#)).as_deref(),
            Some("a\"b\n\u{eb}")
        );
        assert_eq!(text(&raw("12")), None);
        assert_eq!(int(&raw("1764000000")), Some(1_764_000_000));
        assert_eq!(int(&raw("-3")), Some(-3));
        for not_int in ["1.5", "\"12\"", "1e3", "18446744073709551615", "null"] {
            assert_eq!(int(&raw(not_int)), None, "{not_int}");
        }
        let a = raw(r#"["x", 2, {"y": []}]"#);
        let items = array(&a).unwrap();
        assert_eq!(
            items.iter().map(|r| r.get()).collect::<Vec<_>>(),
            [r#""x""#, "2", r#"{"y": []}"#]
        );
        assert!(array(&raw(r#"{"0": 1}"#)).is_none());
    }
}
