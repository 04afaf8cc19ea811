//! Built-in rules. Each returns results with a rule id, an outcome, a message that says what
//! to change, and the path of the field at fault.

use std::collections::HashSet;

use serde_json::Value;

use super::{
    DEFAULT_DAILY_LIMIT_MAJOR, DEFAULT_LIFETIME_LIMIT_MAJOR, Outcome, QaEngine, QaResult, schemas,
};
use crate::domain::{Currency, Money, Platform, TicketContextRef};
use crate::platforms::spec::BudgetPeriod;
use crate::platforms::{CampaignSpec, TranslatedPayloads};
use crate::taxonomy::NameParts;

fn pass(rule: &str, message: impl Into<String>) -> QaResult {
    QaResult {
        rule_id: rule.into(),
        outcome: Outcome::Pass,
        message: message.into(),
        path: None,
    }
}

fn fail(
    rule: &str,
    outcome: Outcome,
    message: impl Into<String>,
    path: impl Into<String>,
) -> QaResult {
    QaResult {
        rule_id: rule.into(),
        outcome,
        message: message.into(),
        path: Some(path.into()),
    }
}

/// The stored name parses under the convention, uses governed codes, and matches the
/// ticket's own brand, market, channel, year and campaign name.
pub fn taxonomy(engine: &QaEngine, ctx: &TicketContextRef<'_>) -> QaResult {
    const RULE: &str = "taxonomy.valid";
    let name = &ctx.ticket.platform_name;
    if !engine.convention.is_valid(name, &engine.picklists) {
        let v = engine.convention.validate(name, &engine.picklists);
        let issues: Vec<String> = v
            .issues
            .iter()
            .map(|i| format!("{} \"{}\" {}", i.segment, i.value, i.problem))
            .collect();
        return fail(
            RULE,
            Outcome::Block,
            format!(
                "name \"{name}\" breaks the convention: {}",
                issues.join("; ")
            ),
            "ticket.platform_name",
        );
    }
    let expected = engine.convention.generate(&NameParts {
        brand_code: &ctx.brand.code,
        market_code: &ctx.market.code,
        channel_code: &ctx.channel.code,
        year: ctx.campaign.year,
        campaign_name: &ctx.campaign.name,
    });
    match expected {
        Ok(e) if &e == name => pass(
            RULE,
            [name.as_str(), " follows ", &engine.convention.pattern].concat(),
        ),
        Ok(e) => fail(
            RULE,
            Outcome::Block,
            format!(
                "name \"{name}\" does not match the ticket's campaign and channel, which give \"{e}\"; update the campaign or re-create the ticket"
            ),
            "ticket.platform_name",
        ),
        Err(err) => fail(
            RULE,
            Outcome::Block,
            err.to_string(),
            "ticket.platform_name",
        ),
    }
}

