//! Changes to live objects on the fake Meta, TikTok and Google Ads: status plans in a safe
//! order, edit plans from two translations (what may change live and what is refused), and
//! an idempotent apply that writes each object once even when answers are lost.

#[path = "common/fake_platforms.rs"]
mod fake_platforms;
mod fixtures;

use std::time::Duration;

use serde_json::{Map, Value, json};

use fake_platforms::{FakePlatforms, Fault};
use fixtures::World;
use omnitraffick::domain::Platform;
use omnitraffick::error::AppError;
use omnitraffick::platforms::client::{
    ErrorClass, GOOGLE_ACCESS_TOKEN, GOOGLE_DEVELOPER_TOKEN, META_TOKEN, PlatformClients,
    PlatformConfig, TIKTOK_TOKEN, fill_placeholders,
};
use omnitraffick::platforms::live::{
    Applied, DELIVERY_STATE, Level, LiveStatus, ObjectUpdate, plan_edit, plan_status,
};
use omnitraffick::platforms::{
    ApiVersions, CampaignSpec, PlatformRequest, TranslatedPayloads, TranslationInput,
};

const SECRETS: [&str; 4] = [
    "meta-secret-token",
    "tiktok-secret-token",
    "google-dev-secret",
    "google-access-secret",
];

/// The spec the objects are deployed from (as in the translator goldens).
fn spec() -> Value {
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

fn translate(w: &World, spec: &Value) -> Result<TranslatedPayloads, AppError> {
    let t = fixtures::ticket(w, spec.clone());
    let parsed = CampaignSpec::parse(spec)?;
    omnitraffick::platforms::translate(
        &TranslationInput {
            ticket: &t,
            campaign: &w.campaign,
            brand: &w.brand,
            market: &w.market,
            channel: &w.channel,
            spec: &parsed,
            assets: omnitraffick::domain::ResolvedAssets::none(),
        },
        &ApiVersions::default(),
    )
}

/// A ticket deployed to a fake platform: the objects exist (PAUSED) and their ids are known.
struct Live {
    fake: FakePlatforms,
    clients: PlatformClients,
    w: World,
    before: TranslatedPayloads,
    ids: Map<String, Value>,
}

impl Live {
    async fn deploy(platform: Platform) -> Self {
        let fake = FakePlatforms::start().await;
        fake.set_lose_delay(Duration::from_millis(2500));
        let base = fake.base_url();
        let mut cfg = PlatformConfig::new(&base, &base, &base, "v25.0", Duration::from_secs(1));
        for (var, value) in [
            META_TOKEN,
            TIKTOK_TOKEN,
            GOOGLE_DEVELOPER_TOKEN,
            GOOGLE_ACCESS_TOKEN,
        ]
        .into_iter()
        .zip(SECRETS)
        {
            cfg.set_credential(var, value);
        }
        let clients = PlatformClients::new(cfg).expect("clients");
        let w = fixtures::world(true, platform, "USD");
        let before = translate(&w, &spec()).expect("translates");
        let mut ids = Map::new();
        for req in &before.requests {
            let body = fill_placeholders(&req.body, &ids).expect("ids of earlier objects");
            let created = clients
                .create(
                    &w.channel,
                    &PlatformRequest {
                        body,
                        ..req.clone()
                    },
                    false,
                )
                .await
                .unwrap_or_else(|e| panic!("create {}: {e}", req.object));
            ids.insert(req.object.clone(), json!(created.id.expect("an id")));
        }
        Self {
            fake,
            clients,
            w,
            before,
            ids,
        }
    }

    fn id(&self, object: &str) -> String {
        self.ids[object].as_str().expect("id").to_owned()
    }

    /// Plan the edit that `change` makes to the deployed spec.
    fn edit(&self, change: impl FnOnce(&mut Value)) -> Result<Vec<ObjectUpdate>, AppError> {
        let mut s = spec();
        change(&mut s);
        let after = translate(&self.w, &s).expect("the edited spec translates");
        plan_edit(self.w.channel.platform, &self.before, &after, &self.ids)
    }

    async fn apply(
        &self,
        u: &ObjectUpdate,
    ) -> Result<Applied, omnitraffick::platforms::client::PlatformError> {
        self.clients.apply_update(&self.w.channel, u).await
    }

    async fn read(&self, u: &ObjectUpdate) -> Map<String, Value> {
        self.clients
            .read_object(&self.w.channel, u)
            .await
            .unwrap_or_else(|e| panic!("read {}: {e}", u.object))
    }
}

fn refused_field(r: Result<Vec<ObjectUpdate>, AppError>) -> (String, String) {
    match r {
        Ok(u) => panic!("expected a refusal, got {u:?}"),
        Err(AppError::Validation { field, message }) => (field, message),
        Err(e) => panic!("expected a validation error, got {e}"),
    }
}

fn only(updates: &[ObjectUpdate]) -> &ObjectUpdate {
    assert_eq!(updates.len(), 1, "{updates:?}");
    &updates[0]
}

fn keys(u: &ObjectUpdate) -> Vec<&str> {
    u.fields.keys().map(String::as_str).collect()
}

fn no_secret(e: &impl std::fmt::Debug) {
    let shown = format!("{e:?}");
    for s in SECRETS {
        assert!(!shown.contains(s), "a credential leaked into {shown}");
    }
}

// ------------------------------------------------------------------ status

#[tokio::test]
async fn meta_status_goes_live_children_first_and_pauses_campaign_first() {
    let l = Live::deploy(Platform::Meta).await;
    let on = plan_status(Platform::Meta, &l.ids, LiveStatus::Active).unwrap();
    let order: Vec<(&str, Level)> = on.iter().map(|u| (u.object.as_str(), u.level)).collect();
    assert_eq!(
        order,
        [
            ("ad", Level::Ad),
            ("adset", Level::AdSet),
            ("campaign", Level::Campaign)
        ]
    );
    assert!(
        on.iter()
            .all(|u| u.fields == json!({"status": "ACTIVE"}).as_object().unwrap().clone())
    );
    assert!(
        on.iter().all(|u| u.id == l.id(&u.object)),
        "no creative: it has no status"
    );

    let ad = on[0].clone();
    assert_eq!(l.read(&ad).await[DELIVERY_STATE], "PAUSED");
    assert_eq!(
        l.apply(&ad).await.unwrap(),
        Applied::Written {
            fields: vec!["status".into()]
        }
    );
    assert_eq!(
        l.read(&ad).await[DELIVERY_STATE],
        "ADSET_PAUSED",
        "nothing delivers until the parents are on"
    );
    for u in &on[1..] {
        assert!(matches!(l.apply(u).await.unwrap(), Applied::Written { .. }));
    }
    assert_eq!(l.read(&ad).await[DELIVERY_STATE], "ACTIVE");
    for u in &on {
        assert_eq!(l.apply(u).await.unwrap(), Applied::AlreadyHeld);
        assert_eq!(l.fake.writes(&u.id), 1, "{} written once", u.object);
    }

    let off = plan_status(Platform::Meta, &l.ids, LiveStatus::Paused).unwrap();
    let order: Vec<&str> = off.iter().map(|u| u.object.as_str()).collect();
    assert_eq!(order, ["campaign", "adset", "ad"]);
    l.apply(&off[0]).await.unwrap();
    assert_eq!(
        l.read(&ad).await[DELIVERY_STATE],
        "CAMPAIGN_PAUSED",
        "pausing the campaign first stops everything at once"
    );
}

#[tokio::test]
async fn tiktok_status_uses_the_status_endpoint_in_order() {
    let l = Live::deploy(Platform::Tiktok).await;
    let on = plan_status(Platform::Tiktok, &l.ids, LiveStatus::Active).unwrap();
    let order: Vec<&str> = on.iter().map(|u| u.object.as_str()).collect();
    assert_eq!(order, ["ad", "adgroup", "campaign"]);
    assert_eq!(on[0].fields["operation_status"], "ENABLE");
    assert_eq!(on[1].level, Level::AdSet);
    assert_eq!(l.read(&on[0]).await[DELIVERY_STATE], "AD_STATUS_DISABLE");
    for u in &on {
        assert!(matches!(l.apply(u).await.unwrap(), Applied::Written { .. }));
    }
    assert_eq!(l.fake.calls("tiktok ad status"), 1);
    assert_eq!(
        l.fake.calls("tiktok adgroup update"),
        0,
        "status goes through status/update/"
    );
    assert_eq!(
        l.read(&on[0]).await[DELIVERY_STATE],
        "AD_STATUS_DELIVERY_OK"
    );
    for u in &on {
        assert_eq!(l.apply(u).await.unwrap(), Applied::AlreadyHeld);
        assert_eq!(l.fake.writes(&u.id), 1);
    }
    let off = plan_status(Platform::Tiktok, &l.ids, LiveStatus::Paused).unwrap();
    assert_eq!(off[0].object, "campaign");
    assert_eq!(off[0].fields["operation_status"], "DISABLE");
    l.apply(&off[0]).await.unwrap();
    assert_eq!(
        l.read(&on[0]).await[DELIVERY_STATE],
        "AD_STATUS_CAMPAIGN_DISABLE"
    );
}

#[tokio::test]
async fn google_status_updates_with_a_status_mask() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let on = plan_status(Platform::GoogleAds, &l.ids, LiveStatus::Active).unwrap();
    let order: Vec<&str> = on.iter().map(|u| u.object.as_str()).collect();
    assert_eq!(order, ["ad_group_ad", "ad_group", "campaign"]);
    assert!(
        on[0].id.contains('~'),
        "an ad is adGroupId~adId: {}",
        on[0].id
    );
    assert_eq!(on[2].fields["status"], "ENABLED");
    assert_eq!(l.read(&on[2]).await[DELIVERY_STATE], "PAUSED");
    for u in &on {
        assert!(matches!(l.apply(u).await.unwrap(), Applied::Written { .. }));
        assert_eq!(l.fake.object(&u.id).unwrap().body["status"], "ENABLED");
    }
    assert_eq!(l.read(&on[2]).await[DELIVERY_STATE], "ELIGIBLE");
    for u in &on {
        assert_eq!(l.apply(u).await.unwrap(), Applied::AlreadyHeld);
        assert_eq!(l.fake.writes(&u.id), 1);
    }
    let off = plan_status(Platform::GoogleAds, &l.ids, LiveStatus::Paused).unwrap();
    assert_eq!(off[0].object, "campaign");
    assert_eq!(off[0].fields["status"], "PAUSED");
}

