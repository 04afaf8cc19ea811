//! Pre-flight QA: rules run on the translated payloads plus the ticket's context before
//! anything is queued. Built-in rules (taxonomy, brand safety, budget limits, payload schema,
//! platform minimums) and admin rules written in CEL. The engine is pure; `service` loads
//! rules from the store, runs the check off the async threads under a per-rule time budget
//! (`watchdog`) and records the outcome on the ticket.

mod admin;
mod builtin;
mod cel_rules;
pub mod schemas;
mod service;
mod watchdog;

pub use admin::*;
pub use builtin::blocks_interest;
pub use cel_rules::{
    CompiledRule, MAX_EXPRESSION_CHARS, MAX_LIST_ITEMS, MAX_MACRO_NESTING, RULE_TIME_BUDGET,
    RuleClock, admit_rule, compile_rule,
};
pub use service::*;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use crate::domain::{Platform, Ticket, TicketContextRef};
use crate::platforms::{
    ApiVersions, CampaignSpec, TranslatedPayloads, TranslationInput, translate,
};
use crate::taxonomy::{Picklists, TaxonomyConvention};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Warn,
    Block,
}

/// One rule's verdict.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct QaResult {
    /// e.g. "taxonomy.valid", "brand_safety.blocked_interests", "cel.dis_no_under_13".
    pub rule_id: String,
    pub outcome: Outcome,
    pub message: String,
    /// JSON path of the offending field, e.g. "payload_config.targeting.interests[0]".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// The report of one QA run.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct QaReport {
    pub ticket_id: i64,
    /// The ticket version the report was computed for.
    pub ticket_version: i64,
    /// block if any rule blocks, else warn if any warns, else pass.
    pub outcome: Outcome,
    pub blocking: usize,
    pub warnings: usize,
    pub results: Vec<QaResult>,
    pub ran_at: String,
}

impl QaReport {
    pub fn new(ticket: &Ticket, results: Vec<QaResult>) -> Self {
        let blocking = results
            .iter()
            .filter(|r| r.outcome == Outcome::Block)
            .count();
        let warnings = results
            .iter()
            .filter(|r| r.outcome == Outcome::Warn)
            .count();
        let outcome = results
            .iter()
            .map(|r| r.outcome)
            .max()
            .unwrap_or(Outcome::Pass);
        Self {
            ticket_id: ticket.id,
            ticket_version: ticket.version,
            outcome,
            blocking,
            warnings,
            results,
            ran_at: crate::domain::now_text(),
        }
    }
}

/// Caps of one brand in one market, in minor units of the brand's currency; `None` falls back
/// to the brand's own cap, then to the global default.
#[derive(Debug, Clone, Copy, Default)]
pub struct MarketCaps {
    pub daily_minor: Option<i64>,
    pub lifetime_minor: Option<i64>,
}

/// Global budget caps in major units of the brand's currency, used when the brand has none.
pub const DEFAULT_DAILY_LIMIT_MAJOR: i64 = 100_000;
pub const DEFAULT_LIFETIME_LIMIT_MAJOR: i64 = 1_000_000;

/// The loaded rule set. Cheap to share; build it once per run (or once for a batch).
pub struct QaEngine {
    pub convention: TaxonomyConvention,
    pub picklists: Picklists,
    /// (platform, interest id) pairs a family-friendly brand may not target.
    pub blocked_interests: HashSet<(Platform, String)>,
    /// Per (brand id, market id) caps, which win over the brand's own.
    pub budget_caps: HashMap<(i64, i64), MarketCaps>,
    pub rules: Vec<CompiledRule>,
    pub versions: ApiVersions,
}

/// What a check produced: the report and, when translation succeeded, the payloads.
pub struct Checked {
    pub results: Vec<QaResult>,
    pub payloads: Option<TranslatedPayloads>,
    /// Names of the CEL rules that ran past their time budget (each also has a result
    /// saying so); the service disables them.
    pub over_budget: Vec<String>,
}

impl QaEngine {
    /// Run every rule; never stops at the first failure. CEL rules are timed against
    /// RULE_TIME_BUDGET, but nothing cuts one off: the service runs checks through
    /// `check_timed` on a blocking thread with a watchdog.
    pub fn check(&self, ctx: &TicketContextRef<'_>) -> Checked {
        self.check_timed(ctx, &RuleClock::default())
    }

    /// `check`, with the CEL rules timed by `clock`.
    pub fn check_timed(&self, ctx: &TicketContextRef<'_>, clock: &RuleClock<'_>) -> Checked {
        let mut results = Vec::new();
        results.push(builtin::taxonomy(self, ctx));
        // Only the ticket's platform's overrides are copied, unless a CEL rule reads them.
        let payload = &ctx.ticket.payload_config;
        let parsed = if cel_rules::read_overrides(&self.rules) {
            CampaignSpec::parse(payload)
        } else {
            CampaignSpec::parse_for(payload, ctx.channel.platform)
        };
        let spec = match parsed {
            Ok(s) => s,
            Err(e) => {
                results.push(QaResult {
                    rule_id: "spec.valid".into(),
                    outcome: Outcome::Block,
                    message: e.to_string(),
                    path: e.field().map(str::to_owned),
                });
                return Checked {
                    results,
                    payloads: None,
                    over_budget: Vec::new(),
                };
            }
        };
        results.extend(builtin::spec_rules(ctx, &spec));
        results.extend(builtin::creative_assets(ctx, &spec));
        results.push(builtin::brand_safety_spec(self, ctx, &spec));
        results.extend(builtin::budget_limits(self, ctx, &spec));
        let input = TranslationInput::new(*ctx, &spec);
        let payloads = match translate(&input, &self.versions) {
            Ok(p) => {
                results.push(QaResult {
                    rule_id: "translation".into(),
                    outcome: Outcome::Pass,
                    message: [
                        &p.requests.len().to_string(),
                        " request(s) built for ",
                        p.platform.as_str(),
                    ]
                    .concat(),
                    path: None,
                });
                results.extend(builtin::brand_safety_payloads(self, ctx, &p));
                results.extend(builtin::payload_schema(&p));
                results.extend(builtin::platform_minimums(ctx, &spec, &p));
                Some(p)
            }
            Err(e) => {
                results.push(QaResult {
                    rule_id: "translation".into(),
                    outcome: Outcome::Block,
                    message: e.to_string(),
                    path: e.field().map(str::to_owned),
                });
                None
            }
        };
        let cel = cel_rules::evaluate(&self.rules, ctx, &spec, payloads.as_ref(), clock);
        results.extend(cel.results);
        Checked {
            results,
            payloads,
            over_budget: cel.over_budget,
        }
    }
}