/// Targeting and schedule sanity that every platform shares.
pub fn spec_rules(_ctx: &TicketContextRef<'_>, spec: &CampaignSpec) -> Vec<QaResult> {
    const RULE: &str = "spec.targeting";
    let mut out = Vec::new();
    let t = &spec.targeting;
    for (field, age) in [("age_min", t.age_min), ("age_max", t.age_max)] {
        if let Some(a) = age
            && !(13..=65).contains(&a)
        {
            out.push(fail(
                RULE,
                Outcome::Block,
                format!("{field} {a} is outside 13-65 (65 means 65+)"),
                format!("payload_config.targeting.{field}"),
            ));
        }
    }
    if let (Some(lo), Some(hi)) = (t.age_min, t.age_max)
        && lo > hi
    {
        out.push(fail(
            RULE,
            Outcome::Block,
            format!("age_min {lo} is above age_max {hi}"),
            "payload_config.targeting.age_min",
        ));
    }
    for (i, c) in t.countries.iter().enumerate() {
        if crate::domain::CountryCode::parse("country", c).is_err() {
            out.push(fail(
                RULE,
                Outcome::Block,
                format!("\"{c}\" is not an ISO 3166-1 alpha-2 country"),
                format!("payload_config.targeting.countries[{i}]"),
            ));
        }
    }
    if let Some(s) = &spec.schedule {
        let start = chrono::DateTime::parse_from_rfc3339(s.start_time.trim());
        let end = s
            .end_time
            .as_deref()
            .map(|e| chrono::DateTime::parse_from_rfc3339(e.trim()));
        match (&start, &end) {
            (Err(_), _) => out.push(fail(
                "spec.schedule",
                Outcome::Block,
                format!(
                    "start_time \"{}\" is not RFC 3339, e.g. 2026-03-01T00:00:00-05:00",
                    s.start_time
                ),
                "payload_config.schedule.start_time",
            )),
            (_, Some(Err(_))) => out.push(fail(
                "spec.schedule",
                Outcome::Block,
                "end_time is not RFC 3339, e.g. 2026-03-31T23:59:59-05:00",
                "payload_config.schedule.end_time",
            )),
            (Ok(a), Some(Ok(b))) if b <= a => out.push(fail(
                "spec.schedule",
                Outcome::Block,
                "end_time is not after start_time",
                "payload_config.schedule.end_time",
            )),
            (Ok(a), _) if *a < chrono::Utc::now() => out.push(fail(
                "spec.schedule",
                Outcome::Warn,
                "start_time is in the past; the platform will start at once or refuse it",
                "payload_config.schedule.start_time",
            )),
            _ => {}
        }
    }
    if out.is_empty() {
        out.push(pass(RULE, "targeting and schedule are consistent"));
    }
    out
}

/// The brand-safety verdict on one interest: a family-friendly brand may not target an
/// interest on the blocked list of its platform; other brands may. QA's rules and the
/// interest search both ask here, so they cannot disagree.
pub fn blocks_interest(
    blocked: &HashSet<(Platform, String)>,
    family_friendly: bool,
    platform: Platform,
    id: &str,
) -> bool {
    family_friendly && blocked.contains(&(platform, id.trim().to_owned()))
}

/// A family-friendly brand may not target blocked interests (spec level).
pub fn brand_safety_spec(
    engine: &QaEngine,
    ctx: &TicketContextRef<'_>,
    spec: &CampaignSpec,
) -> QaResult {
    const RULE: &str = "brand_safety.blocked_interests";
    if !ctx.brand.family_friendly {
        return pass(
            RULE,
            format!("brand {} is not family-friendly", ctx.brand.code),
        );
    }
    let hits: Vec<(usize, &str)> = spec
        .targeting
        .interests
        .iter()
        .enumerate()
        .filter(|(_, i)| {
            blocks_interest(
                &engine.blocked_interests,
                ctx.brand.family_friendly,
                ctx.channel.platform,
                &i.id,
            )
        })
        .map(|(n, i)| (n, i.id.as_str()))
        .collect();
    match hits.first() {
        None => pass(RULE, "no blocked interests targeted"),
        Some((n, id)) => fail(
            RULE,
            Outcome::Block,
            format!(
                "family-friendly brand {} may not target interest {id} (adult, alcohol or gambling); remove {} from targeting.interests",
                ctx.brand.code,
                if hits.len() == 1 {
                    "it".to_owned()
                } else {
                    format!("all {} blocked ids", hits.len())
                }
            ),
            format!("payload_config.targeting.interests[{n}]"),
        ),
    }
}

/// The same check on the translated bodies, which overrides may have changed.
pub fn brand_safety_payloads(
    engine: &QaEngine,
    ctx: &TicketContextRef<'_>,
    p: &TranslatedPayloads,
) -> Vec<QaResult> {
    const RULE: &str = "brand_safety.payload_interests";
    if !ctx.brand.family_friendly {
        return vec![];
    }
    let mut out = Vec::new();
    for r in &p.requests {
        let blocked = |id: &str| {
            blocks_interest(
                &engine.blocked_interests,
                ctx.brand.family_friendly,
                ctx.channel.platform,
                id,
            )
        };
        for (path, id) in interest_hits(&r.object, &r.body, &blocked) {
            out.push(fail(RULE, Outcome::Block, format!("the {} body targets blocked interest {id}; remove it (check payload_config.overrides too)", r.object), path));
        }
    }
    out
}

