//! Which changed fields each platform lets you write on a live object, and the payload field
//! to blame when it does not.

use super::*;

/// What may happen to a changed field on a live object.
pub(super) enum Rule {
    /// Write it.
    Live,
    /// Nothing to write (e.g. a bid amount dropped together with its strategy).
    Skip,
    /// Refused: (payload field path, why and what to do instead).
    Refuse(String, String),
}

pub(super) fn refuse(path: impl Into<String>, why: impl Into<String>) -> Rule {
    Rule::Refuse(path.into(), why.into())
}

pub(super) fn platform_key(p: Platform) -> &'static str {
    match p {
        Platform::Meta => "meta",
        Platform::Tiktok => "tiktok",
        Platform::GoogleAds => "google_ads",
    }
}

/// The payload field a platform field comes from, for error messages.
pub(super) fn payload_path(platform: Platform, object: &str, field: &str) -> String {
    let top = field.split('.').next().unwrap_or(field);
    let p = |s: &str| format!("payload_config.{s}");
    let known = match (platform, object, top) {
        (_, "creative" | "ad" | "ad_group_ad", _) => Some(p("creative")),
        (Platform::Meta, _, "objective" | "optimization_goal" | "promoted_object") => {
            Some(p("objective"))
        }
        (Platform::Meta, _, "daily_budget" | "lifetime_budget") => Some(p("budget.amount")),
        (Platform::Meta, _, "start_time") => Some(p("schedule.start_time")),
        (Platform::Meta, _, "end_time" | "stop_time") => Some(p("schedule.end_time")),
        (Platform::Meta, _, "bid_amount") => Some(p("bidding.bid_amount")),
        (Platform::Meta, _, "bid_strategy") => Some(p("bidding.strategy")),
        (Platform::Meta, _, "targeting") => Some(p("targeting")),
        (
            Platform::Tiktok,
            _,
            "objective_type" | "optimization_goal" | "billing_event" | "promotion_type"
            | "optimization_event" | "pixel_id",
        ) => Some(p("objective")),
        (Platform::Tiktok, _, "budget") => Some(p("budget.amount")),
        (Platform::Tiktok, "adgroup", "budget_mode") => Some(p("budget.period")),
        (Platform::Tiktok, _, "schedule_start_time") => Some(p("schedule.start_time")),
        (Platform::Tiktok, _, "schedule_end_time" | "schedule_type") => {
            Some(p("schedule.end_time"))
        }
        (Platform::Tiktok, _, "bid_price" | "conversion_bid_price") => {
            Some(p("bidding.bid_amount"))
        }
        (Platform::Tiktok, _, "bid_type") => Some(p("bidding.strategy")),
        (Platform::Tiktok, _, "location_ids") => Some(p("targeting.countries")),
        (Platform::Tiktok, _, "age_groups") => Some(p("targeting.age_min")),
        (Platform::Tiktok, _, "gender") => Some(p("targeting.genders")),
        (Platform::Tiktok, _, "interest_category_ids") => Some(p("targeting.interests")),
        (Platform::Tiktok, _, "placements" | "placement_type") => Some(p("targeting.placements")),
        (Platform::GoogleAds, "campaign_budget", "amountMicros" | "totalAmountMicros") => {
            Some(p("budget.amount"))
        }
        (Platform::GoogleAds, "campaign_budget", "period") => Some(p("budget.period")),
        (Platform::GoogleAds, _, "startDateTime") => Some(p("schedule.start_time")),
        (Platform::GoogleAds, _, "endDateTime") => Some(p("schedule.end_time")),
        (Platform::GoogleAds, _, "networkSettings" | "advertisingChannelType" | "type") => {
            Some(p("targeting.placements"))
        }
        (Platform::GoogleAds, _, "biddingStrategyType") => Some(p("bidding.strategy")),
        (Platform::GoogleAds, _, t) if GOOGLE_BIDDING.contains(&t) => Some(p("bidding")),
        (Platform::GoogleAds, "campaign_criterion", _) => Some(p("targeting.countries")),
        (Platform::GoogleAds, "ad_group_criterion", _) => Some(p("targeting")),
        _ => None,
    };
    known.unwrap_or_else(|| {
        format!(
            "payload_config.overrides.{}.{object}.{top}",
            platform_key(platform)
        )
    })
}

/// One changed field: its value before and after (None = absent).
pub(super) struct Change<'a> {
    pub(super) field: String,
    pub(super) after: Option<&'a Value>,
}

