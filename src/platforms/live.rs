//! Changes to live campaigns, the platform half: which live objects a status change or an
//! edit touches (planned from the translators' own output, so the values are in each
//! platform's wire format), and an idempotent apply that reads first, writes only what
//! differs, and after a lost answer reads again instead of writing twice.
//!
//! Live objects are the ones the deploy stored in the ticket's `external_ids`:
//! Meta `campaign`, `adset`, `ad` (`creative` has no status); TikTok `campaign`, `adgroup`,
//! `ad`; Google `campaign_budget`, `campaign`, `ad_group`, `ad_group_ad` (the criteria are
//! not edited in place). See PLATFORMS.md part 2, section H.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::TranslatedPayloads;
use super::client::{PlatformClients, PlatformError};
use crate::domain::{Channel, Platform};
use crate::error::AppError;

/// The level of a live object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Level {
    Campaign,
    /// Meta ad set, TikTok ad group, Google ad group.
    AdSet,
    Ad,
    /// Google campaign budget.
    Budget,
}

/// What a change wants of one live object: platform field -> target value, in that
/// platform's wire format (Meta minor-unit integers, TikTok major-unit numbers, Google micros
/// as strings). Google fields are lowerCamelCase mask paths (`networkSettings.targetSearchNetwork`);
/// a Google value of `null` clears the field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ObjectUpdate {
    /// The `external_ids` key of the object (campaign, adset, adgroup, ad_group_ad, ...).
    pub object: String,
    /// Its platform id as stored in `external_ids`.
    pub id: String,
    pub level: Level,
    pub fields: Map<String, Value>,
}

/// The delivery status a ticket's live objects should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LiveStatus {
    Active,
    Paused,
}

/// Per object, what apply did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Applied {
    /// These fields were written (or, after a lost answer, found at their target).
    Written { fields: Vec<String> },
    /// Every field already had its target value; nothing was sent.
    AlreadyHeld,
}

/// The key under which [`PlatformClients::read_object`] returns the object's delivery state:
/// Meta `effective_status`, TikTok `secondary_status`, Google `primary_status` (a budget's
/// `status`), as the platform spells it.
pub const DELIVERY_STATE: &str = "delivery_state";

/// The objects that carry a status, parent first.
fn status_objects(platform: Platform) -> &'static [(&'static str, Level)] {
    match platform {
        Platform::Meta => &[
            ("campaign", Level::Campaign),
            ("adset", Level::AdSet),
            ("ad", Level::Ad),
        ],
        Platform::Tiktok => &[
            ("campaign", Level::Campaign),
            ("adgroup", Level::AdSet),
            ("ad", Level::Ad),
        ],
        Platform::GoogleAds => &[
            ("campaign", Level::Campaign),
            ("ad_group", Level::AdSet),
            ("ad_group_ad", Level::Ad),
        ],
    }
}

/// The level of an `external_ids` key that can be edited live, if any.
fn level_of(platform: Platform, object: &str) -> Option<Level> {
    if platform == Platform::GoogleAds && object == "campaign_budget" {
        return Some(Level::Budget);
    }
    status_objects(platform)
        .iter()
        .find(|(o, _)| *o == object)
        .map(|(_, l)| *l)
}

fn status_field(platform: Platform, to: LiveStatus) -> (&'static str, &'static str) {
    match (platform, to) {
        (Platform::Meta, LiveStatus::Active) => ("status", "ACTIVE"),
        (Platform::Meta, LiveStatus::Paused) => ("status", "PAUSED"),
        (Platform::Tiktok, LiveStatus::Active) => ("operation_status", "ENABLE"),
        (Platform::Tiktok, LiveStatus::Paused) => ("operation_status", "DISABLE"),
        (Platform::GoogleAds, LiveStatus::Active) => ("status", "ENABLED"),
        (Platform::GoogleAds, LiveStatus::Paused) => ("status", "PAUSED"),
    }
}