#[tokio::test]
async fn activating_a_partial_deploy_is_refused_pausing_it_is_not() {
    let ids: Map<String, Value> =
        serde_json::from_value(json!({"campaign": "120001", "adset": "120002"})).unwrap();
    let (field, message) = refused_field(plan_status(Platform::Meta, &ids, LiveStatus::Active));
    assert_eq!(field, "external_ids");
    assert!(message.contains("ad"), "{message}");
    let off = plan_status(Platform::Meta, &ids, LiveStatus::Paused).unwrap();
    assert_eq!(off.len(), 2);
    let (field, _) = refused_field(plan_status(
        Platform::Tiktok,
        &Map::new(),
        LiveStatus::Paused,
    ));
    assert_eq!(field, "external_ids");
}

// ------------------------------------------------------------------ Meta edits

#[tokio::test]
async fn meta_edits_budget_end_time_and_targeting_and_refuses_the_rest() {
    let l = Live::deploy(Platform::Meta).await;
    // Budget: USD 19.99 -> 25.50 is 2550 cents on the ad set, nothing else.
    let budget = l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap();
    let u = only(&budget);
    assert_eq!((u.object.as_str(), u.level), ("adset", Level::AdSet));
    assert_eq!(u.id, l.id("adset"));
    assert_eq!(
        u.fields,
        *json!({"daily_budget": 2550}).as_object().unwrap()
    );

    // End date: the ad set's end_time.
    let end = l
        .edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
        .unwrap();
    assert_eq!(
        only(&end).fields,
        *json!({"end_time": "2026-04-30T23:59:59-0500"})
            .as_object()
            .unwrap()
    );

    // Targeting: the whole spec, because Meta replaces it.
    let targeting = l.edit(|s| s["targeting"]["age_max"] = json!(44)).unwrap();
    let u = only(&targeting);
    assert_eq!(keys(u), ["targeting"]);
    assert_eq!(u.fields["targeting"]["age_max"], 44);
    assert_eq!(
        u.fields["targeting"]["geo_locations"]["countries"],
        json!(["US", "CA"])
    );
    assert_eq!(
        u.fields["targeting"]["flexible_spec"][0]["interests"][0]["id"],
        "6003107902433"
    );

    // Refused: objective, budget type.
    let (field, message) = refused_field(l.edit(|s| s["objective"] = json!("ENGAGEMENT")));
    assert_eq!(field, "payload_config.objective");
    assert!(message.contains("new ticket"), "{message}");
    let (field, _) = refused_field(l.edit(|s| s["budget"]["period"] = json!("LIFETIME")));
    assert_eq!(field, "payload_config.budget.period");
    // A creative change is planned on the ad (a new creative swapped in).
    let c = l
        .edit(|s| s["creative"]["link_url"] = json!("https://example.com/moana-2"))
        .unwrap();
    assert_eq!(
        (only(&c).object.as_str(), keys(only(&c))),
        ("ad", vec!["creative"])
    );
    let (field, _) = refused_field(
        l.edit(|s| s["overrides"]["meta"]["adset"] = json!({"destination_type": "WEBSITE"})),
    );
    assert_eq!(
        field,
        "payload_config.overrides.meta.adset.destination_type"
    );

    // No change, no updates.
    assert!(l.edit(|_| {}).unwrap().is_empty());
}

