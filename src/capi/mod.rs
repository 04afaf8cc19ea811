//! Conversions API relay: customer-data normalisation and hashing for Meta CAPI and TikTok
//! Events API 2.0 (`normalize`), per-event validation with the reason (`validate_event`),
//! intake with 48-hour dedupe and batched delivery (`service`) through the job queue (`jobs`), and the
//! browser pixel snippets that share one event id with the server (`pixel_snippet`).

mod intake;
pub mod jobs;
pub mod normalize;
pub mod raw;
pub mod service;

pub use service::{
    CapiRetention, CapiService, RetentionOutcome, SendEventsInput, SendEventsOutput,
};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use self::raw::Object;
use crate::error::{AppError, AppResult};

pub const ACTION_SOURCES: [&str; 9] = [
    "email",
    "website",
    "app",
    "phone_call",
    "chat",
    "physical_store",
    "system_generated",
    "business_messaging",
    "other",
];

/// An event ready to send: customer data hashed, id assigned.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedEvent {
    pub event_id: String,
    /// The event name, trimmed.
    pub event_name: String,
    /// Unix seconds.
    pub event_time: i64,
    /// Meta's server event as sent (JSON text), with hashed `user_data`.
    pub meta: String,
}

/// Meta's server event as sent, as JSON text: the caller's fields as given, the name
/// trimmed, the id assigned, the customer data hashed. Written directly rather than through
/// a `serde_json` map: this runs for every event of every intake.
fn meta_event_json(
    passed_on: &[(&str, Value)],
    name: &str,
    time: i64,
    source: &str,
    event_id: &str,
    user: &normalize::UserData<'_>,
) -> serde_json::Result<String> {
    use std::io::Write;
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(b"{\"event_name\":");
    serde_json::to_writer(&mut out, name)?;
    write!(out, ",\"event_time\":{time},\"action_source\":").map_err(serde_json::Error::io)?;
    serde_json::to_writer(&mut out, source)?;
    for (k, v) in passed_on {
        write!(out, ",\"{k}\":").map_err(serde_json::Error::io)?;
        serde_json::to_writer(&mut out, v)?;
    }
    out.extend_from_slice(b",\"event_id\":");
    serde_json::to_writer(&mut out, event_id)?;
    out.extend_from_slice(b",\"user_data\":");
    user.write_json(&mut out)?;
    out.push(b'}');
    String::from_utf8(out).map_err(<serde_json::Error as serde::ser::Error>::custom)
}

/// The fields of a server event this relay reads, found in one pass over the event (the
/// last of a field given twice, as a `serde_json` map would keep).
#[derive(Default)]
struct EventFields<'a> {
    event_name: Option<&'a RawValue>,
    event_time: Option<&'a RawValue>,
    action_source: Option<&'a RawValue>,
    event_source_url: Option<&'a RawValue>,
    custom_data: Option<&'a RawValue>,
    opt_out: Option<&'a RawValue>,
    event_id: Option<&'a RawValue>,
    user_data: Option<&'a RawValue>,
}

impl<'a> EventFields<'a> {
    fn of(obj: &Object<'a>) -> Self {
        let mut f = Self::default();
        for (k, v) in obj.entries() {
            let slot = match k {
                "event_name" => &mut f.event_name,
                "event_time" => &mut f.event_time,
                "action_source" => &mut f.action_source,
                "event_source_url" => &mut f.event_source_url,
                "custom_data" => &mut f.custom_data,
                "opt_out" => &mut f.opt_out,
                "event_id" => &mut f.event_id,
                "user_data" => &mut f.user_data,
                _ => continue,
            };
            *slot = Some(v);
        }
        f
    }
}

/// Check and prepare one server event (Meta's shape), given as JSON text. `now` is Unix
/// seconds. The error says which field is wrong and why; nothing of a refused event is kept.
pub fn validate_event(event: &RawValue, now: i64) -> Result<PreparedEvent, (String, String)> {
    match Object::parse(event) {
        Ok(Some(obj)) => validate_object(&obj, now),
        Ok(None) => Err(("event".into(), "must be an object".into())),
        Err(e) => Err(("event".into(), format!("is not valid JSON: {e}"))),
    }
}

/// The caller's `event_id` of an event, if it gave one as a string: what a refused event's
/// result shows.
pub fn given_event_id(event: &RawValue) -> Option<String> {
    let id = Object::parse(event).ok()??.get("event_id")?;
    raw::text(id).map(std::borrow::Cow::into_owned)
}

