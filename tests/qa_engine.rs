//! The QA engine in process: each built-in rule blocking and passing, CEL rules, and a report
//! with several failures at once. No database: the engine is pure.

use serde_json::{Value, json};

use omnitraffick::domain::{Platform, Ticket, TicketContextRef};
use omnitraffick::platforms::ApiVersions;
use omnitraffick::qa::{
    MAX_EXPRESSION_CHARS, MAX_LIST_ITEMS, Outcome, QaEngine, QaResult, RuleClock, admit_rule,
    compile_rule,
};
use omnitraffick::store::QaRuleRecord;
use omnitraffick::taxonomy::{Picklists, TaxonomyConvention};

mod fixtures;
use fixtures::{T, World};

fn world(family_friendly: bool) -> World {
    fixtures::world(family_friendly, Platform::Meta, "USD")
}

fn ticket(spec: Value) -> Ticket {
    fixtures::ticket(&world(true), spec)
}

fn engine(rules: Vec<QaRuleRecord>) -> QaEngine {
    QaEngine {
        convention: TaxonomyConvention::default(),
        picklists: Picklists {
            brand_codes: ["DIS".to_owned()].into(),
            market_codes: ["US".to_owned()].into(),
            channel_codes: ["META".to_owned(), "TIKTOK".to_owned(), "GADS".to_owned()].into(),
        },
        blocked_interests: [
            (Platform::Meta, "6003139266461".to_owned()),
            (Platform::Meta, "6004854404172".to_owned()),
        ]
        .into(),
        budget_caps: Default::default(),
        rules: rules
            .into_iter()
            .map(|r| compile_rule(r).expect("compiles"))
            .collect(),
        versions: ApiVersions::default(),
    }
}

fn good() -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "1500.00", "period": "DAILY"},
        "targeting": {"countries": ["US"], "age_min": 18, "interests": [{"id": "6003107902433"}]},
        "creative": {"link_url": "https://example.com", "headline": "Hi"},
        "overrides": {"meta": {"creative": {"object_story_spec": {"page_id": "42"}}}}
    })
}

fn run(w: &World, e: &QaEngine, t: &Ticket) -> Vec<QaResult> {
    e.check(&TicketContextRef {
        ticket: t,
        campaign: &w.campaign,
        brand: &w.brand,
        market: &w.market,
        channel: &w.channel,
        assets: omnitraffick::domain::ResolvedAssets::none(),
    })
    .results
}

fn find<'a>(results: &'a [QaResult], rule: &str) -> Vec<&'a QaResult> {
    results.iter().filter(|r| r.rule_id == rule).collect()
}

fn outcome(results: &[QaResult], rule: &str) -> Outcome {
    find(results, rule)
        .iter()
        .map(|r| r.outcome)
        .max()
        .unwrap_or_else(|| panic!("no result for {rule}: {results:?}"))
}

fn rule(name: &str, expr: &str, severity: &str) -> QaRuleRecord {
    QaRuleRecord {
        id: 0,
        name: name.into(),
        description: None,
        brand_code: None,
        market_code: None,
        platform: None,
        expression: expr.into(),
        severity: severity.into(),
        message: format!("{name} fired"),
        field_path: Some("payload_config.x".into()),
        enabled: true,
        disabled_reason: None,
        created_at: T.into(),
        updated_at: T.into(),
    }
}

#[test]
fn a_clean_ticket_passes_every_rule() {
    let w = world(true);
    let r = run(&w, &engine(vec![]), &ticket(good()));
    let worst = r.iter().map(|x| x.outcome).max().unwrap();
    assert_eq!(worst, Outcome::Pass, "{r:#?}");
    for id in [
        "taxonomy.valid",
        "spec.targeting",
        "brand_safety.blocked_interests",
        "budget.limits",
        "translation",
        "payload.schema",
    ] {
        assert_eq!(outcome(&r, id), Outcome::Pass, "{id}");
    }
}

