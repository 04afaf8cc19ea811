//! Self-healing: when a platform refuses a ticket, diagnose the recorded error, propose a
//! JSON Patch on the ticket's payload_config, prove it passes QA, and let a person approve or
//! reject it. Only SAFE proposals may be applied without a person (`auto_apply = safe`);
//! anything that spends more or reaches wider always waits. The same error coming back after
//! an applied fix escalates instead of looping, and a ticket gets at most three proposals per
//! error.

pub mod fixers;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
#[cfg(test)]
use serde_json::json;

use crate::auth::Principal;
use crate::deploy::{DeployService, DeployTicketInput};
use crate::domain::{Money, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::platforms::client::PlatformError;
use crate::qa::{Outcome, QaService, RunQaInput};
use crate::store::{self, FixAudit, FixProposal, NewProposal};

/// `healing.auto_apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoApply {
    /// Every proposal waits for a person (default).
    #[default]
    None,
    /// SAFE proposals that pass QA are applied and re-deployed at once.
    Safe,
}

const MAX_PROPOSALS_PER_ERROR: i64 = 3;

#[derive(Clone)]
pub struct HealingService {
    governance: Governance,
    qa: QaService,
    deploy: DeployService,
    auto_apply: AutoApply,
    llm: Option<crate::llm::Llm>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FixProposalView {
    #[serde(flatten)]
    pub proposal: FixProposal,
    /// The patch as a readable list of changes ("replace /budget/amount: \"5.00\" -> \"20.00\"").
    pub diff: Vec<String>,
    /// Who did what to it, when and why.
    pub audit: Vec<FixAudit>,
}

#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ListFixesInput {
    /// PENDING_REVIEW, APPROVED, REJECTED, APPLIED, QA_FAILED or SUPERSEDED.
    pub status: Option<String>,
    /// Only this ticket's proposals.
    pub ticket_id: Option<i64>,
    /// Page size (1-200, default 50).
    pub limit: Option<i64>,
    /// Continue after this id (the `next_before_id` of the previous page).
    pub before_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FixList {
    pub proposals: Vec<FixProposal>,
    /// Pass as before_id for the next page; absent on the last page.
    pub next_before_id: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposeFixInput {
    /// A DEPLOY_FAILED (or FIX_PROPOSED) ticket, e.g. 42.
    pub ticket_id: i64,
    /// RFC 6902 JSON Patch on the ticket's payload_config, e.g.
    /// [{"op": "remove", "path": "/targeting/interests/1"}].
    pub patch: Value,
    /// Why this fixes the platform's error.
    pub rationale: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DecisionOutput {
    pub proposal: FixProposal,
    pub ticket_status: TicketStatus,
    pub message: String,
}

/// What happened after a deploy failure.
#[derive(Debug, Clone, PartialEq)]
pub enum HealOutcome {
    Proposed {
        id: i64,
        status: String,
        risk: String,
    },
    AutoApplied {
        id: i64,
    },
    NoFix(String),
    Escalated(String),
}

fn rank(risk: &str) -> u8 {
    match risk {
        "SPEND_INCREASE" => 3,
        "TARGETING_WIDENING" => 2,
        "CREATIVE_CHANGE" => 1,
        _ => 0,
    }
}

/// The risk of going from `before` to `after`, judged on the change itself. Interests the
/// platform refused are treated as already gone.
pub fn classify_risk(
    before: &Value,
    after: &Value,
    currency: &str,
    refused: &[String],
) -> &'static str {
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
        let c = crate::domain::Currency::parse("currency", currency).ok()?;
        Money::parse_major("x", v.pointer(p)?.as_str()?, c)
            .ok()
            .map(|m| m.amount_minor)
    };
    let mut risk = "SAFE";
    let mut raise = |r: &'static str| {
        if rank(r) > rank(risk) {
            risk = r;
        }
    };
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
        raise("SPEND_INCREASE");
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
        raise("TARGETING_WIDENING");
    }
    if before.get("creative") != after.get("creative")
        || before.get("objective") != after.get("objective")
    {
        raise("CREATIVE_CHANGE");
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
fn override_risk(op: &json_patch::PatchOperation, path: &str, before: &Value) -> &'static str {
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
            return "SPEND_INCREASE";
        }
        return "SAFE";
    }
    if has(REACH_KEYS) {
        return "TARGETING_WIDENING";
    }
    if has(CREATIVE_KEYS) {
        return "CREATIVE_CHANGE";
    }
    if keys.last().is_some_and(|k| NEUTRAL_KEYS.contains(k)) {
        return "SAFE";
    }
    "CREATIVE_CHANGE"
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
    Some(if int_text_negative(s) {
        int * 1_000_000 - frac_val
    } else {
        int * 1_000_000 + frac_val
    })
}