/// `validate_event` of an event already read as an object (the benchmark times the two
/// apart).
pub fn validate_object(obj: &Object<'_>, now: i64) -> Result<PreparedEvent, (String, String)> {
    let bad = |f: &str, r: &str| Err((f.to_owned(), r.to_owned()));
    let fields = EventFields::of(obj);
    // What is passed on to Meta as the caller gave it is read in full, as a JSON reader
    // reads it: reading the event one level at a time skips over the text of these without
    // the checks a reader makes (numbers in range, no lone surrogate escapes, nesting depth),
    // and a key given twice inside them must count once, with its last value.
    let mut passed_on: Vec<(&str, Value)> = Vec::with_capacity(3);
    for (k, v) in [
        ("event_source_url", fields.event_source_url),
        ("custom_data", fields.custom_data),
        ("opt_out", fields.opt_out),
    ] {
        if let Some(v) = v {
            match serde_json::from_str(v.get()) {
                Ok(value) => passed_on.push((k, value)),
                Err(e) => return bad(k, &format!("is not valid JSON: {e}")),
            }
        }
    }
    let passed = |k: &str| passed_on.iter().find(|(key, _)| *key == k).map(|(_, v)| v);
    let name = fields.event_name.and_then(raw::text).unwrap_or_default();
    let name = name.trim();
    if name.is_empty() || name.len() > 100 {
        return bad("event_name", "is required, e.g. \"Purchase\"");
    }
    let Some(time) = fields.event_time.and_then(raw::int) else {
        return bad("event_time", "is required as Unix seconds, e.g. 1764000000");
    };
    if time > 100_000_000_000 {
        return bad("event_time", "looks like milliseconds; send Unix seconds");
    }
    if time > now + 60 {
        return bad("event_time", "is in the future");
    }
    if time < now - 7 * 24 * 3600 {
        return bad(
            "event_time",
            "is older than 7 days; Meta refuses the whole batch for such events",
        );
    }
    let source = fields.action_source.and_then(raw::text).unwrap_or_default();
    let source = source.as_ref();
    if !ACTION_SOURCES.contains(&source) {
        return bad(
            "action_source",
            &format!("must be one of {}", ACTION_SOURCES.join(", ")),
        );
    }
    let user_in = match fields.user_data.map(Object::parse) {
        Some(Ok(Some(user))) => user,
        Some(Err(e)) => return bad("user_data", &format!("is not valid JSON: {e}")),
        // Absent or not an object: no customer information (said below).
        _ => Object::default(),
    };
    let user = match normalize::meta_user_data(&user_in) {
        Ok(u) => u,
        Err(e) => return Err((format!("user_data.{}", e.field), e.reason)),
    };
    if source == "website" {
        if passed("event_source_url")
            .and_then(Value::as_str)
            .is_none_or(|u| !u.starts_with("http"))
        {
            return bad(
                "event_source_url",
                "is required for website events (the page URL)",
            );
        }
        if !user.contains_key("client_user_agent") {
            return bad(
                "user_data.client_user_agent",
                "is required for website events",
            );
        }
    }
    if !user.has_customer_info() {
        return bad(
            "user_data",
            "has no usable customer information (give em, ph, external_id, fbp/fbc, or IP and user agent)",
        );
    }
    if let Some(c) = passed("custom_data").and_then(|custom| custom.get("currency")) {
        let ok = c
            .as_str()
            .is_some_and(|c| crate::domain::Currency::parse("currency", c).is_ok());
        if !ok {
            return bad("custom_data.currency", "must be an ISO 4217 code, e.g. USD");
        }
    }
    let event_id = fields
        .event_id
        .and_then(raw::text)
        .map(|id| id.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let meta = match meta_event_json(&passed_on, name, time, source, &event_id, &user) {
        Ok(text) => text,
        // Writing values that came out of JSON cannot fail; said, not assumed.
        Err(e) => return bad("event", &format!("could not be serialised: {e}")),
    };
    Ok(PreparedEvent {
        event_id,
        event_name: name.to_owned(),
        event_time: time,
        meta,
    })
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PixelSnippetInput {
    /// Brand whose pixels to use, e.g. "AUR" (its meta_pixel_id / tiktok_pixel_code).
    pub brand_code: String,
    /// The event, e.g. "Purchase".
    pub event_name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct PixelSnippet {
    /// Meta pixel base code and the fbq('track', ...) call with {eventID}; absent without a
    /// meta_pixel_id.
    pub meta: Option<String>,
    /// TikTok pixel base code and ttq.track(...) with event_id; absent without a
    /// tiktok_pixel_code.
    pub tiktok: Option<String>,
    /// How the browser and the server share one event id.
    pub note: String,
}

/// A JavaScript string literal that is also safe inside an HTML `<script>`: JSON escaping
/// alone leaves `</script>` (which ends the script whatever the quotes say) and `<!--`
/// (which changes how the rest is parsed), so `<`, `>` and `&` become `\u` escapes, as do
/// U+2028 and U+2029, which older engines take for line ends inside a string.
fn js_string(s: &str) -> String {
    let json = serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into());
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The browser side of deduplication: the same event id goes to the pixel and the server.
pub fn pixel_snippet(brand: &crate::domain::Brand, event_name: &str) -> AppResult<PixelSnippet> {
    let name = event_name.trim();
    if name.is_empty() || name.len() > 100 || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
    {
        return Err(AppError::validation(
            "event_name",
            "use a standard or custom event name such as \"Purchase\" (letters, digits, _)",
        ));
    }
    let meta = brand.meta_pixel_id.as_ref().map(|pixel| {
        format!(
            "<script>\n!function(f,b,e,v,n,t,s){{if(f.fbq)return;n=f.fbq=function(){{n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)}};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');\nfbq('init', {pixel});\nfbq('track', 'PageView');\n</script>\n<script>\n  // eventId: the same id the server sends as event_id (returned by send_conversion_events).\n  var eventId = window.crypto.randomUUID();\n  fbq('track', {event}, {{}}, {{eventID: eventId}});\n</script>",
            pixel = js_string(pixel),
            event = js_string(name),
        )
    });
    let tiktok = brand.tiktok_pixel_code.as_ref().map(|code| {
        format!(
            "<script>\n!function (w, d, t) {{w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];ttq.methods=[\"page\",\"track\",\"identify\",\"instances\",\"debug\",\"on\",\"off\",\"once\",\"ready\",\"alias\",\"group\",\"enableCookie\",\"disableCookie\"];ttq.setAndDefer=function(t,e){{t[e]=function(){{t.push([e].concat(Array.prototype.slice.call(arguments,0)))}}}};for(var i=0;i<ttq.methods.length;i++)ttq.setAndDefer(ttq,ttq.methods[i]);ttq.load=function(e,n){{var i=\"https://analytics.tiktok.com/i18n/pixel/events.js\";ttq._i=ttq._i||{{}};ttq._i[e]=[];ttq._i[e]._u=i;ttq._t=ttq._t||{{}};ttq._t[e]=+new Date;ttq._o=ttq._o||{{}};ttq._o[e]=n||{{}};var o=d.createElement(\"script\");o.type=\"text/javascript\";o.async=!0;o.src=i+\"?sdkid=\"+e+\"&lib=\"+t;var a=d.getElementsByTagName(\"script\")[0];a.parentNode.insertBefore(o,a)}};\n  ttq.load({code});\n  ttq.page();\n}}(window, document, 'ttq');\n</script>\n<script>\n  var eventId = eventId || window.crypto.randomUUID();\n  ttq.track({event}, {{}}, {{event_id: eventId}});\n</script>",
            code = js_string(code),
            event = js_string(name),
        )
    });
    if meta.is_none() && tiktok.is_none() {
        return Err(AppError::validation(
            "brand_code",
            format!(
                "brand {} has no meta_pixel_id or tiktok_pixel_code; set them with update_brand",
                brand.code
            ),
        ));
    }
    Ok(PixelSnippet {
        meta,
        tiktok,
        note: "Generate one id per conversion in the browser (eventId above), fire the pixel with it, and send the same id as event_id in the server event: Meta and TikTok count the pair once (Meta within 48 hours, keyed on event_name + event_id).".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const NOW: i64 = 1_764_000_000;

    /// `validate_event` of an event given as a `Value`, sent as its JSON text.
    fn validate(e: &Value) -> Result<PreparedEvent, (String, String)> {
        validate_event(&serde_json::value::to_raw_value(e).unwrap(), NOW)
    }

    fn web(overrides: Value) -> Value {
        let mut e = json!({
            "event_name": "Purchase", "event_time": NOW - 60, "action_source": "website",
            "event_source_url": "https://shop.example/checkout/done",
            "user_data": {"em": "jane@example.com", "client_user_agent": "Mozilla/5.0", "client_ip_address": "203.0.113.9"},
            "custom_data": {"currency": "USD", "value": 123.45}
        });
        crate::platforms::deep_merge(&mut e, &overrides);
        e
    }

    /// A pixel id is interpolated into a `<script>`: whatever it holds (ids written before
    /// they were validated, or straight into the database) must not end the script or open
    /// an HTML comment.
    #[test]
    fn pixel_snippet_cannot_be_broken_out_of() {
        let brand = crate::domain::Brand {
            id: 1,
            code: "DIS".into(),
            name: "Disney".into(),
            family_friendly: true,
            currency: "USD".into(),
            daily_budget_limit_minor: None,
            lifetime_budget_limit_minor: None,
            change_review_daily_minor: None,
            change_review_percent: None,
            meta_pixel_id: Some("1</script><script>alert(1)</script>".into()),
            tiktok_pixel_code: Some("C4<!--</SCRIPT >\u{2028}".into()),
            archived: false,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let s = pixel_snippet(&brand, "Purchase").unwrap();
        for (name, snippet) in [("meta", s.meta.unwrap()), ("tiktok", s.tiktok.unwrap())] {
            let lower = snippet.to_ascii_lowercase();
            // Only the template's own tags: two scripts, each opened and closed once.
            assert_eq!(lower.matches("</script").count(), 2, "{name}: {snippet}");
            assert_eq!(lower.matches("<script").count(), 2, "{name}: {snippet}");
            assert!(!snippet.contains("<!--"), "{name}: {snippet}");
            assert!(!snippet.contains('\u{2028}'), "{name}: {snippet}");
        }
        let meta = pixel_snippet(&brand, "Purchase").unwrap().meta.unwrap();
        assert!(
            meta.contains(r#"fbq('init', "1\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e")"#),
            "the id is still there, escaped for JavaScript: {meta}"
        );
    }

    #[test]
    fn events_are_checked_with_the_reason() {
        let ok = validate(&web(
            json!({"event_id": "order-123", "event_name": " Purchase ", "opt_out": false}),
        ))
        .unwrap();
        assert_eq!(ok.event_id, "order-123");
        assert!(!ok.meta.contains("jane@example.com"));
        let meta: Value = serde_json::from_str(&ok.meta).unwrap();
        assert_eq!(
            meta,
            json!({
                "event_name": "Purchase", "event_time": NOW - 60, "action_source": "website",
                "event_source_url": "https://shop.example/checkout/done",
                "custom_data": {"currency": "USD", "value": 123.45}, "opt_out": false,
                "event_id": "order-123",
                "user_data": {
                    "em": [normalize::sha256_hex("jane@example.com")],
                    "client_user_agent": "Mozilla/5.0", "client_ip_address": "203.0.113.9"
                }
            }),
            "the event as Meta receives it"
        );
        assert_eq!(
            (ok.event_name.as_str(), ok.event_time),
            ("Purchase", NOW - 60)
        );
        // Text that needs escaping stays valid JSON and arrives as given.
        let odd = "Mozilla/5.0 \"quoted\" \\ </script> \u{2028} \n Zoë";
        let ok = validate(&web(
            json!({"event_name": "Sign \"up\"", "user_data": {"client_user_agent": odd}}),
        ))
        .unwrap();
        let meta: Value = serde_json::from_str(&ok.meta).unwrap();
        assert_eq!(meta["user_data"]["client_user_agent"], odd);
        assert_eq!(meta["event_name"], "Sign \"up\"");
        let generated = validate(&web(json!({}))).unwrap();
        assert_eq!(
            generated.event_id.len(),
            36,
            "a UUID is assigned when none is given"
        );

        let field = |e: Value| validate(&e).unwrap_err().0;
        assert_eq!(field(web(json!({"event_time": NOW * 1000}))), "event_time");
        assert_eq!(field(web(json!({"event_time": NOW + 3600}))), "event_time");
        assert_eq!(
            field(web(json!({"event_time": NOW - 8 * 86400}))),
            "event_time"
        );
        assert_eq!(
            field(web(json!({"action_source": "billboard"}))),
            "action_source"
        );
        assert_eq!(
            field(web(json!({"event_source_url": null}))),
            "event_source_url"
        );
        assert_eq!(
            field(web(json!({"custom_data": {"currency": "DOLLARS"}}))),
            "custom_data.currency"
        );
        assert_eq!(
            field(web(json!({"user_data": {"em": "not-an-email"}}))),
            "user_data.em"
        );
        let mut no_ua = web(json!({}));
        no_ua["user_data"]
            .as_object_mut()
            .unwrap()
            .remove("client_user_agent");
        assert_eq!(field(no_ua), "user_data.client_user_agent");
        let anonymous = json!({"event_name": "Lead", "event_time": NOW, "action_source": "system_generated", "user_data": {"ge": "f"}});
        assert_eq!(field(anonymous), "user_data");
    }

    /// Each event is read from its JSON text as given: a field given twice counts with its
    /// last value, as a JSON map keeps it; escapes in keys and values are read; what is passed
    /// on (custom_data, event_source_url, opt_out) arrives as it was sent; an event that is
    /// not an object is refused by itself.
    #[test]
    fn events_are_read_from_their_text() {
        let text = format!(
            r#"{{"event_name": "Lead", "event_n\u0061me": " Purchase ", "event_time": "soon", "event_time": {t},
                "action_source": "website", "event_source_url": "https:\/\/shop.example\/a",
                "user_data": {{"em": "jane@example.com", "client_user_agent": "UA"}},
                "custom_data": {{"currency": "EUR", "value": 12.50, "contents": [{{"id": "sku-1", "quantity": 2}}]}},
                "event_id": 7, "unknown_field": {{"deep": [1, 2, 3]}}}}"#,
            t = NOW - 5
        );
        let raw = RawValue::from_string(text).unwrap();
        let ok = validate_event(&raw, NOW).unwrap();
        assert_eq!(
            (ok.event_name.as_str(), ok.event_time),
            ("Purchase", NOW - 5)
        );
        assert_eq!(
            ok.event_id.len(),
            36,
            "an id that is not a string is replaced"
        );
        let meta: Value = serde_json::from_str(&ok.meta).unwrap();
        assert_eq!(
            meta["custom_data"],
            json!({"currency": "EUR", "value": 12.5, "contents": [{"id": "sku-1", "quantity": 2}]})
        );
        assert_eq!(meta["event_source_url"], "https://shop.example/a");
        assert!(
            meta.get("unknown_field").is_none(),
            "unknown fields are not sent"
        );
        assert_eq!(given_event_id(&raw), None);

        for (text, field) in [
            ("[1, 2]", "event"),
            ("\"Purchase\"", "event"),
            ("null", "event"),
            (r#"{"event_name": 7}"#, "event_name"),
        ] {
            let raw = RawValue::from_string(text.to_owned()).unwrap();
            assert_eq!(validate_event(&raw, NOW).unwrap_err().0, field, "{text}");
        }
        let refused = RawValue::from_string(
            r#"{"event_name": "Lead", "event_id": "keep-me", "event_time": 1.5}"#.to_owned(),
        )
        .unwrap();
        assert_eq!(validate_event(&refused, NOW).unwrap_err().0, "event_time");
        assert_eq!(given_event_id(&refused).as_deref(), Some("keep-me"));
    }

    /// The request's reader only skips over each event's text; what a JSON reader refuses
    /// (a number out of range, a lone surrogate, nesting past its depth) is refused when
    /// the event is read, for that event alone and naming the field, and never passed on.
    /// Inside what is passed on, a key given twice counts once, with its last value.
    #[test]
    fn bad_json_inside_an_event_is_refused_by_field() {
        let good = web(json!({})).to_string();
        let with = |field: &str, value: &str| {
            // Last, so it is the value that counts.
            let text = format!("{}, {field}: {value}}}", &good[..good.len() - 1]);
            let raw = RawValue::from_string(text).unwrap();
            validate_event(&raw, NOW)
        };
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for (field, value, named) in [
            (r#""custom_data""#, r#"{"value": 1e400}"#, "custom_data"),
            (r#""custom_data""#, r#"{"note": "\ud800"}"#, "custom_data"),
            (r#""opt_out""#, deep.as_str(), "opt_out"),
            (r#""event_source_url""#, r#""\udc00""#, "event_source_url"),
            (r#""user_data""#, r#"{"\ud800": "x"}"#, "user_data"),
            (r#""\ud800""#, "1", "event"),
        ] {
            let (f, reason) = with(field, value).unwrap_err();
            assert_eq!(f, named, "{field}: {value}");
            assert!(reason.starts_with("is not valid JSON"), "{reason}");
        }
        // The last currency counts, as a JSON map keeps it; Meta receives it once.
        let (f, _) = with(
            r#""custom_data""#,
            r#"{"currency": "USD", "currency": "DOLLARS"}"#,
        )
        .unwrap_err();
        assert_eq!(f, "custom_data.currency");
        let ok = with(
            r#""custom_data""#,
            r#"{"currency": "DOLLARS", "currency": "EUR"}"#,
        )
        .unwrap();
        assert_eq!(ok.meta.matches("currency").count(), 1, "{}", ok.meta);
        let meta: Value = serde_json::from_str(&ok.meta).unwrap();
        assert_eq!(meta["custom_data"], json!({"currency": "EUR"}));
    }
}