#[tokio::test]
async fn meta_apply_writes_once_then_holds() {
    let l = Live::deploy(Platform::Meta).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    // Meta reads budgets back as strings; read_object gives the wire integer.
    let before = l.read(&u).await;
    assert_eq!(before["daily_budget"], json!(1999));
    assert_eq!(before[DELIVERY_STATE], "PAUSED");
    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["daily_budget".into()]
        }
    );
    assert_eq!(
        l.fake.object(&u.id).unwrap().body["daily_budget"],
        json!(2550)
    );
    assert_eq!(l.read(&u).await["daily_budget"], json!(2550));
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&u.id), 1);
    assert_eq!(
        l.fake.calls("meta adset update"),
        1,
        "the second apply only read"
    );

    // The end time reads back in the account's time zone: still the same instant.
    let end = only(
        &l.edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
            .unwrap(),
    )
    .clone();
    assert!(matches!(
        l.apply(&end).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.read(&end).await["end_time"], "2026-04-30T21:59:59-0700");
    assert_eq!(l.apply(&end).await.unwrap(), Applied::AlreadyHeld);

    // Targeting: written whole, then held.
    let t = only(&l.edit(|s| s["targeting"]["age_max"] = json!(44)).unwrap()).clone();
    assert!(matches!(
        l.apply(&t).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.apply(&t).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(
        l.fake.writes(&t.id),
        3,
        "budget, end time, targeting: one write each"
    );
}

#[tokio::test]
async fn meta_lost_answers_are_read_back_not_written_twice() {
    let l = Live::deploy(Platform::Meta).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    // Applied, then the answer never arrives in time.
    l.fake.fail_next_update("adset", Fault::Lose);
    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["daily_budget".into()]
        }
    );
    assert_eq!(l.fake.writes(&u.id), 1);
    assert_eq!(l.fake.calls("meta adset update"), 1);

    // Applied, then HTTP 500.
    let end = only(
        &l.edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
            .unwrap(),
    )
    .clone();
    l.fake.fail_next_update("adset", Fault::AppliedServerError);
    assert!(matches!(
        l.apply(&end).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&u.id), 2);

    // Not applied and 5xx: the read shows it, so the error comes back for a later retry.
    let t = only(&l.edit(|s| s["targeting"]["age_max"] = json!(44)).unwrap()).clone();
    l.fake.fail_next_update("adset", Fault::ServerError);
    let e = l.apply(&t).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(e.outcome_unknown);
    assert_eq!(e.object.as_deref(), Some("adset"));
    assert_eq!(l.fake.writes(&u.id), 2);
    assert!(matches!(
        l.apply(&t).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&u.id), 3);
}

#[tokio::test]
async fn meta_creative_change_makes_one_new_creative_and_one_ad_write() {
    let l = Live::deploy(Platform::Meta).await;
    let (ad, old) = (l.id("ad"), l.id("creative"));
    let u = only(
        &l.edit(|s| s["creative"]["headline"] = json!("Moana sails again"))
            .unwrap(),
    )
    .clone();
    assert_eq!(
        (u.object.as_str(), u.id.as_str(), u.level),
        ("ad", ad.as_str(), Level::Ad)
    );
    assert_eq!(keys(&u), ["creative"]);
    assert_eq!(
        u.fields["creative"]["object_story_spec"]["link_data"]["name"],
        "Moana sails again"
    );
    assert_eq!(l.read(&u).await["creative"]["id"], json!(old));

    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["creative".into()]
        }
    );
    let creatives = l.fake.objects("creative");
    assert_eq!(creatives.len(), 2, "one new creative");
    let new = creatives.iter().find(|c| c.id != old).expect("the new one");
    let link = &new.body["object_story_spec"]["link_data"];
    assert_eq!(link["name"], "Moana sails again");
    assert_eq!(link["message"], "Sail with Moana this March.");
    assert_eq!(new.body["object_story_spec"]["page_id"], "1122334455");
    let old_name = l.fake.object(&old).unwrap().name.unwrap();
    let new_name = new.name.clone().unwrap();
    assert!(new_name.starts_with(&format!("{old_name} #")), "{new_name}");
    assert_eq!(
        l.fake.object(&ad).unwrap().body["creative"]["creative_id"],
        json!(new.id)
    );
    assert_eq!(l.fake.writes(&ad), 1);
    assert_eq!(l.read(&u).await["creative"]["id"], json!(new.id));

    // Again: the ad's creative already has this content; nothing is created or written.
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&ad), 1);
    assert_eq!(l.fake.calls("meta ad update"), 1);
    assert_eq!(l.fake.objects("creative").len(), 2);

    // The next change keeps the base name (suffixes do not pile up).
    let v = only(
        &l.edit(|s| s["creative"]["body"] = json!("Sail again."))
            .unwrap(),
    )
    .clone();
    l.apply(&v).await.unwrap();
    let third = l
        .fake
        .objects("creative")
        .into_iter()
        .find(|c| c.id != old && c.id != new.id)
        .expect("a third creative");
    let third_name = third.name.unwrap();
    assert!(
        third_name.starts_with(&format!("{old_name} #")),
        "{third_name}"
    );
    assert_eq!(third_name.len(), new_name.len());
    assert_eq!(l.fake.writes(&ad), 2);
    assert_eq!(l.fake.duplicates(), 0);
}

#[tokio::test]
async fn meta_creative_change_lost_answers_make_no_second_creative_or_write() {
    let l = Live::deploy(Platform::Meta).await;
    let ad = l.id("ad");
    // The ad write is applied, its answer lost: read back, not written twice.
    let u = only(
        &l.edit(|s| s["creative"]["headline"] = json!("Moana sails again"))
            .unwrap(),
    )
    .clone();
    l.fake.fail_next_update("ad", Fault::Lose);
    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["creative".into()]
        }
    );
    assert_eq!(l.fake.writes(&ad), 1);
    assert_eq!(l.fake.calls("meta ad update"), 1);
    assert_eq!(l.fake.objects("creative").len(), 2);
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&ad), 1);

    // The create is applied, its answer lost: found by name, not created again.
    let v = only(
        &l.edit(|s| s["creative"]["headline"] = json!("Third"))
            .unwrap(),
    )
    .clone();
    l.fake.fail_next("creative", Fault::Lose);
    assert!(matches!(
        l.apply(&v).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.objects("creative").len(), 3);
    assert_eq!(l.fake.writes(&ad), 2);

    // The ad write fails (not applied): the error comes back; the retry reuses the creative.
    let x = only(
        &l.edit(|s| s["creative"]["headline"] = json!("Fourth"))
            .unwrap(),
    )
    .clone();
    l.fake.fail_next_update("ad", Fault::ServerError);
    let e = l.apply(&x).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert_eq!(e.object.as_deref(), Some("ad"));
    assert_eq!(l.fake.objects("creative").len(), 4);
    assert_eq!(l.fake.writes(&ad), 2);
    assert!(matches!(
        l.apply(&x).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(
        l.fake.objects("creative").len(),
        4,
        "the retry found it by name"
    );
    assert_eq!(l.fake.writes(&ad), 3);
    assert_eq!(l.fake.duplicates(), 0);
    let now = l.fake.object(&ad).unwrap().body["creative"]["creative_id"].clone();
    let c = l.fake.object(now.as_str().unwrap()).unwrap();
    assert_eq!(c.body["object_story_spec"]["link_data"]["name"], "Fourth");
}

#[tokio::test]
async fn meta_throttling_is_a_rate_limit_with_the_wait() {
    let l = Live::deploy(Platform::Meta).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    l.fake.fail_next_update(
        "adset",
        Fault::RateLimit {
            retry_after_secs: 300,
        },
    );
    let e = l.apply(&u).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert_eq!(e.code.as_deref(), Some("80004"));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(300)));
    assert!(!e.outcome_unknown);
    no_secret(&e);
    assert_eq!(l.fake.writes(&u.id), 0);

    l.fake.fail_next_read(
        "adset",
        Fault::RateLimit {
            retry_after_secs: 120,
        },
    );
    let e = l.apply(&u).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(120)));

    // An ad set's budget may change 4 times an hour; the fifth change is code 17 for an hour.
    for cents in [2001, 2002, 2003, 2004] {
        let mut b = u.clone();
        b.fields.insert("daily_budget".into(), json!(cents));
        l.apply(&b).await.unwrap();
    }
    let mut fifth = u.clone();
    fifth.fields.insert("daily_budget".into(), json!(2005));
    let e = l.apply(&fifth).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert_eq!(e.code.as_deref(), Some("17"));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3600)));
}

