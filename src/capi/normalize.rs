//! Customer-information normalisation and SHA-256 hashing, field by field as Meta's
//! Conversions API wants it (PLATFORMS.md D4) and as TikTok's Events API 2.0 wants it (D9).
//! Values that already are hashes pass through; identifiers that must stay in clear
//! (IP, user agent, click ids, cookies) are never hashed. Raw values are never kept.

use std::collections::BTreeMap;

use serde_json::Value;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::raw::{self, Object};

/// Hashed customer fields (sent as arrays of lowercase hex SHA-256).
pub const META_HASHED: [&str; 11] = [
    "em",
    "ph",
    "fn",
    "ln",
    "ge",
    "db",
    "ct",
    "st",
    "zp",
    "country",
    "external_id",
];
/// Fields sent in clear, as scalars.
pub const META_CLEAR: [&str; 4] = ["client_ip_address", "client_user_agent", "fbc", "fbp"];

pub fn sha256_hex(s: &str) -> String {
    HexHash::sha256(s).as_str().to_owned()
}

/// A lower-case hex digest held inline: a SHA-256 (64 digits), or an MD5 (32) a caller sent
/// already hashed. No allocation per hash, and it is written into JSON as it is (hex digits
/// need no escaping).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexHash {
    hex: [u8; 64],
    len: u8,
}

impl HexHash {
    pub fn sha256(s: &str) -> Self {
        let mut hex = [0u8; 64];
        // 32 bytes into 64 digits: the sizes match, so this cannot fail.
        let _ = hex::encode_to_slice(Sha256::digest(s.as_bytes()), &mut hex);
        Self { hex, len: 64 }
    }