fn stored_id(ids: &Map<String, Value>, object: &str) -> Option<String> {
    match ids.get(object)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn platform_label(p: Platform) -> &'static str {
    match p {
        Platform::Meta => "Meta",
        Platform::Tiktok => "TikTok",
        Platform::GoogleAds => "Google Ads",
    }
}

/// Status updates for every live object of a ticket, in a safe order: activating goes
/// children first and the campaign last (nothing delivers until the whole tree is on);
/// pausing goes campaign first (everything stops at once). Pausing a partly deployed ticket
/// pauses what exists; activating one is refused.
pub fn plan_status(
    platform: Platform,
    external_ids: &Map<String, Value>,
    to: LiveStatus,
) -> Result<Vec<ObjectUpdate>, AppError> {
    let (field, value) = status_field(platform, to);
    let mut present = Vec::new();
    let mut missing = Vec::new();
    for (object, level) in status_objects(platform) {
        match stored_id(external_ids, object) {
            Some(id) => present.push(ObjectUpdate {
                object: (*object).to_owned(),
                id,
                level: *level,
                fields: [(field.to_owned(), Value::from(value))]
                    .into_iter()
                    .collect(),
            }),
            None => missing.push(*object),
        }
    }
    if present.is_empty() {
        return Err(AppError::validation(
            "external_ids",
            format!(
                "the ticket has no live objects on {}; deploy it first",
                platform_label(platform)
            ),
        ));
    }
    if to == LiveStatus::Active && !missing.is_empty() {
        return Err(AppError::validation(
            "external_ids",
            format!(
                "the deploy has not created the {} yet, so the ticket cannot go live: finish the deploy (get_deploy_status shows where it stopped), then activate",
                missing.join(", ")
            ),
        ));
    }
    if to == LiveStatus::Active {
        present.reverse();
    }
    Ok(present)
}

/// What may happen to a changed field on a live object.
enum Rule {
    /// Write it.
    Live,
    /// Nothing to write (e.g. a bid amount dropped together with its strategy).
    Skip,
    /// Refused: (payload field path, why and what to do instead).
    Refuse(String, String),
}

fn refuse(path: impl Into<String>, why: impl Into<String>) -> Rule {
    Rule::Refuse(path.into(), why.into())
}

fn platform_key(p: Platform) -> &'static str {
    match p {
        Platform::Meta => "meta",
        Platform::Tiktok => "tiktok",
        Platform::GoogleAds => "google_ads",
    }
}

/// The payload field a platform field comes from, for error messages.
fn payload_path(platform: Platform, object: &str, field: &str) -> String {
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
        (Platform::GoogleAds, _, "maximizeConversions" | "targetSpend") => Some(p("bidding")),
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
struct Change<'a> {
    field: String,
    after: Option<&'a Value>,
}

