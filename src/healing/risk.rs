//! Risk of a change to a ticket's spec, judged on the change itself (never on what a rule or
//! a model says it is): spend, reach and creative, including every platform field reachable
//! through `overrides`.

use serde_json::Value;

use crate::domain::{Currency, Money, Risk};

/// The risk of going from `before` to `after`, judged on the change itself. Interests the
/// platform refused are treated as already gone.
pub fn classify_risk(before: &Value, after: &Value, currency: &str, refused: &[String]) -> Risk {
    let mut before = before.clone();
    if let Some(list) = before
        .pointer_mut("/targeting/interests")
        .and_then(Value::as_array_mut)
    {
        list.retain(|i| {
            let id = i["id"]
                .as_str()
                .map(str::to_owned)
                .or_else(|| i["id"].as_i64().map(|n| n.to_string()));
            !id.is_some_and(|id| refused.contains(&id))
        });
    }
    let money = |v: &Value, p: &str| -> Option<i64> {
        let c = Currency::parse("currency", currency).ok()?;
        Money::parse_major("x", v.pointer(p)?.as_str()?, c)
            .ok()
            .map(|m| m.amount_minor)
    };
    let mut risk = Risk::Safe;
    let mut raise = |r: Risk| risk = risk.max(r);
    // Spend.
    if money(after, "/budget/amount").unwrap_or(0) > money(&before, "/budget/amount").unwrap_or(0)
        || money(after, "/bidding/bid_amount").unwrap_or(0)
            > money(&before, "/bidding/bid_amount").unwrap_or(0)
        || (before
            .pointer("/bidding/strategy")
            .and_then(Value::as_str)
            .is_some_and(|s| s != "LOWEST_COST")
            && after
                .pointer("/bidding/strategy")
                .and_then(Value::as_str)
                .is_none_or(|s| s == "LOWEST_COST"))
        || before.pointer("/budget/period") != after.pointer("/budget/period")
        || before.pointer("/schedule/end_time") != after.pointer("/schedule/end_time")
    {
        raise(Risk::SpendIncrease);
    }
    let overrides_b = before.get("overrides").cloned().unwrap_or(Value::Null);
    let overrides_a = after.get("overrides").cloned().unwrap_or(Value::Null);
    for op in json_patch::diff(&overrides_b, &overrides_a).0 {
        let path = op.path().to_string();
        raise(override_risk(&op, &path, &overrides_b));
    }
    // Reach.
    let t_b = before.get("targeting").cloned().unwrap_or(Value::Null);
    let t_a = after.get("targeting").cloned().unwrap_or(Value::Null);
    let age = |t: &Value, k: &str| t.get(k).and_then(Value::as_i64);
    let list = |t: &Value, k: &str| -> Vec<String> {
        t.get(k)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|x| x.to_string()).collect())
            .unwrap_or_default()
    };
    let widened_list = |k: &str| {
        let b = list(&t_b, k);
        let a = list(&t_a, k);
        (!b.is_empty() && a.is_empty())
            || a.iter().any(|x| !b.contains(x)) && !b.is_empty()
            || (k == "interests" && a.len() < b.len())
    };
    if age(&t_a, "age_min").unwrap_or(0) < age(&t_b, "age_min").unwrap_or(0)
        || age(&t_a, "age_max").unwrap_or(999) > age(&t_b, "age_max").unwrap_or(999)
        || widened_list("countries")
        || widened_list("regions")
        || widened_list("interests")
        || widened_list("genders")
        || widened_list("placements")
    {
        raise(Risk::TargetingWidening);
    }
    if before.get("creative") != after.get("creative")
        || before.get("objective") != after.get("objective")
    {
        raise(Risk::CreativeChange);
    }
    risk
}

/// Platform fields (as override keys) that move money: budgets, bids, pacing, end dates,
/// optimisation and billing. Any key on a changed path counts.
const SPEND_KEYS: &[&str] = &[
    "budget",
    "daily_budget",
    "lifetime_budget",
    "spend_cap",
    "daily_spend_cap",
    "lifetime_spend_cap",
    "daily_min_spend_target",
    "daily_spend_cap_target",
    "budget_mode",
    "budget_optimize_on",
    "is_adset_budget_sharing_enabled",
    "bid_amount",
    "bid_price",
    "conversion_bid_price",
    "deep_cpa_bid",
    "roas_bid",
    "bid_cap",
    "bid_strategy",
    "bid_type",
    "bid_constraints",
    "bid_adjustments",
    "amountMicros",
    "totalAmountMicros",
    "cpcBidMicros",
    "cpmBidMicros",
    "cpvBidMicros",
    "targetCpaMicros",
    "targetCpmMicros",
    "targetRoas",
    "cpcBidCeilingMicros",
    "cpcBidFloorMicros",
    "maximizeConversions",
    "maximizeConversionValue",
    "targetSpend",
    "manualCpc",
    "manualCpm",
    "manualCpv",
    "targetCpa",
    "targetImpressionShare",
    "percentCpc",
    "biddingStrategy",
    "bidding_strategy",
    "pacing",
    "pacing_type",
    "schedule_type",
    "schedule_end_time",
    "end_time",
    "endDateTime",
    "endDate",
    "billing_event",
    "optimization_goal",
    "optimization_event",
    "frequency",
    "frequency_schedule",
    "frequency_control_specs",
    "deliveryMethod",
    "period",
];

