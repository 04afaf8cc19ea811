//! Payload translators: one neutral ticket spec in, the exact request bodies each platform
//! needs out. One trait, one implementation per platform. Ids of objects created earlier in
//! the same deploy appear as placeholders (`{{campaign.id}}`) that the deploy worker fills.

pub mod client;
pub mod geo;
pub mod google_ads;
pub mod live;
pub mod meta;
pub mod spec;
pub mod tiktok;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::domain::{
    Brand, Campaign, Channel, Currency, Market, Money, Platform, ResolvedAssets, Ticket,
    TicketContext, TicketContextRef,
};
use crate::error::AppError;
pub use spec::CampaignSpec;

/// Everything a translator may read.
pub struct TranslationInput<'a> {
    pub ticket: &'a Ticket,
    pub campaign: &'a Campaign,
    pub brand: &'a Brand,
    pub market: &'a Market,
    pub channel: &'a Channel,
    pub spec: &'a CampaignSpec,
    /// The registered creative assets the spec names, with their ids on this channel
    /// ([`ResolvedAssets::none`] when the spec names none).
    pub assets: &'a ResolvedAssets,
}

impl<'a> TranslationInput<'a> {
    pub fn new(ctx: TicketContextRef<'a>, spec: &'a CampaignSpec) -> Self {
        Self {
            ticket: ctx.ticket,
            campaign: ctx.campaign,
            brand: ctx.brand,
            market: ctx.market,
            channel: ctx.channel,
            spec,
            assets: ctx.assets,
        }
    }
}

/// One HTTP request that creates one platform object.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct PlatformRequest {
    /// The object it creates: campaign, adset, creative, ad (Meta); campaign, adgroup, ad
    /// (TikTok); campaign_budget, campaign, ad_group, ad_group_ad (Google Ads).
    pub object: String,
    pub method: String,
    /// Path below the platform's base URL.
    pub path: String,
    pub body: Value,
}

/// The requests for one ticket, in the order they must be sent.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct TranslatedPayloads {
    pub platform: Platform,
    pub api_version: String,
    pub requests: Vec<PlatformRequest>,
}

impl TranslatedPayloads {
    pub fn body(&self, object: &str) -> Option<&Value> {
        self.requests
            .iter()
            .find(|r| r.object == object)
            .map(|r| &r.body)
    }
}