fn int_text_negative(s: &str) -> bool {
    s.starts_with('-')
}

/// The platform facts the model gets (from PLATFORMS.md).
fn platform_facts(p: crate::domain::Platform) -> &'static str {
    match p {
        crate::domain::Platform::Meta => {
            "Meta Marketing API: money in integer minor units; campaign budget and ad-set budget are mutually exclusive; bid_amount is required for COST_CAP/BID_CAP; targeting needs geo_locations; interests are Meta interest ids in flexible_spec; error_subcode says which rule broke (1487694 deprecated interest, 1885621 budget clash, 1815857 bid amount missing, 1885364 missing location, 2490408 optimisation goal, 1885272/1885650 budget too low)."
        }
        crate::domain::Platform::Tiktok => {
            "TikTok Marketing API v1.3: errors are HTTP 200 with a non-zero code; 40002 is a parameter error (the message names the field); ad-group daily minimum 20 USD (other currencies differ); budgets are decimals in major units; location_ids are GeoNames ids."
        }
        crate::domain::Platform::GoogleAds => {
            "Google Ads REST: money in micros (x1,000,000); errors carry errorCode categories (campaignError, campaignBudgetError, ...) and a fieldPath; campaign names must be unique per account; DAILY budgets use amountMicros."
        }
    }
}

fn error_key(e: &PlatformError) -> String {
    format!(
        "{}:{}:{}",
        e.platform.as_str(),
        e.code.as_deref().unwrap_or("-"),
        e.subcode.as_deref().unwrap_or("-")
    )
}

fn readable_diff(before: &Value, after: &Value) -> Vec<String> {
    json_patch::diff(before, after)
        .0
        .iter()
        .map(|op| match op {
            json_patch::PatchOperation::Add(a) => format!("add {}: {}", a.path, a.value),
            json_patch::PatchOperation::Remove(r) => {
                let old = before
                    .pointer(&r.path.to_string())
                    .cloned()
                    .unwrap_or(Value::Null);
                format!("remove {} (was {old})", r.path)
            }
            json_patch::PatchOperation::Replace(r) => {
                let old = before
                    .pointer(&r.path.to_string())
                    .cloned()
                    .unwrap_or(Value::Null);
                format!("replace {}: {old} -> {}", r.path, r.value)
            }
            other => format!("{other:?}"),
        })
        .collect()
}

/// Apply an RFC 6902 patch to a copy of `doc`.
pub fn apply_patch(doc: &Value, patch: &Value) -> AppResult<Value> {
    crate::platforms::spec::check_shape("patch", patch)?;
    let ops: json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|e| {
        AppError::validation(
            "patch",
            format!("is not an RFC 6902 JSON Patch ({e}); send e.g. [{{\"op\": \"remove\", \"path\": \"/targeting/interests/1\"}}]"),
        )
    })?;
    let mut out = doc.clone();
    json_patch::patch(&mut out, &ops).map_err(|e| {
        AppError::validation(
            "patch",
            format!("does not apply to the ticket's payload_config: {e}"),
        )
    })?;
    Ok(out)
}

