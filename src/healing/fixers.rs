//! Rule-based fixers for the platform errors in PLATFORMS.md (Meta A10, TikTok and Google
//! codes). Each turns a diagnosis into an RFC 6902 patch on the ticket's payload_config, a
//! rationale and a declared risk class. The risk is checked again against the actual change
//! (see `risk`), so a fixer can never understate it.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use crate::domain::Risk;
use crate::platforms::client::PlatformError;

/// What a fixer proposes.
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub fixer: &'static str,
    pub patch: Value,
    pub rationale: String,
    pub risk: Risk,
    /// Interest ids the platform refused: removing them does not widen the audience.
    pub refused_interests: Vec<String>,
}

/// The ticket facts fixers may use.
pub struct FixContext<'a> {
    pub payload: &'a Value,
    pub market_country: &'a str,
    pub currency: &'a str,
    pub platform_name: &'a str,
    pub ticket_id: i64,
}

/// Every text the platform returned, for matching ids and amounts.
fn all_text(e: &PlatformError) -> String {
    let mut t = format!(
        "{} {} {}",
        e.message,
        e.user_title.as_deref().unwrap_or(""),
        e.user_message.as_deref().unwrap_or("")
    );
    if let Some(b) = &e.body {
        t.push(' ');
        t.push_str(&b.to_string());
    }
    t
}