    /// A digest given by the caller (`is_hashed`), lower-cased.
    fn given(s: &str) -> Self {
        let mut hex = [0u8; 64];
        let n = s.len().min(64);
        hex[..n].copy_from_slice(&s.as_bytes()[..n]);
        hex[..n].make_ascii_lowercase();
        Self { hex, len: n as u8 }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.hex[..usize::from(self.len)]
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever stored.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

impl std::fmt::Debug for HexHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Already a SHA-256 (64 hex) or MD5 (32 hex) digest, in either case: passed through
/// (lower-cased) instead of being hashed again.
pub fn is_hashed(s: &str) -> bool {
    (s.len() == 64 || s.len() == 32) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Why a value could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub reason: String,
}

fn invalid(field: &str, reason: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        reason: reason.into(),
    }
}

const US_STATES: &[(&str, &str)] = &[
    ("alabama", "al"),
    ("alaska", "ak"),
    ("arizona", "az"),
    ("arkansas", "ar"),
    ("california", "ca"),
    ("colorado", "co"),
    ("connecticut", "ct"),
    ("delaware", "de"),
    ("florida", "fl"),
    ("georgia", "ga"),
    ("hawaii", "hi"),
    ("idaho", "id"),
    ("illinois", "il"),
    ("indiana", "in"),
    ("iowa", "ia"),
    ("kansas", "ks"),
    ("kentucky", "ky"),
    ("louisiana", "la"),
    ("maine", "me"),
    ("maryland", "md"),
    ("massachusetts", "ma"),
    ("michigan", "mi"),
    ("minnesota", "mn"),
    ("mississippi", "ms"),
    ("missouri", "mo"),
    ("montana", "mt"),
    ("nebraska", "ne"),
    ("nevada", "nv"),
    ("newhampshire", "nh"),
    ("newjersey", "nj"),
    ("newmexico", "nm"),
    ("newyork", "ny"),
    ("northcarolina", "nc"),
    ("northdakota", "nd"),
    ("ohio", "oh"),
    ("oklahoma", "ok"),
    ("oregon", "or"),
    ("pennsylvania", "pa"),
    ("rhodeisland", "ri"),
    ("southcarolina", "sc"),
    ("southdakota", "sd"),
    ("tennessee", "tn"),
    ("texas", "tx"),
    ("utah", "ut"),
    ("vermont", "vt"),
    ("virginia", "va"),
    ("washington", "wa"),
    ("westvirginia", "wv"),
    ("wisconsin", "wi"),
    ("wyoming", "wy"),
    ("districtofcolumbia", "dc"),
    ("ontario", "on"),
    ("quebec", "qc"),
    ("britishcolumbia", "bc"),
    ("alberta", "ab"),
    ("manitoba", "mb"),
    ("saskatchewan", "sk"),
    ("novascotia", "ns"),
    ("newbrunswick", "nb"),
    ("newfoundlandandlabrador", "nl"),
    ("princeedwardisland", "pe"),
];

/// Normalise one Meta customer field (not yet hashed).
pub fn normalize_meta(field: &str, raw: &str) -> Result<String, Invalid> {
    let t = raw.trim().to_lowercase();
    if t.is_empty() {
        return Err(invalid(field, "is empty"));
    }
    match field {
        "em" => {
            let ok = t.split_once('@').is_some_and(|(user, domain)| {
                !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }) && !t.contains(char::is_whitespace);
            if ok {
                Ok(t)
            } else {
                Err(invalid(field, "is not an email address (x@y.z)"))
            }
        }
        "ph" => {
            let mut all = t.clone();
            all.retain(|c| c.is_ascii_digit());
            // "00" international prefix, then no leading zeros: the country code must lead.
            let lead = all.len()
                - all
                    .strip_prefix("00")
                    .unwrap_or(&all)
                    .trim_start_matches('0')
                    .len();
            let mut digits = all;
            digits.drain(..lead);
            if digits.len() < 7 || digits.len() > 15 {
                return Err(invalid(
                    field,
                    "needs the country code and 7-15 digits, e.g. +44 844 412 4653",
                ));
            }
            if !t.starts_with('+') && !t.starts_with("00") && raw.trim().starts_with('0') {
                return Err(invalid(
                    field,
                    "starts with 0: give the number with its country code, e.g. +44 ...",
                ));
            }
            Ok(digits)
        }
        "fn" | "ln" => {
            let mut v = t;
            v.retain(|c| !c.is_whitespace() && !c.is_ascii_punctuation());
            if v.is_empty() {
                Err(invalid(field, "has no letters"))
            } else {
                Ok(v)
            }
        }
        "ge" => match t.as_str() {
            "f" | "female" | "woman" | "w" | "mrs" | "ms" | "miss" => Ok("f".into()),
            "m" | "male" | "man" | "mr" => Ok("m".into()),
            _ => Err(invalid(field, "must be f or m")),
        },
        "db" => {
            let digits: String = t.chars().filter(char::is_ascii_digit).collect();
            let (y, m, d) =
                if digits.len() == 8 && (t.contains('-') || t.contains('/') || t.len() == 8) {
                    // YYYY-MM-DD, YYYYMMDD
                    (&digits[..4], &digits[4..6], &digits[6..])
                } else {
                    return Err(invalid(field, "use YYYY-MM-DD or YYYYMMDD"));
                };
            let (yn, mn, dn): (u32, u32, u32) = (
                y.parse().unwrap_or(0),
                m.parse().unwrap_or(0),
                d.parse().unwrap_or(0),
            );
            if !(1900..=2100).contains(&yn) || !(1..=12).contains(&mn) || !(1..=31).contains(&dn) {
                return Err(invalid(field, "is not a real date; use YYYY-MM-DD"));
            }
            Ok(format!("{y}{m}{d}"))
        }
        "ct" => {
            let mut v = t;
            v.retain(|c| c.is_alphabetic() && !c.is_ascii_digit());
            if v.is_empty() {
                Err(invalid(field, "has no letters"))
            } else {
                Ok(v)
            }
        }
        "st" => {
            let mut compact = t;
            compact.retain(|c| c.is_ascii_alphabetic());
            if let Some((_, code)) = US_STATES.iter().find(|(name, _)| *name == compact) {
                return Ok((*code).to_owned());
            }
            if compact.len() >= 2 {
                Ok(compact[..2].to_owned())
            } else {
                Err(invalid(field, "use a 2-letter state code, e.g. ca"))
            }
        }
        "zp" => {
            let mut v = t;
            if let Some(dash) = v.find('-') {
                v.truncate(dash);
            }
            v.retain(|c| !c.is_whitespace());
            if v.is_empty() {
                Err(invalid(field, "is empty"))
            } else {
                Ok(v)
            }
        }
        "country" => {
            if t.len() == 2 && t.chars().all(|c| c.is_ascii_alphabetic()) {
                Ok(t)
            } else {
                Err(invalid(field, "use an ISO 3166-1 alpha-2 code, e.g. us"))
            }
        }
        "external_id" => {
            let mut v = t;
            v.retain(|c| !c.is_whitespace());
            Ok(v)
        }
        other => Err(invalid(other, "is not a hashed customer field")),
    }
}

/// One `user_data` field as sent: a clear scalar or an array of distinct hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserValue {
    Clear(String),
    Hashed(Vec<HexHash>),
}

