//! The platform-neutral campaign spec a ticket's `payload_config` holds. One spec can be
//! trafficked to any channel; platform-only fields go under `overrides.<platform>` and are
//! merged into the translated bodies last.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::Platform;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Objective {
    Awareness,
    Traffic,
    Engagement,
    Leads,
    AppPromotion,
    Sales,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BudgetPeriod {
    Daily,
    Lifetime,
}

/// How much to spend.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    /// Decimal string in major units of the currency, e.g. "19.99" (USD) or "5000" (JPY).
    /// More decimals than the currency has is an error.
    #[schemars(example = &"1500.00")]
    pub amount: String,
    /// ISO 4217 code; must be the brand's currency. Defaults to it.
    #[schemars(example = &"USD")]
    pub currency: Option<String>,
    /// DAILY or LIFETIME. A lifetime budget needs schedule.end_time.
    pub period: BudgetPeriod,
}

/// When to run, RFC 3339 timestamps with offset.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    #[schemars(example = &"2026-03-01T00:00:00-05:00")]
    pub start_time: String,
    #[schemars(example = &"2026-03-31T23:59:59-05:00")]
    pub end_time: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Gender {
    Male,
    Female,
}

/// A platform interest or interest category (ids are the platform's own).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Interest {
    #[schemars(example = &"6003139266461")]
    pub id: String,
    #[schemars(example = &"Movies")]
    pub name: Option<String>,
}

/// Where ads may show. Each platform uses the values that apply to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Placement {
    Facebook,
    Instagram,
    AudienceNetwork,
    Messenger,
    Tiktok,
    Pangle,
    GoogleSearch,
    SearchPartners,
    DisplayNetwork,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetingSpec {
    /// ISO 3166-1 alpha-2 countries, e.g. ["US", "CA"].
    #[serde(default)]
    pub countries: Vec<String>,
    /// Platform region/location keys, e.g. Meta region keys ["4081"].
    #[serde(default)]
    pub regions: Vec<String>,
    /// 13-65.
    pub age_min: Option<u8>,
    /// 13-65 (65 means 65+).
    pub age_max: Option<u8>,
    /// Empty means all genders.
    #[serde(default)]
    pub genders: Vec<Gender>,
    #[serde(default)]
    pub interests: Vec<Interest>,
    /// Empty lets the platform place ads automatically.
    #[serde(default)]
    pub placements: Vec<Placement>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreativeSpec {
    #[schemars(example = &"Moana is back")]
    pub headline: Option<String>,
    #[schemars(example = &"Sail with Moana this March.")]
    pub body: Option<String>,
    #[schemars(example = &"https://example.com/moana")]
    pub link_url: Option<String>,
    /// e.g. LEARN_MORE, SHOP_NOW, SIGN_UP.
    #[schemars(example = &"LEARN_MORE")]
    pub call_to_action: Option<String>,
    #[schemars(example = &"https://cdn.example.com/moana.jpg")]
    pub image_url: Option<String>,
    /// Registered images to use (asset ids from upload_creative or list_creatives, of this
    /// ticket's brand). Each platform gets its own id: Meta `image_hash` (the first image),
    /// TikTok `image_ids`, Google Ads image assets sorted by shape into a responsive display
    /// ad's `marketingImages` (1.91:1), `squareMarketingImages` (1:1) and `logoImages` (4:1).
    /// An image not yet on the ticket's channel is uploaded by the deploy. At most 20.
    #[serde(default)]
    #[schemars(example = &["3f2b9c1e-8a4d-4f7e-9c2a-1b5d6e7f8a90"])]
    pub image_asset_ids: Vec<String>,
    /// A registered video to use (asset id from upload_creative or list_creatives): Meta
    /// `video_data.video_id`, TikTok `video_id`. Google Ads takes no uploaded video (YouTube
    /// only). Not yet on the channel: the deploy uploads it and waits for processing.
    #[schemars(example = &"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")]
    pub video_asset_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BidStrategy {
    /// Spend the budget for the most results (no bid needed).
    LowestCost,
    /// Cap each bid at bid_amount.
    BidCap,
    /// Keep the average cost per result near bid_amount.
    CostCap,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BiddingSpec {
    pub strategy: BidStrategy,
    /// Decimal string in major units; required for BID_CAP and COST_CAP.
    #[schemars(example = &"2.50")]
    pub bid_amount: Option<String>,
}

/// Platform-only fields, deep-merged into the translated bodies last, keyed by object:
/// meta {campaign, adset, creative, ad}, tiktok {campaign, adgroup, ad},
/// google_ads {campaign_budget, campaign, ad_group, ad_group_ad}.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
    pub tiktok: Option<serde_json::Map<String, serde_json::Value>>,
    pub google_ads: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The platform-neutral campaign spec. Read it with [`CampaignSpec::parse`] or
/// [`CampaignSpec::parse_for`]: its `Deserialize` checks the overrides' shape but leaves them
/// empty (the parse functions copy them from the payload), so deserializing it directly loses
/// them.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// AWARENESS, TRAFFIC, ENGAGEMENT, LEADS, APP_PROMOTION or SALES.
    pub objective: Objective,
    pub budget: BudgetSpec,
    pub schedule: Option<ScheduleSpec>,
    #[serde(default)]
    pub targeting: TargetingSpec,
    #[serde(default)]
    pub creative: CreativeSpec,
    pub bidding: Option<BiddingSpec>,
    /// Deserializing checks only the shape (the same as `Overrides`, with the same errors);
    /// `parse` and `parse_for` then copy the maps they keep from the payload.
    #[serde(default, deserialize_with = "overrides_shape")]
    pub overrides: Overrides,
}

/// Accepts what `Overrides` accepts, with the same errors, and keeps nothing: copying all
/// three platforms' maps on every parse cost as much as the rest of the spec.
fn overrides_shape<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Overrides, D::Error> {
    shape::Overrides::deserialize(d).map(|_| Overrides::default())
}

/// `Overrides`, read for its shape only. Its name is the one serde's errors give
/// ("expected struct Overrides").
mod shape {
    use serde::Deserialize;
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only for its shape
    pub struct Overrides {
        meta: Option<AnyMap>,
        tiktok: Option<AnyMap>,
        google_ads: Option<AnyMap>,
    }

    /// A JSON object, its entries skipped.
    struct AnyMap;

    impl<'de> Deserialize<'de> for AnyMap {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visit;
            impl<'de> Visitor<'de> for Visit {
                type Value = AnyMap;
                // As serde_json's `Map` says it.
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a map")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AnyMap, A::Error> {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(AnyMap)
                }
            }
            d.deserialize_map(Visit)
        }
    }
}