/// Top-level fields that differ between two bodies.
pub(super) fn top_changes<'a>(before: &'a Value, after: &'a Value) -> Vec<Change<'a>> {
    static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
    let b = before.as_object().unwrap_or(&EMPTY);
    let a = after.as_object().unwrap_or(&EMPTY);
    let keys: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    keys.into_iter()
        .filter(|k| b.get(*k) != a.get(*k))
        .map(|k| Change {
            field: k.clone(),
            after: a.get(k),
        })
        .collect()
}

/// Leaf paths of a Google resource (objects flattened, `a.b.c`; arrays and empty objects are
/// leaves), for update masks.
pub(super) fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            for (k, x) in o {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, x, out);
            }
        }
        _ => out.push((prefix.to_owned(), v)),
    }
}

pub(super) fn leaf_changes<'a>(before: &'a Value, after: &'a Value) -> Vec<Change<'a>> {
    let (mut b, mut a) = (Vec::new(), Vec::new());
    flatten("", before, &mut b);
    flatten("", after, &mut a);
    let get = |l: &Vec<(String, &'a Value)>, k: &str| l.iter().find(|(p, _)| p == k).map(|x| x.1);
    let keys: BTreeSet<String> = b.iter().chain(a.iter()).map(|(p, _)| p.clone()).collect();
    keys.into_iter()
        .filter_map(|k| {
            let (x, y) = (get(&b, &k), get(&a, &k));
            // `{}` filled in (maximizeConversions: {} -> {targetCpaMicros}) is not a removal.
            let filled =
                |l: &Vec<(String, &Value)>| l.iter().any(|(p, _)| p.starts_with(&format!("{k}.")));
            if x == y
                || (y.is_none() && x.is_some_and(|v| v == &Value::Object(Map::new())) && filled(&a))
                || (x.is_none() && y.is_some_and(|v| v == &Value::Object(Map::new())) && filled(&b))
            {
                return None;
            }
            Some(Change { field: k, after: y })
        })
        .collect()
}

pub(super) fn creative_refusal(platform: Platform) -> String {
    match platform {
        Platform::Meta => "this Meta creative change cannot be made live; deploy a new ticket with the new creative and pause this one".into(),
        Platform::Tiktok => "a live TikTok ad group keeps one ad per creative: the new list must hold at least one creative, and the ads stored in external_ids.ad must match the current creatives one for one; if they do not (a deploy that stored fewer ads), deploy a new ticket with the new creatives and pause this one".into(),
        Platform::GoogleAds => "a live Google ad's content (headlines, descriptions, final URL, images) is replaced by a new ad in the same ad group; its other settings are immutable, so leave them as they are, or deploy a new ticket and pause this one".into(),
    }
}

pub(super) fn meta_rule(object: &str, c: &Change<'_>, all: &[Change<'_>]) -> Rule {
    let f = c.field.as_str();
    let path = payload_path(Platform::Meta, object, f);
    let changed = |k: &str| all.iter().any(|x| x.field == k);
    let live: &[&str] = match object {
        "campaign" => &[
            "name",
            "daily_budget",
            "lifetime_budget",
            "spend_cap",
            "start_time",
            "stop_time",
            "bid_strategy",
            "is_adset_budget_sharing_enabled",
            "adset_budgets",
            "adset_bid_amounts",
            "budget_schedule_specs",
        ],
        "adset" => &[
            "name",
            "daily_budget",
            "lifetime_budget",
            "start_time",
            "end_time",
            "bid_amount",
            "bid_strategy",
            "bid_constraints",
            "targeting",
            "billing_event",
            "frequency_control_specs",
            "daily_spend_cap",
            "lifetime_spend_cap",
        ],
        "ad" => &["name", "tracking_specs", "conversion_domain", "bid_amount"],
        _ => &[],
    };
    match (object, f) {
        // A creative keeps its name: renaming it changes nothing that delivers.
        ("creative", "name") => Rule::Skip,
        // A changed creative is planned on the ad (a new creative swapped in), not here.
        ("ad", "creative") => refuse(
            path,
            "the ad's creative reference is managed by OmniTraffick: change the creative itself (payload_config.creative) and the ad is pointed at a new creative",
        ),
        ("campaign", "objective") => refuse(
            path,
            "Meta does not change the objective of a live campaign; deploy a new ticket with the new objective and pause this one",
        ),
        ("adset", "optimization_goal" | "promoted_object") => refuse(
            path,
            "Meta refuses pixel, conversion-event and optimization changes on a published ad set (error 3260011); deploy a new ticket and pause this one",
        ),
        ("adset", "destination_type") => refuse(
            path,
            "destination_type cannot change on a live ad set (Meta error 1815198); deploy a new ticket and pause this one",
        ),
        ("adset", "attribution_spec") => refuse(
            path,
            "attribution_spec cannot change after an ad set is created (Meta error 1504040); deploy a new ticket and pause this one",
        ),
        ("adset", "daily_budget" | "lifetime_budget")
            if changed("daily_budget") && changed("lifetime_budget") =>
        {
            refuse(
                "payload_config.budget.period",
                "a live ad set keeps its budget type: switching between a daily and a lifetime budget is not a live edit; change the amount only, or deploy a new ticket with the other budget type",
            )
        }
        // Dropping a bid with its capped strategy: the new strategy is what gets written.
        (_, "bid_amount") if c.after.is_none() && changed("bid_strategy") => Rule::Skip,
        _ if c.after.is_none() => refuse(
            path,
            format!(
                "{f} cannot be removed from a live Meta {object} by a live edit; give it a new value instead"
            ),
        ),
        _ if live.contains(&f) => Rule::Live,
        _ => refuse(
            path,
            format!(
                "{f} is not a field Meta lets OmniTraffick change on a live {object}; leave it as it is, or deploy a new ticket and pause this one"
            ),
        ),
    }
}