// ------------------------------------------------------------------ TikTok edits

#[tokio::test]
async fn tiktok_edits_budget_end_time_and_targeting_and_refuses_the_rest() {
    let l = Live::deploy(Platform::Tiktok).await;
    let budget = l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap();
    let u = only(&budget);
    assert_eq!((u.object.as_str(), u.level), ("adgroup", Level::AdSet));
    assert_eq!(keys(u), ["budget"]);
    assert_eq!(u.fields["budget"].to_string(), "25.5", "major units, exact");

    let end = l
        .edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
        .unwrap();
    assert_eq!(
        only(&end).fields,
        *json!({"schedule_end_time": "2026-05-01 04:59:59"})
            .as_object()
            .unwrap(),
        "UTC"
    );

    // Targeting: only the ad-group fields that changed; a removed list goes empty.
    let t = l
        .edit(|s| {
            s["targeting"]["age_max"] = json!(44);
            s["targeting"]["interests"] = json!([]);
        })
        .unwrap();
    let u = only(&t);
    assert_eq!(keys(u), ["age_groups", "interest_category_ids"]);
    assert_eq!(
        u.fields["age_groups"],
        json!(["AGE_18_24", "AGE_25_34", "AGE_35_44"])
    );
    assert_eq!(u.fields["interest_category_ids"], json!([]));

    let (field, message) = refused_field(l.edit(|s| s["budget"]["period"] = json!("LIFETIME")));
    assert_eq!(field, "payload_config.budget.period");
    assert!(message.contains("daily and lifetime"), "{message}");
    let (field, _) = refused_field(l.edit(|s| s["objective"] = json!("ENGAGEMENT")));
    assert_eq!(field, "payload_config.objective");
    // New creatives replace the ad's; adding one is an update of the ad with both (see
    // tiktok_adding_and_removing_creatives_creates_and_disables_ads).
    let c = l
        .edit(|s| s["creative"]["link_url"] = json!("https://example.com/moana-2"))
        .unwrap();
    assert_eq!(only(&c).object, "ad");
    let two = l
        .edit(|s| {
            s["overrides"]["tiktok"]["ad"]["creatives"] =
                json!([{"video_id": "v10033g50000abc"}, {"video_id": "v10033g50000def"}])
        })
        .unwrap();
    assert_eq!(
        only(&two).fields["creatives"].as_array().map(Vec::len),
        Some(2)
    );
    // Stored ads that do not match the creatives (two ads, one creative): refused.
    let mut odd = l.ids.clone();
    odd.insert("ad".into(), json!(format!("{},999", l.id("ad"))));
    let mut s = spec();
    s["creative"]["body"] = json!("Other text.");
    let after = translate(&l.w, &s).unwrap();
    let (field, message) = refused_field(plan_edit(Platform::Tiktok, &l.before, &after, &odd));
    assert_eq!(field, "payload_config.creative");
    assert!(message.contains("one for one"), "{message}");
    let (field, _) =
        refused_field(l.edit(|s| s["targeting"]["placements"] = json!(["TIKTOK", "PANGLE"])));
    assert_eq!(field, "payload_config.targeting.placements");
}

#[tokio::test]
async fn tiktok_apply_writes_once_money_exact() {
    let l = Live::deploy(Platform::Tiktok).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    assert_eq!(l.read(&u).await["budget"].to_string(), "19.99");
    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["budget".into()]
        }
    );
    assert_eq!(l.fake.calls("tiktok adgroup update"), 1);
    assert_eq!(
        l.fake.object(&u.id).unwrap().body["budget"].to_string(),
        "25.5"
    );
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&u.id), 1);

    // A whole amount: the translator sends 30.0; whether the platform answers 30 or 30.0 it
    // is the same amount, so nothing is written again.
    let whole = only(&l.edit(|s| s["budget"]["amount"] = json!("30.00")).unwrap()).clone();
    assert_eq!(whole.fields["budget"].to_string(), "30.0");
    l.apply(&whole).await.unwrap();
    assert_eq!(l.read(&whole).await["budget"], json!(30));
    assert_eq!(l.apply(&whole).await.unwrap(), Applied::AlreadyHeld);
    l.fake.set_field(&u.id, "budget", json!(30));
    assert_eq!(l.apply(&whole).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&u.id), 2);

    // Status and fields together: status endpoint first, then adgroup/update/.
    let mut both = l
        .edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
        .unwrap()
        .remove(0);
    both.fields
        .insert("operation_status".into(), json!("ENABLE"));
    assert_eq!(
        l.apply(&both).await.unwrap(),
        Applied::Written {
            fields: vec!["operation_status".into(), "schedule_end_time".into()]
        }
    );
    assert_eq!(l.fake.calls("tiktok adgroup status"), 1);
    assert_eq!(l.apply(&both).await.unwrap(), Applied::AlreadyHeld);
}

#[tokio::test]
async fn tiktok_lost_answers_and_throttling() {
    let l = Live::deploy(Platform::Tiktok).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    l.fake.fail_next_update("adgroup", Fault::Lose);
    assert!(matches!(
        l.apply(&u).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&u.id), 1);
    assert_eq!(l.fake.calls("tiktok adgroup update"), 1, "not sent twice");

    let end = only(
        &l.edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
            .unwrap(),
    )
    .clone();
    l.fake
        .fail_next_update("adgroup", Fault::AppliedServerError);
    assert!(matches!(
        l.apply(&end).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&u.id), 2);

    // Code 40100 on HTTP 200. TikTok gives no wait: the caller backs off on its own.
    let t = only(&l.edit(|s| s["targeting"]["age_max"] = json!(44)).unwrap()).clone();
    l.fake.fail_next_update(
        "adgroup",
        Fault::RateLimit {
            retry_after_secs: 30,
        },
    );
    let e = l.apply(&t).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert_eq!(e.code.as_deref(), Some("40100"));
    assert_eq!(e.http_status, Some(200));
    no_secret(&e);
    assert_eq!(l.fake.writes(&u.id), 2);

    // A status update lost on the way back.
    let on = plan_status(Platform::Tiktok, &l.ids, LiveStatus::Active).unwrap();
    l.fake.fail_next_update("ad", Fault::Lose);
    assert!(matches!(
        l.apply(&on[0]).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&on[0].id), 1);
    assert_eq!(l.fake.calls("tiktok ad status"), 1);
}