impl Overrides {
    /// The override maps of `payload_config` (already checked by `overrides_shape`): every
    /// platform's, or only `only`'s.
    fn read(payload_config: &serde_json::Value, only: Option<Platform>) -> Self {
        let all = payload_config
            .get("overrides")
            .and_then(serde_json::Value::as_object);
        let take = |platform: Platform, key: &str| {
            if only.is_some_and(|p| p != platform) {
                return None;
            }
            all?.get(key)?.as_object().cloned()
        };
        Self {
            meta: take(Platform::Meta, "meta"),
            tiktok: take(Platform::Tiktok, "tiktok"),
            google_ads: take(Platform::GoogleAds, "google_ads"),
        }
    }
}

impl CampaignSpec {
    /// Parse a ticket's payload config; errors name the field as `payload_config.<path>`.
    pub fn parse(payload_config: &serde_json::Value) -> Result<Self, AppError> {
        let mut spec = Self::checked(payload_config)?;
        spec.overrides = Overrides::read(payload_config, None);
        Ok(spec)
    }

    /// `parse`, keeping only `platform`'s overrides (the others are checked as `parse` checks
    /// them, but not copied): what translating for one channel needs.
    pub fn parse_for(
        payload_config: &serde_json::Value,
        platform: Platform,
    ) -> Result<Self, AppError> {
        let mut spec = Self::checked(payload_config)?;
        spec.overrides = Overrides::read(payload_config, Some(platform));
        Ok(spec)
    }