pub trait Translator: Send + Sync {
    fn platform(&self) -> Platform;
    fn translate(&self, input: &TranslationInput<'_>) -> Result<TranslatedPayloads, AppError>;
}

/// API versions the translators target.
#[derive(Debug, Clone)]
pub struct ApiVersions {
    pub meta: String,
    pub tiktok: String,
    pub google_ads: String,
}

impl Default for ApiVersions {
    fn default() -> Self {
        Self {
            meta: "v25.0".into(),
            tiktok: "v1.3".into(),
            google_ads: "v25".into(),
        }
    }
}

/// Translate for the ticket's channel.
pub fn translate(
    input: &TranslationInput<'_>,
    versions: &ApiVersions,
) -> Result<TranslatedPayloads, AppError> {
    match input.channel.platform {
        Platform::Meta => meta::MetaTranslator::new(&versions.meta).translate(input),
        Platform::Tiktok => tiktok::TiktokTranslator::new(&versions.tiktok).translate(input),
        Platform::GoogleAds => {
            google_ads::GoogleAdsTranslator::new(&versions.google_ads).translate(input)
        }
    }
}

impl TicketContext {
    /// Parse the ticket's payload config and translate it for its channel.
    pub fn translate(&self, versions: &ApiVersions) -> Result<TranslatedPayloads, AppError> {
        let spec = CampaignSpec::parse_for(&self.ticket.payload_config, self.channel.platform)?;
        translate(&TranslationInput::new(self.view(), &spec), versions)
    }
}

/// The spec's budget as exact money in the brand's currency.
pub fn spec_budget(input: &TranslationInput<'_>) -> Result<Money, AppError> {
    let brand_currency = Currency::parse("currency", &input.brand.currency)?;
    if let Some(c) = &input.spec.budget.currency {
        let c = Currency::parse("payload_config.budget.currency", c)?;
        if c != brand_currency {
            return Err(AppError::validation(
                "payload_config.budget.currency",
                format!(
                    "is {c} but brand {} budgets in {brand_currency}; use {brand_currency} or omit it",
                    input.brand.code
                ),
            ));
        }
    }
    let m = Money::parse_major(
        "payload_config.budget.amount",
        &input.spec.budget.amount,
        brand_currency,
    )?;
    if m.amount_minor <= 0 {
        return Err(AppError::validation(
            "payload_config.budget.amount",
            "must be greater than zero",
        ));
    }
    Ok(m)
}

/// The bid as exact money, required for capped strategies.
pub fn spec_bid(input: &TranslationInput<'_>) -> Result<Option<Money>, AppError> {
    let Some(b) = &input.spec.bidding else {
        return Ok(None);
    };
    let currency = Currency::parse("currency", &input.brand.currency)?;
    match (&b.bid_amount, b.strategy) {
        (Some(a), _) => Ok(Some(Money::parse_major(
            "payload_config.bidding.bid_amount",
            a,
            currency,
        )?)),
        (None, spec::BidStrategy::LowestCost) => Ok(None),
        (None, s) => Err(AppError::validation(
            "payload_config.bidding.bid_amount",
            format!(
                "is required for strategy {s:?}; give a decimal string such as \"2.50\", or use LOWEST_COST"
            ),
        )),
    }
}

/// The countries to target: the spec's, upper-cased, or else the campaign market's country.
pub fn target_countries(input: &TranslationInput<'_>) -> Vec<String> {
    let t = &input.spec.targeting;
    if t.countries.is_empty() && t.regions.is_empty() {
        vec![input.market.country.clone()]
    } else {
        t.countries
            .iter()
            .map(|c| c.trim().to_ascii_uppercase())
            .collect()
    }
}

/// Google Ads micros: 1,000,000 per major unit (USD 19.99 -> 19990000).
pub fn to_micros(m: Money) -> Result<i64, AppError> {
    let factor = 10i64.pow(6 - u32::from(m.currency.minor_digits()).min(6));
    m.amount_minor.checked_mul(factor).ok_or_else(|| {
        AppError::validation(
            "payload_config.budget.amount",
            "is too large to express in micros",
        )
    })
}

/// A decimal amount in major units as a JSON number, for APIs (TikTok) that take one.
/// The text is built exactly from integer minor units; serde_json keeps the shortest
/// representation that round-trips, so "19.99" goes on the wire as 19.99.
pub fn major_units_number(m: Money) -> Result<Value, AppError> {
    let text = m.to_major_string();
    serde_json::from_str::<serde_json::Number>(&text)
        .map(Value::Number)
        .map_err(|e| AppError::Internal(format!("amount {text}: {e}")))
}

/// Deep-merge `patch` into `target`: objects merge key by key, anything else replaces.
pub fn deep_merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) => deep_merge(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// Fields OmniTraffick sets from governed data (taxonomy names, accounts, pixels, the ids of
/// objects it created) or keeps to itself (status: everything is created paused, and going
/// live is a governed change). Overrides may not set them, at any depth.
const GOVERNED_ANYWHERE: &[&str] = &[
    "account_id",
    "advertiser_id",
    "advertiser_ids",
    "customer_id",
    "pixel_id",
    "pixel_code",
    "campaign_id",
    "adset_id",
    "adgroup_id",
    "ad_group_id",
    "creative_id",
    "ad_id",
    "status",
    "operation_status",
    "configured_status",
    "effective_status",
    "resourceName",
    "campaignBudget",
];

/// Fields governed only at the top level of one object's body (`name` is also a legitimate
/// nested key, e.g. an interest's name).
fn governed_top_level(platform: Platform, object: &str) -> &'static [&'static str] {
    match (platform, object) {
        (Platform::Tiktok, "creative") => &["display_name"],
        (Platform::GoogleAds, "ad_group") => &["campaign", "id"],
        (Platform::GoogleAds, "ad_group_ad") => &["adGroup", "id"],
        _ => &["id"],
    }
}