#[test]
fn taxonomy_blocks_a_name_that_does_not_match_the_ticket() {
    let w = world(true);
    let mut t = ticket(good());
    t.platform_name = "DIS_US_META_2025_MoanaLaunch".into();
    let r = run(&w, &engine(vec![]), &t);
    assert_eq!(outcome(&r, "taxonomy.valid"), Outcome::Block);
    assert!(
        find(&r, "taxonomy.valid")[0]
            .message
            .contains("DIS_US_META_2026_MoanaLaunch")
    );
    t.platform_name = "DIS_XX_META_2026_MoanaLaunch".into();
    let r = run(&w, &engine(vec![]), &t);
    assert_eq!(
        find(&r, "taxonomy.valid")[0].path.as_deref(),
        Some("ticket.platform_name")
    );
}

#[test]
fn brand_safety_blocks_family_brands_only_and_sees_overrides() {
    let mut spec = good();
    spec["targeting"]["interests"] =
        json!([{"id": "6003107902433"}, {"id": "6004854404172", "name": "Adult"}]);
    let r = run(&world(true), &engine(vec![]), &ticket(spec.clone()));
    let hit = find(&r, "brand_safety.blocked_interests")[0];
    assert_eq!(hit.outcome, Outcome::Block);
    assert_eq!(
        hit.path.as_deref(),
        Some("payload_config.targeting.interests[1]")
    );
    let r = run(&world(false), &engine(vec![]), &ticket(spec));
    assert_eq!(outcome(&r, "brand_safety.blocked_interests"), Outcome::Pass);

    // An override that sneaks the interest into the ad set body is caught too.
    let mut spec = good();
    spec["overrides"]["meta"]["adset"] =
        json!({"targeting": {"interests": [{"id": "6003139266461"}]}});
    let r = run(&world(true), &engine(vec![]), &ticket(spec));
    assert_eq!(outcome(&r, "brand_safety.blocked_interests"), Outcome::Pass);
    let hit = find(&r, "brand_safety.payload_interests")[0];
    assert_eq!(hit.outcome, Outcome::Block);
    assert_eq!(
        hit.path.as_deref(),
        Some("payloads.adset.targeting.interests[0].id")
    );
}

#[test]
fn budget_caps_default_and_per_brand() {
    let w = world(true);
    let mut spec = good();
    spec["budget"]["amount"] = json!("100000.00");
    assert_eq!(
        outcome(
            &run(&w, &engine(vec![]), &ticket(spec.clone())),
            "budget.limits"
        ),
        Outcome::Pass
    );
    spec["budget"]["amount"] = json!("100000.01");
    let r = run(&w, &engine(vec![]), &ticket(spec.clone()));
    assert_eq!(outcome(&r, "budget.limits"), Outcome::Block);
    assert_eq!(
        find(&r, "budget.limits")[0].path.as_deref(),
        Some("payload_config.budget.amount")
    );

    let mut strict = world(true);
    strict.brand.daily_budget_limit_minor = Some(100_000);
    spec["budget"]["amount"] = json!("1000.01");
    assert_eq!(
        outcome(
            &run(&strict, &engine(vec![]), &ticket(spec.clone())),
            "budget.limits"
        ),
        Outcome::Block
    );

    spec["budget"] = json!({"amount": "999999.99", "period": "LIFETIME"});
    let r = run(&w, &engine(vec![]), &ticket(spec));
    assert_eq!(outcome(&r, "budget.limits"), Outcome::Pass);
    assert_eq!(outcome(&r, "budget.lifetime_end"), Outcome::Block);
}

#[test]
fn payload_schema_names_the_missing_platform_field() {
    let w = world(true);
    let mut spec = good();
    spec.as_object_mut().unwrap().remove("overrides");
    let r = run(&w, &engine(vec![]), &ticket(spec));
    let hits = find(&r, "payload.schema");
    assert!(
        hits.iter().any(|h| h.outcome == Outcome::Block
            && h.path.as_deref() == Some("payloads.creative.object_story_spec")),
        "{hits:?}"
    );
    assert!(
        hits.iter().any(|h| h.message.contains("page_id")),
        "{hits:?}"
    );
}