    /// The spec without its overrides, after every check `parse` makes.
    fn checked(payload_config: &serde_json::Value) -> Result<Self, AppError> {
        // serde would also read a struct from a JSON list of its fields in order. The spec
        // and its overrides are objects (the schema says so, and `Overrides::read` reads them
        // as such): a list is refused, naming the field, rather than read by position.
        if payload_config.is_array() {
            return Err(AppError::validation(
                "payload_config",
                "is a list; send a JSON object (objective, budget, schedule, targeting, creative, bidding, overrides)",
            ));
        }
        if payload_config
            .get("overrides")
            .is_some_and(serde_json::Value::is_array)
        {
            return Err(AppError::validation(
                "payload_config.overrides",
                "is a list; send a JSON object keyed by platform (meta, tiktok, google_ads)",
            ));
        }
        // Stored payloads are bounded when written; checking again here keeps a row written
        // before the bounds existed from costing more than its size. Fast path: the one pass
        // over the tree settles size, depth and list lengths, and the per-field list caps are
        // read on the typed spec (a lookup of each capped field in the JSON cost as much as
        // that pass).
        if quickly_within_bounds(payload_config)
            && let Ok(spec) = Self::deserialize(payload_config)
            && spec.within_array_caps(payload_config)
        {
            return Ok(spec);
        }
        // Slow path: the exact checks name the field at fault, and the path-tracking
        // deserializer only runs to explain a failure.
        check_bounds(payload_config)?;
        if let Ok(spec) = Self::deserialize(payload_config) {
            return Ok(spec);
        }
        serde_path_to_error::deserialize::<_, Self>(payload_config).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            let field = if path == "." {
                match missing_or_unknown(&inner) {
                    Some(f) => format!("payload_config.{f}"),
                    None => "payload_config".to_owned(),
                }
            } else {
                format!("payload_config.{path}")
            };
            AppError::validation(field, format!("{inner}; see the payload_config schema (objective, budget, schedule, targeting, creative, bidding, overrides)"))
        })
    }
}

impl CampaignSpec {
    /// The length of the list at `keys` (an entry of ARRAY_CAPS) as this spec, read from
    /// `payload_config`, holds it (overrides are read in the JSON); `None` for keys not
    /// mapped here.
    fn capped_len(&self, payload_config: &serde_json::Value, keys: &[&str]) -> Option<usize> {
        let t = &self.targeting;
        Some(match keys {
            ["targeting", "countries"] => t.countries.len(),
            ["targeting", "regions"] => t.regions.len(),
            ["targeting", "interests"] => t.interests.len(),
            ["targeting", "genders"] => t.genders.len(),
            ["targeting", "placements"] => t.placements.len(),
            ["creative", "image_asset_ids"] => self.creative.image_asset_ids.len(),
            ["overrides", ..] => keys
                .iter()
                .try_fold(payload_config, |v, key| v.as_object()?.get(*key))
                .and_then(serde_json::Value::as_array)
                .map_or(0, Vec::len),
            _ => return None,
        })
    }

    /// Every list of ARRAY_CAPS within its cap (a list not mapped by `capped_len` counts as
    /// over, which sends the caller to `check_bounds`).
    fn within_array_caps(&self, payload_config: &serde_json::Value) -> bool {
        ARRAY_CAPS.iter().all(|(keys, cap, _)| {
            self.capped_len(payload_config, keys)
                .is_some_and(|n| n <= *cap)
        })
    }
}

/// The asset ids a payload_config names under `creative` (image_asset_ids, video_asset_id),
/// read from the raw JSON so a context can be loaded for a spec that does not parse.
pub fn asset_ids(payload_config: &serde_json::Value) -> Vec<String> {
    let creative = payload_config.get("creative");
    let mut out: Vec<String> = creative
        .and_then(|c| c.get("image_asset_ids"))
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .take(20)
                .filter_map(serde_json::Value::as_str)
                .map(|s| s.trim().to_owned())
                .collect()
        })
        .unwrap_or_default();
    if let Some(v) = creative
        .and_then(|c| c.get("video_asset_id"))
        .and_then(serde_json::Value::as_str)
    {
        out.push(v.trim().to_owned());
    }
    out.retain(|s| !s.is_empty() && s.len() <= 64);
    out.sort();
    out.dedup();
    out
}