/// The interest ids (strings and numbers under a key that mentions "interest", Google's
/// resource names read as their ids) in the body of request `object` for which `hit` holds,
/// each with its path (`payloads.<object>...`).
fn interest_hits(object: &str, body: &Value, hit: &dyn Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut hits = Vec::new();
    let mut found = |steps: &[Step<'_>], value: &str| {
        let id = interest_id(value);
        if hit(id) {
            hits.push((render(object, steps), id.to_owned()));
        }
    };
    scan_interests_in(body, &mut Vec::new(), false, &mut found);
    hits
}

/// A step of the path to a node: the path is only written out for a hit.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn render(object: &str, steps: &[Step<'_>]) -> String {
    use std::fmt::Write;
    let mut path = format!("payloads.{object}");
    for s in steps {
        let _ = match s {
            Step::Key(k) => write!(path, ".{k}"),
            Step::Index(i) => write!(path, "[{i}]"),
        };
    }
    path
}

/// Whether a key names interests: "interests", "interest_category_ids" (TikTok),
/// "userInterest" (Google Ads), in any case.
fn mentions_interest(key: &str) -> bool {
    // The comparison starts only at an 'i' or 'I' (one OR and one compare for the others).
    key.as_bytes()
        .windows(8)
        .any(|w| (w[0] | 0x20) == b'i' && w.eq_ignore_ascii_case(b"interest"))
}

/// An interest's id as the blocked list holds it: Google Ads names one by its resource name
/// (`customers/{customer}/userInterests/{id}`), the other platforms by the id itself.
fn interest_id(value: &str) -> &str {
    // Meta's and TikTok's ids have no slash, and a Google resource name has the marker just
    // before its last slash: both are settled without the substring search.
    match value.rsplit_once('/') {
        None => value,
        Some((head, id)) if head.ends_with("/userInterests") => id,
        Some(_) => value
            .rsplit_once("/userInterests/")
            .map_or(value, |(_, id)| id),
    }
}

fn scan_interests_in<'a>(
    v: &'a Value,
    steps: &mut Vec<Step<'a>>,
    inside: bool,
    f: &mut dyn FnMut(&[Step<'a>], &str),
) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let now_inside = inside || mentions_interest(k);
                let field_ok = now_inside && (k == "id" || mentions_interest(k));
                steps.push(Step::Key(k));
                match child {
                    Value::String(s) if field_ok => f(steps, s),
                    Value::Number(n) if field_ok => f(steps, &n.to_string()),
                    Value::Object(_) | Value::Array(_) => {
                        scan_interests_in(child, steps, now_inside, f)
                    }
                    _ => {}
                }
                steps.pop();
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                steps.push(Step::Index(i));
                match child {
                    Value::String(s) if inside => f(steps, s),
                    Value::Number(n) if inside => f(steps, &n.to_string()),
                    Value::Object(_) | Value::Array(_) => {
                        scan_interests_in(child, steps, inside, f)
                    }
                    _ => {}
                }
                steps.pop();
            }
        }
        _ => {}
    }
}

