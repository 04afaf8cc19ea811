//! TikTok Marketing API v1.3: campaign -> ad group -> ad, each created with
//! `operation_status: DISABLE` (TikTok's paused). The budget lives on the ad group, so the
//! campaign runs `BUDGET_MODE_INFINITE`. Money goes on the wire as a decimal number in major
//! units. Times are UTC `YYYY-MM-DD HH:MM:SS`.

use serde_json::{Value, json};

use super::spec::{BidStrategy, BudgetPeriod, Gender, Objective, Placement};
use super::{
    PlatformRequest, TranslatedPayloads, TranslationInput, Translator, apply_overrides, asset_ref,
    check_governed, deep_merge, geo, id_ref, major_units_number, object, object_of, spec_bid,
    spec_budget, target_countries,
};
use crate::domain::{AssetKind, Platform};
use crate::error::AppError;

pub struct TiktokTranslator {
    version: String,
}

struct Mapping {
    objective_type: &'static str,
    optimization_goal: &'static str,
    billing_event: &'static str,
    /// Required unless the objective is REACH, VIDEO_VIEWS or ENGAGEMENT (B4).
    promotion_type: Option<&'static str>,
}

fn mapping(o: Objective) -> Mapping {
    let m = |objective_type, optimization_goal, billing_event, promotion_type| Mapping {
        objective_type,
        optimization_goal,
        billing_event,
        promotion_type,
    };
    match o {
        Objective::Awareness => m("REACH", "REACH", "CPM", None),
        Objective::Traffic => m("TRAFFIC", "CLICK", "CPC", Some("WEBSITE")),
        Objective::Engagement => m("ENGAGEMENT", "FOLLOWERS", "OCPM", None),
        Objective::Leads => m(
            "LEAD_GENERATION",
            "LEAD_GENERATION",
            "OCPM",
            Some("LEAD_GENERATION"),
        ),
        Objective::AppPromotion => m("APP_PROMOTION", "INSTALL", "OCPM", Some("APP_ANDROID")),
        Objective::Sales => m("WEB_CONVERSIONS", "CONVERT", "OCPM", Some("WEBSITE")),
    }
}

/// TikTok's age buckets as (label, first age, last age).
const AGE_GROUPS: &[(&str, u8, u8)] = &[
    ("AGE_13_17", 13, 17),
    ("AGE_18_24", 18, 24),
    ("AGE_25_34", 25, 34),
    ("AGE_35_44", 35, 44),
    ("AGE_45_54", 45, 54),
    ("AGE_55_100", 55, 100),
];

/// The buckets that lie wholly inside [min, max]. A range that splits a bucket is narrowed,
/// never widened: an audience that must be 21+ never reaches 18-year-olds.
pub fn age_groups(min: Option<u8>, max: Option<u8>) -> Result<Option<Vec<&'static str>>, AppError> {
    if min.is_none() && max.is_none() {
        return Ok(None);
    }
    let lo = min.unwrap_or(13);
    let hi = match max {
        None | Some(65..) => 100,
        Some(m) => m,
    };
    let groups: Vec<&str> = AGE_GROUPS
        .iter()
        .filter(|(_, a, b)| *a >= lo && *b <= hi)
        .map(|(g, _, _)| *g)
        .collect();
    if groups.is_empty() {
        return Err(AppError::validation(
            "payload_config.targeting.age_min",
            format!(
                "TikTok targets ages in buckets (13-17, 18-24, 25-34, 35-44, 45-54, 55+) and no whole bucket lies within {lo}-{hi}; widen the range to cover at least one bucket"
            ),
        ));
    }
    Ok(Some(groups))
}

/// UTC `YYYY-MM-DD HH:MM:SS`, as TikTok's schedule fields take it.
fn utc_time(field: &str, raw: &str) -> Result<String, AppError> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| {
            super::platform_time_text(&t.with_timezone(&chrono::Utc).fixed_offset(), ' ', false)
        })
        .map_err(|_| {
            AppError::validation(
                field,
                format!("\"{raw}\" is not an RFC 3339 time; use e.g. 2026-03-01T00:00:00-05:00"),
            )
        })
}

impl TiktokTranslator {
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
        }
    }
}

impl Translator for TiktokTranslator {
    fn platform(&self) -> Platform {
        Platform::Tiktok
    }