impl HealingService {
    pub fn new(
        governance: Governance,
        qa: QaService,
        deploy: DeployService,
        auto_apply: AutoApply,
        llm: Option<crate::llm::Llm>,
    ) -> Self {
        Self {
            governance,
            qa,
            deploy,
            auto_apply,
            llm: llm.filter(|l| l.chat_model().is_some()),
        }
    }

    /// Ask the model for a patch when no rule applies. Returns the patch and rationale, or
    /// the reason its answer could not be used.
    async fn llm_fix(
        &self,
        ticket: &crate::domain::Ticket,
        err: &PlatformError,
    ) -> Option<Result<(Value, String), String>> {
        let llm = self.llm.as_ref()?;
        let payloads = self
            .qa
            .preview_payloads(ticket.id)
            .await
            .map(|p| serde_json::to_value(p).unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        let prompt = crate::llm::prompts::render(
            crate::llm::prompts::FIX_PROPOSAL,
            &[
                ("facts", platform_facts(err.platform)),
                (
                    "error",
                    &serde_json::to_string_pretty(err).unwrap_or_default(),
                ),
                ("spec", &ticket.payload_config.to_string()),
                ("payloads", &payloads.to_string()),
            ],
        );
        let answer = match llm
            .chat(&prompt, "Propose the JSON Patch now. JSON only.")
            .await
        {
            Ok(a) => a,
            Err(e) => return Some(Err(format!("the model failed: {e}"))),
        };
        let parsed: Option<Value> = match (answer.find('{'), answer.rfind('}')) {
            (Some(a), Some(b)) if b > a => serde_json::from_str(&answer[a..=b]).ok(),
            _ => None,
        };
        let Some(v) = parsed else {
            return Some(Err(format!(
                "the answer was not JSON: {}",
                answer.chars().take(200).collect::<String>()
            )));
        };
        let patch = v.get("patch").cloned().unwrap_or(Value::Null);
        let rationale = v
            .get("rationale")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned();
        if serde_json::from_value::<json_patch::Patch>(patch.clone()).is_err() {
            return Some(Err(
                "the answer's \"patch\" is not an RFC 6902 JSON Patch".into()
            ));
        }
        if patch.as_array().is_some_and(Vec::is_empty) {
            return Some(Err(format!("the model found no fix: {rationale}")));
        }
        if rationale.is_empty() {
            return Some(Err("the answer has no rationale".into()));
        }
        Some(Ok((patch, rationale)))
    }

    /// The last error recorded for a failed ticket.
    async fn last_error(&self, ticket_id: i64) -> AppResult<Option<PlatformError>> {
        let mut c = self.governance.db().pool().acquire().await?;
        Ok(store::latest_run(&mut c, ticket_id)
            .await?
            .and_then(|r| r.last_error)
            .and_then(|e| serde_json::from_value::<PlatformError>(e).ok()))
    }

    /// Diagnose a DEPLOY_FAILED ticket and propose a rule-based fix, if one applies.
    pub async fn on_deploy_failed(&self, ticket_id: i64) -> AppResult<HealOutcome> {
        let (ticket, _campaign, brand, market, _channel) =
            self.governance.ticket_context(ticket_id).await?;
        if ticket.status != TicketStatus::DeployFailed {
            return Ok(HealOutcome::NoFix(format!(
                "ticket is {}, not DEPLOY_FAILED",
                ticket.status
            )));
        }
        let Some(err) = self.last_error(ticket_id).await? else {
            return Ok(HealOutcome::NoFix("no recorded platform error".into()));
        };
        let key = error_key(&err);
        let (count, applied) = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::proposal_counts(&mut c, ticket_id, &key).await?
        };
        if applied > 0 || count >= MAX_PROPOSALS_PER_ERROR {
            let why = if applied > 0 {
                format!(
                    "the same error ({key}) came back after an applied fix; a person must look at it"
                )
            } else {
                format!("{count} proposals were already made for {key}; a person must look at it")
            };
            self.note(ticket_id, "HEALING_ESCALATED", &why).await?;
            return Ok(HealOutcome::Escalated(why));
        }
        let cx = fixers::FixContext {
            payload: &ticket.payload_config,
            market_country: &market.country,
            currency: &brand.currency,
            platform_name: &ticket.platform_name,
            ticket_id,
        };
        let (patch, rationale, source, declared, refused) = match fixers::propose(&err, &cx) {
            Some(fix) => (
                fix.patch,
                fix.rationale,
                format!("RULE:{}", fix.fixer),
                fix.risk,
                fix.refused_interests,
            ),
            None => match self.llm_fix(&ticket, &err).await {
                Some(Ok((patch, rationale))) => {
                    (patch, rationale, "LLM".to_owned(), "SAFE", Vec::new())
                }
                Some(Err(why)) => {
                    let why = format!(
                        "no rule fixes {key}, and the language model's answer was unusable ({why}); nothing was applied"
                    );
                    self.note(ticket_id, "LLM_FIX_UNUSABLE", &why).await?;
                    return Ok(HealOutcome::NoFix(why));
                }
                None => {
                    let why = format!(
                        "no rule fixes {key} ({}); fix the ticket by hand or propose_fix",
                        err.message
                    );
                    self.note(ticket_id, "NO_AUTOMATIC_FIX", &why).await?;
                    return Ok(HealOutcome::NoFix(why));
                }
            },
        };
        // A patch that does not even apply is an unusable answer, not a proposal.
        if let Err(e) = apply_patch(&ticket.payload_config, &patch) {
            let why = format!("the proposed patch does not apply ({e}); nothing was applied");
            self.note(ticket_id, "LLM_FIX_UNUSABLE", &why).await?;
            return Ok(HealOutcome::NoFix(why));
        }
        let (id, status, risk) = self
            .create(
                &ticket,
                &err,
                &key,
                &patch,
                &rationale,
                &source,
                declared,
                &refused,
                &brand.currency,
                "auto-heal",
            )
            .await?;
        if status == "PENDING_REVIEW" && risk == "SAFE" && self.auto_apply == AutoApply::Safe {
            let who = Principal {
                name: "auto-heal".into(),
                role: crate::auth::Role::Ops,
                brand_scope: None,
            };
            self.approve(&who, id, Some("auto_apply = safe")).await?;
            return Ok(HealOutcome::AutoApplied { id });
        }
        Ok(HealOutcome::Proposed { id, status, risk })
    }

