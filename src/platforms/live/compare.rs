//! Comparing a live object's current values with their targets exactly (decimal text, never
//! f64; instants; lists in any order), so nothing already at its target is written again.

use super::*;

/// A decimal number's canonical text: no leading zeros, no trailing fractional zeros
/// ("80.0" -> "80", "019.990" -> "19.99"). None when the text is not a plain decimal.
pub fn canonical_decimal(text: &str) -> Option<String> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty()
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (digits.contains('.') && frac.is_empty())
    {
        return None;
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let body = if frac.is_empty() {
        int.to_owned()
    } else {
        format!("{int}.{frac}")
    };
    Some(if neg && body != "0" {
        format!("-{body}")
    } else {
        body
    })
}

/// A money value (number or numeric string) as a JSON number with its canonical decimal
/// text, never through arithmetic: "80.0" -> 80, "19.99" -> 19.99.
pub fn canonical_number(v: &Value) -> Option<Value> {
    let text = match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    let c = canonical_decimal(&text)?;
    serde_json::from_str::<serde_json::Number>(&c)
        .ok()
        .map(Value::Number)
}

/// "networkSettings.targetSearchNetwork" -> "network_settings.target_search_network".
pub fn camel_to_snake(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for ch in path.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
            out.push(ch.to_ascii_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A scalar's comparable form: numbers and numeric strings by canonical decimal text.
pub(super) fn scalar_key(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(canonical_decimal(&n.to_string()).unwrap_or(n.to_string())),
        Value::String(s) => Some(canonical_decimal(s).unwrap_or_else(|| format!("s:{s}"))),
        Value::Bool(b) => Some(format!("b:{b}")),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

/// Meta datetimes come back in the account's time zone: compare instants.
pub(super) fn instant(v: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let s = v.as_str()?.trim();
    chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
        .or_else(|_| chrono::DateTime::parse_from_rfc3339(s))
        .ok()
}

/// Whether a live value already is the target: numbers by exact decimal value (80.0 = 80,
/// "7500" = 7500), times by instant, lists of scalars in any order, objects key by key
/// (an absent key equals null).
pub fn same_value(current: &Value, target: &Value) -> bool {
    match (current, target) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().all(|k| {
                same_value(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                )
            })
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return false;
            }
            let keys = |l: &Vec<Value>| l.iter().map(scalar_key).collect::<Option<Vec<_>>>();
            match (keys(x), keys(y)) {
                (Some(mut p), Some(mut q)) => {
                    p.sort();
                    q.sort();
                    p == q
                }
                _ => x.iter().zip(y).all(|(p, q)| same_value(p, q)),
            }
        }
        _ => {
            if let (Some(p), Some(q)) = (instant(current), instant(target)) {
                return p == q;
            }
            match (scalar_key(current), scalar_key(target)) {
                (Some(p), Some(q)) => p == q,
                _ => false,
            }
        }
    }
}

/// The fields of `update` whose live value differs from the target.
pub(super) fn pending(update: &ObjectUpdate, current: &Map<String, Value>) -> Map<String, Value> {
    update
        .fields
        .iter()
        .filter(|(k, v)| !same_value(current.get(*k).unwrap_or(&Value::Null), v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Whether `current` holds `target` one way: every key the target sets has its value (keys the
/// platform adds on read-back are ignored); lists in any order, item by item the same way.
pub fn covers(current: &Value, target: &Value) -> bool {
    match (current, target) {
        (Value::Object(c), Value::Object(t)) => t
            .iter()
            .all(|(k, tv)| covers(c.get(k).unwrap_or(&Value::Null), tv)),
        // In any order: Google does not promise to answer headlines as they were sent.
        (Value::Array(c), Value::Array(t)) => {
            let mut free: Vec<&Value> = c.iter().collect();
            c.len() == t.len()
                && t.iter()
                    .all(|y| match free.iter().position(|x| covers(x, y)) {
                        Some(i) => {
                            free.swap_remove(i);
                            true
                        }
                        None => false,
                    })
        }
        _ => same_value(current, target),
    }
}