    fn translate(&self, input: &TranslationInput<'_>) -> Result<TranslatedPayloads, AppError> {
        let spec = input.spec;
        let name = &input.ticket.platform_name;
        let advertiser = input.channel.account_id.as_str();
        let map = mapping(spec.objective);
        let prefix = ["/open_api/", &self.version].concat();

        let mut campaign = json!({
            "advertiser_id": advertiser,
            "campaign_name": name,
            "objective_type": map.objective_type,
            "budget_mode": "BUDGET_MODE_INFINITE",
            "operation_status": "DISABLE",
        });
        if spec.objective == Objective::AppPromotion {
            campaign["app_promotion_type"] = json!("APP_INSTALL");
        }

        let budget = major_units_number(spec_budget(input)?)?;
        let schedule = spec.schedule.as_ref().ok_or_else(|| {
            AppError::validation(
                "payload_config.schedule.start_time",
                "TikTok ad groups need a start time; add schedule.start_time (RFC 3339)",
            )
        })?;
        let start = utc_time("payload_config.schedule.start_time", &schedule.start_time)?;
        let end = schedule
            .end_time
            .as_deref()
            .map(|e| utc_time("payload_config.schedule.end_time", e))
            .transpose()?;

        // The ad group has twenty-odd fields: gathered first and built in one go (one sort),
        // rather than inserted one by one into the map (`adgroup["x"] = ...`), which cost a
        // tenth of a TikTok ticket's QA run.
        let mut adgroup: Vec<(&str, Value)> = vec![
            ("advertiser_id", json!(advertiser)),
            ("campaign_id", id_ref("campaign")),
            ("adgroup_name", json!(name)),
            ("budget", budget),
            ("billing_event", json!(map.billing_event)),
            ("optimization_goal", json!(map.optimization_goal)),
            ("pacing", json!("PACING_MODE_SMOOTH")),
            ("schedule_start_time", json!(start)),
            ("operation_status", json!("DISABLE")),
        ];
        match (spec.budget.period, end) {
            (BudgetPeriod::Daily, None) => {
                adgroup.push(("budget_mode", json!("BUDGET_MODE_DAY")));
                adgroup.push(("schedule_type", json!("SCHEDULE_FROM_NOW")));
            }
            (BudgetPeriod::Daily, Some(e)) => {
                adgroup.push(("budget_mode", json!("BUDGET_MODE_DAY")));
                adgroup.push(("schedule_type", json!("SCHEDULE_START_END")));
                adgroup.push(("schedule_end_time", json!(e)));
            }
            (BudgetPeriod::Lifetime, Some(e)) => {
                adgroup.push(("budget_mode", json!("BUDGET_MODE_TOTAL")));
                adgroup.push(("schedule_type", json!("SCHEDULE_START_END")));
                adgroup.push(("schedule_end_time", json!(e)));
            }
            (BudgetPeriod::Lifetime, None) => {
                return Err(AppError::validation(
                    "payload_config.schedule.end_time",
                    "is required with a LIFETIME budget; add schedule.end_time or use a DAILY budget",
                ));
            }
        }
        if let Some(p) = map.promotion_type {
            adgroup.push(("promotion_type", json!(p)));
        }
        if spec.objective == Objective::Awareness {
            // Reach needs a frequency cap: at most 3 impressions per person per 7 days.
            adgroup.push(("frequency", json!(3)));
            adgroup.push(("frequency_schedule", json!(7)));
        }
        if spec.objective == Objective::Sales {
            let pixel = input.brand.tiktok_pixel_code.as_deref().ok_or_else(|| {
                AppError::validation(
                    "brand.tiktok_pixel_code",
                    format!(
                        "a SALES campaign on TikTok optimises for purchases on the brand's pixel, but brand {} has no tiktok_pixel_code; set it with update_brand",
                        input.brand.code
                    ),
                )
            })?;
            adgroup.push(("pixel_id", json!(pixel)));
            adgroup.push(("optimization_event", json!("COMPLETE_PAYMENT")));
        }

        let strategy = spec
            .bidding
            .as_ref()
            .map(|b| b.strategy)
            .unwrap_or(BidStrategy::LowestCost);
        let bid = spec_bid(input)?;
        match (strategy, bid) {
            (BidStrategy::LowestCost, _) | (_, None) => {
                adgroup.push(("bid_type", json!("BID_TYPE_NO_BID")));
            }
            (BidStrategy::BidCap, Some(b)) => {
                adgroup.push(("bid_type", json!("BID_TYPE_CUSTOM")));
                adgroup.push(("bid_price", major_units_number(b)?));
            }
            (BidStrategy::CostCap, Some(b)) => {
                adgroup.push(("bid_type", json!("BID_TYPE_CUSTOM")));
                adgroup.push(("conversion_bid_price", major_units_number(b)?));
            }
        }

        let t = &spec.targeting;
        let mut locations = Vec::new();
        for (i, c) in target_countries(input).iter().enumerate() {
            match geo::tiktok_location_id(c) {
                Some(id) => locations.push(id),
                None => {
                    return Err(AppError::validation(
                        format!("payload_config.targeting.countries[{i}]"),
                        format!(
                            "TikTok's location id for country {c} is not known here; give it in targeting.regions instead (TikTok location ids)"
                        ),
                    ));
                }
            }
        }
        locations.extend(t.regions.iter().cloned());
        adgroup.push(("location_ids", json!(locations)));
        if let Some(groups) = age_groups(t.age_min, t.age_max)? {
            adgroup.push(("age_groups", json!(groups)));
        }
        adgroup.push((
            "gender",
            json!(match t.genders.as_slice() {
                [Gender::Male] => "GENDER_MALE",
                [Gender::Female] => "GENDER_FEMALE",
                _ => "GENDER_UNLIMITED",
            }),
        ));
        if !t.interests.is_empty() {
            adgroup.push((
                "interest_category_ids",
                Value::Array(t.interests.iter().map(|i| json!(i.id)).collect()),
            ));
        }
        let placements: Vec<&str> = t
            .placements
            .iter()
            .filter_map(|p| match p {
                Placement::Tiktok => Some("PLACEMENT_TIKTOK"),
                Placement::Pangle => Some("PLACEMENT_PANGLE"),
                _ => None,
            })
            .collect();
        if placements.is_empty() {
            adgroup.push(("placement_type", json!("PLACEMENT_TYPE_AUTOMATIC")));
        } else {
            adgroup.push(("placement_type", json!("PLACEMENT_TYPE_NORMAL")));
            adgroup.push(("placements", json!(placements)));
        }

        let c = &spec.creative;
        let mut creative = json!({
            "ad_name": name,
            "ad_format": "SINGLE_VIDEO",
            "display_name": input.brand.name,
        });
        if let Some(v) = &c.body {
            creative["ad_text"] = json!(v);
        }
        if let Some(v) = &c.link_url {
            creative["landing_page_url"] = json!(v);
        }
        if let Some(v) = &c.call_to_action {
            creative["call_to_action"] = json!(v);
        }
        if let Some(v) = &c.video_asset_id {
            let field = "payload_config.creative.video_asset_id";
            creative["video_id"] = json!(asset_ref(input, field, v, AssetKind::Video)?.0);
        }
        if !c.image_asset_ids.is_empty() {
            let mut ids = Vec::new();
            for (i, id) in c.image_asset_ids.iter().enumerate() {
                let field = format!("payload_config.creative.image_asset_ids[{i}]");
                ids.push(asset_ref(input, &field, id, AssetKind::Image)?.0);
            }
            creative["image_ids"] = json!(ids);
        }

        // Overrides: `ad.creatives[i]` merges into the generated creative i rather than
        // replacing the list, so a planner adds the uploaded video_id without restating copy.
        // The rest of the overrides are merged below by `apply_overrides`, which skips
        // `ad.creatives` (copying the other fields of the `ad` override, if it has any),
        // rather than the whole TikTok override being copied here to take the list out.
        let overrides = spec.overrides.tiktok.as_ref();
        let creatives = match overrides
            .and_then(|o| o.get("ad"))
            .and_then(Value::as_object)
            .and_then(|ad| ad.get("creatives"))
        {
            None => vec![creative],
            Some(extra) => {
                let Value::Array(items) = extra else {
                    return Err(AppError::validation(
                        "payload_config.overrides.tiktok.ad.creatives",
                        "must be a list of creative objects, e.g. [{\"video_id\": \"v10033g50000...\"}]",
                    ));
                };
                // Every creative starts from the generated one, never from creative 0 after
                // its override: copying an inflated creative 0 per item made the work
                // quadratic. The last one takes the generated creative itself.
                let last = items.len().saturating_sub(1);
                let mut creatives = Vec::with_capacity(items.len().max(1));
                for (i, item) in items.iter().enumerate() {
                    let field = format!("payload_config.overrides.tiktok.ad.creatives[{i}]");
                    if !item.is_object() {
                        return Err(AppError::validation(
                            field,
                            "must be an object of creative fields",
                        ));
                    }
                    check_governed(Platform::Tiktok, "creative", item, &field, name)?;
                    let mut c = if i == last {
                        std::mem::take(&mut creative)
                    } else {
                        creative.clone()
                    };
                    deep_merge(&mut c, item);
                    creatives.push(c);
                }
                if creatives.is_empty() {
                    creatives.push(creative);
                }
                creatives
            }
        };
        let ad = object([
            ("advertiser_id", json!(advertiser)),
            ("adgroup_id", id_ref("adgroup")),
            ("operation_status", json!("DISABLE")),
            ("creatives", Value::Array(creatives)),
        ]);

        let mut requests = vec![
            PlatformRequest {
                object: "campaign".into(),
                method: "POST".into(),
                path: [&prefix, "/campaign/create/"].concat(),
                body: campaign,
            },
            PlatformRequest {
                object: "adgroup".into(),
                method: "POST".into(),
                path: [&prefix, "/adgroup/create/"].concat(),
                body: object_of(adgroup),
            },
            PlatformRequest {
                object: "ad".into(),
                method: "POST".into(),
                path: [&prefix, "/ad/create/"].concat(),
                body: ad,
            },
        ];
        apply_overrides(
            &mut requests,
            overrides,
            Platform::Tiktok,
            name,
            Some(("ad", "creatives")),
        )?;
        check_required(&requests, spec.objective)?;
        Ok(TranslatedPayloads {
            platform: Platform::Tiktok,
            api_version: self.version.clone(),
            requests,
        })
    }
}

