//! Meta Marketing API (Graph): campaign -> ad set -> ad creative -> ad, all created PAUSED.
//! The budget lives on the ad set (no campaign budget), so the campaign says
//! `is_adset_budget_sharing_enabled: false` and carries no budget: the two are exclusive.

use serde_json::{Value, json};

use super::spec::{BidStrategy, BudgetPeriod, Gender, Objective, Placement};
use super::{
    PlatformRequest, TranslatedPayloads, TranslationInput, Translator, apply_overrides, asset_ref,
    id_ref, object, spec_bid, spec_budget, target_countries,
};
use crate::domain::{AssetKind, Money, Platform};
use crate::error::AppError;

pub struct MetaTranslator {
    version: String,
}

/// Meta's currency offset is 1 for these (whole units), 100 otherwise (M-CUR).
const ZERO_OFFSET: &[&str] = &[
    "CLP", "COP", "CRC", "HUF", "ISK", "IDR", "JPY", "KRW", "PYG", "TWD", "VND",
];

/// Amount in Meta's integer units: major units x offset. Exact or an error.
pub fn meta_amount(m: Money, field: &str) -> Result<i64, AppError> {
    let digits = u32::from(m.currency.minor_digits());
    let offset_digits: u32 = if ZERO_OFFSET.contains(&m.currency.as_str()) {
        0
    } else {
        2
    };
    if offset_digits >= digits {
        return m
            .amount_minor
            .checked_mul(10i64.pow(offset_digits - digits))
            .ok_or_else(|| AppError::validation(field, "is too large"));
    }
    let div = 10i64.pow(digits - offset_digits);
    if m.amount_minor % div != 0 {
        return Err(AppError::validation(
            field,
            format!(
                "Meta takes {} in {} for this currency; {} {} cannot be sent exactly. Round it",
                m.currency,
                if offset_digits == 0 {
                    "whole units"
                } else {
                    "cents"
                },
                m.to_major_string(),
                m.currency
            ),
        ));
    }
    Ok(m.amount_minor / div)
}

fn objective(o: Objective) -> &'static str {
    match o {
        Objective::Awareness => "OUTCOME_AWARENESS",
        Objective::Traffic => "OUTCOME_TRAFFIC",
        Objective::Engagement => "OUTCOME_ENGAGEMENT",
        Objective::Leads => "OUTCOME_LEADS",
        Objective::AppPromotion => "OUTCOME_APP_PROMOTION",
        Objective::Sales => "OUTCOME_SALES",
    }
}

/// A goal Meta accepts for the objective (A3.1; a wrong pair is error 2490408).
pub fn optimization_goal(o: Objective) -> &'static str {
    match o {
        Objective::Awareness => "REACH",
        Objective::Traffic => "LINK_CLICKS",
        Objective::Engagement => "POST_ENGAGEMENT",
        Objective::Leads => "LEAD_GENERATION",
        Objective::AppPromotion => "APP_INSTALLS",
        Objective::Sales => "OFFSITE_CONVERSIONS",
    }
}

fn publisher_platform(p: Placement) -> Option<&'static str> {
    match p {
        Placement::Facebook => Some("facebook"),
        Placement::Instagram => Some("instagram"),
        Placement::AudienceNetwork => Some("audience_network"),
        Placement::Messenger => Some("messenger"),
        _ => None,
    }
}

/// RFC 3339 with offset, as Meta's examples send it.
fn time(field: &str, raw: &str) -> Result<String, AppError> {
    chrono::DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| super::platform_time_text(&t, 'T', true))
        .map_err(|_| {
            AppError::validation(
                field,
                format!("\"{raw}\" is not an RFC 3339 time; use e.g. 2026-03-01T00:00:00-05:00"),
            )
        })
}

impl MetaTranslator {
    pub fn new(version: &str) -> Self {
        Self {
            version: version.to_owned(),
        }
    }
}

impl Translator for MetaTranslator {
    fn platform(&self) -> Platform {
        Platform::Meta
    }

