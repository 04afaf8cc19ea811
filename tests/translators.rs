//! Golden tests of the three payload translators: one neutral spec in, the exact request
//! bodies out. Each output is compared with `tests/golden/<case>.json` (regenerate after a
//! reviewed change with `UPDATE_GOLDEN=1 cargo test --test translators`), checked against the
//! endpoint JSON Schemas, and its money fields are asserted directly so a wrong golden file
//! cannot hide a unit error.

mod fixtures;

use serde_json::{Value, json};

use fixtures::World;
use omnitraffick::domain::Platform;
use omnitraffick::error::AppError;
use omnitraffick::platforms::{ApiVersions, CampaignSpec, TranslatedPayloads, TranslationInput};
use omnitraffick::qa::schemas;

fn translate(w: &World, spec: Value) -> Result<TranslatedPayloads, AppError> {
    let t = fixtures::ticket(w, spec.clone());
    translate_parsed(w, &t, &CampaignSpec::parse(&spec)?)
}

fn translate_parsed(
    w: &World,
    t: &omnitraffick::domain::Ticket,
    spec: &CampaignSpec,
) -> Result<TranslatedPayloads, AppError> {
    omnitraffick::platforms::translate(
        &TranslationInput {
            ticket: t,
            campaign: &w.campaign,
            brand: &w.brand,
            market: &w.market,
            channel: &w.channel,
            spec,
            assets: omnitraffick::domain::ResolvedAssets::none(),
        },
        &ApiVersions::default(),
    )
}

/// Compare with the golden file and validate every body against its schema.
fn golden(case: &str, p: &TranslatedPayloads) {
    for r in &p.requests {
        if let Err(e) = schemas::validate(p.platform, &r.object, &r.body) {
            panic!("{case}: {} body breaks its schema: {e:?}", r.object);
        }
    }
    let path = format!("{}/tests/golden/{case}.json", env!("CARGO_MANIFEST_DIR"));
    let actual = serde_json::to_string_pretty(p).expect("serialises") + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("{path} is missing; run UPDATE_GOLDEN=1 cargo test --test translators and review it")
    });
    assert_eq!(
        actual, expected,
        "{case} differs from its golden file; if the change is intended, regenerate with UPDATE_GOLDEN=1 and review the diff"
    );
}

fn body<'a>(p: &'a TranslatedPayloads, object: &str) -> &'a Value {
    p.body(object)
        .unwrap_or_else(|| panic!("no {object} request"))
}

fn err_field(r: Result<TranslatedPayloads, AppError>) -> String {
    match r {
        Ok(p) => panic!("expected an error, got {p:?}"),
        Err(AppError::Validation { field, .. }) => field,
        Err(e) => panic!("expected a validation error, got {e}"),
    }
}

/// A full USD daily spec.
fn usd_daily() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "19.99", "currency": "USD", "period": "DAILY"},
        "schedule": {"start_time": "2026-03-01T00:00:00-05:00", "end_time": "2026-03-31T23:59:59-05:00"},
        "targeting": {
            "countries": ["US", "CA"],
            "age_min": 18, "age_max": 34,
            "genders": ["FEMALE"],
            "interests": [{"id": "6003107902433", "name": "Movies"}],
            "placements": ["FACEBOOK", "INSTAGRAM", "TIKTOK", "GOOGLE_SEARCH", "SEARCH_PARTNERS"]
        },
        "creative": {
            "headline": "Moana is back",
            "body": "Sail with Moana this March.",
            "link_url": "https://example.com/moana",
            "call_to_action": "LEARN_MORE",
            "image_url": "https://cdn.example.com/moana.jpg"
        },
        "bidding": {"strategy": "LOWEST_COST"},
        "overrides": {
            "meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000abc", "identity_type": "CUSTOMIZED_USER", "identity_id": "7000000000000000001"}]}},
            "google_ads": {"ad_group_ad": {"ad": {"responsiveSearchAd": {
                "headlines": [{"text": "Moana is back"}, {"text": "Sail with Moana"}, {"text": "Tickets on sale"}],
                "descriptions": [{"text": "Sail with Moana this March."}, {"text": "Book your seats today."}]
            }}}}
        }
    })
}

