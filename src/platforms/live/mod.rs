//! Changes to live campaigns, the platform half: which live objects a status change or an
//! edit touches (planned from the translators' own output, so the values are in each
//! platform's wire format), and an idempotent apply that reads first, writes only what
//! differs, and after a lost answer reads again instead of writing twice.
//!
//! Live objects are the ones the deploy stored in the ticket's `external_ids`:
//! Meta `campaign`, `adset`, `ad` (`creative` has no status); TikTok `campaign`, `adgroup`,
//! `ad`; Google `campaign_budget`, `campaign`, `ad_group`, `ad_group_ad`. Google criteria
//! and ads are immutable: a change to them replaces them (criteria removed and created, a new
//! ad created and the old one paused), and the ids that change are handed back for
//! `external_ids` (see [`PlatformClients::apply_update_with_ids`]). See PLATFORMS.md part 2,
//! section H.
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::TranslatedPayloads;
use super::client::{PlatformClients, PlatformError, fill_placeholders};
use crate::domain::{Channel, Platform};
use crate::error::AppError;

mod compare;
mod rules;

use compare::*;
pub use compare::{camel_to_snake, canonical_decimal, canonical_number, covers, same_value};
use rules::*;

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

/// Creative changes on a live ad are one [`ObjectUpdate`] on the ad (object `ad`, level
/// `AD`, id as stored), with these fields:
/// - Meta: `creative` holding the full translated adcreative body (`name`,
///   `object_story_spec`, ...). Apply creates a new creative with that content, named like
///   the old one plus ` #` and a content hash, and points the ad at it. Other ad fields (a
///   new name) may ride along and are written after the swap.
/// - TikTok: `creatives`, the full translated list (the stored ad ids are the current
///   creatives, one ad each, in order; the list may grow or shrink), and `adgroup_id`, the ad
///   group from `external_ids.adgroup`. Apply replaces creatives one for one when the count
///   is the same; otherwise it creates and disables ads and hands back `external_ids.ad`.
/// - Meta apply hands back `external_ids.creative`, the creative the ad points at.
pub const META_CREATIVE: &str = "creative";
pub const TIKTOK_CREATIVES: &str = "creatives";
pub const TIKTOK_ADGROUP: &str = "adgroup_id";

/// Google targeting criteria changes are one [`ObjectUpdate`] per criteria object
/// (`campaign_criterion` at level `CAMPAIGN`, `ad_group_criterion` at level `AD_SET`; id: the
/// criteria ids as stored, comma-separated, possibly empty) with these fields:
/// `criteria`, every criterion the parent should carry (the translated create bodies, ids
/// filled in), and `parent_id`, the campaign or ad group id. Apply reads the parent's
/// criteria of the kinds OmniTraffick manages, removes those not wanted and creates the
/// missing ones in one all-or-nothing `:mutate`.
pub const GOOGLE_CRITERIA: &str = "criteria";
pub const GOOGLE_PARENT: &str = "parent_id";
/// A new text (or final URL) for a live Google ad: an update of `ad_group_ad` whose field
/// `ad` is the full new ad. Apply creates an ad_group_ad with it in the same ad group (or
/// finds one an earlier attempt made), with the delivery status the old ad had, then pauses
/// the old ad; `external_ids.ad_group_ad` becomes the new ad.
pub const GOOGLE_AD: &str = "ad";
/// A Google bidding-strategy switch carries the new strategy's type (output-only on the
/// platform: read back to tell whether the switch happened, never put in the mask).
pub const GOOGLE_STRATEGY_TYPE: &str = "biddingStrategyType";

/// The Google criteria objects: (external_ids key, parent key, level).
const GOOGLE_CRITERIA_OBJECTS: [(&str, &str, Level); 2] = [
    ("campaign_criterion", "campaign", Level::Campaign),
    ("ad_group_criterion", "ad_group", Level::AdSet),
];

fn is_google_criteria(platform: Platform, object: &str) -> bool {
    platform == Platform::GoogleAds && GOOGLE_CRITERIA_OBJECTS.iter().any(|(o, _, _)| *o == object)
}