/// Fields TikTok needs that the neutral spec cannot supply, checked after overrides so the
/// error says exactly where to put them.
fn check_required(requests: &[PlatformRequest], objective: Objective) -> Result<(), AppError> {
    let adgroup = &requests[1].body;
    if objective == Objective::AppPromotion {
        for f in ["app_id", "operating_systems"] {
            if adgroup.get(f).is_none() {
                return Err(AppError::validation(
                    format!("payload_config.overrides.tiktok.adgroup.{f}"),
                    "an APP_PROMOTION ad group on TikTok needs the app: give app_id and operating_systems ([\"ANDROID\"] or [\"IOS\"], one per ad group) under overrides.tiktok.adgroup",
                ));
            }
        }
    }
    let creatives = requests[2].body["creatives"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (i, c) in creatives.iter().enumerate() {
        if c.get("ad_text").is_none() {
            return Err(AppError::validation(
                "payload_config.creative.body",
                "TikTok ads need ad text; set creative.body (1-100 characters)",
            ));
        }
        if c.get("video_id").is_none() && c.get("tiktok_item_id").is_none() {
            return Err(AppError::validation(
                format!("payload_config.overrides.tiktok.ad.creatives[{i}].video_id"),
                "TikTok in-feed ads need a video (a single image is refused): upload it to the advertiser's library and give its video_id, or a Spark Ad tiktok_item_id",
            ));
        }
        if objective != Objective::Awareness
            && objective != Objective::Engagement
            && c.get("landing_page_url").is_none()
            && objective != Objective::AppPromotion
        {
            return Err(AppError::validation(
                "payload_config.creative.link_url",
                "TikTok website ads need a landing page; set creative.link_url",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_ranges_narrow_to_whole_buckets() {
        assert_eq!(age_groups(None, None).unwrap(), None);
        assert_eq!(
            age_groups(Some(18), None).unwrap().unwrap(),
            vec![
                "AGE_18_24",
                "AGE_25_34",
                "AGE_35_44",
                "AGE_45_54",
                "AGE_55_100"
            ]
        );
        assert_eq!(
            age_groups(Some(21), Some(44)).unwrap().unwrap(),
            vec!["AGE_25_34", "AGE_35_44"]
        );
        assert_eq!(
            age_groups(Some(13), Some(65)).unwrap().unwrap().len(),
            AGE_GROUPS.len()
        );
        let e = age_groups(Some(19), Some(23)).unwrap_err();
        assert!(e.to_string().contains("age_min"), "{e}");
    }
}
