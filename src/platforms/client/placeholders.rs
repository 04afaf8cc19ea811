//! `{{object.id}}` placeholders in translated bodies, filled from the ids stored so far.

use serde_json::{Map, Value};

/// Replace `{{object.id}}` placeholders in strings with stored ids. Returns the name of the
/// first missing object, if any.
pub fn fill_placeholders(v: &Value, ids: &Map<String, Value>) -> Result<Value, String> {
    match v {
        Value::String(s) if s.contains("{{") => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(start) = rest.find("{{") {
                out.push_str(&rest[..start]);
                let after = &rest[start + 2..];
                let Some(end) = after.find("}}") else {
                    out.push_str(&rest[start..]);
                    rest = "";
                    break;
                };
                let key = &after[..end];
                let object = key.strip_suffix(".id").unwrap_or(key);
                match ids.get(object).and_then(Value::as_str) {
                    Some(id) => out.push_str(id),
                    None => return Err(object.to_owned()),
                }
                rest = &after[end + 2..];
            }
            out.push_str(rest);
            Ok(Value::String(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|x| fill_placeholders(x, ids))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(o) => {
            let mut m = Map::with_capacity(o.len());
            for (k, x) in o {
                m.insert(k.clone(), fill_placeholders(x, ids)?);
            }
            Ok(Value::Object(m))
        }
        other => Ok(other.clone()),
    }
}