/// Rules are evaluated against variables built with only what the active rules read; rules
/// that read different fields of one struct, or read it in part and whole, each still see
/// what they read, alone or together.
#[test]
fn cel_rules_reading_parts_and_wholes_of_one_field_all_see_it() {
    let w = world(true);
    let mut spec = good();
    spec["targeting"]["age_min"] = json!(13);
    spec["targeting"]["countries"] = json!(["US", "CA"]);
    let in_part = vec![
        rule("kids", "spec.targeting.age_min < 16", "BLOCK"),
        rule("countries", "size(spec.targeting.countries) > 1", "WARN"),
        rule(
            "has_interest",
            "has(spec.targeting.interests) && spec.targeting.interests[0].id == '6003107902433'",
            "WARN",
        ),
        rule("no_max", "spec.targeting.age_max != null", "BLOCK"),
        rule("budget", "spec.budget.amount == '1500.00'", "WARN"),
    ];
    let whole = vec![
        rule(
            "whole",
            "size(spec.targeting) >= 3 && spec.targeting.age_min == 13",
            "WARN",
        ),
        rule(
            "shadow",
            "[spec.targeting].exists(spec, spec.age_min == 13)",
            "WARN",
        ),
    ];
    let expect = [
        ("cel.kids", Outcome::Block),
        ("cel.countries", Outcome::Warn),
        ("cel.has_interest", Outcome::Warn),
        ("cel.no_max", Outcome::Pass),
        ("cel.budget", Outcome::Warn),
        ("cel.whole", Outcome::Warn),
        ("cel.shadow", Outcome::Warn),
    ];
    for rules in [
        in_part.clone(),
        whole.clone(),
        in_part.into_iter().chain(whole).collect(),
    ] {
        let names: Vec<String> = rules.iter().map(|r| format!("cel.{}", r.name)).collect();
        let r = run(&w, &engine(rules), &ticket(spec.clone()));
        for (id, outcome) in expect
            .iter()
            .filter(|(id, _)| names.iter().any(|n| n == id))
        {
            assert_eq!(&self::outcome(&r, id), outcome, "{id} with {names:?}");
        }
    }
}

/// QA copies only the ticket's platform's overrides, unless a rule reads them: a rule on a
/// Meta ticket still sees the TikTok overrides, read in part or with the spec whole.
#[test]
fn cel_rules_see_every_platforms_overrides_on_any_ticket() {
    let w = world(true);
    let mut spec = good();
    spec["overrides"]["tiktok"] = json!({"adgroup": {"bid_price": 9}});
    for (expr, id) in [
        (
            "has(spec.overrides.tiktok) && spec.overrides.tiktok.adgroup.bid_price > 5",
            "cel.part",
        ),
        (
            "size(spec) > 0 && spec.overrides.tiktok.adgroup.bid_price == 9",
            "cel.whole",
        ),
    ] {
        let name = id.trim_start_matches("cel.");
        let r = run(
            &w,
            &engine(vec![rule(name, expr, "WARN")]),
            &ticket(spec.clone()),
        );
        assert_eq!(outcome(&r, id), Outcome::Warn, "{expr}: {r:?}");
    }
    // Without such a rule the Meta ticket is translated from its own overrides as before.
    let r = run(&w, &engine(vec![]), &ticket(spec));
    assert_eq!(outcome(&r, "translation"), Outcome::Pass, "{r:?}");
    assert_eq!(outcome(&r, "payload.schema"), Outcome::Pass, "{r:?}");
}