/// JSON Pointer segment escaping (RFC 6901).
fn seg(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// `add` operations creating each missing object on the way to `path` (which is not created).
fn ensure_parents(doc: &Value, path: &[&str], ops: &mut Vec<Value>) {
    let mut cur = doc;
    let mut ptr = String::new();
    for p in path {
        ptr.push('/');
        ptr.push_str(&seg(p));
        match cur.get(*p) {
            Some(v) if v.is_object() => cur = v,
            _ => {
                ops.push(json!({"op": "add", "path": ptr, "value": {}}));
                cur = &Value::Null;
            }
        }
    }
}

fn code_is(e: &PlatformError, code: &str, subcodes: &[&str]) -> bool {
    e.code.as_deref() == Some(code)
        && (subcodes.is_empty() || e.subcode.as_deref().is_some_and(|s| subcodes.contains(&s)))
}

/// Run the fixers in order; the first that applies wins.
pub fn propose(e: &PlatformError, cx: &FixContext<'_>) -> Option<Fix> {
    use crate::domain::Platform::*;
    match e.platform {
        Meta => meta(e, cx),
        Tiktok => tiktok(e, cx),
        GoogleAds => google(e, cx),
    }
}

fn meta(e: &PlatformError, cx: &FixContext<'_>) -> Option<Fix> {
    if code_is(e, "100", &["1487694", "2446394"]) {
        return drop_refused_interests(e, cx);
    }
    if code_is(e, "100", &["1885621"]) {
        // Campaign budget and ad-set budget together: keep the ad set's (the spec's budget).
        let campaign = cx.payload.pointer("/overrides/meta/campaign")?;
        let ops: Vec<Value> = ["daily_budget", "lifetime_budget"]
            .iter()
            .filter(|k| campaign.get(**k).is_some())
            .map(|k| json!({"op": "remove", "path": format!("/overrides/meta/campaign/{k}")}))
            .collect();
        if ops.is_empty() {
            return None;
        }
        return Some(Fix {
            fixer: "meta_budget_clash",
            patch: Value::Array(ops),
            rationale: "Meta refused an ad-set budget under a campaign that also has a budget (100/1885621); the campaign-level budget override is removed so the ad-set budget from the spec applies alone.".into(),
            risk: Risk::Safe,
            refused_interests: vec![],
        });
    }
    if code_is(e, "100", &["1815857"]) {
        return Some(Fix {
            fixer: "meta_bid_amount_missing",
            patch: json!([{"op": "add", "path": "/bidding", "value": {"strategy": "LOWEST_COST"}}]),
            rationale: "Meta requires a bid amount for the chosen bid strategy (100/1815857); switching to lowest cost (no bid cap). This lifts a cost control, so a person must approve.".into(),
            risk: Risk::SpendIncrease,
            refused_interests: vec![],
        });
    }
    if code_is(e, "100", &["1885364"]) {
        let mut ops = Vec::new();
        ensure_parents(cx.payload, &["targeting"], &mut ops);
        ops.push(
            json!({"op": "add", "path": "/targeting/countries", "value": [cx.market_country]}),
        );
        return Some(Fix {
            fixer: "meta_missing_location",
            patch: Value::Array(ops),
            rationale: format!(
                "Meta found no target location (100/1885364); targeting the campaign market's country, {}.",
                cx.market_country
            ),
            risk: Risk::Safe,
            refused_interests: vec![],
        });
    }
    if code_is(e, "100", &["2490408"]) {
        cx.payload
            .pointer("/overrides/meta/adset/optimization_goal")?;
        return Some(Fix {
            fixer: "meta_optimization_goal",
            patch: json!([{"op": "remove", "path": "/overrides/meta/adset/optimization_goal"}]),
            rationale: "Meta says the optimisation goal is not valid for the objective (100/2490408); removing the override so the goal that matches the objective is used.".into(),
            risk: Risk::Safe,
            refused_interests: vec![],
        });
    }
    if code_is(e, "100", &["1885272", "1885650"]) {
        return raise_budget(
            e,
            cx,
            "meta_budget_too_low",
            "Meta says the budget is too low",
        );
    }
    let text = all_text(e);
    if code_is(e, "100", &[]) && text.contains("Advantage Audience Flag Required") {
        let mut ops = Vec::new();
        ensure_parents(
            cx.payload,
            &[
                "overrides",
                "meta",
                "adset",
                "targeting",
                "targeting_automation",
            ],
            &mut ops,
        );
        ops.push(json!({"op": "add", "path": "/overrides/meta/adset/targeting/targeting_automation/advantage_audience", "value": 0}));
        return Some(Fix {
            fixer: "meta_advantage_audience_flag",
            patch: Value::Array(ops),
            rationale: "Meta requires targeting_automation.advantage_audience to be set; setting it to 0 (off), which keeps the audience exactly as specified.".into(),
            risk: Risk::Safe,
            refused_interests: vec![],
        });
    }
    static UNSUPPORTED: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"Unsupported targeting option:\s*([A-Za-z_]+)").ok());
    if let Some(key) = UNSUPPORTED
        .as_ref()
        .and_then(|re| re.captures(&text))
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
    {
        let path = format!("/overrides/meta/adset/targeting/{}", seg(&key));
        cx.payload.pointer(&path)?;
        return Some(Fix {
            fixer: "meta_unsupported_targeting_key",
            patch: json!([{"op": "remove", "path": path}]),
            rationale: format!(
                "Meta does not support the targeting option \"{key}\" in this API version; dropping it from the ad-set targeting override."
            ),
            risk: Risk::TargetingWidening,
            refused_interests: vec![],
        });
    }
    None
}

fn tiktok(e: &PlatformError, cx: &FixContext<'_>) -> Option<Fix> {
    let text = all_text(e).to_lowercase();
    if e.code.as_deref() == Some("40002") && text.contains("budget") {
        return raise_budget(
            e,
            cx,
            "tiktok_budget_too_low",
            "TikTok says the budget is below its minimum",
        );
    }
    None
}

fn google(e: &PlatformError, cx: &FixContext<'_>) -> Option<Fix> {
    match (e.code.as_deref(), e.subcode.as_deref()) {
        (Some("campaignError"), Some("DUPLICATE_CAMPAIGN_NAME"))
        | (Some("campaignBudgetError"), Some("DUPLICATE_NAME")) => {
            let object = if e.code.as_deref() == Some("campaignError") {
                "campaign"
            } else {
                "campaign_budget"
            };
            let name = format!("{}_T{}", cx.platform_name, cx.ticket_id);
            let mut ops = Vec::new();
            ensure_parents(cx.payload, &["overrides", "google_ads", object], &mut ops);
            ops.push(json!({"op": "add", "path": format!("/overrides/google_ads/{object}/name"), "value": name}));
            Some(Fix {
                fixer: "google_duplicate_name",
                patch: Value::Array(ops),
                rationale: format!(
                    "Google Ads already has a {object} named {} (not created by this ticket: deploys adopt their own); naming this one {name} so both can exist.",
                    cx.platform_name
                ),
                risk: Risk::Safe,
                refused_interests: vec![],
            })
        }
        (Some("campaignBudgetError"), Some("BUDGET_BELOW_PER_DAY_MINIMUM")) => raise_budget(
            e,
            cx,
            "google_budget_below_minimum",
            "Google Ads says the budget is below its daily minimum",
        ),
        _ => None,
    }
}