/// Fields that decide who can see the ads.
const REACH_KEYS: &[&str] = &[
    "targeting",
    "geo_locations",
    "excluded_geo_locations",
    "location_ids",
    "zipcode_ids",
    "countries",
    "regions",
    "cities",
    "zips",
    "age_min",
    "age_max",
    "age_groups",
    "gender",
    "genders",
    "interests",
    "interest_category_ids",
    "interest_keyword_ids",
    "action_category_ids",
    "flexible_spec",
    "exclusions",
    "custom_audiences",
    "excluded_custom_audiences",
    "audience_ids",
    "excluded_audience_ids",
    "publisher_platforms",
    "facebook_positions",
    "instagram_positions",
    "audience_network_positions",
    "messenger_positions",
    "device_platforms",
    "user_device",
    "placements",
    "placement_type",
    "operating_systems",
    "device_model_ids",
    "network_types",
    "languages",
    "locales",
    "networkSettings",
    "targetGoogleSearch",
    "targetSearchNetwork",
    "targetContentNetwork",
    "targetPartnerSearchNetwork",
    "geoTargetTypeSetting",
    "targetingSetting",
    "targeting_automation",
    "advantage_audience",
    "contextual_tag_ids",
    "keywords",
    "excluded_keywords",
];

/// Fields that change what people see or where the ad leads.
const CREATIVE_KEYS: &[&str] = &[
    "creative",
    "creatives",
    "ad",
    "ad_text",
    "ad_texts",
    "video_id",
    "image_ids",
    "image_hash",
    "picture",
    "link",
    "message",
    "headline",
    "headlines",
    "description",
    "descriptions",
    "call_to_action",
    "call_to_action_id",
    "landing_page_url",
    "finalUrls",
    "object_story_spec",
    "link_data",
    "video_data",
    "responsiveSearchAd",
    "responsiveDisplayAd",
    "marketingImages",
    "squareMarketingImages",
    "logoImages",
    "tiktok_item_id",
    "identity_id",
    "identity_type",
    "page_id",
    "instagram_user_id",
    "display_name",
    "longHeadline",
    "businessName",
    "url_tags",
    "urlCustomParameters",
];

/// Keys whose change neither spends, reaches nor shows anything new: the name (governed to the
/// taxonomy name plus a suffix) only.
const NEUTRAL_KEYS: &[&str] = &["name"];

/// The risk of one change inside `overrides`. An override key this list does not know is never
/// SAFE: it waits for a person as a CREATIVE_CHANGE (the lowest class that does).
fn override_risk(op: &json_patch::PatchOperation, path: &str, before: &Value) -> Risk {
    // The keys on the path and, for a whole object added at once, every key inside it.
    let mut keys: Vec<&str> = path.split('/').filter(|k| !k.is_empty()).collect();
    let value = match op {
        json_patch::PatchOperation::Add(a) => Some(&a.value),
        json_patch::PatchOperation::Replace(r) => Some(&r.value),
        _ => None,
    };
    if let Some(v) = value {
        collect_keys(v, &mut keys);
    }
    let has = |set: &[&str]| keys.iter().any(|k| set.contains(k));
    if has(SPEND_KEYS) {
        // Removing a budget override falls back to the spec's budget, which the spec check
        // judges; lowering a number is not an increase. Everything else is.
        let lowered = match op {
            json_patch::PatchOperation::Remove(_) => true,
            json_patch::PatchOperation::Replace(r) => number(before.pointer(path))
                .zip(number(Some(&r.value)))
                .is_some_and(|(b, a)| a <= b),
            _ => false,
        };
        if !lowered {
            return Risk::SpendIncrease;
        }
        return Risk::Safe;
    }
    if has(REACH_KEYS) {
        return Risk::TargetingWidening;
    }
    if has(CREATIVE_KEYS) {
        return Risk::CreativeChange;
    }
    if keys.last().is_some_and(|k| NEUTRAL_KEYS.contains(k)) {
        return Risk::Safe;
    }
    Risk::CreativeChange
}