#[test]
fn cel_rules_block_warn_scope_and_refuse_bad_expressions() {
    let w = world(true);
    let mut spec = good();
    spec["targeting"]["age_min"] = json!(13);
    let rules = vec![
        rule("kids", "spec.targeting.age_min < 16", "BLOCK"),
        rule("big", "int(payloads.adset.daily_budget) > 100000", "WARN"),
        QaRuleRecord {
            brand_code: Some("OTHER".into()),
            ..rule("scoped_out", "true", "BLOCK")
        },
        rule("absent", "spec.bidding.bid_amount == '1'", "BLOCK"),
    ];
    let r = run(&w, &engine(rules), &ticket(spec));
    assert_eq!(outcome(&r, "cel.kids"), Outcome::Block);
    assert_eq!(
        find(&r, "cel.kids")[0].path.as_deref(),
        Some("payload_config.x")
    );
    assert_eq!(outcome(&r, "cel.big"), Outcome::Warn);
    assert!(find(&r, "cel.scoped_out").is_empty());
    assert_eq!(outcome(&r, "cel.absent"), Outcome::Pass);

    assert!(
        compile_rule(rule("bad", "spec.targeting.age_min <", "BLOCK"))
            .unwrap_err()
            .contains("does not compile")
    );
    assert!(
        compile_rule(rule("typo", "spce.x == 1", "BLOCK"))
            .unwrap_err()
            .contains("spce")
    );
    assert!(
        compile_rule(rule(
            "macro",
            "spec.targeting.interests.exists(i, i.id == '1')",
            "BLOCK"
        ))
        .is_ok()
    );
}

#[test]
fn saving_refuses_rules_too_costly_to_run_on_every_ticket() {
    let refused = |expr: &str| admit_rule(rule("r", expr, "BLOCK")).unwrap_err();
    let cube = "[1, 2].all(a, [1, 2].all(b, [1, 2].all(c, a + b + c > 0)))";
    assert!(refused(cube).contains("nested"));
    assert!(refused("[1].map(x, [x]).map(r, r + r).map(r, r + r)").contains("nested"));
    // A macro inside a list or a call inside the loop still counts.
    assert!(
        refused("[1].all(a, [[1].all(b, [1].exists(c, c == b))] == [true])").contains("nested")
    );
    let list = format!(
        "[{}].exists(x, x == 0)",
        vec!["1"; MAX_LIST_ITEMS + 1].join(",")
    );
    assert!(refused(&list).contains("items"));
    let long = format!("'{}' == ''", "x".repeat(MAX_EXPRESSION_CHARS));
    assert!(refused(&long).contains("characters"));
    // Compile errors come first, as before.
    assert!(refused("spec.targeting.age_min <").contains("does not compile"));

    for fine in [
        "spec.targeting.interests.exists(i, ['1', '2'].exists(b, i.id == b))",
        "spec.targeting.interests.filter(i, i.id == '1').map(i, i.id).size() > 0",
        &format!(
            "[{}].exists(x, x == 0)",
            vec!["1"; MAX_LIST_ITEMS].join(",")
        ),
    ] {
        admit_rule(rule("r", fine, "BLOCK")).unwrap_or_else(|e| panic!("{fine}: {e}"));
    }
}

#[test]
fn a_rule_over_its_time_budget_is_reported_and_not_applied() {
    let w = world(true);
    let e = engine(vec![
        rule("always", "true", "BLOCK"),
        rule("kids", "spec.targeting.age_min < 16", "BLOCK"),
    ]);
    let t = ticket(good());
    let ctx = TicketContextRef {
        ticket: &t,
        campaign: &w.campaign,
        brand: &w.brand,
        market: &w.market,
        channel: &w.channel,
        assets: omnitraffick::domain::ResolvedAssets::none(),
    };
    // No budget at all: every rule overruns; each is reported, none blocks.
    let none = RuleClock {
        budget: std::time::Duration::ZERO,
        ..RuleClock::default()
    };
    let checked = e.check_timed(&ctx, &none);
    assert_eq!(checked.over_budget, ["always", "kids"]);
    for id in ["cel.always", "cel.kids"] {
        let r = find(&checked.results, id);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].outcome, Outcome::Warn);
        assert!(r[0].message.contains("exceeded its time budget"), "{r:?}");
    }

    // A rule the watchdog already cut off is reported without running again; the rest run.
    let started = std::cell::RefCell::new(Vec::new());
    let starting = |i: usize| {
        started.borrow_mut().push(i);
        true
    };
    let clock = RuleClock {
        overran: &[0],
        starting: &starting,
        ..RuleClock::default()
    };
    let checked = e.check_timed(&ctx, &clock);
    assert_eq!(*started.borrow(), [1]);
    assert_eq!(checked.over_budget, ["always"]);
    assert_eq!(outcome(&checked.results, "cel.always"), Outcome::Warn);
    assert_eq!(outcome(&checked.results, "cel.kids"), Outcome::Pass);

    // Nobody waits any more: the check stops before the next rule.
    let gone = RuleClock {
        starting: &|_| false,
        ..RuleClock::default()
    };
    let checked = e.check_timed(&ctx, &gone);
    assert!(find(&checked.results, "cel.always").is_empty());
    assert!(find(&checked.results, "cel.kids").is_empty());
}