#[tokio::test]
async fn tiktok_creative_change_updates_the_ad_once() {
    let l = Live::deploy(Platform::Tiktok).await;
    let ad = l.id("ad");
    let u = only(
        &l.edit(|s| s["creative"]["body"] = json!("Sail again with Moana."))
            .unwrap(),
    )
    .clone();
    assert_eq!((u.object.as_str(), u.id.as_str()), ("ad", ad.as_str()));
    assert_eq!(u.fields["adgroup_id"], json!(l.id("adgroup")));
    assert_eq!(
        u.fields["creatives"][0]["ad_text"],
        "Sail again with Moana."
    );
    assert_eq!(
        l.read(&u).await["creatives"][0]["ad_text"],
        "Sail with Moana this March."
    );

    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["creatives".into()]
        }
    );
    let body = l.fake.object(&ad).unwrap().body;
    assert_eq!(body["creatives"][0]["ad_text"], "Sail again with Moana.");
    assert_eq!(body["creatives"][0]["video_id"], "v10033g50000abc");
    assert_eq!(l.fake.writes(&ad), 1);
    assert_eq!(l.fake.calls("tiktok ad update"), 1);
    assert_eq!(
        l.read(&u).await["creatives"][0]["ad_text"],
        "Sail again with Moana."
    );
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&ad), 1);
    assert_eq!(l.fake.calls("tiktok ad update"), 1);

    // Applied, answer lost: read back, not sent twice.
    let v = only(
        &l.edit(|s| s["creative"]["body"] = json!("Third text."))
            .unwrap(),
    )
    .clone();
    l.fake.fail_next_update("ad", Fault::Lose);
    assert!(matches!(
        l.apply(&v).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&ad), 2);
    assert_eq!(l.fake.calls("tiktok ad update"), 2);
    assert_eq!(l.apply(&v).await.unwrap(), Applied::AlreadyHeld);
}

// ------------------------------------------------------------------ Google edits

#[tokio::test]
async fn google_edits_budget_end_date_and_network_and_refuses_the_rest() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let budget = l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap();
    let u = only(&budget);
    assert_eq!(
        (u.object.as_str(), u.level),
        ("campaign_budget", Level::Budget)
    );
    assert_eq!(
        u.fields,
        *json!({"amountMicros": "25500000"}).as_object().unwrap()
    );

    let end = l
        .edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
        .unwrap();
    let u = only(&end);
    assert_eq!((u.object.as_str(), u.level), ("campaign", Level::Campaign));
    assert_eq!(
        u.fields,
        *json!({"endDateTime": "2026-04-30 23:59:59"})
            .as_object()
            .unwrap()
    );

    // Placements are network settings on the campaign: a masked leaf.
    let t = l
        .edit(|s| {
            s["targeting"]["placements"] =
                json!(["FACEBOOK", "INSTAGRAM", "TIKTOK", "GOOGLE_SEARCH"])
        })
        .unwrap();
    assert_eq!(
        only(&t).fields,
        *json!({"networkSettings.targetSearchNetwork": false})
            .as_object()
            .unwrap()
    );

    // Refused: budget period, the campaign type.
    let (field, message) = refused_field(l.edit(|s| s["budget"]["period"] = json!("LIFETIME")));
    assert_eq!(field, "payload_config.budget.period");
    assert!(message.contains("immutable"), "{message}");
    // Criteria and the ad's content are replaced live (see the replacement tests).
    let ages = only(&l.edit(|s| s["targeting"]["age_max"] = json!(44)).unwrap()).clone();
    assert_eq!(
        (ages.object.as_str(), ages.level),
        ("ad_group_criterion", Level::AdSet)
    );
    let link = only(
        &l.edit(|s| s["creative"]["link_url"] = json!("https://example.com/moana-2"))
            .unwrap(),
    )
    .clone();
    assert_eq!(keys(&link), ["ad"]);
    assert_eq!(
        link.fields["ad"]["finalUrls"],
        json!(["https://example.com/moana-2"])
    );
    let (field, _) = refused_field(l.edit(|s| {
        s["targeting"]["placements"] = json!(["DISPLAY_NETWORK"]);
        s["overrides"]["google_ads"]["ad_group_ad"]["ad"]["responsiveDisplayAd"] = json!({
            "marketingImages": [{"asset": "customers/1234567890/assets/111"}],
            "squareMarketingImages": [{"asset": "customers/1234567890/assets/222"}]
        });
    }));
    assert_eq!(field, "payload_config.targeting.placements");
    // A CPC ceiling on the same strategy (Maximize clicks) is a live bid change; moving to
    // another strategy is a switch (see google_bidding_strategy_switch_is_one_write).
    let cap = l
        .edit(|s| s["bidding"] = json!({"strategy": "BID_CAP", "bid_amount": "2.00"}))
        .unwrap();
    assert_eq!(
        only(&cap).fields,
        *json!({"targetSpend.cpcBidCeilingMicros": "2000000"})
            .as_object()
            .unwrap()
    );
    let switch = l
        .edit(|s| s["bidding"] = json!({"strategy": "COST_CAP", "bid_amount": "2.00"}))
        .unwrap();
    assert_eq!(
        only(&switch).fields["biddingStrategyType"],
        "MAXIMIZE_CONVERSIONS"
    );
}

#[tokio::test]
async fn google_apply_masks_exactly_the_fields_and_holds() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    let before = l.read(&u).await;
    assert_eq!(before["amountMicros"], "19990000");
    assert_eq!(before[DELIVERY_STATE], "ENABLED");
    assert_eq!(
        l.apply(&u).await.unwrap(),
        Applied::Written {
            fields: vec!["amountMicros".into()]
        }
    );
    let stored = l.fake.object(&u.id).unwrap().body;
    assert_eq!(stored["amountMicros"], "25500000");
    assert_eq!(stored["period"], "DAILY", "unmasked fields untouched");
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&u.id), 1);

    let t = only(
        &l.edit(|s| {
            s["targeting"]["placements"] =
                json!(["FACEBOOK", "INSTAGRAM", "TIKTOK", "GOOGLE_SEARCH"])
        })
        .unwrap(),
    )
    .clone();
    assert!(matches!(
        l.apply(&t).await.unwrap(),
        Applied::Written { .. }
    ));
    let campaign = l.fake.object(&t.id).unwrap().body;
    assert_eq!(campaign["networkSettings"]["targetSearchNetwork"], false);
    assert_eq!(campaign["networkSettings"]["targetGoogleSearch"], true);
    assert_eq!(l.apply(&t).await.unwrap(), Applied::AlreadyHeld);

    // Clearing the end date: named in the mask, left out of the object.
    let clear = ObjectUpdate {
        fields: json!({"endDateTime": null}).as_object().unwrap().clone(),
        ..t.clone()
    };
    assert!(matches!(
        l.apply(&clear).await.unwrap(),
        Applied::Written { .. }
    ));
    assert!(
        l.fake
            .object(&t.id)
            .unwrap()
            .body
            .get("endDateTime")
            .is_none()
    );
    assert_eq!(l.apply(&clear).await.unwrap(), Applied::AlreadyHeld);
}