/// Top-level fields that differ between two bodies.
fn top_changes<'a>(before: &'a Value, after: &'a Value) -> Vec<Change<'a>> {
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
fn flatten<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
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

fn leaf_changes<'a>(before: &'a Value, after: &'a Value) -> Vec<Change<'a>> {
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

fn creative_refusal(platform: Platform) -> String {
    match platform {
        Platform::Meta => "changing the creative of a live Meta ad means creating a new ad creative and pointing the ad at it, which live edits do not do yet; leave the creative as it is, or deploy a new ticket with the new creative and pause this one".into(),
        Platform::Tiktok => "changing a live TikTok ad's creative (ad/update/ with new creatives) is not supported by live edits yet; leave the creative as it is, or deploy a new ticket with the new creative and pause this one".into(),
        Platform::GoogleAds => "a Google ad's content cannot be changed once created (ads are immutable: a new ad must be created and the old one paused), which live edits do not do yet; deploy a new ticket with the new creative and pause this one".into(),
    }
}

fn meta_rule(object: &str, c: &Change<'_>, all: &[Change<'_>]) -> Rule {
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
        ("creative", _) | ("ad", "creative") => refuse(path, creative_refusal(Platform::Meta)),
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

/// TikTok ad-group targeting lists: removing one sends an empty list.
const TIKTOK_LISTS: &[&str] = &[
    "age_groups",
    "interest_category_ids",
    "audience_ids",
    "excluded_audience_ids",
    "languages",
];

fn tiktok_rule(object: &str, c: &Change<'_>, all: &[Change<'_>]) -> Rule {
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
const GOOGLE_BIDDING: &[&str] = &[
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
fn google_strategy_switch(before: &Value, after: &Value) -> bool {
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

fn google_rule(object: &str, c: &Change<'_>) -> Rule {
    let f = c.field.as_str();
    let top = f.split('.').next().unwrap_or(f);
    let path = payload_path(Platform::GoogleAds, object, f);
    match (object, top) {
        ("ad_group_ad", _) => refuse(path, creative_refusal(Platform::GoogleAds)),
        ("campaign_criterion" | "ad_group_criterion", _) => refuse(
            path,
            "Google keeps locations, audiences, ages and genders as separate criteria: changing them means removing and adding criteria, which live edits do not do yet; deploy a new ticket with the new targeting and pause this one",
        ),
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
fn google_resource(body: &Value) -> &Value {
    match body.get("operations").and_then(Value::as_array) {
        Some(ops) if ops.len() == 1 => ops[0].get("create").unwrap_or(body),
        _ => body,
    }
}

/// Field updates that take the live objects from the `before` translation to the `after`
/// one, limited to what each platform lets you change on a live object. A change it cannot
/// make live is refused with the payload field at fault and what to do instead.
pub fn plan_edit(
    platform: Platform,
    before: &TranslatedPayloads,
    after: &TranslatedPayloads,
    external_ids: &Map<String, Value>,
) -> Result<Vec<ObjectUpdate>, AppError> {
    if before.platform != platform || after.platform != platform {
        return Err(AppError::Internal(format!(
            "plan_edit for {platform} got translations for {} and {}",
            before.platform, after.platform
        )));
    }
    let objects = |p: &TranslatedPayloads| -> Vec<String> {
        p.requests.iter().map(|r| r.object.clone()).collect()
    };
    // An object that appears or disappears (e.g. Google age criteria) is a structural change.
    for r in before.requests.iter().chain(&after.requests) {
        let (in_before, in_after) = (
            objects(before).contains(&r.object),
            objects(after).contains(&r.object),
        );
        if in_before != in_after {
            let path = payload_path(platform, &r.object, "");
            return Err(AppError::validation(
                path.trim_end_matches('.').to_owned(),
                format!(
                    "this change {} the {} {}, which a live edit cannot do; deploy a new ticket and pause this one",
                    if in_after { "adds" } else { "removes" },
                    platform_label(platform),
                    r.object
                ),
            ));
        }
    }
    let mut out = Vec::new();
    for a in &after.requests {
        let Some(b) = before.requests.iter().find(|r| r.object == a.object) else {
            continue;
        };
        let (bb, ab) = match platform {
            Platform::GoogleAds => (google_resource(&b.body), google_resource(&a.body)),
            _ => (&b.body, &a.body),
        };
        if platform == Platform::GoogleAds
            && a.object == "campaign"
            && google_strategy_switch(bb, ab)
        {
            return Err(AppError::validation(
                "payload_config.bidding.strategy",
                "switching a live Google campaign to another bidding strategy is not a live edit (learning restarts and its settings differ); change the bid amount only, or deploy a new ticket",
            ));
        }
        let changes = match platform {
            Platform::GoogleAds => leaf_changes(bb, ab),
            _ => top_changes(bb, ab),
        };
        let mut fields = Map::new();
        for c in &changes {
            let rule = match platform {
                Platform::Meta => meta_rule(&a.object, c, &changes),
                Platform::Tiktok => tiktok_rule(&a.object, c, &changes),
                Platform::GoogleAds => google_rule(&a.object, c),
            };
            match rule {
                Rule::Skip => {}
                Rule::Refuse(path, why) => return Err(AppError::validation(path, why)),
                Rule::Live => {
                    let v = match c.after {
                        Some(v) => v.clone(),
                        // Removals that are allowed: TikTok lists go empty, Google clears.
                        None if platform == Platform::Tiktok => Value::Array(Vec::new()),
                        None => Value::Null,
                    };
                    fields.insert(c.field.clone(), v);
                }
            }
        }
        if fields.is_empty() {
            continue;
        }
        let level = level_of(platform, &a.object).ok_or_else(|| {
            AppError::validation(
                payload_path(platform, &a.object, ""),
                format!(
                    "the {} {} cannot be edited live",
                    platform_label(platform),
                    a.object
                ),
            )
        })?;
        let id = stored_id(external_ids, &a.object).ok_or_else(|| {
            AppError::validation(
                "external_ids",
                format!(
                    "the {} {} this change edits was never created (no id in external_ids); finish the deploy first",
                    platform_label(platform),
                    a.object
                ),
            )
        })?;
        out.push(ObjectUpdate {
            object: a.object.clone(),
            id,
            level,
            fields,
        });
    }
    Ok(out)
}

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
fn scalar_key(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(canonical_decimal(&n.to_string()).unwrap_or(n.to_string())),
        Value::String(s) => Some(canonical_decimal(s).unwrap_or_else(|| format!("s:{s}"))),
        Value::Bool(b) => Some(format!("b:{b}")),
        Value::Null => Some("null".into()),
        _ => None,
    }
}

/// Meta datetimes come back in the account's time zone: compare instants.
fn instant(v: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
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
fn pending(update: &ObjectUpdate, current: &Map<String, Value>) -> Map<String, Value> {
    update
        .fields
        .iter()
        .filter(|(k, v)| !same_value(current.get(*k).unwrap_or(&Value::Null), v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl PlatformClients {
    /// Current values of `update.fields`' keys on the platform, normalised to the wire format
    /// of [`ObjectUpdate`] (Meta budgets read as strings become integers, TikTok money numbers
    /// get their canonical decimal text, Google micros stay strings), plus the object's
    /// delivery state under [`DELIVERY_STATE`]. A field the platform did not return is null.
    /// Credentials come from the channel exactly as for `create`.
    pub async fn read_object(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Map<String, Value>, PlatformError> {
        self.live_read(channel, update).await
    }

    /// Idempotent apply: read the current state; skip fields already at target; write only
    /// the rest (Meta `POST /{id}`, TikTok status endpoint then `campaign/update/` or
    /// `adgroup/update/`, Google `:mutate` `update` with an `updateMask` of exactly those
    /// fields). When the answer is lost (`outcome_unknown`), read again instead of writing
    /// twice: `Written` if the read shows the target, else the original error (retry later,
    /// `class` and `retry_after_ms` say how).
    pub async fn apply_update(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Applied, PlatformError> {
        let current = self.read_object(channel, update).await?;
        let todo = pending(update, &current);
        if todo.is_empty() {
            return Ok(Applied::AlreadyHeld);
        }
        let write = ObjectUpdate {
            fields: todo,
            ..update.clone()
        };
        let fields: Vec<String> = write.fields.keys().cloned().collect();
        match self.live_write(channel, &write).await {
            Ok(()) => Ok(Applied::Written { fields }),
            Err(e) if e.outcome_unknown => match self.read_object(channel, &write).await {
                Ok(now) if pending(&write, &now).is_empty() => Ok(Applied::Written { fields }),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_compare_by_value_without_floats() {
        assert_eq!(canonical_decimal("80.0").as_deref(), Some("80"));
        assert_eq!(canonical_decimal("019.990").as_deref(), Some("19.99"));
        assert_eq!(canonical_decimal("-0.0").as_deref(), Some("0"));
        assert_eq!(canonical_decimal("1e5"), None);
        assert_eq!(canonical_decimal("12."), None);
        assert_eq!(canonical_number(&json!("7500")), Some(json!(7500)));
        assert_eq!(
            canonical_number(&json!(19.99)).unwrap().to_string(),
            "19.99"
        );
        assert!(same_value(&json!(80.0), &json!(80)));
        assert!(same_value(&json!("60000000"), &json!("60000000")));
        assert!(same_value(&json!("7500"), &json!(7500)));
        assert!(!same_value(&json!(19.99), &json!(19.98)));
        assert!(!same_value(&json!("PAUSED"), &json!("ACTIVE")));
        assert!(same_value(&Value::Null, &Value::Null));
    }

    #[test]
    fn times_by_instant_lists_in_any_order_objects_by_key() {
        assert!(same_value(
            &json!("2026-03-31T21:59:59-0700"),
            &json!("2026-03-31T23:59:59-0500")
        ));
        assert!(!same_value(
            &json!("2026-03-31T23:59:59-0700"),
            &json!("2026-03-31T23:59:59-0500")
        ));
        assert!(same_value(&json!(["b", "a"]), &json!(["a", "b"])));
        assert!(!same_value(&json!(["a"]), &json!(["a", "b"])));
        assert!(same_value(
            &json!({"age_min": 18, "x": null}),
            &json!({"age_min": 18})
        ));
        assert!(!same_value(
            &json!({"age_min": 18, "flexible_spec": [{"interests": [{"id": "1"}]}]}),
            &json!({"age_min": 18})
        ));
    }

    #[test]
    fn status_order_children_first_to_activate() {
        let ids: Map<String, Value> = serde_json::from_value(json!({
            "campaign_budget": "1", "campaign": "2", "ad_group": "3", "ad_group_ad": "3~4",
            "campaign_criterion": "2~5"
        }))
        .unwrap();
        let on = plan_status(Platform::GoogleAds, &ids, LiveStatus::Active).unwrap();
        let order: Vec<&str> = on.iter().map(|u| u.object.as_str()).collect();
        assert_eq!(order, ["ad_group_ad", "ad_group", "campaign"]);
        assert_eq!(on[0].fields["status"], "ENABLED");
        let off = plan_status(Platform::GoogleAds, &ids, LiveStatus::Paused).unwrap();
        let order: Vec<&str> = off.iter().map(|u| u.object.as_str()).collect();
        assert_eq!(order, ["campaign", "ad_group", "ad_group_ad"]);
        let partial: Map<String, Value> = serde_json::from_value(json!({"campaign": "2"})).unwrap();
        assert!(plan_status(Platform::GoogleAds, &partial, LiveStatus::Active).is_err());
        assert_eq!(
            plan_status(Platform::GoogleAds, &partial, LiveStatus::Paused)
                .unwrap()
                .len(),
            1
        );
        assert!(plan_status(Platform::Meta, &Map::new(), LiveStatus::Paused).is_err());
    }

    fn google(campaign: Value) -> TranslatedPayloads {
        TranslatedPayloads {
            platform: Platform::GoogleAds,
            api_version: "v25".into(),
            requests: vec![super::super::PlatformRequest {
                object: "campaign".into(),
                method: "POST".into(),
                path: "/v25/customers/1/campaigns:mutate".into(),
                body: json!({"operations": [{"create": campaign}]}),
            }],
        }
    }

    #[test]
    fn google_bidding_values_change_live_but_strategies_do_not_switch() {
        let ids: Map<String, Value> = serde_json::from_value(json!({"campaign": "9"})).unwrap();
        let cpa = |m: &str| google(json!({"maximizeConversions": {"targetCpaMicros": m}}));
        let plan = plan_edit(Platform::GoogleAds, &cpa("1000000"), &cpa("1500000"), &ids).unwrap();
        assert_eq!(
            plan[0].fields,
            *json!({"maximizeConversions.targetCpaMicros": "1500000"})
                .as_object()
                .unwrap()
        );
        let ceiling = google(json!({"targetSpend": {"cpcBidCeilingMicros": "2000000"}}));
        let e = plan_edit(Platform::GoogleAds, &cpa("1000000"), &ceiling, &ids).unwrap_err();
        assert_eq!(e.field(), Some("payload_config.bidding.strategy"));
    }

    #[test]
    fn camel_paths_to_gaql() {
        assert_eq!(
            camel_to_snake("networkSettings.targetSearchNetwork"),
            "network_settings.target_search_network"
        );
        assert_eq!(camel_to_snake("amountMicros"), "amount_micros");
    }
}
