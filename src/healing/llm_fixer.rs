//! The language-model fixer, asked only when no rule fixes an error: the prompt gets the
//! platform's facts, the error, the spec and the translated payloads; only an answer that is
//! a JSON object with an RFC 6902 `patch` and a `rationale` is used.

use serde_json::Value;

use super::HealingService;
use crate::platforms::client::PlatformError;

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

impl HealingService {
    /// Ask the model for a patch when no rule applies. Returns the patch and rationale, or
    /// the reason its answer could not be used.
    pub(super) async fn llm_fix(
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
}
