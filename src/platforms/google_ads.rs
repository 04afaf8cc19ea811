//! Google Ads REST: one `:mutate` request per resource, in order: campaign budget, campaign,
//! campaign criteria (locations), ad group, ad group criteria (interests, age, gender), ad.
//! Everything is created PAUSED (Google's default is ENABLED). REST JSON is camelCase and
//! int64 values (micros) are strings. `overrides.google_ads.<object>` merges into that
//! object's `create` resource, not the request envelope.

use serde_json::{Value, json};

use super::spec::{BidStrategy, BudgetPeriod, Gender, Objective, Placement};
use super::{
    PlatformRequest, TranslatedPayloads, TranslationInput, Translator, apply_overrides, asset_ref,
    geo, object, spec_bid, spec_budget, target_countries, to_micros,
};
use crate::domain::{AssetKind, Platform};
use crate::error::AppError;

pub struct GoogleAdsTranslator {
    version: String,
}

/// Google's age ranges as (type, first age, last age). Under-18s cannot be targeted.
const AGE_RANGES: &[(&str, u8, u8)] = &[
    ("AGE_RANGE_18_24", 18, 24),
    ("AGE_RANGE_25_34", 25, 34),
    ("AGE_RANGE_35_44", 35, 44),
    ("AGE_RANGE_45_54", 45, 54),
    ("AGE_RANGE_55_64", 55, 64),
    ("AGE_RANGE_65_UP", 65, 120),
];

/// Customer-time-zone `yyyy-MM-dd HH:mm:ss`: the wall-clock time as the planner wrote it.
fn local_time(field: &str, raw: &str) -> Result<String, AppError> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| super::platform_time_text(&t, ' ', false))
        .map_err(|_| {
            AppError::validation(
                field,
                format!("\"{raw}\" is not an RFC 3339 time; use e.g. 2026-03-01T00:00:00-05:00"),
            )
        })
}

/// SEARCH unless the placements (or, without placements, an awareness objective) point to
/// the Display Network.
fn channel_type(objective: Objective, placements: &[Placement]) -> &'static str {
    let search = placements
        .iter()
        .any(|p| matches!(p, Placement::GoogleSearch | Placement::SearchPartners));
    let display = placements.contains(&Placement::DisplayNetwork);
    match (search, display) {
        (true, _) => "SEARCH",
        (false, true) => "DISPLAY",
        (false, false) if objective == Objective::Awareness && placements.is_empty() => "DISPLAY",
        _ => "SEARCH",
    }
}

fn op(create: Value) -> Value {
    object([("create", create)])
}

impl GoogleAdsTranslator {
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
        }
    }
}

impl Translator for GoogleAdsTranslator {
    fn platform(&self) -> Platform {
        Platform::GoogleAds
    }