/// A JPY lifetime spec with a bid cap: JPY has no minor units.
fn jpy_lifetime() -> Value {
    json!({
        "objective": "AWARENESS",
        "budget": {"amount": "50000", "period": "LIFETIME"},
        "schedule": {"start_time": "2026-04-01T00:00:00+09:00", "end_time": "2026-04-10T23:59:59+09:00"},
        "targeting": {"countries": ["JP"], "age_min": 25, "placements": ["DISPLAY_NETWORK"]},
        "creative": {"headline": "Moana", "body": "Now showing.", "link_url": "https://example.jp/moana"},
        "bidding": {"strategy": "BID_CAP", "bid_amount": "150"},
        "overrides": {
            "meta": {"creative": {"object_story_spec": {"page_id": "1122334455"}}},
            "tiktok": {"ad": {"creatives": [{"video_id": "v10033g50000jpy"}]}},
            "google_ads": {"ad_group_ad": {"ad": {"responsiveDisplayAd": {
                "marketingImages": [{"asset": "customers/1234567890/assets/111"}],
                "squareMarketingImages": [{"asset": "customers/1234567890/assets/222"}]
            }}}}
        }
    })
}

fn jp_world(p: Platform) -> World {
    let mut w = fixtures::world(true, p, "JPY");
    w.market.code = "JP".into();
    w.market.country = "JP".into();
    w
}

#[test]
fn meta_usd_daily() {
    let w = fixtures::world(true, Platform::Meta, "USD");
    let p = translate(&w, usd_daily()).expect("translates");
    assert_eq!(p.api_version, "v25.0");
    let objects: Vec<&str> = p.requests.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(objects, ["campaign", "adset", "creative", "ad"]);
    assert_eq!(p.requests[0].path, "/act_1234567890/campaigns");
    let adset = body(&p, "adset");
    assert_eq!(
        adset["daily_budget"],
        json!(1999),
        "USD 19.99 is 1999 cents"
    );
    assert!(adset.get("lifetime_budget").is_none());
    assert_eq!(adset["targeting"]["genders"], json!([2]));
    assert_eq!(
        adset["targeting"]["publisher_platforms"],
        json!(["facebook", "instagram"])
    );
    for r in &p.requests {
        if r.object != "creative" {
            assert_eq!(r.body["status"], "PAUSED", "{} created paused", r.object);
        }
    }
    assert_eq!(body(&p, "campaign")["special_ad_categories"], json!([]));
    golden("meta_usd_daily", &p);
}

#[test]
fn meta_jpy_lifetime_with_bid_cap() {
    let w = jp_world(Platform::Meta);
    let p = translate(&w, jpy_lifetime()).expect("translates");
    let adset = body(&p, "adset");
    assert_eq!(adset["lifetime_budget"], json!(50000), "JPY has no offset");
    assert_eq!(adset["bid_amount"], json!(150));
    assert_eq!(adset["bid_strategy"], "LOWEST_COST_WITH_BID_CAP");
    assert_eq!(adset["end_time"], "2026-04-10T23:59:59+0900");
    golden("meta_jpy_lifetime", &p);
}

#[test]
fn tiktok_usd_daily() {
    let w = fixtures::world(true, Platform::Tiktok, "USD");
    let p = translate(&w, usd_daily()).expect("translates");
    let objects: Vec<&str> = p.requests.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(objects, ["campaign", "adgroup", "ad"]);
    assert_eq!(p.requests[1].path, "/open_api/v1.3/adgroup/create/");
    let campaign = body(&p, "campaign");
    assert_eq!(campaign["objective_type"], "TRAFFIC");
    assert_eq!(campaign["budget_mode"], "BUDGET_MODE_INFINITE");
    let adgroup = body(&p, "adgroup");
    assert_eq!(adgroup["budget"].to_string(), "19.99", "major units, exact");
    assert_eq!(adgroup["budget_mode"], "BUDGET_MODE_DAY");
    assert_eq!(adgroup["schedule_start_time"], "2026-03-01 05:00:00", "UTC");
    assert_eq!(adgroup["location_ids"], json!(["6252001", "6251999"]));
    assert_eq!(adgroup["age_groups"], json!(["AGE_18_24", "AGE_25_34"]));
    assert_eq!(adgroup["gender"], "GENDER_FEMALE");
    assert_eq!(adgroup["placements"], json!(["PLACEMENT_TIKTOK"]));
    let ad = body(&p, "ad");
    assert_eq!(ad["creatives"][0]["video_id"], "v10033g50000abc");
    assert_eq!(ad["creatives"][0]["ad_text"], "Sail with Moana this March.");
    for r in &p.requests {
        assert_eq!(
            r.body["operation_status"], "DISABLE",
            "{} created paused",
            r.object
        );
    }
    golden("tiktok_usd_daily", &p);
}