#[tokio::test]
async fn google_lost_answers_and_quota() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    l.fake.fail_next_update("campaign_budget", Fault::Lose);
    assert!(matches!(
        l.apply(&u).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&u.id), 1);
    assert_eq!(l.fake.calls("google campaign_budget update"), 1);

    let end = only(
        &l.edit(|s| s["schedule"]["end_time"] = json!("2026-04-30T23:59:59-05:00"))
            .unwrap(),
    )
    .clone();
    l.fake
        .fail_next_update("campaign", Fault::AppliedServerError);
    assert!(matches!(
        l.apply(&end).await.unwrap(),
        Applied::Written { .. }
    ));
    assert_eq!(l.fake.writes(&end.id), 1);

    l.fake.fail_next_update(
        "campaign",
        Fault::RateLimit {
            retry_after_secs: 45,
        },
    );
    let on = plan_status(Platform::GoogleAds, &l.ids, LiveStatus::Active).unwrap();
    let e = l.apply(&on[2]).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited);
    assert_eq!(e.http_status, Some(429));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(45)));
    no_secret(&e);
    assert_eq!(l.fake.writes(&end.id), 1);

    // A permanent refusal names the field.
    l.fake.fail_next_update("campaign", Fault::Reject);
    let e = l.apply(&on[2]).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(e.subcode.as_deref(), Some("CANNOT_SET_DATE_TO_PAST"));
    assert!(e.field_path.unwrap().ends_with("end_date_time"));
}

// ------------------------------------------------------------------ replaced objects

impl Live {
    async fn apply_ids(&self, u: &ObjectUpdate) -> (Applied, Map<String, Value>) {
        self.clients
            .apply_update_with_ids(&self.w.channel, u)
            .await
            .unwrap_or_else(|e| panic!("apply {}: {e}", u.object))
    }
}

fn criterion_ids(ids: &Map<String, Value>, key: &str) -> Vec<String> {
    let mut v: Vec<String> = ids[key]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .map(str::to_owned)
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn google_targeting_criteria_are_removed_and_created_in_one_mutate() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let (campaign, group) = (l.id("campaign"), l.id("ad_group"));
    let ad_group_before: Vec<String> = l
        .fake
        .children("ad_group_criterion", &group)
        .into_iter()
        .map(|o| o.id)
        .collect();
    // Interest + 4 excluded age ranges + undetermined age + 2 excluded genders.
    assert_eq!(ad_group_before.len(), 8);
    let plan = l
        .edit(|s| {
            s["targeting"]["countries"] = json!(["US", "GB"]);
            s["targeting"]["age_max"] = json!(44);
        })
        .unwrap();
    let objects: Vec<&str> = plan.iter().map(|u| u.object.as_str()).collect();
    assert_eq!(objects, ["campaign_criterion", "ad_group_criterion"]);
    let (cc, ag) = (plan[0].clone(), plan[1].clone());
    assert_eq!(cc.fields["parent_id"], json!(campaign));
    assert_eq!(cc.fields["criteria"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        cc.fields["criteria"][0]["campaign"],
        json!(format!("customers/1234567890/campaigns/{campaign}"))
    );

    // Locations: CA goes, GB comes, US stays; one mutate.
    let us = l
        .fake
        .children("campaign_criterion", &campaign)
        .into_iter()
        .find(|o| o.body["location"]["geoTargetConstant"] == "geoTargetConstants/2840")
        .expect("US")
        .id;
    let mutates = l.fake.calls("google campaign_criterion mutate");
    let (applied, ids) = l.apply_ids(&cc).await;
    assert_eq!(
        applied,
        Applied::Written {
            fields: vec!["criteria".into()]
        }
    );
    assert_eq!(
        l.fake.calls("google campaign_criterion mutate"),
        mutates + 1
    );
    let live = l.fake.children("campaign_criterion", &campaign);
    let mut geos: Vec<&str> = live
        .iter()
        .filter_map(|o| o.body["location"]["geoTargetConstant"].as_str())
        .collect();
    geos.sort();
    assert_eq!(geos, ["geoTargetConstants/2826", "geoTargetConstants/2840"]);
    let mut live_ids: Vec<String> = live.iter().map(|o| o.id.clone()).collect();
    live_ids.sort();
    assert_eq!(criterion_ids(&ids, "campaign_criterion"), live_ids);
    assert!(live_ids.contains(&us), "the kept criterion keeps its id");
    // Again: nothing to do, the same ids.
    let (again, same) = l.apply_ids(&cc).await;
    assert_eq!(again, Applied::AlreadyHeld);
    assert_eq!(same, ids);
    assert_eq!(
        l.fake.calls("google campaign_criterion mutate"),
        mutates + 1
    );

    // Ages: the 35-44 exclusion goes. The answer is lost: read back, not sent twice.
    let mutates = l.fake.calls("google ad_group_criterion mutate");
    l.fake.fail_next("ad_group_criterion", Fault::Lose);
    let (applied, ids) = l.apply_ids(&ag).await;
    assert!(matches!(applied, Applied::Written { .. }), "{applied:?}");
    assert_eq!(
        l.fake.calls("google ad_group_criterion mutate"),
        mutates + 1
    );
    let live = l.fake.children("ad_group_criterion", &group);
    assert_eq!(live.len(), 7);
    assert!(
        !live
            .iter()
            .any(|o| o.body["ageRange"]["type"] == "AGE_RANGE_35_44")
    );
    let kept: Vec<&String> = ad_group_before
        .iter()
        .filter(|id| live.iter().any(|o| &o.id == *id))
        .collect();
    assert_eq!(kept.len(), 7, "nothing else was removed or recreated");
    let mut live_ids: Vec<String> = live.iter().map(|o| o.id.clone()).collect();
    live_ids.sort();
    assert_eq!(criterion_ids(&ids, "ad_group_criterion"), live_ids);
    let read = l.read(&ag).await;
    assert_eq!(read["criteria"].as_array().map(Vec::len), Some(7));

    // No age or gender targeting at all: every managed ad-group criterion but the interest
    // goes, none is created.
    let mut open = l.ids.clone();
    open.insert(
        "ad_group_criterion".into(),
        ids["ad_group_criterion"].clone(),
    );
    let mut s = spec();
    s["targeting"]["age_min"] = Value::Null;
    s["targeting"]["age_max"] = Value::Null;
    s["targeting"]["genders"] = json!([]);
    let after = translate(&l.w, &s).expect("translates");
    let wide = plan_edit(Platform::GoogleAds, &l.before, &after, &open).unwrap();
    let wide = wide
        .iter()
        .find(|u| u.object == "ad_group_criterion")
        .expect("criteria update");
    let (_, ids) = l.apply_ids(wide).await;
    let live = l.fake.children("ad_group_criterion", &group);
    assert_eq!(live.len(), 1, "{live:?}");
    assert!(live[0].body.get("userInterest").is_some());
    assert_eq!(ids["ad_group_criterion"], json!(live[0].id));
}

#[tokio::test]
async fn google_bidding_strategy_switch_is_one_write_and_switches_back() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let campaign = l.id("campaign");
    // Deployed as Maximize clicks (targetSpend, no ceiling).
    assert!(
        l.fake
            .object(&campaign)
            .unwrap()
            .body
            .get("targetSpend")
            .is_some()
    );
    let mut s = spec();
    s["bidding"] = json!({"strategy": "COST_CAP", "bid_amount": "2.00"});
    let after = translate(&l.w, &s).unwrap();
    let u = only(&plan_edit(Platform::GoogleAds, &l.before, &after, &l.ids).unwrap()).clone();
    assert_eq!(
        u.fields,
        *json!({"biddingStrategyType": "MAXIMIZE_CONVERSIONS", "maximizeConversions.targetCpaMicros": "2000000"})
            .as_object()
            .unwrap()
    );
    assert_eq!(l.read(&u).await["biddingStrategyType"], "TARGET_SPEND");
    assert!(matches!(
        l.apply(&u).await.unwrap(),
        Applied::Written { .. }
    ));
    let body = l.fake.object(&campaign).unwrap().body;
    assert_eq!(body["maximizeConversions"]["targetCpaMicros"], "2000000");
    assert!(body.get("targetSpend").is_none(), "{body}");
    assert_eq!(l.fake.writes(&campaign), 1);
    assert_eq!(l.apply(&u).await.unwrap(), Applied::AlreadyHeld);
    assert_eq!(l.fake.writes(&campaign), 1);

    // Back to Maximize clicks, which has no setting to send; the answer is lost.
    let back = only(&plan_edit(Platform::GoogleAds, &after, &l.before, &l.ids).unwrap()).clone();
    assert_eq!(
        back.fields,
        *json!({"biddingStrategyType": "TARGET_SPEND", "targetSpend.cpcBidCeilingMicros": null})
            .as_object()
            .unwrap()
    );
    l.fake.fail_next_update("campaign", Fault::Lose);
    assert!(matches!(
        l.apply(&back).await.unwrap(),
        Applied::Written { .. }
    ));
    let body = l.fake.object(&campaign).unwrap().body;
    assert_eq!(body["targetSpend"], json!({}));
    assert!(body.get("maximizeConversions").is_none(), "{body}");
    assert_eq!(l.fake.writes(&campaign), 2);
    assert_eq!(l.apply(&back).await.unwrap(), Applied::AlreadyHeld);
}