#[test]
fn a_report_lists_every_failure_not_just_the_first() {
    let w = world(true);
    let mut spec = good();
    spec["budget"]["amount"] = json!("250000");
    spec["targeting"]["interests"] = json!([{"id": "6003139266461"}]);
    spec["targeting"]["age_min"] = json!(70);
    let mut t = ticket(spec);
    t.platform_name = "DIS_US_META_2026_Other".into();
    let r = run(&w, &engine(vec![rule("always", "true", "WARN")]), &t);
    let blocked: Vec<&str> = r
        .iter()
        .filter(|x| x.outcome == Outcome::Block)
        .map(|x| x.rule_id.as_str())
        .collect();
    for id in [
        "taxonomy.valid",
        "spec.targeting",
        "brand_safety.blocked_interests",
        "budget.limits",
    ] {
        assert!(blocked.contains(&id), "{id} missing from {blocked:?}");
    }
    assert_eq!(outcome(&r, "cel.always"), Outcome::Warn);
}

#[test]
fn an_unparseable_spec_is_one_blocking_finding_with_its_path() {
    let w = world(true);
    let r = run(
        &w,
        &engine(vec![]),
        &ticket(json!({"objective": "TRAFFIC", "budget": {"amount": 10, "period": "DAILY"}})),
    );
    let hit = find(&r, "spec.valid")[0];
    assert_eq!(hit.outcome, Outcome::Block);
    assert_eq!(hit.path.as_deref(), Some("payload_config.budget.amount"));
}

fn tiktok_spec(amount: &str, period: &str, end: &str) -> Value {
    json!({
        "objective": "TRAFFIC",
        "budget": {"amount": amount, "period": period},
        "schedule": {"start_time": "2026-03-01T00:00:00Z", "end_time": end},
        "creative": {"link_url": "https://example.com", "body": "Sail with Moana."},
        "overrides": {"tiktok": {"ad": {"creatives": [{"video_id": "v100"}]}}}
    })
}

#[test]
fn tiktok_minimum_budgets_are_warnings() {
    let w = fixtures::world(true, Platform::Tiktok, "USD");
    let e = engine(vec![]);
    let r = run(
        &w,
        &e,
        &fixtures::ticket(&w, tiktok_spec("19.99", "DAILY", "2026-03-02T00:00:00Z")),
    );
    let hit = find(&r, "budget.platform_minimum")[0];
    assert_eq!(hit.outcome, Outcome::Warn);
    assert!(hit.message.contains("20.00 USD"), "{}", hit.message);
    assert_eq!(outcome(&r, "payload.schema"), Outcome::Pass, "{r:?}");
    assert_eq!(outcome(&r, "translation"), Outcome::Pass);
    assert!(r.iter().all(|x| x.outcome != Outcome::Block), "{r:?}");

    let r = run(
        &w,
        &e,
        &fixtures::ticket(&w, tiktok_spec("20.00", "DAILY", "2026-03-02T00:00:00Z")),
    );
    assert_eq!(outcome(&r, "budget.platform_minimum"), Outcome::Pass);

    // Lifetime: the floor scales with the scheduled days (10 days x JPY 2,500).
    let w = fixtures::world(true, Platform::Tiktok, "JPY");
    let r = run(
        &w,
        &e,
        &fixtures::ticket(&w, tiktok_spec("24999", "LIFETIME", "2026-03-11T00:00:00Z")),
    );
    let hit = find(&r, "budget.platform_minimum")[0];
    assert_eq!(hit.outcome, Outcome::Warn);
    assert!(
        hit.message.contains("25000 JPY (10 days)"),
        "{}",
        hit.message
    );

    // Meta has no such rule.
    let r = run(&world(true), &e, &ticket(good()));
    assert!(find(&r, "budget.platform_minimum").is_empty());
}