/// Meta `user_data` as sent, in key order, without building a `serde_json` map: this runs
/// for every event of every intake.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserData<'a>(Vec<(&'a str, UserValue)>);

impl UserData<'_> {
    pub fn contains_key(&self, k: &str) -> bool {
        self.0.iter().any(|(key, _)| *key == k)
    }

    /// Whether the fields identify a customer well enough to be matched: a hashed contact
    /// field or id, or a browser identifier pair.
    pub fn has_customer_info(&self) -> bool {
        let has = |k: &str| self.contains_key(k);
        ["em", "ph", "external_id", "fbc", "fbp"]
            .iter()
            .any(|k| has(k))
            || (has("client_ip_address") && has("client_user_agent"))
            || (["fn", "ln"].iter().all(|k| has(k)) && ["ct", "zp", "db"].iter().any(|k| has(k)))
    }

    /// The JSON object, appended to `out`. Keys and hashes are written as they are (field
    /// names and hex digits need no escaping); clear values are escaped by serde_json.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.push(b'{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
            match v {
                UserValue::Clear(s) => serde_json::to_writer(&mut *out, s)?,
                UserValue::Hashed(hashes) => {
                    out.push(b'[');
                    for (j, h) in hashes.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        out.push(b'"');
                        out.extend_from_slice(h.as_bytes());
                        out.push(b'"');
                    }
                    out.push(b']');
                }
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// Meta `user_data` as sent: hashed fields as arrays, clear fields as scalars, in key order.
/// Input values may be strings or arrays of strings, raw or already hashed. Unknown keys are
/// refused so a typo never sends PII in clear. A key given twice counts once, with its last
/// value.
pub fn meta_user_data<'a>(input: &'a Object<'_>) -> Result<UserData<'a>, Invalid> {
    // Key order, the last of each key: as a `serde_json` map iterates, so the fields are
    // checked (and the first error found) in the same order whatever order they came in.
    let mut entries: Vec<(&str, &RawValue)> = input.entries().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::with_capacity(entries.len());
    for (i, &(k, v)) in entries.iter().enumerate() {
        if entries.get(i + 1).is_some_and(|next| next.0 == k) {
            continue;
        }
        // A match, not a search of the two lists: this runs for every field of every event.
        let clear = match k {
            "client_ip_address" | "client_user_agent" | "fbc" | "fbp" => true,
            "em" | "ph" | "fn" | "ln" | "ge" | "db" | "ct" | "st" | "zp" | "country"
            | "external_id" => false,
            _ => {
                return Err(invalid(
                    k,
                    "is not a supported user_data field; use em, ph, fn, ln, ge, db, ct, st, zp, country, external_id, client_ip_address, client_user_agent, fbc or fbp",
                ));
            }
        };
        if clear {
            match raw::text(v) {
                Some(s) if !s.trim().is_empty() => {
                    out.push((k, UserValue::Clear(s.trim().to_owned())));
                }
                _ => return Err(invalid(k, "must be a non-empty string")),
            }
            continue;
        }
        let hash = |given: &str| hash_unless_hashed(given.trim(), |v| normalize_meta(k, v));
        let hashed: Vec<HexHash> = if let Some(s) = raw::text(v) {
            vec![hash(&s)?]
        } else if let Some(items) = raw::array(v) {
            let texts: Option<Vec<_>> = items.iter().map(|item| raw::text(item)).collect();
            let Some(texts) = texts else {
                return Err(invalid(k, "must be strings"));
            };
            let mut hashed: Vec<HexHash> = Vec::with_capacity(texts.len());
            // Distinct hashes in the order given; a set past a few, so a hostile list of
            // thousands is not compared pairwise.
            let mut seen = std::collections::HashSet::new();
            for given in &texts {
                let h = hash(given)?;
                let new = if texts.len() <= 16 {
                    !hashed.contains(&h)
                } else {
                    seen.insert(h)
                };
                if new {
                    hashed.push(h);
                }
            }
            hashed
        } else {
            return Err(invalid(k, "must be a string or an array of strings"));
        };
        if !hashed.is_empty() {
            out.push((k, UserValue::Hashed(hashed)));
        }
    }
    Ok(UserData(out))
}