/// Name fields: the taxonomy name, or the taxonomy name plus a short `_SUFFIX` of letters and
/// digits (what the duplicate-name fix uses so two objects can coexist). Nothing else.
fn name_keys(platform: Platform) -> (&'static [&'static str], &'static [&'static str]) {
    // (keys governed at the top level of a body, keys governed at any depth)
    match platform {
        Platform::Meta | Platform::GoogleAds => (&["name"], &[]),
        Platform::Tiktok => (&[], &["campaign_name", "adgroup_name", "ad_name"]),
    }
}

fn taxonomy_name_ok(value: &Value, taxonomy_name: &str) -> bool {
    let Some(v) = value.as_str() else {
        return false;
    };
    match v.strip_prefix(taxonomy_name) {
        Some("") => true,
        Some(rest) => rest.strip_prefix('_').is_some_and(|suffix| {
            (1..=16).contains(&suffix.len()) && suffix.chars().all(|c| c.is_ascii_alphanumeric())
        }),
        None => false,
    }
}

/// Refuse an override that sets a governed field, naming its path.
pub fn check_governed(
    platform: Platform,
    object: &str,
    patch: &Value,
    field: &str,
    taxonomy_name: &str,
) -> Result<(), AppError> {
    let (top_names, deep_names) = name_keys(platform);
    if let Value::Object(o) = patch {
        if let Some(k) = governed_top_level(platform, object)
            .iter()
            .find(|k| o.contains_key(**k))
        {
            return Err(governed(&format!("{field}.{k}")));
        }
        for k in top_names {
            if let Some(v) = o.get(*k)
                && !taxonomy_name_ok(v, taxonomy_name)
            {
                return Err(governed_name(&format!("{field}.{k}"), taxonomy_name));
            }
        }
    }
    let mut path = field.to_owned();
    find_governed(patch, &mut path, deep_names, taxonomy_name)
}