    fn translate(&self, input: &TranslationInput<'_>) -> Result<TranslatedPayloads, AppError> {
        let spec = input.spec;
        let name = &input.ticket.platform_name;
        let act = ["/act_", &input.channel.account_id].concat();
        let budget = spec_budget(input)?;
        let amount = meta_amount(budget, "payload_config.budget.amount")?;

        let campaign = json!({
            "name": name,
            "objective": objective(spec.objective),
            "status": "PAUSED",
            "special_ad_categories": [],
            "buying_type": "AUCTION",
            "is_adset_budget_sharing_enabled": false,
        });

        let mut adset = json!({
            "name": name,
            "campaign_id": id_ref("campaign"),
            "status": "PAUSED",
            "billing_event": "IMPRESSIONS",
            "optimization_goal": optimization_goal(spec.objective),
        });
        let start = spec
            .schedule
            .as_ref()
            .map(|s| time("payload_config.schedule.start_time", &s.start_time))
            .transpose()?;
        let end = spec
            .schedule
            .as_ref()
            .and_then(|s| s.end_time.as_deref())
            .map(|e| time("payload_config.schedule.end_time", e))
            .transpose()?;
        match spec.budget.period {
            BudgetPeriod::Daily => adset["daily_budget"] = json!(amount),
            BudgetPeriod::Lifetime => {
                if end.is_none() {
                    return Err(AppError::validation(
                        "payload_config.schedule.end_time",
                        "is required with a LIFETIME budget; add schedule.end_time or use a DAILY budget",
                    ));
                }
                adset["lifetime_budget"] = json!(amount);
            }
        }
        if let Some(s) = start {
            adset["start_time"] = json!(s);
        }
        if let Some(e) = end {
            adset["end_time"] = json!(e);
        }
        let bid = spec_bid(input)?;
        let strategy = spec
            .bidding
            .as_ref()
            .map(|b| b.strategy)
            .unwrap_or(BidStrategy::LowestCost);
        adset["bid_strategy"] = json!(match strategy {
            BidStrategy::LowestCost => "LOWEST_COST_WITHOUT_CAP",
            BidStrategy::BidCap => "LOWEST_COST_WITH_BID_CAP",
            BidStrategy::CostCap => "COST_CAP",
        });
        if let (Some(b), true) = (bid, strategy != BidStrategy::LowestCost) {
            adset["bid_amount"] = json!(meta_amount(b, "payload_config.bidding.bid_amount")?);
        }

        let t = &spec.targeting;
        let countries = target_countries(input);
        let mut geo = json!({});
        if !countries.is_empty() {
            geo["countries"] = json!(countries);
        }
        if !t.regions.is_empty() {
            geo["regions"] = Value::Array(t.regions.iter().map(|r| json!({ "key": r })).collect());
        }
        let mut targeting = object([
            ("geo_locations", geo),
            ("targeting_automation", json!({ "advantage_audience": 0 })),
        ]);
        if let Some(a) = t.age_min {
            targeting["age_min"] = json!(a);
        }
        if let Some(a) = t.age_max {
            targeting["age_max"] = json!(a);
        }
        if !t.genders.is_empty() && t.genders.len() < 2 {
            targeting["genders"] = Value::Array(
                t.genders
                    .iter()
                    .map(|g| json!(if *g == Gender::Male { 1 } else { 2 }))
                    .collect(),
            );
        }
        if !t.interests.is_empty() {
            let interests: Vec<Value> = t
                .interests
                .iter()
                .map(|i| match &i.name {
                    Some(n) => json!({ "id": i.id, "name": n }),
                    None => json!({ "id": i.id }),
                })
                .collect();
            targeting["flexible_spec"] =
                Value::Array(vec![object([("interests", Value::Array(interests))])]);
        }
        let platforms: Vec<&str> = t
            .placements
            .iter()
            .filter_map(|p| publisher_platform(*p))
            .collect();
        if !platforms.is_empty() {
            targeting["publisher_platforms"] = json!(platforms);
        }
        adset["targeting"] = targeting;
        if spec.objective == Objective::Sales {
            let pixel = input.brand.meta_pixel_id.as_deref().ok_or_else(|| {
                AppError::validation(
                    "brand.meta_pixel_id",
                    format!("a SALES campaign on Meta optimises for purchases on the brand's pixel, but brand {} has no meta_pixel_id; set it with update_brand", input.brand.code),
                )
            })?;
            adset["promoted_object"] =
                json!({ "pixel_id": pixel, "custom_event_type": "PURCHASE" });
        }

        let c = &spec.creative;
        let mut link_data = json!({});
        if let Some(v) = &c.link_url {
            link_data["link"] = json!(v);
        }
        if let Some(v) = &c.body {
            link_data["message"] = json!(v);
        }
        if let Some(v) = &c.headline {
            link_data["name"] = json!(v);
        }
        if let Some(v) = &c.image_url {
            link_data["picture"] = json!(v);
        }
        if let Some(v) = &c.call_to_action {
            link_data["call_to_action"] = match &c.link_url {
                Some(l) => json!({ "type": v, "value": { "link": l } }),
                None => json!({ "type": v }),
            };
        }
        let mut image_hashes = Vec::new();
        for (i, id) in c.image_asset_ids.iter().enumerate() {
            let field = format!("payload_config.creative.image_asset_ids[{i}]");
            image_hashes.push(asset_ref(input, &field, id, AssetKind::Image)?.0);
        }
        let story = match &c.video_asset_id {
            Some(v) => {
                let (video_id, _) = asset_ref(
                    input,
                    "payload_config.creative.video_asset_id",
                    v,
                    AssetKind::Video,
                )?;
                // A video ad's copy lives in video_data; the first image is its thumbnail
                // (Meta's thumbnail requirement is unconfirmed, PLATFORMS.md K2).
                let mut video_data = json!({ "video_id": video_id });
                for (from, to) in [("message", "message"), ("name", "title")] {
                    if let Some(v) = link_data.get(from) {
                        video_data[to] = v.clone();
                    }
                }
                if let Some(cta) = link_data.get("call_to_action") {
                    video_data["call_to_action"] = cta.clone();
                }
                if let Some(h) = image_hashes.first() {
                    video_data["image_hash"] = json!(h);
                } else if let Some(p) = link_data.get("picture") {
                    video_data["image_url"] = p.clone();
                }
                object([("video_data", video_data)])
            }
            None => {
                if let Some(h) = image_hashes.first() {
                    link_data["image_hash"] = json!(h);
                }
                object([("link_data", link_data)])
            }
        };
        let creative = object([("name", json!(name)), ("object_story_spec", story)]);
        let ad = json!({
            "name": name,
            "adset_id": id_ref("adset"),
            "creative": { "creative_id": id_ref("creative") },
            "status": "PAUSED",
        });

        let mut requests = vec![
            PlatformRequest {
                object: "campaign".into(),
                method: "POST".into(),
                path: [&act, "/campaigns"].concat(),
                body: campaign,
            },
            PlatformRequest {
                object: "adset".into(),
                method: "POST".into(),
                path: [&act, "/adsets"].concat(),
                body: adset,
            },
            PlatformRequest {
                object: "creative".into(),
                method: "POST".into(),
                path: [&act, "/adcreatives"].concat(),
                body: creative,
            },
            PlatformRequest {
                object: "ad".into(),
                method: "POST".into(),
                path: [&act, "/ads"].concat(),
                body: ad,
            },
        ];
        apply_overrides(
            &mut requests,
            spec.overrides.meta.as_ref(),
            Platform::Meta,
            name,
            None,
        )?;
        Ok(TranslatedPayloads {
            platform: Platform::Meta,
            api_version: self.version.clone(),
            requests,
        })
    }
}