#[tokio::test]
async fn google_new_ad_text_creates_one_ad_pauses_the_old_and_rolls_back() {
    let l = Live::deploy(Platform::GoogleAds).await;
    let (group, old) = (l.id("ad_group"), l.id("ad_group_ad"));
    // Live, as after a launch.
    l.fake.set_field(&old, "status", json!("ENABLED"));
    let mut s = spec();
    s["overrides"]["google_ads"]["ad_group_ad"]["ad"]["responsiveSearchAd"]["headlines"][0] =
        json!({"text": "Moana sails again"});
    let after = translate(&l.w, &s).unwrap();
    let u = only(&plan_edit(Platform::GoogleAds, &l.before, &after, &l.ids).unwrap()).clone();
    assert_eq!(
        (u.object.as_str(), u.id.as_str(), u.level),
        ("ad_group_ad", old.as_str(), Level::Ad)
    );
    assert_eq!(keys(&u), ["ad"]);

    // The create's answer is lost: the ad group is read and the new ad found, not made twice.
    l.fake.fail_next("ad_group_ad", Fault::Lose);
    let (applied, ids) = l.apply_ids(&u).await;
    assert_eq!(
        applied,
        Applied::Written {
            fields: vec!["ad".into()]
        }
    );
    let ads = l.fake.children("ad_group_ad", &group);
    assert_eq!(ads.len(), 2, "one new ad: {ads:?}");
    let new = ids["ad_group_ad"].as_str().expect("new ad id").to_owned();
    assert_ne!(new, old);
    let new_ad = l.fake.object(&new).unwrap().body;
    assert_eq!(new_ad["status"], "ENABLED", "delivers as the old ad did");
    assert_eq!(
        new_ad["ad"]["responsiveSearchAd"]["headlines"][0]["text"],
        "Moana sails again"
    );
    assert_eq!(l.fake.object(&old).unwrap().body["status"], "PAUSED");
    assert_eq!(l.fake.writes(&old), 1);
    assert_eq!(l.fake.writes(&new), 0);

    // Under its new id the ad already holds the text; under the old id (a retry that did
    // not record the new id) nothing more happens either.
    let moved = ObjectUpdate {
        id: new.clone(),
        ..u.clone()
    };
    assert_eq!(l.apply_ids(&moved).await.0, Applied::AlreadyHeld);
    let (again, same) = l.apply_ids(&u).await;
    assert_eq!(again, Applied::AlreadyHeld);
    assert_eq!(same, ids);
    assert_eq!(l.fake.children("ad_group_ad", &group).len(), 2);
    assert_eq!(l.fake.writes(&old), 1);
    let read = l.read(&moved).await;
    assert_eq!(
        read["ad"]["responsiveSearchAd"]["headlines"][0]["text"],
        "Moana sails again"
    );
    assert_eq!(read[DELIVERY_STATE], "ELIGIBLE");

    // Rolling back enables the original ad again instead of making a third.
    let mut now = l.ids.clone();
    now.insert("ad_group_ad".into(), json!(new));
    let back = only(&plan_edit(Platform::GoogleAds, &after, &l.before, &now).unwrap()).clone();
    let (applied, ids) = l.apply_ids(&back).await;
    assert!(matches!(applied, Applied::Written { .. }));
    assert_eq!(ids["ad_group_ad"], json!(old));
    assert_eq!(l.fake.children("ad_group_ad", &group).len(), 2);
    assert_eq!(l.fake.object(&old).unwrap().body["status"], "ENABLED");
    assert_eq!(l.fake.object(&new).unwrap().body["status"], "PAUSED");
    assert_eq!((l.fake.writes(&old), l.fake.writes(&new)), (2, 1));
}

#[tokio::test]
async fn meta_creative_swap_hands_back_the_new_creative_id() {
    let l = Live::deploy(Platform::Meta).await;
    let old = l.id("creative");
    let u = only(
        &l.edit(|s| s["creative"]["headline"] = json!("Moana sails again"))
            .unwrap(),
    )
    .clone();
    let (applied, ids) = l.apply_ids(&u).await;
    assert!(matches!(applied, Applied::Written { .. }));
    let new = ids["creative"].as_str().expect("creative id").to_owned();
    assert_ne!(new, old);
    assert_eq!(
        l.fake.object(&l.id("ad")).unwrap().body["creative"]["creative_id"],
        json!(new)
    );
    // The old creative is left as it was (Meta creatives have no status to pause).
    assert!(l.fake.object(&old).is_some());
    // A retry that finds the swap done still learns the id.
    let (again, same) = l.apply_ids(&u).await;
    assert_eq!(again, Applied::AlreadyHeld);
    assert_eq!(same, ids);
}