/// Budget caps: the brand's cap in this market, else the brand's own, else 100,000 daily /
/// 1,000,000 lifetime, all in the brand's currency.
pub fn budget_limits(
    engine: &QaEngine,
    ctx: &TicketContextRef<'_>,
    spec: &CampaignSpec,
) -> Vec<QaResult> {
    const RULE: &str = "budget.limits";
    let Ok(currency) = Currency::parse("currency", &ctx.brand.currency) else {
        return vec![fail(
            RULE,
            Outcome::Block,
            "the brand's currency is invalid",
            "brand.currency",
        )];
    };
    let money = match Money::parse_major(
        "payload_config.budget.amount",
        &spec.budget.amount,
        currency,
    ) {
        Ok(m) => m,
        Err(e) => {
            return vec![fail(
                RULE,
                Outcome::Block,
                e.to_string(),
                "payload_config.budget.amount",
            )];
        }
    };
    let scale = 10i64.pow(u32::from(currency.minor_digits()));
    let market_caps = engine
        .budget_caps
        .get(&(ctx.brand.id, ctx.market.id))
        .copied()
        .unwrap_or_default();
    let (market_cap, brand_cap, default, kind) = match spec.budget.period {
        BudgetPeriod::Daily => (
            market_caps.daily_minor,
            ctx.brand.daily_budget_limit_minor,
            DEFAULT_DAILY_LIMIT_MAJOR * scale,
            "daily",
        ),
        BudgetPeriod::Lifetime => (
            market_caps.lifetime_minor,
            ctx.brand.lifetime_budget_limit_minor,
            DEFAULT_LIFETIME_LIMIT_MAJOR * scale,
            "lifetime",
        ),
    };
    let (limit, scope, how_to_raise) = match (market_cap, brand_cap) {
        (Some(l), _) => (
            l,
            ["brand ", &ctx.brand.code, " in market ", &ctx.market.code].concat(),
            "ask an admin to raise it with set_market_budget_cap",
        ),
        (None, Some(l)) => (
            l,
            ["brand ", &ctx.brand.code].concat(),
            "ask an admin to raise the brand's cap",
        ),
        (None, None) => (
            default,
            ["brand ", &ctx.brand.code, " (global default)"].concat(),
            "ask an admin to set a higher cap for the brand",
        ),
    };
    let mut out = Vec::new();
    let cap = Money {
        amount_minor: limit,
        currency,
    };
    if money.amount_minor > limit {
        out.push(fail(
            RULE,
            Outcome::Block,
            format!(
                "{kind} budget {} {currency} is over the {kind} cap of {} {currency} for {scope}; lower it or {how_to_raise}",
                money.to_major_string(),
                cap.to_major_string(),
            ),
            "payload_config.budget.amount",
        ));
    } else {
        // Every report has this line: written without `format!`, which cost more than the
        // rest of the rule.
        let (amount, cap) = (money.to_major_string(), cap.to_major_string());
        let currency = currency.as_str();
        out.push(pass(
            RULE,
            [
                kind,
                " budget ",
                &amount,
                " ",
                currency,
                " is within the cap of ",
                &cap,
                " ",
                currency,
                " for ",
                &scope,
            ]
            .concat(),
        ));
    }
    if spec.budget.period == BudgetPeriod::Lifetime
        && spec
            .schedule
            .as_ref()
            .and_then(|s| s.end_time.as_ref())
            .is_none()
    {
        out.push(fail(
            "budget.lifetime_end",
            Outcome::Block,
            "a LIFETIME budget needs schedule.end_time",
            "payload_config.schedule.end_time",
        ));
    }
    out
}

/// Every request body against the JSON Schema of its endpoint.
pub fn payload_schema(p: &TranslatedPayloads) -> Vec<QaResult> {
    const RULE: &str = "payload.schema";
    let mut out = Vec::new();
    for r in &p.requests {
        match schemas::validate(p.platform, &r.object, &r.body) {
            Ok(()) => {}
            Err(errors) => {
                for (path, msg) in errors {
                    out.push(fail(
                        RULE,
                        Outcome::Block,
                        format!("{} request: {msg}", r.object),
                        format!("payloads.{}{}", r.object, path),
                    ));
                }
            }
        }
    }
    if out.is_empty() {
        out.push(pass(
            RULE,
            [
                &p.requests.len().to_string(),
                " request bodies match the ",
                p.platform.as_str(),
                " schemas",
            ]
            .concat(),
        ));
    }
    out
}

/// TikTok's ad-group daily minimums (B6) per currency, in major units.
const TIKTOK_DAILY_MIN: &[(&str, i64)] = &[
    ("USD", 20),
    ("EUR", 20),
    ("GBP", 15),
    ("CAD", 25),
    ("AUD", 30),
    ("SGD", 25),
    ("BRL", 100),
    ("HKD", 150),
    ("MXN", 350),
    ("ZAR", 500),
    ("TWD", 600),
    ("PHP", 1000),
    ("INR", 1500),
    ("JPY", 2500),
    ("MYR", 80),
    ("THB", 700),
    ("VND", 470_000),
    ("IDR", 280_000),
    ("AED", 70),
    ("SAR", 80),
    ("ILS", 70),
    ("PLN", 80),
    ("TRY", 600),
    ("EGP", 600),
];