/// Remove the interests the platform named (or all, if it named none).
fn drop_refused_interests(e: &PlatformError, cx: &FixContext<'_>) -> Option<Fix> {
    let interests = cx.payload.pointer("/targeting/interests")?.as_array()?;
    if interests.is_empty() {
        return None;
    }
    let text = all_text(e);
    let id_of = |i: &Value| {
        i["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| i["id"].as_i64().map(|n| n.to_string()))
    };
    let mut named: Vec<usize> = interests
        .iter()
        .enumerate()
        .filter(|(_, i)| id_of(i).is_some_and(|id| !id.is_empty() && text.contains(&id)))
        .map(|(n, _)| n)
        .collect();
    let all = named.is_empty();
    if all {
        named = (0..interests.len()).collect();
    }
    let refused: Vec<String> = named.iter().filter_map(|&n| id_of(&interests[n])).collect();
    let ops: Vec<Value> = named
        .iter()
        .rev()
        .map(|n| json!({"op": "remove", "path": format!("/targeting/interests/{n}")}))
        .collect();
    let remaining = interests.len() - named.len();
    Some(Fix {
        fixer: "meta_refused_interest",
        patch: Value::Array(ops),
        rationale: if all {
            "Meta refused the detailed targeting but did not say which interest; removing all interests. This widens the audience, so a person must approve.".into()
        } else {
            format!(
                "Meta no longer accepts interest {} (deprecated or invalid); removing it. {remaining} interest(s) remain, so the audience the platform actually accepted is unchanged.",
                refused.join(", ")
            )
        },
        risk: if all || remaining == 0 {
            Risk::TargetingWidening
        } else {
            Risk::Safe
        },
        refused_interests: if all { vec![] } else { refused },
    })
}

static AMOUNT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:at least|not be less than|minimum[a-z ]*?(?:is|of))\s*[^\d]{0,4}([\d][\d,]*(?:\.\d+)?)").ok()
});

/// Raise the budget to the minimum the platform stated (text or Google's details).
fn raise_budget(
    e: &PlatformError,
    cx: &FixContext<'_>,
    fixer: &'static str,
    why: &str,
) -> Option<Fix> {
    let currency = crate::domain::Currency::parse("currency", cx.currency).ok()?;
    let from_google = e
        .body
        .as_ref()
        .and_then(|b| b.pointer("/error/details/0/errors/0/details/budgetPerDayMinimumErrorDetails/minimumBudgetAmountMicros"))
        .and_then(|m| m.as_str().and_then(|s| s.parse::<i64>().ok()).or_else(|| m.as_i64()))
        .map(|micros| {
            let factor = 10i64.pow(6 - u32::from(currency.minor_digits()).min(6));
            // Round up to the currency's minor unit.
            crate::domain::Money {
                amount_minor: (micros + factor - 1) / factor,
                currency,
            }
            .to_major_string()
        });
    let minimum = from_google.or_else(|| {
        let text = all_text(e);
        let raw = AMOUNT
            .as_ref()?
            .captures(&text)?
            .get(1)?
            .as_str()
            .replace(',', "");
        crate::domain::Money::parse_major("minimum", &raw, currency)
            .ok()
            .map(|m| m.to_major_string())
    })?;
    Some(Fix {
        fixer,
        patch: json!([{"op": "replace", "path": "/budget/amount", "value": minimum}]),
        rationale: format!(
            "{why}; raising the budget to the stated minimum of {minimum} {currency}. This spends more, so a person must approve."
        ),
        risk: Risk::SpendIncrease,
        refused_interests: vec![],
    })
}