fn collect_keys<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(o) => {
            for (k, item) in o {
                out.push(k);
                collect_keys(item, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|item| collect_keys(item, out)),
        _ => {}
    }
}

/// A JSON number or a numeric string (Google sends micros as strings) in millionths, exactly
/// from its text; None for anything else (then a change counts as an increase).
fn number(v: Option<&Value>) -> Option<i128> {
    match v? {
        Value::Number(n) => decimal_millionths(&n.to_string()),
        Value::String(s) => decimal_millionths(s.trim()),
        _ => None,
    }
}

fn decimal_millionths(s: &str) -> Option<i128> {
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() || frac.len() > 6 || !frac.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let int: i128 = int.parse().ok()?;
    let frac_val: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}").parse().ok()?
    };
    Some(if s.starts_with('-') {
        int * 1_000_000 - frac_val
    } else {
        int * 1_000_000 + frac_val
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn risk_is_judged_on_the_change() {
        let before = json!({"budget": {"amount": "10.00", "period": "DAILY"}, "targeting": {"age_min": 18, "interests": [{"id": "1"}, {"id": "2"}]}});
        let mut after = before.clone();
        after["budget"]["amount"] = json!("20.00");
        assert_eq!(
            classify_risk(&before, &after, "USD", &[]),
            Risk::SpendIncrease
        );
        let mut after = before.clone();
        after["targeting"]["age_min"] = json!(13);
        assert_eq!(
            classify_risk(&before, &after, "USD", &[]),
            Risk::TargetingWidening
        );
        let after = json!({"budget": {"amount": "10.00", "period": "DAILY"}, "targeting": {"age_min": 18, "interests": [{"id": "1"}]}});
        assert_eq!(
            classify_risk(&before, &after, "USD", &[]),
            Risk::TargetingWidening
        );
        assert_eq!(
            classify_risk(&before, &after, "USD", &["2".into()]),
            Risk::Safe
        );
        let mut after = before.clone();
        after["budget"]["amount"] = json!("5.00");
        assert_eq!(classify_risk(&before, &after, "USD", &[]), Risk::Safe);
    }

    #[test]
    fn risk_sees_spend_reach_and_creative_through_overrides() {
        let base = json!({"budget": {"amount": "10.00", "period": "DAILY"},
            "overrides": {"tiktok": {"adgroup": {"bid_price": 2.5}}, "google_ads": {"ad_group": {"cpcBidMicros": "1000000"}}}});
        let risk = |path: &str, value: Value| {
            let mut after = base.clone();
            let segs: Vec<&str> = path.split('/').skip(1).collect();
            let (last, parents) = segs.split_last().unwrap();
            let mut cur = &mut after;
            for seg in parents {
                if cur.get(*seg).is_none() {
                    cur[*seg] = json!({});
                }
                cur = &mut cur[*seg];
            }
            cur[*last] = value;
            classify_risk(&base, &after, "USD", &[])
        };
        // Bids raised through overrides, in each platform's own units.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/bid_price", json!(9.75)),
            Risk::SpendIncrease
        );
        assert_eq!(
            risk(
                "/overrides/google_ads/ad_group/cpcBidMicros",
                json!("5000000")
            ),
            Risk::SpendIncrease
        );
        assert_eq!(
            risk("/overrides/tiktok/adgroup/conversion_bid_price", json!(3)),
            Risk::SpendIncrease
        );
        // Lowered bids are not increases.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/bid_price", json!(1.25)),
            Risk::Safe
        );
        assert_eq!(
            risk(
                "/overrides/google_ads/ad_group/cpcBidMicros",
                json!("500000")
            ),
            Risk::Safe
        );
        // Reach through platform-specific targeting keys.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/age_groups", json!(["AGE_13_17"])),
            Risk::TargetingWidening
        );
        assert_eq!(
            risk(
                "/overrides/meta/adset/targeting",
                json!({"geo_locations": {"countries": ["US", "CA"]}})
            ),
            Risk::TargetingWidening
        );
        // Creative.
        assert_eq!(
            risk(
                "/overrides/tiktok/ad/creatives",
                json!([{"video_id": "v2"}])
            ),
            Risk::CreativeChange
        );
        // A key the classifier does not know is never SAFE.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/advertiser_id", json!("999")),
            Risk::CreativeChange
        );
        assert_eq!(
            risk("/overrides/meta/adset/some_new_field", json!(1)),
            Risk::CreativeChange
        );
        // The governed name (taxonomy name plus a suffix) is the one neutral key.
        assert_eq!(
            risk("/overrides/google_ads/campaign/name", json!("X_T1")),
            Risk::Safe
        );
    }
}