/// A TikTok creatives change: the stored ads (one per creative) are the before creatives;
/// the after list may be longer (new ads) or shorter (ads disabled), never empty.
pub(super) fn tiktok_creatives_check(
    before: &crate::platforms::PlatformRequest,
    after: &crate::platforms::PlatformRequest,
    external_ids: &Map<String, Value>,
) -> Result<(), AppError> {
    let count = |r: &crate::platforms::PlatformRequest| {
        r.body
            .get("creatives")
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let ads = super::stored_id(external_ids, "ad")
        .map(|ids| ids.split(',').filter(|s| !s.trim().is_empty()).count())
        .unwrap_or(0);
    if count(after) == 0 || (ads != 0 && ads != count(before)) {
        return Err(AppError::validation(
            payload_path(Platform::Tiktok, "ad", "creatives"),
            creative_refusal(Platform::Tiktok),
        ));
    }
    if super::stored_id(external_ids, "adgroup").is_none() {
        return Err(AppError::validation(
            "external_ids",
            "the TikTok ad group of this ad is not in external_ids (adgroup); finish the deploy first",
        ));
    }
    Ok(())
}

/// TikTok ad-group targeting lists: removing one sends an empty list.
pub(super) const TIKTOK_LISTS: &[&str] = &[
    "age_groups",
    "interest_category_ids",
    "audience_ids",
    "excluded_audience_ids",
    "languages",
];

pub(super) fn tiktok_rule(object: &str, c: &Change<'_>, all: &[Change<'_>]) -> Rule {
    let f = c.field.as_str();
    let path = payload_path(Platform::Tiktok, object, f);
    let changed = |k: &str| all.iter().any(|x| x.field == k);
    let live: &[&str] = match object {
        "campaign" => &["campaign_name", "budget", "special_industries"],
        "adgroup" => &[
            "adgroup_name",
            "budget",
            "schedule_start_time",
            "schedule_end_time",
            "schedule_type",
            "bid_price",
            "bid_type",
            "conversion_bid_price",
            "pacing",
            "location_ids",
            "age_groups",
            "gender",
            "interest_category_ids",
            "audience_ids",
            "excluded_audience_ids",
            "languages",
            "dayparting",
            "frequency",
            "frequency_schedule",
        ],
        _ => &[],
    };
    match (object, f) {
        ("ad", "creatives") if c.after.is_some_and(Value::is_array) => Rule::Live,
        ("ad", "creatives") => refuse(path, creative_refusal(Platform::Tiktok)),
        ("ad", _) => refuse(
            path,
            format!(
                "{f} cannot be changed on a live TikTok ad by a live edit (only its status); deploy a new ticket and pause this one"
            ),
        ),
        (_, "budget_mode") => refuse(
            path,
            "TikTok does not switch a live campaign or ad group between daily and lifetime budgets; change the amount only, or deploy a new ticket with the other budget type",
        ),
        ("campaign", "objective_type") => refuse(
            path,
            "TikTok does not change the objective of a live campaign; deploy a new ticket with the new objective and pause this one",
        ),
        (_, "placement_type" | "placements") => refuse(
            path,
            "placements are not changed on a live TikTok ad group by live edits; deploy a new ticket with the new placements and pause this one",
        ),
        (
            "adgroup",
            "optimization_goal" | "billing_event" | "promotion_type" | "optimization_event"
            | "pixel_id",
        ) => refuse(
            path,
            "what a live TikTok ad group optimises for (objective, goal, pixel event) is fixed; deploy a new ticket and pause this one",
        ),
        ("adgroup", "schedule_end_time") if c.after.is_none() => refuse(
            path,
            "removing the end time of a live TikTok ad group is not a live edit; set a later end time instead",
        ),
        ("adgroup", "bid_price" | "conversion_bid_price")
            if c.after.is_none() && changed("bid_type") =>
        {
            Rule::Skip
        }
        ("adgroup", _) if c.after.is_none() && TIKTOK_LISTS.contains(&f) => Rule::Live,
        _ if c.after.is_none() => refuse(
            path,
            format!(
                "{f} cannot be removed from a live TikTok {object} by a live edit; give it a new value instead"
            ),
        ),
        _ if live.contains(&f) => Rule::Live,
        _ => refuse(
            path,
            format!(
                "{f} is not a field TikTok lets OmniTraffick change on a live {object}; leave it as it is, or deploy a new ticket and pause this one"
            ),
        ),
    }
}