    fn translate(&self, input: &TranslationInput<'_>) -> Result<TranslatedPayloads, AppError> {
        let spec = input.spec;
        let name = &input.ticket.platform_name;
        let cid: String = input
            .channel
            .account_id
            .chars()
            .filter(|c| *c != '-')
            .collect();
        if cid.is_empty() || !cid.chars().all(|c| c.is_ascii_digit()) {
            return Err(AppError::validation(
                "channel.account_id",
                format!(
                    "\"{}\" is not a Google Ads customer id; use the 10-digit id, e.g. 123-456-7890",
                    input.channel.account_id
                ),
            ));
        }
        let customer = ["customers/", &cid].concat();
        let base = ["/", &self.version, "/", &customer].concat();
        let t = &spec.targeting;
        let channel = channel_type(spec.objective, &t.placements);

        // Campaign budget.
        let budget = to_micros(spec_budget(input)?)?.to_string();
        let mut campaign_budget = json!({
            "name": name,
            "deliveryMethod": "STANDARD",
            "explicitlyShared": false,
        });
        let schedule = spec.schedule.as_ref();
        let start = schedule
            .map(|s| local_time("payload_config.schedule.start_time", &s.start_time))
            .transpose()?;
        let end = schedule
            .and_then(|s| s.end_time.as_deref())
            .map(|e| local_time("payload_config.schedule.end_time", e))
            .transpose()?;
        match spec.budget.period {
            BudgetPeriod::Daily => {
                campaign_budget["period"] = json!("DAILY");
                campaign_budget["amountMicros"] = json!(budget);
            }
            BudgetPeriod::Lifetime => {
                if end.is_none() {
                    return Err(AppError::validation(
                        "payload_config.schedule.end_time",
                        "is required with a LIFETIME budget; add schedule.end_time or use a DAILY budget",
                    ));
                }
                campaign_budget["period"] = json!("CUSTOM_PERIOD");
                campaign_budget["totalAmountMicros"] = json!(budget);
            }
        }

        // Campaign.
        let mut campaign = json!({
            "name": name,
            "advertisingChannelType": channel,
            "status": "PAUSED",
            "campaignBudget": ([&customer, "/campaignBudgets/{{campaign_budget.id}}"].concat()),
            "containsEuPoliticalAdvertising": "DOES_NOT_CONTAIN_EU_POLITICAL_ADVERTISING",
        });
        if channel == "SEARCH" {
            let partners =
                t.placements.is_empty() || t.placements.contains(&Placement::SearchPartners);
            campaign["networkSettings"] = json!({
                "targetGoogleSearch": true,
                "targetSearchNetwork": partners,
                "targetContentNetwork": t.placements.contains(&Placement::DisplayNetwork),
                "targetPartnerSearchNetwork": false,
            });
        }
        if let Some(s) = &start {
            campaign["startDateTime"] = json!(s);
        }
        if let Some(e) = &end {
            campaign["endDateTime"] = json!(e);
        }
        let strategy = spec
            .bidding
            .as_ref()
            .map(|b| b.strategy)
            .unwrap_or(BidStrategy::LowestCost);
        let bid = spec_bid(input)?
            .map(|b| to_micros(b).map(|m| m.to_string()))
            .transpose()?;
        let conversions = matches!(
            spec.objective,
            Objective::Sales | Objective::Leads | Objective::AppPromotion
        );
        match (strategy, bid) {
            (BidStrategy::CostCap, Some(b)) => {
                campaign["maximizeConversions"] = json!({ "targetCpaMicros": b });
            }
            (BidStrategy::BidCap, Some(b)) => {
                campaign["targetSpend"] = json!({ "cpcBidCeilingMicros": b });
            }
            _ if conversions => campaign["maximizeConversions"] = json!({}),
            _ => campaign["targetSpend"] = json!({}),
        }
        let campaign_ref = [&customer, "/campaigns/{{campaign.id}}"].concat();

        // Locations, as campaign criteria.
        let mut locations = Vec::new();
        for (i, c) in target_countries(input).iter().enumerate() {
            let id = geo::google_geo_target(c).ok_or_else(|| {
                AppError::validation(
                    format!("payload_config.targeting.countries[{i}]"),
                    format!(
                        "Google's geo target constant for country {c} is not known here; give its id in targeting.regions instead"
                    ),
                )
            })?;
            locations.push(id);
        }
        locations.extend(t.regions.iter().cloned());
        let campaign_criteria: Vec<Value> = locations
            .iter()
            .map(|id| {
                op(json!({
                    "campaign": campaign_ref,
                    "location": { "geoTargetConstant": (["geoTargetConstants/", id.as_str()].concat()) },
                }))
            })
            .collect();

        // Ad group.
        let ad_group = json!({
            "name": name,
            "campaign": campaign_ref,
            "status": "PAUSED",
            "type": if channel == "SEARCH" { "SEARCH_STANDARD" } else { "DISPLAY_STANDARD" },
        });
        let ad_group_ref = [&customer, "/adGroups/{{ad_group.id}}"].concat();

        // Audience criteria on the ad group: interests to include, ages and genders to
        // exclude (Google targets everyone unless told otherwise).
        let mut ad_group_criteria: Vec<Value> = t
            .interests
            .iter()
            .map(|i| {
                op(json!({
                    "adGroup": ad_group_ref,
                    "status": "ENABLED",
                    "userInterest": {
                        "userInterestCategory": ([&customer, "/userInterests/", &i.id].concat())
                    },
                }))
            })
            .collect();
        if t.age_min.is_some() || t.age_max.is_some() {
            let lo = t.age_min.unwrap_or(18);
            let hi = match t.age_max {
                None | Some(65..) => 120,
                Some(m) => m,
            };
            let mut excluded: Vec<&str> = AGE_RANGES
                .iter()
                .filter(|(_, a, b)| *a < lo || *b > hi)
                .map(|(r, _, _)| *r)
                .collect();
            if excluded.len() == AGE_RANGES.len() {
                return Err(AppError::validation(
                    "payload_config.targeting.age_min",
                    format!(
                        "Google targets ages in ranges (18-24, 25-34, 35-44, 45-54, 55-64, 65+) and no whole range lies within {lo}-{hi}; widen the range"
                    ),
                ));
            }
            excluded.push("AGE_RANGE_UNDETERMINED");
            for r in excluded {
                ad_group_criteria.push(op(json!({
                    "adGroup": ad_group_ref,
                    "negative": true,
                    "ageRange": { "type": r },
                })));
            }
        }
        if let [only] = t.genders.as_slice() {
            let other = if *only == Gender::Male {
                "FEMALE"
            } else {
                "MALE"
            };
            for g in [other, "UNDETERMINED"] {
                ad_group_criteria.push(op(json!({
                    "adGroup": ad_group_ref,
                    "negative": true,
                    "gender": { "type": g },
                })));
            }
        }

        // Ad.
        let c = &spec.creative;
        let link = c.link_url.as_deref().ok_or_else(|| {
            AppError::validation(
                "payload_config.creative.link_url",
                "Google Ads ads need a final URL; set creative.link_url",
            )
        })?;
        let headlines: Vec<Value> = c.headline.iter().map(|h| json!({ "text": h })).collect();
        let descriptions: Vec<Value> = c.body.iter().map(|b| json!({ "text": b })).collect();
        if c.video_asset_id.is_some() {
            return Err(AppError::validation(
                "payload_config.creative.video_asset_id",
                "Google Ads takes videos only as YouTube video assets (PLATFORMS.md K6), not uploaded files; remove video_asset_id for a Google Ads ticket",
            ));
        }
        if channel == "SEARCH" && !c.image_asset_ids.is_empty() {
            return Err(AppError::validation(
                "payload_config.creative.image_asset_ids",
                "a responsive search ad (a SEARCH campaign) shows no images; remove image_asset_ids, or target the display network (placements [\"DISPLAY_NETWORK\"]) for a responsive display ad",
            ));
        }
        let ad = if channel == "SEARCH" {
            object([
                ("finalUrls", json!([link])),
                (
                    "responsiveSearchAd",
                    object([
                        ("headlines", Value::Array(headlines)),
                        ("descriptions", Value::Array(descriptions)),
                    ]),
                ),
            ])
        } else {
            let mut display = object([
                ("headlines", Value::Array(headlines)),
                ("descriptions", Value::Array(descriptions)),
                ("businessName", json!(input.brand.name)),
            ]);
            if let Some(h) = &c.headline {
                display["longHeadline"] = json!({ "text": h });
            }
            if let Some(cta) = &c.call_to_action {
                display["callToActionText"] = json!(cta.replace('_', " ").to_lowercase());
            }
            // Registered images go where their shape fits (K7).
            for (i, id) in c.image_asset_ids.iter().enumerate() {
                let field = format!("payload_config.creative.image_asset_ids[{i}]");
                let (rn, a) = asset_ref(input, &field, id, AssetKind::Image)?;
                let slot = match (a.width, a.height) {
                    (Some(w), Some(h)) => display_image_slot(w, h),
                    _ => None,
                };
                let Some(slot) = slot else {
                    return Err(AppError::validation(
                        field,
                        format!(
                            "asset \"{}\" is {}x{}; a responsive display ad takes images of 1.91:1 (min 600x314), 1:1 (min 300x300) or 4:1 logos (min 512x128), each within 1%",
                            id.trim(),
                            a.width.unwrap_or(0),
                            a.height.unwrap_or(0)
                        ),
                    ));
                };
                match display[slot].as_array_mut() {
                    Some(list) => list.push(json!({ "asset": rn })),
                    None => display[slot] = json!([{ "asset": rn }]),
                }
            }
            object([
                ("finalUrls", json!([link])),
                ("responsiveDisplayAd", display),
            ])
        };
        let ad_group_ad = object([
            ("adGroup", json!(ad_group_ref)),
            ("status", json!("PAUSED")),
            ("ad", ad),
        ]);

        // Overrides merge into each single-resource create.
        let mut creates = vec![
            single("campaign_budget", "campaignBudgets", campaign_budget),
            single("campaign", "campaigns", campaign),
            single("ad_group", "adGroups", ad_group),
            single("ad_group_ad", "adGroupAds", ad_group_ad),
        ];
        apply_overrides(
            &mut creates,
            spec.overrides.google_ads.as_ref(),
            Platform::GoogleAds,
            name,
            None,
        )?;
        check_ad(&creates[3].body, channel)?;

        let mut requests = Vec::new();
        let mut push = |name: &str, resource: &str, ops: Vec<Value>| {
            requests.push(PlatformRequest {
                object: name.into(),
                method: "POST".into(),
                path: [&base, "/", resource, ":mutate"].concat(),
                body: object([("operations", Value::Array(ops))]),
            });
        };
        let mut creates = creates.into_iter();
        let mut next = || creates.next().map(|r| r.body).unwrap_or_default();
        push("campaign_budget", "campaignBudgets", vec![op(next())]);
        push("campaign", "campaigns", vec![op(next())]);
        if !campaign_criteria.is_empty() {
            push("campaign_criterion", "campaignCriteria", campaign_criteria);
        }
        push("ad_group", "adGroups", vec![op(next())]);
        if !ad_group_criteria.is_empty() {
            push("ad_group_criterion", "adGroupCriteria", ad_group_criteria);
        }
        push("ad_group_ad", "adGroupAds", vec![op(next())]);
        Ok(TranslatedPayloads {
            platform: Platform::GoogleAds,
            api_version: self.version.clone(),
            requests,
        })
    }
}