/// Split a creative change off an update: (the creative part, the other fields), or None
/// when the update changes no creative.
fn creative_parts(
    platform: Platform,
    update: &ObjectUpdate,
) -> Option<(ObjectUpdate, ObjectUpdate)> {
    let keys: &[&str] = match platform {
        Platform::Meta if update.level == Level::Ad => &[META_CREATIVE],
        Platform::Tiktok if update.level == Level::Ad => &[TIKTOK_CREATIVES, TIKTOK_ADGROUP],
        _ => return None,
    };
    if !update.fields.contains_key(keys[0]) {
        return None;
    }
    let (mut creative, mut rest) = (update.clone(), update.clone());
    creative.fields.retain(|k, _| keys.contains(&k.as_str()));
    rest.fields.retain(|k, _| !keys.contains(&k.as_str()));
    Some((creative, rest))
}

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
        // Criteria that appear or disappear are created or removed like any other criteria.
        if is_google_criteria(platform, &r.object) {
            continue;
        }
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
    // Meta: a changed creative becomes a `creative` field of the ad (a new creative, swapped in).
    let mut new_creative: Option<Value> = None;
    for a in &after.requests {
        let Some(b) = before.requests.iter().find(|r| r.object == a.object) else {
            continue;
        };
        if is_google_criteria(platform, &a.object) {
            continue;
        }
        if platform == Platform::Meta && a.object == "creative" {
            if top_changes(&b.body, &a.body)
                .iter()
                .any(|c| c.field != "name")
            {
                new_creative = Some(a.body.clone());
            }
            continue;
        }
        let (bb, ab) = match platform {
            Platform::GoogleAds => (google_resource(&b.body), google_resource(&a.body)),
            _ => (&b.body, &a.body),
        };
        let mut fields = Map::new();
        let switch = platform == Platform::GoogleAds
            && a.object == "campaign"
            && google_strategy_switch(bb, ab);
        if switch {
            fields.extend(google_switch_fields(ab)?);
        }
        let mut changes = match platform {
            Platform::GoogleAds => leaf_changes(bb, ab),
            _ => top_changes(bb, ab),
        };
        if switch {
            // The strategy fields are all in `google_switch_fields`.
            changes.retain(|c| !GOOGLE_BIDDING.contains(&c.field.split('.').next().unwrap_or("")));
        }
        if platform == Platform::GoogleAds && a.object == "ad_group_ad" {
            // New ad content: a new ad replaces the old one (Google ads are immutable).
            let before_len = changes.len();
            changes.retain(|c| c.field != "ad" && !c.field.starts_with("ad."));
            if changes.len() != before_len {
                let ad = ab.get("ad").cloned().unwrap_or(Value::Null);
                let ad = fill_placeholders(&ad, external_ids).map_err(|missing| {
                    AppError::validation(
                        "external_ids",
                        format!("the Google {missing} of this ad is not in external_ids; finish the deploy first"),
                    )
                })?;
                fields.insert(GOOGLE_AD.into(), ad);
            }
        }
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
        if platform == Platform::Meta
            && a.object == "ad"
            && let Some(body) = new_creative.take()
        {
            fields.insert(META_CREATIVE.into(), body);
        }
        if platform == Platform::Tiktok && fields.contains_key(TIKTOK_CREATIVES) {
            tiktok_creatives_check(b, a, external_ids)?;
            let adgroup = stored_id(external_ids, "adgroup").unwrap_or_default();
            fields.insert(TIKTOK_ADGROUP.into(), Value::from(adgroup));
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
    if platform == Platform::GoogleAds {
        out.extend(google_criteria_updates(before, after, external_ids)?);
    }
    Ok(out)
}

/// The criteria of one kind a translation creates, in order.
fn google_criteria_of(p: &TranslatedPayloads, object: &str) -> Vec<Value> {
    p.requests
        .iter()
        .filter(|r| r.object == object)
        .flat_map(|r| {
            r.body
                .get("operations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|op| op.get("create").cloned())
        .collect()
}

/// One criteria update per criteria object whose set of criteria changes (see
/// [`GOOGLE_CRITERIA`]).
fn google_criteria_updates(
    before: &TranslatedPayloads,
    after: &TranslatedPayloads,
    external_ids: &Map<String, Value>,
) -> Result<Vec<ObjectUpdate>, AppError> {
    let mut out = Vec::new();
    for (object, parent, level) in GOOGLE_CRITERIA_OBJECTS {
        let sorted = |l: Vec<Value>| {
            let mut t: Vec<String> = l.iter().map(Value::to_string).collect();
            t.sort();
            t
        };
        let wanted = google_criteria_of(after, object);
        if sorted(google_criteria_of(before, object)) == sorted(wanted.clone()) {
            continue;
        }
        let parent_id = stored_id(external_ids, parent).ok_or_else(|| {
            AppError::validation(
                "external_ids",
                format!(
                    "the Google {parent} whose targeting this change edits was never created (no id in external_ids); finish the deploy first"
                ),
            )
        })?;
        let wanted = wanted
            .iter()
            .map(|c| fill_placeholders(c, external_ids))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|missing| {
                AppError::validation(
                    "external_ids",
                    format!("the Google {missing} these criteria belong to is not in external_ids; finish the deploy first"),
                )
            })?;
        let mut fields = Map::new();
        fields.insert(GOOGLE_CRITERIA.into(), Value::Array(wanted));
        fields.insert(GOOGLE_PARENT.into(), Value::from(parent_id));
        out.push(ObjectUpdate {
            object: object.to_owned(),
            id: stored_id(external_ids, object).unwrap_or_default(),
            level,
            fields,
        });
    }
    Ok(out)
}

/// The campaign fields that switch a live Google campaign to the strategy of `after`: the
/// new oneof member's leaf fields (an empty member names one of its optional leaves with no
/// value, so the mask selects the member) and [`GOOGLE_STRATEGY_TYPE`] to read back.
fn google_switch_fields(after: &Value) -> Result<Map<String, Value>, AppError> {
    let members: Vec<(&String, &Value)> = after
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| GOOGLE_BIDDING.contains(&k.as_str()))
        .collect();
    let refuse = |why: String| AppError::validation("payload_config.bidding.strategy", why);
    let [(member, settings)] = members.as_slice() else {
        return Err(refuse(
            "the new spec leaves the live Google campaign without exactly one bidding strategy; give payload_config.bidding one strategy".into(),
        ));
    };
    let Some((type_name, leaf)) = google_strategy_of_member(member) else {
        return Err(refuse(format!(
            "switching a live Google campaign to {member} is not a live edit OmniTraffick makes; use LOWEST_COST, COST_CAP or BID_CAP, or deploy a new ticket"
        )));
    };
    let mut fields = Map::new();
    fields.insert(GOOGLE_STRATEGY_TYPE.into(), Value::from(type_name));
    let mut leaves = Vec::new();
    flatten(member, settings, &mut leaves);
    for (path, v) in leaves {
        if path == member.as_str() {
            // `{}`: no settings. Naming the member itself is refused by Google
            // (FIELD_HAS_SUBFIELDS); an optional leaf left unset selects it.
            fields.insert(format!("{member}.{leaf}"), Value::Null);
        } else {
            fields.insert(path, v.clone());
        }
    }
    Ok(fields)
}

/// A campaign bidding-strategy oneof member: its `bidding_strategy_type` and an optional leaf
/// that can select it in an update mask without a value. None for members a live switch does
/// not go to (portfolio strategies, CPM/CPV, impression share need settings OmniTraffick
/// does not translate).
pub(crate) fn google_strategy_of_member(member: &str) -> Option<(&'static str, &'static str)> {
    Some(match member {
        "maximizeConversions" => ("MAXIMIZE_CONVERSIONS", "targetCpaMicros"),
        "maximizeConversionValue" => ("MAXIMIZE_CONVERSION_VALUE", "targetRoas"),
        "targetSpend" => ("TARGET_SPEND", "cpcBidCeilingMicros"),
        "manualCpc" => ("MANUAL_CPC", "enhancedCpcEnabled"),
        "targetCpa" => ("TARGET_CPA", "targetCpaMicros"),
        "targetRoas" => ("TARGET_ROAS", "targetRoas"),
        _ => return None,
    })
}

/// The member of a `bidding_strategy_type`, with its selecting leaf.
pub(crate) fn google_member_of_strategy(type_name: &str) -> Option<(&'static str, &'static str)> {
    GOOGLE_BIDDING
        .iter()
        .filter_map(|m| google_strategy_of_member(m).map(|(t, leaf)| (*m, t, leaf)))
        .find(|(_, t, _)| *t == type_name)
        .map(|(m, _, leaf)| (m, leaf))
}
impl PlatformClients {
    /// Current values of `update.fields`' keys on the platform, normalised to the wire format
    /// of [`ObjectUpdate`] (Meta budgets read as strings become integers, TikTok money numbers
    /// get their canonical decimal text, Google micros stay strings), plus the object's
    /// delivery state under [`DELIVERY_STATE`]. A field the platform did not return is null.
    /// Google criteria read as the parent's managed criteria under [`GOOGLE_CRITERIA`]; a
    /// Google ad replacement reads the stored ad's content under [`GOOGLE_AD`].
    /// Credentials come from the channel exactly as for `create`.
    pub async fn read_object(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Map<String, Value>, PlatformError> {
        if let Some(kind) = google_replacement(channel.platform, update) {
            return self.google_replacement_read(channel, update, kind).await;
        }
        let Some((creative, rest)) = creative_parts(channel.platform, update) else {
            return self.live_read(channel, update).await;
        };
        let mut out = self.creative_read(channel, &creative).await?;
        if !rest.fields.is_empty() {
            out.extend(self.live_read(channel, &rest).await?);
        }
        Ok(out)
    }

    /// Idempotent apply: read the current state; skip fields already at target; write only
    /// the rest (Meta `POST /{id}`, TikTok status endpoint then `campaign/update/` or
    /// `adgroup/update/`, Google `:mutate` `update` with an `updateMask` of exactly those
    /// fields). When the answer is lost (`outcome_unknown`), read again instead of writing
    /// twice: `Written` if the read shows the target, else the original error (retry later,
    /// `class` and `retry_after_ms` say how).
    ///
    /// A creative change (see [`META_CREATIVE`]) goes first, through its own read-then-write
    /// path; the ad's other fields follow.
    pub async fn apply_update(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Applied, PlatformError> {
        self.apply_update_with_ids(channel, update)
            .await
            .map(|(applied, _)| applied)
    }

    /// [`Self::apply_update`], and the `external_ids` entries the ticket must hold afterwards
    /// when the update replaced objects rather than changing them: a Meta ad's new
    /// `creative`, a Google ad's new `ad_group_ad`, the Google criteria ids
    /// (`campaign_criterion`, `ad_group_criterion`; comma-separated, null when none are
    /// left). Given whether or not anything was written, so a retry after a crash still
    /// learns the ids an earlier attempt made. Empty for updates that keep their objects.
    pub async fn apply_update_with_ids(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<(Applied, Map<String, Value>), PlatformError> {
        if let Some(kind) = google_replacement(channel.platform, update) {
            return self.google_replacement_apply(channel, update, kind).await;
        }
        let Some((creative, rest)) = creative_parts(channel.platform, update) else {
            return Ok((self.apply_fields(channel, update).await?, Map::new()));
        };
        let (swapped, ids) = self.creative_apply(channel, &creative).await?;
        if rest.fields.is_empty() {
            return Ok((swapped, ids));
        }
        let applied = match (swapped, self.apply_fields(channel, &rest).await?) {
            (Applied::AlreadyHeld, other) => other,
            (written, Applied::AlreadyHeld) => written,
            (Applied::Written { mut fields }, Applied::Written { fields: more }) => {
                fields.extend(more);
                Applied::Written { fields }
            }
        };
        Ok((applied, ids))
    }

    pub(crate) async fn apply_fields(
        &self,
        channel: &Channel,
        update: &ObjectUpdate,
    ) -> Result<Applied, PlatformError> {
        let current = self.live_read(channel, update).await?;
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
            Err(e) if e.outcome_unknown => match self.live_read(channel, &write).await {
                Ok(now) if pending(&write, &now).is_empty() => Ok(Applied::Written { fields }),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }
}

/// Google updates that replace objects instead of updating them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GoogleReplacement {
    Criteria,
    Ad,
}

fn google_replacement(platform: Platform, update: &ObjectUpdate) -> Option<GoogleReplacement> {
    if platform != Platform::GoogleAds {
        return None;
    }
    if update.fields.contains_key(GOOGLE_CRITERIA) {
        return Some(GoogleReplacement::Criteria);
    }
    (update.level == Level::Ad && update.fields.contains_key(GOOGLE_AD))
        .then_some(GoogleReplacement::Ad)
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
    fn google_bidding_values_change_live_and_strategies_switch_by_their_new_member() {
        let ids: Map<String, Value> = serde_json::from_value(json!({"campaign": "9"})).unwrap();
        let cpa = |m: &str| google(json!({"maximizeConversions": {"targetCpaMicros": m}}));
        let plan = plan_edit(Platform::GoogleAds, &cpa("1000000"), &cpa("1500000"), &ids).unwrap();
        assert_eq!(
            plan[0].fields,
            *json!({"maximizeConversions.targetCpaMicros": "1500000"})
                .as_object()
                .unwrap()
        );
        // A switch names the new member's leaves and the type to read back; the old member
        // is left to the oneof.
        let ceiling = google(json!({"targetSpend": {"cpcBidCeilingMicros": "2000000"}}));
        let plan = plan_edit(Platform::GoogleAds, &cpa("1000000"), &ceiling, &ids).unwrap();
        assert_eq!(
            plan[0].fields,
            *json!({"biddingStrategyType": "TARGET_SPEND", "targetSpend.cpcBidCeilingMicros": "2000000"})
                .as_object()
                .unwrap()
        );
        // To a strategy without settings: its optional leaf, unset, selects it.
        let clicks = google(json!({"targetSpend": {}}));
        let plan = plan_edit(Platform::GoogleAds, &cpa("1000000"), &clicks, &ids).unwrap();
        assert_eq!(
            plan[0].fields,
            *json!({"biddingStrategyType": "TARGET_SPEND", "targetSpend.cpcBidCeilingMicros": null})
                .as_object()
                .unwrap()
        );
        // Not to a portfolio strategy.
        let portfolio = google(json!({"biddingStrategy": "customers/1/biddingStrategies/5"}));
        let e = plan_edit(Platform::GoogleAds, &cpa("1000000"), &portfolio, &ids).unwrap_err();
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