#[tokio::test]
async fn tiktok_error_list_in_an_ok_answer_fails_that_object() {
    let l = Live::deploy(Platform::Tiktok).await;
    let adgroup = l.id("adgroup");
    l.fake.refuse_in_error_list(&adgroup);
    let u = only(&l.edit(|s| s["budget"]["amount"] = json!("25.50")).unwrap()).clone();
    assert_eq!(u.id, adgroup);
    let e = l.apply(&u).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Permanent);
    assert_eq!(e.code.as_deref(), Some("ERROR_LIST"));
    assert_eq!(e.object.as_deref(), Some("adgroup"));
    assert!(e.message.contains(&adgroup), "{}", e.message);
    assert!(e.message.contains("being reviewed"), "{}", e.message);
    assert_eq!(e.field_path.as_deref(), Some("budget"));
    assert_eq!(l.fake.writes(&adgroup), 0);
    assert_eq!(
        l.fake.object(&adgroup).unwrap().body["budget"].to_string(),
        "19.99"
    );

    // Status: the ad goes live, the ad group's refusal is its own failure.
    let on = plan_status(Platform::Tiktok, &l.ids, LiveStatus::Active).unwrap();
    assert_eq!(
        (on[0].object.as_str(), on[1].object.as_str()),
        ("ad", "adgroup")
    );
    assert!(matches!(
        l.apply(&on[0]).await.unwrap(),
        Applied::Written { .. }
    ));
    let e = l.apply(&on[1]).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ERROR_LIST"));
    assert_eq!(e.field_path.as_deref(), Some("operation_status"));
    assert_ne!(
        l.fake.object(&adgroup).unwrap().body["operation_status"],
        "ENABLE"
    );
    assert_eq!(l.fake.writes(&adgroup), 0);
}

#[tokio::test]
async fn tiktok_adding_and_removing_creatives_creates_and_disables_ads() {
    let l = Live::deploy(Platform::Tiktok).await;
    let (ad, group) = (l.id("ad"), l.id("adgroup"));
    // Live, as after a launch.
    l.fake.set_field(&ad, "operation_status", json!("ENABLE"));
    let in_group = |l: &Live| -> Vec<String> {
        l.fake
            .objects("ad")
            .into_iter()
            .filter(|o| o.parent.as_deref() == Some(group.as_str()))
            .map(|o| o.id)
            .collect()
    };
    let mut s = spec();
    s["overrides"]["tiktok"]["ad"]["creatives"] = json!([
        {"video_id": "v10033g50000abc", "identity_type": "CUSTOMIZED_USER", "identity_id": "7000000000000000001"},
        {"video_id": "v10033g50000def", "identity_type": "CUSTOMIZED_USER", "identity_id": "7000000000000000001"}
    ]);
    let two = translate(&l.w, &s).unwrap();
    let u = only(&plan_edit(Platform::Tiktok, &l.before, &two, &l.ids).unwrap()).clone();
    assert_eq!(u.id, ad);
    let creates = l.fake.calls("tiktok ad create");

    // The new ad's create answer is lost: the ad group is read, the ad found, not made twice.
    l.fake.fail_next("ad", Fault::Lose);
    let (applied, ids) = l.apply_ids(&u).await;
    assert_eq!(
        applied,
        Applied::Written {
            fields: vec!["creatives".into()]
        }
    );
    assert_eq!(l.fake.calls("tiktok ad create"), creates + 1);
    assert_eq!(in_group(&l).len(), 2);
    let listed: Vec<String> = ids["ad"]
        .as_str()
        .expect("ad ids")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], ad, "the first creative keeps its ad");
    let new = listed[1].clone();
    let body = l.fake.object(&new).unwrap().body;
    assert_eq!(
        body["operation_status"], "ENABLE",
        "delivers as the other ad"
    );
    assert_eq!(body["creatives"][0]["video_id"], "v10033g50000def");
    assert_eq!(l.fake.writes(&ad), 0, "the kept ad is untouched");

    // A retry under the old stored id: nothing more is created or written.
    let (again, same) = l.apply_ids(&u).await;
    assert_eq!(again, Applied::AlreadyHeld);
    assert_eq!(same, ids);
    assert_eq!(in_group(&l).len(), 2);

    // Back to one creative: the added ad is disabled (not deleted); the first stays on.
    let mut now = l.ids.clone();
    now.insert("ad".into(), ids["ad"].clone());
    let back = only(&plan_edit(Platform::Tiktok, &two, &l.before, &now).unwrap()).clone();
    let (applied, ids) = l.apply_ids(&back).await;
    assert!(matches!(applied, Applied::Written { .. }));
    assert_eq!(ids["ad"], json!(ad));
    assert_eq!(
        l.fake.object(&new).unwrap().body["operation_status"],
        "DISABLE"
    );
    assert_eq!(
        l.fake.object(&ad).unwrap().body["operation_status"],
        "ENABLE"
    );
    assert_eq!(l.fake.writes(&new), 1);

    // And again to two: the disabled ad is enabled again rather than a third made.
    let mut now = l.ids.clone();
    now.insert("ad".into(), ids["ad"].clone());
    let more = only(&plan_edit(Platform::Tiktok, &l.before, &two, &now).unwrap()).clone();
    let (_, ids) = l.apply_ids(&more).await;
    assert_eq!(ids["ad"], json!(format!("{ad},{new}")));
    assert_eq!(
        l.fake.object(&new).unwrap().body["operation_status"],
        "ENABLE"
    );
    assert_eq!(l.fake.calls("tiktok ad create"), creates + 1);
    assert_eq!(in_group(&l).len(), 2);

    // New text and a creative added at once: the stored ad gets the new text, one ad is added.
    let mut s3 = s.clone();
    s3["creative"]["body"] = json!("Sail again.");
    s3["overrides"]["tiktok"]["ad"]["creatives"] = json!([
        {"video_id": "v10033g50000abc", "identity_type": "CUSTOMIZED_USER", "identity_id": "7000000000000000001"},
        {"video_id": "v10033g50000def", "identity_type": "CUSTOMIZED_USER", "identity_id": "7000000000000000001"},
        {"video_id": "v10033g50000ghi", "identity_type": "CUSTOMIZED_USER", "identity_id": "7000000000000000001"}
    ]);
    let three = translate(&l.w, &s3).unwrap();
    let mut now = l.ids.clone();
    now.insert("ad".into(), ids["ad"].clone());
    let u3 = only(&plan_edit(Platform::Tiktok, &two, &three, &now).unwrap()).clone();
    let (_, ids) = l.apply_ids(&u3).await;
    let listed: Vec<&str> = ids["ad"].as_str().unwrap().split(',').collect();
    assert_eq!(listed.len(), 3);
    assert_eq!(&listed[..2], [ad.as_str(), new.as_str()]);
    assert_eq!(
        l.fake.object(&ad).unwrap().body["creatives"][0]["ad_text"],
        "Sail again."
    );
    assert_eq!(
        l.fake.object(listed[2]).unwrap().body["creatives"][0]["video_id"],
        "v10033g50000ghi"
    );
    assert_eq!(in_group(&l).len(), 3);
}