fn find_governed(
    v: &Value,
    path: &mut String,
    names: &[&str],
    taxonomy_name: &str,
) -> Result<(), AppError> {
    let len = path.len();
    match v {
        Value::Object(o) => {
            for (k, item) in o {
                path.push('.');
                path.push_str(k);
                if GOVERNED_ANYWHERE.contains(&k.as_str()) {
                    return Err(governed(path));
                }
                if names.contains(&k.as_str()) && !taxonomy_name_ok(item, taxonomy_name) {
                    return Err(governed_name(path, taxonomy_name));
                }
                find_governed(item, path, names, taxonomy_name)?;
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                use std::fmt::Write;
                let _ = write!(path, "[{i}]");
                find_governed(item, path, names, taxonomy_name)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

fn governed_name(path: &str, taxonomy_name: &str) -> AppError {
    AppError::validation(
        path,
        format!(
            "is a governed name: it must be the taxonomy name \"{taxonomy_name}\" (optionally followed by _ and up to 16 letters or digits). Remove it from overrides; names come from the campaign, brand, market and channel"
        ),
    )
}

fn governed(path: &str) -> AppError {
    AppError::validation(
        path,
        "is governed: OmniTraffick sets it from the taxonomy, the channel's account, the brand's pixel or the deploy itself, and an override may not change it. Remove it from overrides (rename through the campaign, change accounts with update_channel and pixels with update_brand; objects are always created paused)",
    )
}

/// Apply `overrides.<platform>.<object>` to each request body, except the field `skip`
/// names as (object, field), which the translator has merged itself.
pub fn apply_overrides(
    requests: &mut [PlatformRequest],
    overrides: Option<&serde_json::Map<String, Value>>,
    platform: Platform,
    taxonomy_name: &str,
    skip: Option<(&str, &str)>,
) -> Result<(), AppError> {
    let platform_key = match platform {
        Platform::Meta => "meta",
        Platform::Tiktok => "tiktok",
        Platform::GoogleAds => "google_ads",
    };
    let Some(o) = overrides else { return Ok(()) };
    let known: Vec<&str> = requests.iter().map(|r| r.object.as_str()).collect();
    for key in o.keys() {
        if !known.contains(&key.as_str()) {
            return Err(AppError::validation(
                format!("payload_config.overrides.{platform_key}.{key}"),
                format!(
                    "is not an object of this platform; use one of {}",
                    known.join(", ")
                ),
            ));
        }
    }
    for r in requests.iter_mut() {
        if let Some(p) = o.get(&r.object) {
            let field = ["payload_config.overrides.", platform_key, ".", &r.object].concat();
            if !p.is_object() {
                return Err(AppError::validation(
                    field,
                    "must be a JSON object of fields to merge into that request body",
                ));
            }
            let p = match (skip, p) {
                (Some((object, key)), Value::Object(m))
                    if object == r.object && m.contains_key(key) =>
                {
                    std::borrow::Cow::Owned(Value::Object(
                        m.iter()
                            .filter(|(k, _)| k.as_str() != key)
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ))
                }
                _ => std::borrow::Cow::Borrowed(p),
            };
            check_governed(platform, &r.object, &p, &field, taxonomy_name)?;
            deep_merge(&mut r.body, &p);
        }
    }
    Ok(())
}

/// A JSON object of `fields`, moved in. `json!` copies a `Value` placed in it through the
/// serializer (and drops the original), which for the nested bodies the translators assemble
/// was a tenth of a QA run.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// A JSON object of the `fields` gathered in a list (for a body with optional fields), each
/// name once: built in one sort, where inserting each field into the map in order cost about
/// twice as much for an object of twenty fields. One generic function for this and `object`
/// measured 2-5% slower in QA (alternated), so the two stay apart.
pub fn object_of(fields: Vec<(&str, Value)>) -> Value {
    debug_assert!(
        fields
            .iter()
            .enumerate()
            .all(|(i, (k, _))| fields[..i].iter().all(|(seen, _)| seen != k)),
        "a field is given twice"
    );
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// `t` as chrono's `%Y-%m-%d{sep}%H:%M:%S` writes it (with `%z` after it when `offset`),
/// for the times the platforms are sent, built directly: chrono parses the format string
/// again on every call, which was a twentieth of a QA run. Years outside 0000-9999 (a time
/// moved to UTC can land in one) go through chrono.
pub fn platform_time_text(
    t: &chrono::DateTime<chrono::FixedOffset>,
    sep: char,
    offset: bool,
) -> String {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        let f = format!("%Y-%m-%d{sep}%H:%M:%S{}", if offset { "%z" } else { "" });
        return t.format(&f).to_string();
    }
    fn digits(out: &mut String, n: u32, width: u32) {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
    }
    let mut out = String::with_capacity(24);
    digits(&mut out, year.unsigned_abs(), 4);
    out.push('-');
    digits(&mut out, t.month(), 2);
    out.push('-');
    digits(&mut out, t.day(), 2);
    out.push(sep);
    digits(&mut out, t.hour(), 2);
    out.push(':');
    digits(&mut out, t.minute(), 2);
    out.push(':');
    // A leap second (23:59:60) is second 59 with over a second of nanoseconds.
    digits(
        &mut out,
        t.second() + u32::from(t.nanosecond() >= 1_000_000_000),
        2,
    );
    if offset {
        let east = t.offset().local_minus_utc();
        out.push(if east < 0 { '-' } else { '+' });
        // Rounded to the minute, as chrono does (RFC 3339 offsets have no seconds).
        let minutes = (east.unsigned_abs() + 30) / 60;
        digits(&mut out, minutes / 60, 2);
        digits(&mut out, minutes % 60, 2);
    }
    out
}

/// Placeholder for the id of an object created earlier in the same deploy.
pub fn id_ref(object: &str) -> Value {
    Value::String(["{{", object, ".id}}"].concat())
}

/// A registered asset the spec names, checked to be of `kind`: its id on the ticket's
/// channel, or the placeholder the deploy worker fills after uploading it there.
pub fn asset_ref<'a>(
    input: &'a TranslationInput<'_>,
    field: &str,
    asset_id: &str,
    kind: crate::domain::AssetKind,
) -> Result<(String, &'a crate::domain::ResolvedAsset), AppError> {
    let a = input.assets.get(asset_id).ok_or_else(|| {
        AppError::validation(
            field,
            format!(
                "brand {} has no creative asset \"{}\"; upload the file with upload_creative and use the asset_id it returns (list_creatives lists the brand's assets)",
                input.brand.code,
                asset_id.trim()
            ),
        )
    })?;
    if a.kind != kind {
        let (is, use_field) = match a.kind {
            crate::domain::AssetKind::Image => ("an IMAGE", "creative.image_asset_ids"),
            crate::domain::AssetKind::Video => ("a VIDEO", "creative.video_asset_id"),
        };
        return Err(AppError::validation(
            field,
            format!(
                "asset \"{}\" is {is}; name it under {use_field}",
                asset_id.trim()
            ),
        ));
    }
    let id = a
        .platform_id
        .clone()
        .unwrap_or_else(|| crate::domain::assets::asset_placeholder(asset_id));
    Ok((id, a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_time_text_writes_what_chrono_writes() {
        use chrono::Datelike;
        for raw in [
            "2027-03-01T00:00:00-05:00",
            "2027-03-31T23:59:59+05:30",
            "2026-12-31T23:59:60Z",
            "0001-01-01T00:00:00.5+14:00",
            "9999-12-31T09:08:07-00:45",
            "2026-06-15T12:34:56.789Z",
            "0000-01-01T00:30:00+01:00",
            "9999-12-31T23:00:00-02:00",
        ] {
            let t = chrono::DateTime::parse_from_rfc3339(raw).unwrap();
            for (sep, offset, format) in [
                ('T', true, "%Y-%m-%dT%H:%M:%S%z"),
                (' ', false, "%Y-%m-%d %H:%M:%S"),
            ] {
                assert_eq!(
                    platform_time_text(&t, sep, offset),
                    t.format(format).to_string(),
                    "{raw}"
                );
                // TikTok's times are moved to UTC first, which can leave 0000-9999.
                let utc = t.with_timezone(&chrono::Utc).fixed_offset();
                assert_eq!(
                    platform_time_text(&utc, sep, offset),
                    utc.format(format).to_string(),
                    "{raw} in UTC"
                );
            }
        }
        // Outside RFC 3339's years, chrono writes it.
        let far = chrono::NaiveDate::from_ymd_opt(12345, 1, 2)
            .and_then(|d| d.and_hms_opt(3, 4, 5))
            .map(|d| d.and_utc().fixed_offset())
            .unwrap();
        assert_eq!(
            platform_time_text(&far, 'T', true),
            "+12345-01-02T03:04:05+0000"
        );
        // An offset with seconds (none comes from RFC 3339) rounds to the minute as chrono's.
        for secs in [-3629, -3631, -29, 29, 31, 19_800 + 45] {
            let off = chrono::FixedOffset::east_opt(secs).unwrap();
            let t = far.with_timezone(&off).with_year(2026).unwrap();
            assert_eq!(
                platform_time_text(&t, 'T', true),
                t.format("%Y-%m-%dT%H:%M:%S%z").to_string(),
                "{secs}"
            );
        }
    }

    fn money(s: &str, c: &str) -> Money {
        Money::parse_major("x", s, Currency::parse("c", c).unwrap()).unwrap()
    }

    #[test]
    fn micros_are_exact() {
        assert_eq!(to_micros(money("19.99", "USD")).unwrap(), 19_990_000);
        assert_eq!(to_micros(money("5000", "JPY")).unwrap(), 5_000_000_000);
        assert_eq!(to_micros(money("1.234", "KWD")).unwrap(), 1_234_000);
        assert!(to_micros(money("92233720368547758.07", "USD")).is_err());
    }

    #[test]
    fn major_unit_numbers_keep_their_text() {
        for (s, c, wire) in [
            ("19.99", "USD", "19.99"),
            ("0.01", "EUR", "0.01"),
            ("0.30", "USD", "0.3"),
            ("5000", "JPY", "5000"),
            ("123456789.12", "USD", "123456789.12"),
            ("1.005", "KWD", "1.005"),
        ] {
            assert_eq!(major_units_number(money(s, c)).unwrap().to_string(), wire);
        }
    }

    #[test]
    fn deep_merge_merges_objects_and_replaces_the_rest() {
        let mut t = serde_json::json!({"a": {"b": 1, "c": [1]}, "d": 1});
        deep_merge(
            &mut t,
            &serde_json::json!({"a": {"c": [2], "e": true}, "d": {"x": 1}}),
        );
        assert_eq!(
            t,
            serde_json::json!({"a": {"b": 1, "c": [2], "e": true}, "d": {"x": 1}})
        );
    }
}