/// The responsive display ad field an image of `w` x `h` pixels fits (K7): marketingImages
/// 1.91:1 (min 600x314), squareMarketingImages 1:1 (min 300x300), logoImages 4:1 (min
/// 512x128), each ratio within 1%. `None` when it fits none.
pub fn display_image_slot(w: i64, h: i64) -> Option<&'static str> {
    if w <= 0 || h <= 0 {
        return None;
    }
    let within = |target: f64| ((w as f64 / h as f64) / target - 1.0).abs() <= 0.01;
    if within(1.91) && w >= 600 && h >= 314 {
        Some("marketingImages")
    } else if within(1.0) && w >= 300 && h >= 300 {
        Some("squareMarketingImages")
    } else if within(4.0) && w >= 512 && h >= 128 {
        Some("logoImages")
    } else {
        None
    }
}

fn single(object: &str, resource: &str, create: Value) -> PlatformRequest {
    PlatformRequest {
        object: object.into(),
        method: "POST".into(),
        path: resource.into(),
        body: create,
    }
}

/// Responsive ads need more copy than the neutral spec holds; say where to give it.
fn check_ad(ad_group_ad: &Value, channel: &str) -> Result<(), AppError> {
    let count = |v: &Value| v.as_array().map(Vec::len).unwrap_or(0);
    if channel == "SEARCH" {
        let rsa = &ad_group_ad["ad"]["responsiveSearchAd"];
        let path = "payload_config.overrides.google_ads.ad_group_ad.ad.responsiveSearchAd";
        if count(&rsa["headlines"]) < 3 {
            return Err(AppError::validation(
                format!("{path}.headlines"),
                format!(
                    "a responsive search ad needs 3 to 15 headlines (30 characters each) and has {}; creative.headline gives one, list them all under {path}.headlines as [{{\"text\": \"...\"}}]",
                    count(&rsa["headlines"])
                ),
            ));
        }
        if count(&rsa["descriptions"]) < 2 {
            return Err(AppError::validation(
                format!("{path}.descriptions"),
                format!(
                    "a responsive search ad needs 2 to 4 descriptions (90 characters each) and has {}; creative.body gives one, list them all under {path}.descriptions",
                    count(&rsa["descriptions"])
                ),
            ));
        }
    } else {
        let rda = &ad_group_ad["ad"]["responsiveDisplayAd"];
        let path = "payload_config.overrides.google_ads.ad_group_ad.ad.responsiveDisplayAd";
        for f in ["marketingImages", "squareMarketingImages"] {
            if count(&rda[f]) == 0 {
                return Err(AppError::validation(
                    format!("{path}.{f}"),
                    format!(
                        "a responsive display ad needs uploaded image assets; upload the images as assets and list them under {path}.{f} as [{{\"asset\": \"customers/<id>/assets/<asset id>\"}}]"
                    ),
                ));
            }
        }
        if count(&rda["headlines"]) == 0 || rda["longHeadline"].is_null() {
            return Err(AppError::validation(
                "payload_config.creative.headline",
                "a responsive display ad needs a headline; set creative.headline",
            ));
        }
        if count(&rda["descriptions"]) == 0 {
            return Err(AppError::validation(
                "payload_config.creative.body",
                "a responsive display ad needs a description; set creative.body",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_type_follows_placements_then_objective() {
        assert_eq!(channel_type(Objective::Sales, &[]), "SEARCH");
        assert_eq!(channel_type(Objective::Awareness, &[]), "DISPLAY");
        assert_eq!(
            channel_type(Objective::Awareness, &[Placement::GoogleSearch]),
            "SEARCH"
        );
        assert_eq!(
            channel_type(Objective::Traffic, &[Placement::DisplayNetwork]),
            "DISPLAY"
        );
        assert_eq!(
            channel_type(Objective::Awareness, &[Placement::Facebook]),
            "SEARCH"
        );
    }
}