/// Platform minimum budgets, as warnings (the platform is the judge).
pub fn platform_minimums(
    ctx: &TicketContextRef<'_>,
    spec: &CampaignSpec,
    p: &TranslatedPayloads,
) -> Vec<QaResult> {
    const RULE: &str = "budget.platform_minimum";
    if p.platform != Platform::Tiktok {
        return vec![];
    }
    let Ok(currency) = Currency::parse("currency", &ctx.brand.currency) else {
        return vec![];
    };
    let Some((_, min_major)) = TIKTOK_DAILY_MIN
        .iter()
        .find(|(c, _)| *c == currency.as_str())
    else {
        return vec![fail(
            RULE,
            Outcome::Warn,
            format!(
                "TikTok's minimum budget for {currency} is not known here; check it in TikTok Ads Manager"
            ),
            "payload_config.budget.amount",
        )];
    };
    let Ok(money) = Money::parse_major("b", &spec.budget.amount, currency) else {
        return vec![];
    };
    let scale = 10i64.pow(u32::from(currency.minor_digits()));
    let days = match (spec.budget.period, &spec.schedule) {
        (BudgetPeriod::Daily, _) => 1,
        (BudgetPeriod::Lifetime, Some(s)) => {
            let start = chrono::DateTime::parse_from_rfc3339(s.start_time.trim()).ok();
            let end = s
                .end_time
                .as_deref()
                .and_then(|e| chrono::DateTime::parse_from_rfc3339(e.trim()).ok());
            match (start, end) {
                (Some(a), Some(b)) => ((b - a).num_hours() + 23).div_euclid(24).max(1),
                _ => 1,
            }
        }
        (BudgetPeriod::Lifetime, None) => 1,
    };
    let min_minor = min_major * scale * days;
    if money.amount_minor < min_minor {
        let min = Money {
            amount_minor: min_minor,
            currency,
        };
        vec![fail(
            RULE,
            Outcome::Warn,
            format!(
                "TikTok requires an ad-group budget of at least {} {currency}{}; {} {currency} will likely be refused",
                min.to_major_string(),
                if days > 1 {
                    format!(" ({days} days)")
                } else {
                    String::new()
                },
                money.to_major_string()
            ),
            "payload_config.budget.amount",
        )]
    } else {
        vec![pass(RULE, "budget meets TikTok's minimum")]
    }
}