#[test]
fn tiktok_jpy_lifetime_with_bid_cap() {
    let w = jp_world(Platform::Tiktok);
    let p = translate(&w, jpy_lifetime()).expect("translates");
    let adgroup = body(&p, "adgroup");
    assert_eq!(adgroup["budget"].to_string(), "50000");
    assert_eq!(adgroup["budget_mode"], "BUDGET_MODE_TOTAL");
    assert_eq!(adgroup["bid_type"], "BID_TYPE_CUSTOM");
    assert_eq!(adgroup["bid_price"].to_string(), "150");
    assert_eq!(adgroup["optimization_goal"], "REACH");
    assert_eq!(adgroup["frequency"], json!(3));
    assert_eq!(adgroup["placement_type"], "PLACEMENT_TYPE_AUTOMATIC");
    golden("tiktok_jpy_lifetime", &p);
}

#[test]
fn google_ads_usd_daily_search() {
    let w = fixtures::world(true, Platform::GoogleAds, "USD");
    let p = translate(&w, usd_daily()).expect("translates");
    let objects: Vec<&str> = p.requests.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(
        objects,
        [
            "campaign_budget",
            "campaign",
            "campaign_criterion",
            "ad_group",
            "ad_group_criterion",
            "ad_group_ad"
        ]
    );
    assert_eq!(
        p.requests[0].path,
        "/v25/customers/1234567890/campaignBudgets:mutate"
    );
    let budget = &body(&p, "campaign_budget")["operations"][0]["create"];
    assert_eq!(budget["amountMicros"], "19990000", "micros, as a string");
    assert_eq!(budget["explicitlyShared"], false);
    let campaign = &body(&p, "campaign")["operations"][0]["create"];
    assert_eq!(campaign["status"], "PAUSED");
    assert_eq!(campaign["advertisingChannelType"], "SEARCH");
    assert_eq!(campaign["startDateTime"], "2026-03-01 00:00:00");
    assert_eq!(
        campaign["campaignBudget"],
        "customers/1234567890/campaignBudgets/{{campaign_budget.id}}"
    );
    let locations: Vec<&Value> = body(&p, "campaign_criterion")["operations"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|o| &o["create"]["location"]["geoTargetConstant"])
        .collect();
    assert_eq!(
        locations,
        [
            &json!("geoTargetConstants/2840"),
            &json!("geoTargetConstants/2124")
        ]
    );
    let criteria = body(&p, "ad_group_criterion")["operations"]
        .as_array()
        .expect("ops");
    // One interest, ages outside 18-34 (4 ranges + undetermined), male + undetermined gender.
    assert_eq!(criteria.len(), 1 + 5 + 2);
    golden("google_ads_usd_daily", &p);
}

#[test]
fn google_ads_jpy_lifetime_display() {
    let w = jp_world(Platform::GoogleAds);
    let p = translate(&w, jpy_lifetime()).expect("translates");
    let budget = &body(&p, "campaign_budget")["operations"][0]["create"];
    assert_eq!(budget["period"], "CUSTOM_PERIOD");
    assert_eq!(budget["totalAmountMicros"], "50000000000");
    let campaign = &body(&p, "campaign")["operations"][0]["create"];
    assert_eq!(campaign["advertisingChannelType"], "DISPLAY");
    assert_eq!(campaign["targetSpend"]["cpcBidCeilingMicros"], "150000000");
    assert_eq!(campaign["endDateTime"], "2026-04-10 23:59:59");
    golden("google_ads_jpy_lifetime", &p);
}