fn missing_or_unknown(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

/// Largest `payload_config` accepted, serialised as compact JSON. A real campaign spec is a
/// few kilobytes; the cap keeps every translation, QA run and review linear and small.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;
/// Deepest nesting of objects and arrays. The deepest real spec (Meta flexible_spec interests
/// under overrides) is 9 levels; stored JSON must also stay far below serde_json's 128-level
/// read limit, or the row could never be read back.
pub const MAX_PAYLOAD_DEPTH: usize = 16;
/// Any array anywhere in the spec, overrides included.
pub const MAX_ARRAY_ITEMS: usize = 1_000;

/// Per-field caps, at what the platforms themselves accept (or, where no platform states a
/// cap, well above what a real campaign uses), each at its keys from payload_config down.
const ARRAY_CAPS: &[(&[&str], usize, &str)] = &[
    (
        &["targeting", "countries"],
        250,
        "there are 249 ISO 3166-1 countries",
    ),
    (
        &["targeting", "regions"],
        200,
        "Meta accepts at most 200 regions per ad set",
    ),
    (
        &["targeting", "interests"],
        200,
        "target broader interest groups instead",
    ),
    (&["targeting", "genders"], 2, "MALE and/or FEMALE"),
    (
        &["targeting", "placements"],
        9,
        "each placement at most once",
    ),
    (
        &["creative", "image_asset_ids"],
        20,
        "a Google responsive display ad takes at most 15 marketing images and 5 logos",
    ),
    (
        &["overrides", "tiktok", "ad", "creatives"],
        20,
        "a TikTok ad group holds at most 20 ads",
    ),
];

/// Refuse a payload_config that is too large, too deep, or has an array longer than its
/// platform accepts, naming the field and the limit. Runs in time linear in the input and
/// before anything is translated or stored.
pub fn check_bounds(payload_config: &serde_json::Value) -> Result<(), AppError> {
    let settled = quickly_within_bounds(payload_config);
    if !settled {
        check_size("payload_config", payload_config)?;
    }
    for (keys, cap, why) in ARRAY_CAPS {
        let found = keys
            .iter()
            .try_fold(payload_config, |v, key| v.as_object()?.get(*key));
        if let Some(serde_json::Value::Array(items)) = found
            && items.len() > *cap
        {
            return Err(AppError::validation(
                format!("payload_config.{}", keys.join(".")),
                format!(
                    "has {} items; at most {cap} are accepted ({why})",
                    items.len()
                ),
            ));
        }
    }
    if settled {
        return Ok(());
    }
    check_nesting("payload_config", payload_config)
}

/// Size, depth and list-length limits for any JSON a caller sends to be stored with a
/// ticket (its payload_config, a fix's patch); `field` names it in the error.
pub fn check_shape(field: &str, v: &serde_json::Value) -> Result<(), AppError> {
    if quickly_within_bounds(v) {
        return Ok(());
    }
    check_size(field, v)?;
    check_nesting(field, v)
}

/// Every QA run checks the bounds again (`CampaignSpec::parse`, which settles the per-field
/// caps on the typed spec when this pass settles the rest), so the common case, a
/// payload well within all of them, is settled in one pass over the tree that neither
/// formats a number nor builds a path. `false` means "not settled": the exact checks, which
/// name the field at fault, run (`check_size`, `check_nesting`).
fn quickly_within_bounds(v: &serde_json::Value) -> bool {
    bounded_size_at_most(v, 1).is_some_and(|size| size <= MAX_PAYLOAD_BYTES)
}

/// At least `json_size`, or `None` past the depth or list-length limits (stopping at the
/// first list or level over its limit; depth counts for empty lists and objects too, as in
/// `walk_bounds`). Every number is taken at the longest serde_json writes (24 bytes, e.g.
/// -2.2250738585072014e-308) and every byte of a string at its longest escape (6 bytes,
/// `\u001f`), so no number is formatted and no string's text is read (only its length,
/// which sits in the tree itself: the text is another allocation, often not in the cache).
fn bounded_size_at_most(v: &serde_json::Value, depth: usize) -> Option<usize> {
    use serde_json::Value;
    let string = |s: &str| 2 + 6 * s.len();
    match v {
        Value::Array(a) => {
            if depth > MAX_PAYLOAD_DEPTH || a.len() > MAX_ARRAY_ITEMS {
                return None;
            }
            let mut size = 2 + a.len().saturating_sub(1);
            for x in a {
                size += bounded_size_at_most(x, depth + 1)?;
            }
            Some(size)
        }
        Value::Object(o) => {
            if depth > MAX_PAYLOAD_DEPTH {
                return None;
            }
            let mut size = 2 + o.len().saturating_sub(1);
            for (k, x) in o {
                size += string(k) + 1 + bounded_size_at_most(x, depth + 1)?;
            }
            Some(size)
        }
        Value::Number(_) => Some(24),
        Value::String(s) => Some(string(s)),
        other => Some(json_size(other)),
    }
}

/// Depth and list lengths, naming the path of the first one over its limit. Runs only for a
/// payload `quickly_within_bounds` did not settle.
fn check_nesting(field: &str, v: &serde_json::Value) -> Result<(), AppError> {
    walk_bounds(v, &mut String::from(field), 1)
}

/// The exact size. Runs only for a payload `quickly_within_bounds` did not settle.
fn check_size(field: &str, v: &serde_json::Value) -> Result<(), AppError> {
    let size = json_size(v);
    if size > MAX_PAYLOAD_BYTES {
        return Err(AppError::validation(
            field,
            format!(
                "is {size} bytes of JSON; the limit is {MAX_PAYLOAD_BYTES} bytes. Keep creatives' media in the platform's library (video_id, image hash) rather than inline"
            ),
        ));
    }
    Ok(())
}

fn walk_bounds(v: &serde_json::Value, path: &mut String, depth: usize) -> Result<(), AppError> {
    use serde_json::Value;
    let children = match v {
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        _ => return Ok(()),
    };
    if depth > MAX_PAYLOAD_DEPTH {
        return Err(AppError::validation(
            path.clone(),
            format!(
                "nests deeper than {MAX_PAYLOAD_DEPTH} levels of objects and arrays; flatten it (no platform field nests this deep)"
            ),
        ));
    }
    if children == 0 {
        return Ok(());
    }
    let len = path.len();
    match v {
        Value::Array(a) => {
            if a.len() > MAX_ARRAY_ITEMS {
                return Err(AppError::validation(
                    path.clone(),
                    format!(
                        "has {} items; no list in a campaign spec may have more than {MAX_ARRAY_ITEMS}",
                        a.len()
                    ),
                ));
            }
            for (i, item) in a.iter().enumerate() {
                use std::fmt::Write;
                let _ = write!(path, "[{i}]");
                walk_bounds(item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        Value::Object(o) => {
            for (k, item) in o {
                path.push('.');
                path.push_str(k);
                walk_bounds(item, path, depth + 1)?;
                path.truncate(len);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Length of the compact JSON text (`serde_json::to_string`), without building it.
pub fn json_size(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    match v {
        Value::Null | Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_size(n),
        Value::String(s) => string_size(s),
        Value::Array(a) => 2 + a.len().saturating_sub(1) + a.iter().map(json_size).sum::<usize>(),
        Value::Object(o) => {
            2 + o.len().saturating_sub(1)
                + o.iter()
                    .map(|(k, v)| string_size(k) + 1 + json_size(v))
                    .sum::<usize>()
        }
    }
}

/// A string with its quotes, escaped as serde_json escapes it: `"` and `\` and the short
/// escapes of backspace, form feed, line feed, carriage return and tab take two bytes, any
/// other control character six (`\u001f`).
fn string_size(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
            0x00..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// A number as serde_json writes it, counted by writing it to a sink.
fn number_size(n: &serde_json::Number) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing a number to a sink that cannot fail cannot fail.
    let _ = serde_json::to_writer(&mut c, n);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a caller sees for each bound, with the field named; and a payload within them
    /// (checked by the quick pass alone) passes.
    #[test]
    fn bounds_name_the_field_and_the_limit() {
        let err = |v: serde_json::Value| check_bounds(&v).unwrap_err().to_string();
        let mut deep = serde_json::json!(1);
        for _ in 0..MAX_PAYLOAD_DEPTH + 1 {
            deep = serde_json::json!({ "x": deep });
        }
        let e = err(serde_json::json!({ "overrides": { "meta": deep } }));
        assert!(
            e.contains("payload_config.overrides.meta.x.x") && e.contains("nests deeper than 16"),
            "{e}"
        );
        // An empty object or list counts as a level too.
        for empty in [serde_json::json!({}), serde_json::json!([])] {
            let mut nested = empty;
            for _ in 0..MAX_PAYLOAD_DEPTH {
                nested = serde_json::json!({ "x": nested });
            }
            let e = err(nested.clone());
            assert!(e.contains("nests deeper than 16"), "{nested}: {e}");
            check_bounds(&nested["x"]).unwrap();
        }
        let many = vec![serde_json::json!(0); MAX_ARRAY_ITEMS + 1];
        let e = err(serde_json::json!({ "overrides": { "tiktok": { "list": [1, {"y": many}] } } }));
        assert!(
            e.starts_with("payload_config.overrides.tiktok.list[1].y:") && e.contains("1001 items"),
            "{e}"
        );
        let countries = vec![serde_json::json!("US"); 251];
        let e = err(serde_json::json!({ "targeting": { "countries": countries } }));
        assert!(e.starts_with("payload_config.targeting.countries:"), "{e}");
        let big = "x".repeat(MAX_PAYLOAD_BYTES);
        let e = err(serde_json::json!({ "creative": { "headline": big } }));
        assert!(e.contains("bytes of JSON; the limit is 65536"), "{e}");
        // Counted exactly near the limit (the quick bound takes the string at 6 bytes a byte
        // and each of the 1,600 numbers at 24): a payload just under the limit stays valid.
        let pad = "x".repeat(MAX_PAYLOAD_BYTES - 4_100 - 20);
        let ok = serde_json::json!({ "creative": { "headline": pad }, "n": vec![1; 800], "m": vec![2; 800] });
        assert!(json_size(&ok) <= MAX_PAYLOAD_BYTES && !quickly_within_bounds(&ok));
        check_bounds(&ok).unwrap();
        check_bounds(
            &serde_json::json!({ "objective": "TRAFFIC", "targeting": { "countries": ["US"] } }),
        )
        .unwrap();
    }

    /// `parse` reads the list caps on the typed spec: each capped list at its cap parses, one
    /// item more is refused with the field named, as `check_bounds` names it.
    #[test]
    fn parse_refuses_each_capped_list_one_over_its_cap() {
        let base = serde_json::json!({
            "objective": "TRAFFIC",
            "budget": {"amount": "10.00", "period": "DAILY"},
            "targeting": {"countries": ["US"]},
            "overrides": {"tiktok": {"ad": {"creatives": [{"video_id": "v1"}]}}}
        });
        let item = |keys: &[&str]| match keys.last().copied() {
            Some("interests") => serde_json::json!({"id": "1"}),
            Some("genders") => serde_json::json!("MALE"),
            Some("placements") => serde_json::json!("FACEBOOK"),
            Some("creatives") => serde_json::json!({"video_id": "v1"}),
            _ => serde_json::json!("US"),
        };
        for (keys, cap, _) in ARRAY_CAPS {
            let with = |n: usize| {
                let mut v = base.clone();
                let mut at = &mut v;
                for k in *keys {
                    at = &mut at[*k];
                }
                *at = serde_json::Value::Array(vec![item(keys); n]);
                v
            };
            let field = format!("payload_config.{}", keys.join("."));
            let at_cap = with(*cap);
            let spec = CampaignSpec::parse(&at_cap)
                .unwrap_or_else(|e| panic!("{field} at its cap {cap}: {e}"));
            assert_eq!(spec.capped_len(&at_cap, keys), Some(*cap), "{field}");
            let e = CampaignSpec::parse(&with(cap + 1)).unwrap_err();
            assert_eq!(e.field(), Some(field.as_str()), "{e}");
            // Also where the list is another platform's, whose overrides are not kept.
            let e2 = CampaignSpec::parse_for(&with(cap + 1), Platform::Meta).unwrap_err();
            assert_eq!(e2.to_string(), e.to_string());
            assert!(e.to_string().contains(&format!("at most {cap}")), "{e}");
            assert_eq!(
                check_bounds(&with(cap + 1)).unwrap_err().to_string(),
                e.to_string()
            );
        }
        // Without TikTok overrides at all, the fast path still settles a valid spec.
        let mut plain = base.clone();
        plain["overrides"] = serde_json::json!({});
        let spec = CampaignSpec::parse(&plain).unwrap();
        assert!(spec.within_array_caps(&plain));
    }

    /// Overrides are refused as a plain `Overrides` refuses them (same field, same reason),
    /// whether every platform's are kept (`parse`) or one's (`parse_for`); kept maps are the
    /// payload's own.
    #[test]
    fn overrides_are_checked_in_full_and_copied_only_for_the_platform_kept() {
        let with = |overrides: serde_json::Value| {
            serde_json::json!({
                "objective": "TRAFFIC",
                "budget": {"amount": "10.00", "period": "DAILY"},
                "overrides": overrides
            })
        };
        // Lists, which serde would read by position, are refused in any length.
        for list in [
            serde_json::json!([{"meta": {}}]),
            serde_json::json!([null, {"adgroup": {"pacing": "PACING_MODE_FAST"}}, null]),
        ] {
            for parsed in [
                CampaignSpec::parse(&with(list.clone())),
                CampaignSpec::parse_for(&with(list.clone()), Platform::Tiktok),
            ] {
                let e = parsed.unwrap_err();
                assert_eq!(e.field(), Some("payload_config.overrides"), "{list}: {e}");
                assert!(e.to_string().contains("is a list"), "{e}");
            }
        }
        let e = CampaignSpec::parse(&serde_json::json!([
            "TRAFFIC",
            {"amount": "10.00", "period": "DAILY"},
            null,
            {},
            {},
            null,
            {"tiktok": {}}
        ]))
        .unwrap_err();
        assert_eq!(e.field(), Some("payload_config"), "{e}");
        for bad in [
            serde_json::Value::Null,
            serde_json::json!("x"),
            serde_json::json!(1),
            serde_json::json!({"snapchat": {}}),
            serde_json::json!({"meta": "x"}),
            serde_json::json!({"meta": {}, "tiktok": [1]}),
            serde_json::json!({"google_ads": 5}),
            serde_json::json!({"google_ads": true}),
        ] {
            let plain = serde_path_to_error::deserialize::<_, Overrides>(&bad).unwrap_err();
            let field = match plain.path().to_string().as_str() {
                "." => "payload_config.overrides".to_owned(),
                p => format!("payload_config.overrides.{p}"),
            };
            let reason = plain.into_inner().to_string();
            for parsed in [
                CampaignSpec::parse(&with(bad.clone())),
                CampaignSpec::parse_for(&with(bad.clone()), Platform::Tiktok),
            ] {
                let e = parsed.unwrap_err();
                assert_eq!(e.field(), Some(field.as_str()), "{bad}: {e}");
                assert!(e.to_string().contains(&reason), "{bad}: {e} / {reason}");
            }
        }
        let all = with(serde_json::json!({
            "meta": {"adset": {"bid_amount": 100}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v1"}]}},
            "google_ads": null
        }));
        let o = CampaignSpec::parse(&all).unwrap().overrides;
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            serde_json::json!({
                "meta": {"adset": {"bid_amount": 100}},
                "tiktok": {"ad": {"creatives": [{"video_id": "v1"}]}},
                "google_ads": null
            })
        );
        let o = CampaignSpec::parse_for(&all, Platform::Tiktok)
            .unwrap()
            .overrides;
        assert!(o.meta.is_none() && o.google_ads.is_none());
        assert_eq!(o.tiktok, all["overrides"]["tiktok"].as_object().cloned());
        let o = CampaignSpec::parse_for(&all, Platform::Meta)
            .unwrap()
            .overrides;
        assert!(o.tiktok.is_none() && o.google_ads.is_none());
        assert_eq!(o.meta, all["overrides"]["meta"].as_object().cloned());
        // Overrides empty, or not given at all.
        let empty = with(serde_json::json!({}));
        let mut absent = empty.clone();
        if let Some(o) = absent.as_object_mut() {
            o.remove("overrides");
        }
        for none in [empty, absent] {
            let o = CampaignSpec::parse(&none).unwrap().overrides;
            assert!(o.meta.is_none() && o.tiktok.is_none() && o.google_ads.is_none());
        }
    }

    /// The one pass settles only payloads within every bound, and settles those well within
    /// them; the rest go to the exact checks, which pass what is within after all.
    #[test]
    fn the_quick_pass_settles_only_what_is_within_bounds() {
        let nest = |levels: usize, inner: serde_json::Value| {
            (0..levels).fold(inner, |v, _| serde_json::json!({ "x": v }))
        };
        // (payload, settled by the quick pass, within bounds)
        let samples = [
            (
                serde_json::json!({ "objective": "TRAFFIC", "targeting": { "countries": ["US"] } }),
                true,
                true,
            ),
            (
                nest(MAX_PAYLOAD_DEPTH - 1, serde_json::json!([])),
                true,
                true,
            ),
            (nest(MAX_PAYLOAD_DEPTH, serde_json::json!([])), false, false),
            (nest(MAX_PAYLOAD_DEPTH, serde_json::json!(1)), true, true),
            (
                nest(MAX_PAYLOAD_DEPTH + 1, serde_json::json!(1)),
                false,
                false,
            ),
            (
                serde_json::json!({ "l": vec![0; MAX_ARRAY_ITEMS] }),
                true,
                true,
            ),
            (
                serde_json::json!({ "l": vec![0; MAX_ARRAY_ITEMS + 1] }),
                false,
                false,
            ),
            (
                serde_json::json!({ "s": "x".repeat(MAX_PAYLOAD_BYTES / 6 - 20) }),
                true,
                true,
            ),
            // Over the quick bound, well under the exact size.
            (
                serde_json::json!({ "s": "x".repeat(MAX_PAYLOAD_BYTES / 6) }),
                false,
                true,
            ),
            (
                serde_json::json!({ "s": "x".repeat(MAX_PAYLOAD_BYTES) }),
                false,
                false,
            ),
        ];
        for (v, settled, within) in &samples {
            assert_eq!(quickly_within_bounds(v), *settled, "{v:.80}");
            assert_eq!(check_shape("p", v).is_ok(), *within, "{v:.80}");
            assert_eq!(check_bounds(v).is_ok(), *within, "{v:.80}");
        }
    }

    #[test]
    fn json_size_is_the_length_of_the_compact_text() {
        let samples = [
            serde_json::json!(null),
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"a": [1, -2, 3.5, 1e300, 0.1, 18446744073709551615u64, -9223372036854775808i64]}),
            serde_json::json!({"quote\"back\\slash": "tab\tnl\ncr\rbs\u{8}ff\u{c}nul\u{0}us\u{1f}del\u{7f}", "ü": "Zoë 🌊 \u{2028}"}),
            serde_json::json!({"nested": {"x": [true, false, null, [], {}, [[{"y": ""}]]]}}),
        ];
        for v in samples {
            assert_eq!(
                json_size(&v),
                serde_json::to_string(&v).unwrap().len(),
                "{v}"
            );
            assert!(bounded_size_at_most(&v, 1) >= Some(json_size(&v)), "{v}");
        }
        // The longest numbers serde_json writes fit the bound's 24 bytes.
        for n in [
            serde_json::json!(-2.2250738585072014e-308),
            serde_json::json!(-1.7976931348623157e308),
            serde_json::json!(-9223372036854775808i64),
            serde_json::json!(18446744073709551615u64),
            serde_json::json!(-1.2345678901234567e-100),
        ] {
            assert!(json_size(&n) <= 24, "{n}");
        }
    }
}