/// The creative assets the spec names exist for the brand, are of the kind their field
/// takes, and fit the channel's platform (format, ratio, minimum size, duration), each
/// finding at the asset's field path. An asset not yet on the channel passes with a note:
/// the deploy uploads it.
pub fn creative_assets(ctx: &TicketContextRef<'_>, spec: &CampaignSpec) -> Vec<QaResult> {
    use crate::domain::AssetKind;
    const RULE: &str = "creative.assets";
    let c = &spec.creative;
    let named = c
        .image_asset_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            (
                format!("payload_config.creative.image_asset_ids[{i}]"),
                id,
                AssetKind::Image,
            )
        })
        .chain(c.video_asset_id.iter().map(|id| {
            (
                "payload_config.creative.video_asset_id".to_owned(),
                id,
                AssetKind::Video,
            )
        }));
    let platform = ctx.channel.platform;
    let mut out = Vec::new();
    if platform == Platform::Meta
        && c.video_asset_id.is_some()
        && c.image_asset_ids.is_empty()
        && c.image_url.is_none()
    {
        out.push(fail(
            RULE,
            Outcome::Warn,
            "a Meta video ad usually needs a thumbnail in video_data (image_hash or image_url); name an image in creative.image_asset_ids or set creative.image_url (Meta's thumbnail rule is unconfirmed, PLATFORMS.md K2)",
            "payload_config.creative.image_asset_ids",
        ));
    }
    for (path, id, want) in named {
        let Some(a) = ctx.assets.get(id) else {
            out.push(fail(
                RULE,
                Outcome::Block,
                format!(
                    "brand {} has no creative asset \"{}\"; upload it with upload_creative (list_creatives shows the brand's assets)",
                    ctx.brand.code,
                    id.trim()
                ),
                path,
            ));
            continue;
        };
        if a.kind != want {
            out.push(fail(
                RULE,
                Outcome::Block,
                format!(
                    "asset \"{}\" is a {} but this field takes a {}",
                    id.trim(),
                    a.kind.as_str(),
                    want.as_str()
                ),
                path,
            ));
            continue;
        }
        let media = crate::assets::media::Media {
            kind: a.kind,
            format: a.format.clone(),
            width: a.width,
            height: a.height,
            duration_ms: a.duration_ms,
        };
        match crate::assets::specs::check_upload(platform, &media, 0) {
            Err(crate::assets::specs::Refusal(why)) => out.push(fail(
                RULE,
                Outcome::Block,
                format!("asset \"{}\" does not fit {platform}: {why}", id.trim()),
                path,
            )),
            Ok(()) => out.push(pass(
                RULE,
                match &a.platform_id {
                    Some(pid) => format!(
                        "asset \"{}\" fits {platform} and is on {} as {pid}",
                        id.trim(),
                        ctx.channel.code
                    ),
                    None => format!(
                        "asset \"{}\" fits {platform}; it is not on {} yet, and the deploy uploads it",
                        id.trim(),
                        ctx.channel.code
                    ),
                },
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_hits_name_each_hit_by_its_path_in_order() {
        let body = serde_json::json!({
            "targeting": {
                "interests": ["1", 2, {"id": "3", "name": "x"}],
                "custom_interest_ids": [4],
                "flexible_spec": [{"interests": [{"id": 5}]}]
            },
            "id": "6",
            "name": "interest",
            "other": {"id": "7"}
        });
        let all = interest_hits("adset", &body, &|_| true);
        let expected = [
            ("payloads.adset.targeting.custom_interest_ids[0]", "4"),
            (
                "payloads.adset.targeting.flexible_spec[0].interests[0].id",
                "5",
            ),
            ("payloads.adset.targeting.interests[0]", "1"),
            ("payloads.adset.targeting.interests[1]", "2"),
            ("payloads.adset.targeting.interests[2].id", "3"),
        ];
        let all: Vec<(&str, &str)> = all.iter().map(|(p, v)| (p.as_str(), v.as_str())).collect();
        assert_eq!(all, expected);
        let only = interest_hits("adset", &body, &|v| v == "2");
        assert_eq!(
            only,
            [(
                "payloads.adset.targeting.interests[1]".to_owned(),
                "2".to_owned()
            )]
        );
        assert!(mentions_interest("interest") && mentions_interest("custom_interest_ids"));
        assert!(mentions_interest("userInterest") && mentions_interest("INTERESTS"));
        assert!(!mentions_interest("interes") && !mentions_interest("userInterst"));
        assert_eq!(interest_id("customers/123/userInterests/80001"), "80001");
        assert_eq!(interest_id("6003139266461"), "6003139266461");
        // As the substring search reads them: the id after the last marker, whatever follows.
        for (value, id) in [
            ("userInterests/5", "userInterests/5"),
            ("/userInterests/5", "5"),
            ("customers/1/userInterests/92/x", "92/x"),
            ("customers/1/userInterests/a/userInterests/7", "7"),
            ("customers/1/userInterests/", ""),
            ("customers/1/interests/5", "customers/1/interests/5"),
            ("a/b", "a/b"),
        ] {
            assert_eq!(interest_id(value), id, "{value}");
        }
        assert!(mentions_interest("xinterest") && mentions_interest("iinterest"));
        assert!(!mentions_interest("i") && !mentions_interest("iiiiiiiii"));
    }
}