/// The campaign bidding-strategy oneof (the strategies a campaign may carry inline).
pub(super) const GOOGLE_BIDDING: &[&str] = &[
    "manualCpc",
    "manualCpm",
    "manualCpv",
    "maximizeConversions",
    "maximizeConversionValue",
    "targetCpa",
    "targetRoas",
    "targetSpend",
    "targetImpressionShare",
    "percentCpc",
    "biddingStrategy",
];

/// A Google campaign that moves to another bidding strategy (the oneof member changes).
pub(super) fn google_strategy_switch(before: &Value, after: &Value) -> bool {
    let strategies = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| GOOGLE_BIDDING.contains(&k.as_str()))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    };
    strategies(before) != strategies(after)
}

pub(super) fn google_rule(object: &str, c: &Change<'_>) -> Rule {
    let f = c.field.as_str();
    let top = f.split('.').next().unwrap_or(f);
    let path = payload_path(Platform::GoogleAds, object, f);
    match (object, top) {
        // The ad's content is planned as a replacement ad (`GOOGLE_AD`); criteria as a set
        // (`GOOGLE_CRITERIA`). What reaches here is the rest of the ad.
        ("ad_group_ad", _) => refuse(path, creative_refusal(Platform::GoogleAds)),
        ("campaign_budget", "period") => refuse(
            path,
            "a Google campaign budget's period (daily or custom/lifetime) is immutable; change the amount only, or deploy a new ticket with the other budget type",
        ),
        ("campaign_budget", "amountMicros" | "totalAmountMicros" | "name" | "deliveryMethod") => {
            Rule::Live
        }
        ("campaign", "advertisingChannelType") | ("ad_group", "type") => refuse(
            path,
            "a Google campaign's type (Search or Display, from the placements) is immutable; deploy a new ticket with the new placements and pause this one",
        ),
        // Same strategy on both sides (a switch was refused before): its settings change.
        ("campaign", t) if GOOGLE_BIDDING.contains(&t) => Rule::Live,
        (
            "campaign",
            "name"
            | "startDateTime"
            | "endDateTime"
            | "networkSettings"
            | "containsEuPoliticalAdvertising",
        ) => Rule::Live,
        ("ad_group", "name" | "cpcBidMicros" | "cpmBidMicros" | "targetCpaMicros") => Rule::Live,
        _ => refuse(
            path,
            format!(
                "{f} is not a field OmniTraffick changes on a live Google {object}; leave it as it is, or deploy a new ticket and pause this one"
            ),
        ),
    }
}

/// The resource a Google request creates (`operations[0].create`), or the whole body for
/// multi-operation requests (criteria).
pub(super) fn google_resource(body: &Value) -> &Value {
    match body.get("operations").and_then(Value::as_array) {
        Some(ops) if ops.len() == 1 => ops[0].get("create").unwrap_or(body),
        _ => body,
    }
}