    async fn note(&self, ticket_id: i64, event: &str, detail: &str) -> AppResult<()> {
        let mut tx = self.governance.db().begin_write().await?;
        crate::tickets::note(
            &mut tx,
            ticket_id,
            TicketStatus::DeployFailed,
            event,
            "auto-heal",
            detail,
        )
        .await?;
        tx.commit().await
    }

    /// Apply the patch, QA it, store the proposal; the ticket goes to FIX_PROPOSED when it
    /// awaits review. Returns (id, status, risk).
    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        ticket: &crate::domain::Ticket,
        err: &PlatformError,
        key: &str,
        patch: &Value,
        rationale: &str,
        source: &str,
        declared_risk: &str,
        refused: &[String],
        currency: &str,
        actor: &str,
    ) -> AppResult<(i64, String, String)> {
        let after = apply_patch(&ticket.payload_config, patch)?;
        // Bounded before anything is stored: a patched payload too deep for serde_json to
        // read back would break every listing of the review queue.
        crate::platforms::spec::check_bounds(&after)?;
        let computed = classify_risk(&ticket.payload_config, &after, currency, refused);
        let risk = if rank(computed) > rank(declared_risk) {
            computed
        } else {
            declared_risk
        };
        let report = self.qa.preview(ticket.id, after.clone()).await?;
        let status = if report.outcome == Outcome::Block {
            "QA_FAILED"
        } else {
            "PENDING_REVIEW"
        };
        let report_json =
            serde_json::to_value(&report).map_err(|e| AppError::Internal(e.to_string()))?;
        let err_json = serde_json::to_value(err).map_err(|e| AppError::Internal(e.to_string()))?;
        let mut tx = self.governance.db().begin_write().await?;
        let current = self.current_version(&mut tx, ticket.id).await?;
        if current != ticket.version {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} changed while the fix was being worked out; propose it again",
                    ticket.id
                ),
            ));
        }
        // Moving the ticket to FIX_PROPOSED bumps its version once; approval checks against it.
        let moves = status != "QA_FAILED" && ticket.status == TicketStatus::DeployFailed;
        let id = store::insert_proposal(
            &mut tx,
            &NewProposal {
                ticket_id: ticket.id,
                ticket_version: current + i64::from(moves),
                error_key: key,
                error: &err_json,
                patch,
                rationale,
                source,
                risk,
                qa_report: Some(&report_json),
                status,
                payload_before: &ticket.payload_config,
                payload_after: &after,
                created_by: actor,
            },
        )
        .await?;
        store::add_audit(
            &mut tx,
            id,
            actor,
            "PROPOSED",
            Some(&format!("{source}, risk {risk}: {rationale}")),
        )
        .await?;
        if status == "QA_FAILED" {
            store::add_audit(
                &mut tx,
                id,
                actor,
                "QA_FAILED",
                Some(&format!(
                    "{} blocking finding(s); never offered for approval",
                    report.blocking
                )),
            )
            .await?;
        } else if moves {
            crate::tickets::transition(
                &mut tx,
                ticket.id,
                TicketStatus::DeployFailed,
                TicketStatus::FixProposed,
                "FIX_PROPOSED",
                actor,
                Some(&format!("fix proposal {id} ({risk}) awaits review")),
            )
            .await?;
        }
        tx.commit().await?;
        Ok((id, status.to_owned(), risk.to_owned()))
    }

    async fn current_version(&self, c: &mut sqlx::AnyConnection, ticket_id: i64) -> AppResult<i64> {
        store::ticket_version(c, ticket_id)
            .await?
            .ok_or_else(|| AppError::not_found("ticket", ticket_id))
    }

    /// An assistant's own fix: the same QA and review path as a rule's.
    pub async fn propose_fix(
        &self,
        actor: &Principal,
        input: ProposeFixInput,
    ) -> AppResult<FixProposalView> {
        if input.rationale.trim().is_empty() {
            return Err(AppError::validation(
                "rationale",
                "say why the patch fixes the platform's error",
            ));
        }
        self.governance
            .authorize_ticket(actor, input.ticket_id)
            .await?;
        let (ticket, _, brand, _, _) = self.governance.ticket_context(input.ticket_id).await?;
        if !matches!(
            ticket.status,
            TicketStatus::DeployFailed | TicketStatus::FixProposed
        ) {
            return Err(AppError::InvalidTransition {
                message: format!(
                    "ticket {} is {}; fixes are proposed for DEPLOY_FAILED tickets (edit other tickets with update_ticket)",
                    ticket.id, ticket.status
                ),
            });
        }
        let err = self
            .last_error(ticket.id)
            .await?
            .unwrap_or_else(|| PlatformError {
                message: "no recorded platform error".into(),
                ..PlatformError::empty(ticket.platform)
            });
        let key = error_key(&err);
        let (count, _) = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::proposal_counts(&mut c, ticket.id, &key).await?
        };
        if count >= MAX_PROPOSALS_PER_ERROR {
            return Err(AppError::conflict(
                Some("ticket_id"),
                format!(
                    "ticket {} already has {count} proposals for {key}; a person must review them",
                    ticket.id
                ),
            ));
        }
        let (id, _, _) = self
            .create(
                &ticket,
                &err,
                &key,
                &input.patch,
                input.rationale.trim(),
                &format!("ASSISTANT:{}", actor.name),
                "SAFE",
                &[],
                &brand.currency,
                &actor.name,
            )
            .await?;
        self.get(id).await
    }

    /// Proposals the caller may see (a brand-scoped key sees only its brands' tickets').
    pub async fn list(&self, who: &Principal, input: ListFixesInput) -> AppResult<FixList> {
        let status = match input
            .status
            .as_deref()
            .map(str::trim)
            .map(str::to_ascii_uppercase)
        {
            Some(s)
                if [
                    "PENDING_REVIEW",
                    "APPROVED",
                    "REJECTED",
                    "APPLIED",
                    "QA_FAILED",
                    "SUPERSEDED",
                ]
                .contains(&s.as_str()) =>
            {
                Some(s)
            }
            Some(s) => {
                return Err(AppError::validation(
                    "status",
                    format!(
                        "\"{s}\" is not a proposal status; use PENDING_REVIEW, APPROVED, REJECTED, APPLIED, QA_FAILED or SUPERSEDED"
                    ),
                ));
            }
            None => None,
        };
        let limit = input.limit.unwrap_or(50).clamp(1, 200);
        let mut c = self.governance.db().pool().acquire().await?;
        let proposals = store::list_proposals(
            &mut c,
            status.as_deref(),
            input.ticket_id,
            input.before_id,
            limit + 1,
            who.brands(),
        )
        .await?;
        let more = proposals.len() as i64 > limit;
        let proposals: Vec<FixProposal> = proposals.into_iter().take(limit as usize).collect();
        Ok(FixList {
            next_before_id: if more {
                proposals.last().map(|p| p.id)
            } else {
                None
            },
            proposals,
        })
    }

    /// Refused unless the caller's key covers the brand of the proposal's ticket.
    pub async fn authorize(&self, who: &Principal, id: i64) -> AppResult<()> {
        if who.brands().is_none() {
            return Ok(());
        }
        let ticket = {
            let mut c = self.governance.db().pool().acquire().await?;
            store::proposal_ticket(&mut c, id).await?
        };
        let ticket = ticket.ok_or_else(|| {
            AppError::not_found("fix proposal", id)
                .with_field("id", "list_fix_proposals shows the ids")
        })?;
        self.governance.authorize_ticket(who, ticket).await
    }

    pub async fn get(&self, id: i64) -> AppResult<FixProposalView> {
        let mut c = self.governance.db().pool().acquire().await?;
        let proposal = store::get_proposal(&mut c, id).await?.ok_or_else(|| {
            AppError::not_found("fix proposal", id)
                .with_field("id", "list_fix_proposals shows the ids")
        })?;
        let audit = store::audit_of(&mut c, id).await?;
        Ok(FixProposalView {
            diff: readable_diff(&proposal.payload_before, &proposal.payload_after),
            proposal,
            audit,
        })
    }

    /// Apply the patch, re-run QA and re-queue the deploy. Refused (409) if the proposal is
    /// not pending or the ticket changed since it was made.
    pub async fn approve(
        &self,
        actor: &Principal,
        id: i64,
        reason: Option<&str>,
    ) -> AppResult<DecisionOutput> {
        actor.require(crate::auth::Permission::Review)?;
        self.authorize(actor, id).await?;
        let mut tx = self.governance.db().begin_write().await?;
        let p = store::get_proposal(&mut tx, id)
            .await?
            .ok_or_else(|| AppError::not_found("fix proposal", id))?;
        if p.status != "PENDING_REVIEW" {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "proposal {id} is {}; only PENDING_REVIEW proposals can be approved",
                    p.status
                ),
            ));
        }
        let version = self.current_version(&mut tx, p.ticket_id).await?;
        if version != p.ticket_version {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "ticket {} changed since proposal {id} was made (version {} -> {version}); ask for a new proposal",
                    p.ticket_id, p.ticket_version
                ),
            ));
        }
        if let Some(why) = &p.damaged {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "proposal {id} cannot be approved: its stored record is unreadable ({why}); reject it and propose the fix again"
                ),
            ));
        }
        crate::platforms::spec::check_bounds(&p.payload_after)?;
        if !store::move_proposal(&mut tx, id, "PENDING_REVIEW", "APPROVED").await? {
            return Err(AppError::conflict(
                Some("id"),
                format!("proposal {id} was decided concurrently"),
            ));
        }
        store::add_audit(&mut tx, id, &actor.name, "APPROVED", reason).await?;
        for other in store::supersede_others(&mut tx, p.ticket_id, id).await? {
            store::add_audit(
                &mut tx,
                other,
                &actor.name,
                "SUPERSEDED",
                Some(&format!("proposal {id} was approved")),
            )
            .await?;
        }
        let mut ticket = store::get_ticket(&mut tx, p.ticket_id)
            .await?
            .filter(|t| t.status == TicketStatus::FixProposed && t.version == version)
            .ok_or_else(|| {
                AppError::conflict(
                    Some("id"),
                    format!("ticket {} is no longer awaiting this fix", p.ticket_id),
                )
            })?;
        ticket.payload_config = p.payload_after.clone();
        ticket.qa_report = None;
        ticket.status = TicketStatus::Draft;
        let detail = format!("fix proposal {id} applied");
        let edit = crate::tickets::Edit {
            event: "FIX_APPLIED",
            actor: &actor.name,
            detail: Some(&detail),
        };
        crate::tickets::save_or_conflict(
            &mut tx,
            &ticket,
            TicketStatus::FixProposed,
            version,
            &edit,
            &format!("ticket {} is no longer awaiting this fix", p.ticket_id),
        )
        .await?;
        tx.commit().await?;

        let qa = self
            .qa
            .run_qa(
                actor,
                RunQaInput {
                    ticket_id: p.ticket_id,
                },
            )
            .await?;
        let message = if qa.status == TicketStatus::ReadyForApi {
            let d = self
                .deploy
                .deploy_ticket(
                    actor,
                    DeployTicketInput {
                        ticket_id: p.ticket_id,
                        validate_only: false,
                    },
                )
                .await?;
            let mut tx = self.governance.db().begin_write().await?;
            store::move_proposal(&mut tx, id, "APPROVED", "APPLIED").await?;
            store::add_audit(
                &mut tx,
                id,
                &actor.name,
                "APPLIED",
                Some(&format!(
                    "QA passed; deploy run {} queued",
                    d.run_id.unwrap_or_default()
                )),
            )
            .await?;
            tx.commit().await?;
            format!(
                "applied; QA passed and the deploy is queued (run {})",
                d.run_id.unwrap_or_default()
            )
        } else {
            let mut tx = self.governance.db().begin_write().await?;
            store::add_audit(
                &mut tx,
                id,
                &actor.name,
                "QA_FAILED",
                Some("QA failed after applying; the ticket is QA_FAILED"),
            )
            .await?;
            tx.commit().await?;
            "applied, but QA no longer passes (rules changed since the proposal); the ticket is QA_FAILED".into()
        };
        let view = self.get(id).await?;
        let ticket_status = self.governance.get_ticket(p.ticket_id).await?.ticket.status;
        Ok(DecisionOutput {
            proposal: view.proposal,
            ticket_status,
            message,
        })
    }

    pub async fn reject(
        &self,
        actor: &Principal,
        id: i64,
        reason: &str,
    ) -> AppResult<DecisionOutput> {
        actor.require(crate::auth::Permission::Review)?;
        self.authorize(actor, id).await?;
        if reason.trim().is_empty() {
            return Err(AppError::validation(
                "reason",
                "say why the proposal is rejected",
            ));
        }
        let mut tx = self.governance.db().begin_write().await?;
        let p = store::get_proposal(&mut tx, id)
            .await?
            .ok_or_else(|| AppError::not_found("fix proposal", id))?;
        if !store::move_proposal(&mut tx, id, "PENDING_REVIEW", "REJECTED").await? {
            return Err(AppError::conflict(
                Some("id"),
                format!(
                    "proposal {id} is {}; only PENDING_REVIEW proposals can be rejected",
                    p.status
                ),
            ));
        }
        store::add_audit(&mut tx, id, &actor.name, "REJECTED", Some(reason.trim())).await?;
        let pending = store::list_proposals(
            &mut tx,
            Some("PENDING_REVIEW"),
            Some(p.ticket_id),
            None,
            1,
            None,
        )
        .await?;
        if pending.is_empty() {
            crate::tickets::transition(
                &mut tx,
                p.ticket_id,
                TicketStatus::FixProposed,
                TicketStatus::DeployFailed,
                "FIX_REJECTED",
                &actor.name,
                Some(reason.trim()),
            )
            .await?;
        }
        tx.commit().await?;
        let view = self.get(id).await?;
        let ticket_status = self.governance.get_ticket(p.ticket_id).await?.ticket.status;
        Ok(DecisionOutput {
            proposal: view.proposal,
            ticket_status,
            message: "rejected".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_is_judged_on_the_change() {
        let before = json!({"budget": {"amount": "10.00", "period": "DAILY"}, "targeting": {"age_min": 18, "interests": [{"id": "1"}, {"id": "2"}]}});
        let mut after = before.clone();
        after["budget"]["amount"] = json!("20.00");
        assert_eq!(classify_risk(&before, &after, "USD", &[]), "SPEND_INCREASE");
        let mut after = before.clone();
        after["targeting"]["age_min"] = json!(13);
        assert_eq!(
            classify_risk(&before, &after, "USD", &[]),
            "TARGETING_WIDENING"
        );
        let after = json!({"budget": {"amount": "10.00", "period": "DAILY"}, "targeting": {"age_min": 18, "interests": [{"id": "1"}]}});
        assert_eq!(
            classify_risk(&before, &after, "USD", &[]),
            "TARGETING_WIDENING"
        );
        assert_eq!(classify_risk(&before, &after, "USD", &["2".into()]), "SAFE");
        let mut after = before.clone();
        after["budget"]["amount"] = json!("5.00");
        assert_eq!(classify_risk(&before, &after, "USD", &[]), "SAFE");
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
            "SPEND_INCREASE"
        );
        assert_eq!(
            risk(
                "/overrides/google_ads/ad_group/cpcBidMicros",
                json!("5000000")
            ),
            "SPEND_INCREASE"
        );
        assert_eq!(
            risk("/overrides/tiktok/adgroup/conversion_bid_price", json!(3)),
            "SPEND_INCREASE"
        );
        // Lowered bids are not increases.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/bid_price", json!(1.25)),
            "SAFE"
        );
        assert_eq!(
            risk(
                "/overrides/google_ads/ad_group/cpcBidMicros",
                json!("500000")
            ),
            "SAFE"
        );
        // Reach through platform-specific targeting keys.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/age_groups", json!(["AGE_13_17"])),
            "TARGETING_WIDENING"
        );
        assert_eq!(
            risk(
                "/overrides/meta/adset/targeting",
                json!({"geo_locations": {"countries": ["US", "CA"]}})
            ),
            "TARGETING_WIDENING"
        );
        // Creative.
        assert_eq!(
            risk(
                "/overrides/tiktok/ad/creatives",
                json!([{"video_id": "v2"}])
            ),
            "CREATIVE_CHANGE"
        );
        // A key the classifier does not know is never SAFE.
        assert_eq!(
            risk("/overrides/tiktok/adgroup/advertiser_id", json!("999")),
            "CREATIVE_CHANGE"
        );
        assert_eq!(
            risk("/overrides/meta/adset/some_new_field", json!(1)),
            "CREATIVE_CHANGE"
        );
        // The governed name (taxonomy name plus a suffix) is the one neutral key.
        assert_eq!(
            risk("/overrides/google_ads/campaign/name", json!("X_T1")),
            "SAFE"
        );
    }
}