#[test]
fn cost_cap_and_sales_map_to_each_platform() {
    let mut spec = usd_daily();
    spec["objective"] = json!("SALES");
    spec["bidding"] = json!({"strategy": "COST_CAP", "bid_amount": "12.50"});

    let mut w = fixtures::world(true, Platform::Meta, "USD");
    w.brand.meta_pixel_id = Some("998877".into());
    let p = translate(&w, spec.clone()).expect("meta");
    assert_eq!(body(&p, "adset")["bid_amount"], json!(1250));
    assert_eq!(body(&p, "adset")["promoted_object"]["pixel_id"], "998877");

    let mut w = fixtures::world(true, Platform::Tiktok, "USD");
    w.brand.tiktok_pixel_code = Some("CABC123".into());
    let p = translate(&w, spec.clone()).expect("tiktok");
    let adgroup = body(&p, "adgroup");
    assert_eq!(adgroup["conversion_bid_price"].to_string(), "12.5");
    assert_eq!(adgroup["pixel_id"], "CABC123");
    assert_eq!(body(&p, "campaign")["objective_type"], "WEB_CONVERSIONS");

    let w = fixtures::world(true, Platform::GoogleAds, "USD");
    let p = translate(&w, spec).expect("google");
    let campaign = &body(&p, "campaign")["operations"][0]["create"];
    assert_eq!(
        campaign["maximizeConversions"]["targetCpaMicros"],
        "12500000"
    );
}

#[test]
fn missing_platform_fields_are_named() {
    // TikTok without a video.
    let w = fixtures::world(true, Platform::Tiktok, "USD");
    let mut spec = usd_daily();
    spec["overrides"]["tiktok"] = json!(null);
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.overrides.tiktok.ad.creatives[0].video_id"
    );
    // TikTok without a start time.
    let mut spec = usd_daily();
    spec.as_object_mut().expect("obj").remove("schedule");
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.schedule.start_time"
    );
    // TikTok SALES without the brand's pixel.
    let mut spec = usd_daily();
    spec["objective"] = json!("SALES");
    assert_eq!(err_field(translate(&w, spec)), "brand.tiktok_pixel_code");

    // Google without a final URL, and a search ad with one headline.
    let w = fixtures::world(true, Platform::GoogleAds, "USD");
    let mut spec = usd_daily();
    spec["creative"]
        .as_object_mut()
        .expect("obj")
        .remove("link_url");
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.creative.link_url"
    );
    let mut spec = usd_daily();
    spec["overrides"]["google_ads"] = json!(null);
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.overrides.google_ads.ad_group_ad.ad.responsiveSearchAd.headlines"
    );
    // Display without image assets.
    let w = jp_world(Platform::GoogleAds);
    let mut spec = jpy_lifetime();
    spec["overrides"]["google_ads"] = json!(null);
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.overrides.google_ads.ad_group_ad.ad.responsiveDisplayAd.marketingImages"
    );

    // Meta SALES without the brand's pixel.
    let w = fixtures::world(true, Platform::Meta, "USD");
    let mut spec = usd_daily();
    spec["objective"] = json!("SALES");
    assert_eq!(err_field(translate(&w, spec)), "brand.meta_pixel_id");
}

#[test]
fn money_that_cannot_be_exact_is_refused_everywhere() {
    for platform in [Platform::Meta, Platform::Tiktok, Platform::GoogleAds] {
        let w = fixtures::world(true, platform, "USD");
        let mut spec = usd_daily();
        spec["budget"]["amount"] = json!("19.999");
        assert_eq!(
            err_field(translate(&w, spec)),
            "payload_config.budget.amount",
            "{platform}"
        );
        let w = jp_world(platform);
        let mut spec = jpy_lifetime();
        spec["budget"]["amount"] = json!("5000.5");
        assert_eq!(
            err_field(translate(&w, spec)),
            "payload_config.budget.amount",
            "{platform}"
        );
        let mut spec = jpy_lifetime();
        spec["budget"]["currency"] = json!("USD");
        assert_eq!(
            err_field(translate(&w, spec)),
            "payload_config.budget.currency",
            "{platform}"
        );
        let mut spec = jpy_lifetime();
        spec["bidding"] = json!({"strategy": "BID_CAP"});
        assert_eq!(
            err_field(translate(&w, spec)),
            "payload_config.bidding.bid_amount",
            "{platform}"
        );
    }
}