/// A hash given by the caller (lower-cased), or the SHA-256 of the normalised value.
fn hash_unless_hashed(
    v: &str,
    normalise: impl Fn(&str) -> Result<String, Invalid>,
) -> Result<HexHash, Invalid> {
    if is_hashed(v) {
        Ok(HexHash::given(v))
    } else {
        Ok(HexHash::sha256(&normalise(v)?))
    }
}

/// TikTok Events API `user` from the raw (or pre-hashed) customer data: email lowercased,
/// phone E.164, external id trimmed and lowercased, then SHA-256; ip, user agent, ttclid and
/// ttp in clear.
pub fn tiktok_user(input: &Object<'_>) -> Result<BTreeMap<String, Value>, Invalid> {
    let mut out = BTreeMap::new();
    let first = |k: &str| -> Option<String> {
        let v = input.get(k)?;
        let s = match raw::text(v) {
            Some(s) => s,
            None => raw::text(raw::array(v)?.first()?)?,
        };
        Some(s.trim().to_owned())
    };
    if let Some(e) = first("em") {
        let v = hash_unless_hashed(&e, |e| normalize_meta("em", e))?;
        out.insert("email".into(), Value::String(v.as_str().into()));
    }
    if let Some(p) = first("ph") {
        let v = hash_unless_hashed(&p, |p| Ok(format!("+{}", normalize_meta("ph", p)?)))?;
        out.insert("phone".into(), Value::String(v.as_str().into()));
    }
    if let Some(x) = first("external_id") {
        let v = hash_unless_hashed(&x, |x| Ok(x.trim().to_lowercase()))?;
        out.insert("external_id".into(), Value::String(v.as_str().into()));
    }
    for (from, to) in [
        ("client_ip_address", "ip"),
        ("client_user_agent", "user_agent"),
        ("ttclid", "ttclid"),
        ("ttp", "ttp"),
    ] {
        if let Some(v) = first(from) {
            out.insert(to.into(), Value::String(v));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A JSON object as the text an intake reads it from.
    fn text_of(input: &Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(input).unwrap()
    }

    /// `meta_user_data` of a JSON object's text, written out and read back as JSON.
    fn user_json_text(input: &str) -> Result<Value, Invalid> {
        let raw = RawValue::from_string(input.to_owned()).unwrap();
        let mut out = Vec::new();
        meta_user_data(&Object::parse(&raw).unwrap().unwrap())?
            .write_json(&mut out)
            .unwrap();
        Ok(serde_json::from_slice(&out).unwrap())
    }

    fn user_json(input: Value) -> Result<Value, Invalid> {
        user_json_text(&input.to_string())
    }

    fn has_customer_info(input: Value) -> bool {
        let raw = text_of(&input);
        meta_user_data(&Object::parse(&raw).unwrap().unwrap())
            .unwrap()
            .has_customer_info()
    }

    #[test]
    fn sha256_hex_is_the_lower_case_digest() {
        // FIPS 180-2 test vector.
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn meta_fields_normalise_as_documented() {
        assert_eq!(
            normalize_meta("em", "  John.Smith@Example.COM ").unwrap(),
            "john.smith@example.com"
        );
        assert!(normalize_meta("em", "not-an-email").is_err());
        assert_eq!(
            normalize_meta("ph", "+44 844 412 4653").unwrap(),
            "448444124653"
        );
        assert_eq!(
            normalize_meta("ph", "(+1) 650-555-1212").unwrap(),
            "16505551212"
        );
        assert_eq!(
            normalize_meta("ph", "0044 844 412 4653").unwrap(),
            "448444124653"
        );
        assert!(
            normalize_meta("ph", "0844 412 4653").is_err(),
            "a national number without a country code"
        );
        assert_eq!(normalize_meta("fn", " Mary-Jane ").unwrap(), "maryjane");
        assert_eq!(normalize_meta("ln", "O'Neil").unwrap(), "oneil");
        assert_eq!(normalize_meta("fn", "Zoë").unwrap(), "zoë");
        assert_eq!(normalize_meta("ge", "Female").unwrap(), "f");
        assert_eq!(normalize_meta("ge", "M").unwrap(), "m");
        assert_eq!(normalize_meta("db", "1987-02-09").unwrap(), "19870209");
        assert!(normalize_meta("db", "1987-13-09").is_err());
        assert_eq!(
            normalize_meta("ct", "San Francisco").unwrap(),
            "sanfrancisco"
        );
        assert_eq!(normalize_meta("st", "California").unwrap(), "ca");
        assert_eq!(normalize_meta("st", "CA").unwrap(), "ca");
        assert_eq!(normalize_meta("zp", "94025-1234").unwrap(), "94025");
        assert_eq!(normalize_meta("zp", "SW1A 1AA").unwrap(), "sw1a1aa");
        assert_eq!(normalize_meta("country", "US").unwrap(), "us");
        assert!(normalize_meta("country", "USA").is_err());
        assert_eq!(
            normalize_meta("external_id", " ABC 123 ").unwrap(),
            "abc123"
        );
    }

    #[test]
    fn user_data_hashes_contact_fields_and_keeps_browser_ids_in_clear() {
        let already = sha256_hex("jane@example.com");
        let input = json!({
            "em": "John.Smith@example.com", "ph": ["+1 (650) 555-1212"], "country": "US",
            "external_id": [already.to_uppercase()],
            "client_ip_address": "203.0.113.9", "client_user_agent": "Mozilla/5.0", "fbp": "fb.1.1558571054389.1098115397"
        });
        let out = user_json(input.clone()).unwrap();
        assert_eq!(out["em"], json!([sha256_hex("john.smith@example.com")]));
        assert_eq!(out["ph"], json!([sha256_hex("16505551212")]));
        assert_eq!(out["country"], json!([sha256_hex("us")]));
        assert_eq!(
            out["external_id"],
            json!([already]),
            "a hash passes through (lower-cased)"
        );
        assert_eq!(out["client_ip_address"], "203.0.113.9");
        assert_eq!(out["fbp"], "fb.1.1558571054389.1098115397");
        let text = serde_json::to_string(&out).unwrap();
        assert!(
            !text.contains("John") && !text.contains("650"),
            "no raw PII survives: {text}"
        );
        assert!(has_customer_info(input));

        let e = user_json(json!({"email": "x@y.z"})).unwrap_err();
        assert_eq!(e.field, "email");
        assert!(!has_customer_info(json!({"ge": "f"})));
    }

    /// `meta_user_data` sorts fields with a match; it must agree with the published lists.
    #[test]
    fn every_listed_field_is_hashed_or_kept_in_clear_as_listed() {
        for k in META_HASHED {
            let out = user_json(json!({ k: sha256_hex("x") })).unwrap();
            assert_eq!(out[k], json!([sha256_hex("x")]), "{k} is hashed");
        }
        for k in META_CLEAR {
            let out = user_json(json!({ k: " v " })).unwrap();
            assert_eq!(out[k], "v", "{k} is kept in clear");
        }
        let mixed = json!({"em": ["a@b.co", 7]});
        assert_eq!(user_json(mixed).unwrap_err().reason, "must be strings");
        let twice = json!({"em": ["A@b.co", " a@b.co"]});
        assert_eq!(
            user_json(twice).unwrap()["em"],
            json!([sha256_hex("a@b.co")]),
            "one hash for the same value given twice"
        );
    }

    #[test]
    fn hashes_match_known_values() {
        // The ph hash of Meta's own CAPI example (PLATFORMS.md D7).
        let ph = normalize_meta("ph", "+1 (234) 567-8901").unwrap();
        assert_eq!(ph, "12345678901");
        assert_eq!(
            sha256_hex(&ph),
            "254aa248acb47dd654ca3ea53f48c2c26d641d23d7e2e93a1ec56258df7674c4"
        );
        // Computed independently (Python hashlib).
        assert_eq!(
            sha256_hex(&normalize_meta("em", " John@Example.com").unwrap()),
            "855f96e983f1f8e8be944692b6f719fd54329826cb62e98015efee8e2e071dd4"
        );
    }

    #[test]
    fn tiktok_hashing_rules() {
        let raw = text_of(
            &json!({"em": "  Jane@Example.com", "ph": ["+44 844 412 4653", "+1 650 555 1212"], "external_id": " User-42 ", "client_ip_address": "203.0.113.9", "ttp": 7}),
        );
        let u = tiktok_user(&Object::parse(&raw).unwrap().unwrap()).unwrap();
        assert_eq!(u["email"], sha256_hex("jane@example.com"));
        assert_eq!(u["phone"], sha256_hex("+448444124653"));
        assert_eq!(u["external_id"], sha256_hex("user-42"));
        assert_eq!(u["ip"], "203.0.113.9");
        assert!(
            !u.contains_key("ttp"),
            "a value that is not a string is left out"
        );
    }

    /// Read from the text as given: keys in any order and given twice (the last counts, as a
    /// JSON map keeps it), escapes in keys and values.
    #[test]
    fn user_data_is_read_from_the_text_as_given() {
        let out = user_json_text(
            r#"{"fbp": "fb.1.2", "em": "first@example.com", "e\u006d": "Last@Example.com", "client_user_agent": "Moz\u0069lla"}"#,
        )
        .unwrap();
        assert_eq!(out["em"], json!([sha256_hex("last@example.com")]));
        assert_eq!(out["client_user_agent"], "Mozilla");
        let written = {
            let raw = RawValue::from_string(r#"{"fbp": "x", "em": "a@b.co"}"#.into()).unwrap();
            let mut out = Vec::new();
            meta_user_data(&Object::parse(&raw).unwrap().unwrap())
                .unwrap()
                .write_json(&mut out)
                .unwrap();
            String::from_utf8(out).unwrap()
        };
        let at = |k: &str| written.find(k).unwrap();
        assert!(
            at("\"em\"") < at("\"fbp\""),
            "written in key order: {written}"
        );
        // The first error in key order, whatever order the fields came in.
        let e = user_json_text(r#"{"zz": "1", "ph": "0", "em": "nope"}"#).unwrap_err();
        assert_eq!(e.field, "em");
        // A bad value given first and replaced later is not an error.
        assert!(user_json_text(r#"{"em": 7, "em": "a@b.co"}"#).is_ok());
        assert_eq!(
            user_json_text(r#"{"em": "a@b.co", "em": 7}"#)
                .unwrap_err()
                .reason,
            "must be a string or an array of strings"
        );
    }
}