#[test]
fn google_ads_ticket_passes_schema_or_names_the_field() {
    let w = fixtures::world(true, Platform::GoogleAds, "USD");
    let mut spec = json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "50.00", "period": "DAILY"},
        "creative": {"link_url": "https://example.com", "headline": "Moana", "body": "Sail."},
        "overrides": {"google_ads": {"ad_group_ad": {"ad": {"responsiveSearchAd": {
            "headlines": [{"text": "A"}, {"text": "B"}, {"text": "C"}],
            "descriptions": [{"text": "D"}, {"text": "E"}]
        }}}}}
    });
    let r = run(&w, &engine(vec![]), &fixtures::ticket(&w, spec.clone()));
    assert_eq!(outcome(&r, "payload.schema"), Outcome::Pass, "{r:?}");
    // A headline over Google's 30 characters is caught by the schema, with its path.
    spec["overrides"]["google_ads"]["ad_group_ad"]["ad"]["responsiveSearchAd"]["headlines"][0]["text"] =
        json!("x".repeat(31));
    let r = run(&w, &engine(vec![]), &fixtures::ticket(&w, spec));
    let hit = find(&r, "payload.schema")[0];
    assert_eq!(hit.outcome, Outcome::Block);
    assert_eq!(
        hit.path.as_deref(),
        Some("payloads.ad_group_ad.operations[0].create.ad.responsiveSearchAd.headlines[0].text")
    );
}

/// Google Ads names an interest by its resource name (`customers/…/userInterests/<id>`) under
/// `userInterest`: the check on the translated bodies reads it as its id, so a blocked one is
/// found there too, with the path of the criterion, as on Meta and TikTok.
#[test]
fn google_ads_blocked_interests_are_found_in_the_bodies_by_resource_name() {
    let w = fixtures::world(true, Platform::GoogleAds, "USD");
    let mut e = engine(vec![]);
    e.blocked_interests
        .insert((Platform::GoogleAds, "80001".to_owned()));
    let mut spec = json!({
        "objective": "TRAFFIC",
        "budget": {"amount": "50.00", "period": "DAILY"},
        "targeting": {"interests": [{"id": "80002"}]},
        "creative": {"link_url": "https://example.com", "headline": "Moana", "body": "Sail."},
        "overrides": {"google_ads": {"ad_group_ad": {"ad": {"responsiveSearchAd": {
            "headlines": [{"text": "A"}, {"text": "B"}, {"text": "C"}],
            "descriptions": [{"text": "D"}, {"text": "E"}]
        }}}}}
    });
    let r = run(&w, &e, &fixtures::ticket(&w, spec.clone()));
    assert_eq!(outcome(&r, "brand_safety.blocked_interests"), Outcome::Pass);
    assert!(
        find(&r, "brand_safety.payload_interests").is_empty(),
        "{r:?}"
    );
    assert_eq!(outcome(&r, "payload.schema"), Outcome::Pass, "{r:?}");

    spec["targeting"]["interests"] = json!([{"id": "80002"}, {"id": "80001"}]);
    let r = run(&w, &e, &fixtures::ticket(&w, spec));
    assert_eq!(
        outcome(&r, "brand_safety.blocked_interests"),
        Outcome::Block
    );
    let hits = find(&r, "brand_safety.payload_interests");
    assert_eq!(hits.len(), 1, "{r:?}");
    assert_eq!(hits[0].outcome, Outcome::Block);
    assert_eq!(
        hits[0].path.as_deref(),
        Some("payloads.ad_group_criterion.operations[1].create.userInterest.userInterestCategory")
    );
    assert!(
        hits[0].message.contains("blocked interest 80001;"),
        "{}",
        hits[0].message
    );
}