#[test]
fn unknown_country_and_unknown_override_object_are_named() {
    for platform in [Platform::Tiktok, Platform::GoogleAds] {
        let w = fixtures::world(true, platform, "USD");
        let mut spec = usd_daily();
        spec["targeting"]["countries"] = json!(["US", "XK"]);
        assert_eq!(
            err_field(translate(&w, spec)),
            "payload_config.targeting.countries[1]",
            "{platform}"
        );
    }
    let w = fixtures::world(true, Platform::Tiktok, "USD");
    let mut spec = usd_daily();
    spec["overrides"]["tiktok"]["adset"] = json!({"x": 1});
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.overrides.tiktok.adset"
    );
}

#[test]
fn market_country_is_the_default_location() {
    let mut spec = usd_daily();
    spec["targeting"] = json!({});
    let w = fixtures::world(true, Platform::Tiktok, "USD");
    let p = translate(&w, spec.clone()).expect("tiktok");
    assert_eq!(body(&p, "adgroup")["location_ids"], json!(["6252001"]));
    assert!(body(&p, "adgroup").get("age_groups").is_none());
    let w = fixtures::world(true, Platform::Meta, "USD");
    let p = translate(&w, spec).expect("meta");
    assert_eq!(
        body(&p, "adset")["targeting"]["geo_locations"]["countries"],
        json!(["US"])
    );
}

/// TikTok's `ad.creatives[i]` each start from the generated creative; the rest of the `ad`
/// override merges into the ad body as any override does; an empty list leaves the one
/// generated creative.
#[test]
fn tiktok_creative_overrides_start_from_the_generated_creative() {
    let w = fixtures::world(true, Platform::Tiktok, "USD");
    let mut spec = usd_daily();
    spec["overrides"]["tiktok"] = json!({
        "ad": {
            "creatives": [
                {"video_id": "v1", "ad_text": "First"},
                {"video_id": "v2"},
                {"video_id": "v3", "call_to_action": "SIGN_UP"}
            ],
            "shopping_ads_type": "VIDEO"
        },
        "adgroup": {"pacing": "PACING_MODE_FAST"}
    });
    let p = translate(&w, spec.clone()).expect("translates");
    let ad = body(&p, "ad");
    assert_eq!(ad["shopping_ads_type"], "VIDEO", "{ad}");
    assert_eq!(ad["adgroup_id"], "{{adgroup.id}}");
    let creatives = ad["creatives"].as_array().expect("a list");
    let got: Vec<(&str, &str, &str)> = creatives
        .iter()
        .map(|c| {
            (
                c["video_id"].as_str().unwrap_or(""),
                c["ad_text"].as_str().unwrap_or(""),
                c["call_to_action"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("v1", "First", "LEARN_MORE"),
            ("v2", "Sail with Moana this March.", "LEARN_MORE"),
            ("v3", "Sail with Moana this March.", "SIGN_UP"),
        ]
    );
    let name = fixtures::ticket(&w, json!({})).platform_name;
    assert!(
        creatives.iter().all(|c| c["ad_name"] == name.as_str()),
        "{ad}"
    );
    assert_eq!(body(&p, "adgroup")["pacing"], "PACING_MODE_FAST");
    // An empty list leaves the generated creative, which has no video: refused, naming it.
    spec["overrides"]["tiktok"] = json!({"ad": {"creatives": []}});
    assert_eq!(
        err_field(translate(&w, spec)),
        "payload_config.overrides.tiktok.ad.creatives[0].video_id"
    );
}

/// The deploy translates from `parse_for` (only the channel's overrides copied): the same
/// requests as from `parse`, on every platform.
#[test]
fn translating_from_the_channels_overrides_alone_gives_the_same_requests() {
    for platform in [Platform::Meta, Platform::Tiktok, Platform::GoogleAds] {
        let w = fixtures::world(true, platform, "USD");
        let spec = usd_daily();
        let t = fixtures::ticket(&w, spec.clone());
        let run = |parsed: CampaignSpec| translate_parsed(&w, &t, &parsed).expect("translates");
        let full = run(CampaignSpec::parse(&spec).expect("parses"));
        let only = run(CampaignSpec::parse_for(&spec, platform).expect("parses"));
        assert_eq!(only, full, "{platform}");
    }
}
