//! QA as a service: load the rule set, check a stored ticket, record the outcome.

use std::collections::HashSet;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::watchdog;
use super::{
    Checked, CompiledRule, MAX_EXPRESSION_CHARS, MAX_LIST_ITEMS, MAX_MACRO_NESTING, MarketCaps,
    Outcome, QaEngine, QaReport, RULE_TIME_BUDGET, admit_rule, compile_rule,
};
use crate::auth::Principal;
use crate::domain::{Code, Platform, Ticket, TicketContext, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::platforms::{ApiVersions, TranslatedPayloads};
use crate::store::{self, BlockedInterest, QaRuleRecord};

#[derive(Clone)]
pub struct QaService {
    pub(super) governance: Governance,
    versions: ApiVersions,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunQaInput {
    pub ticket_id: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RunQaOutput {
    /// The ticket's status after QA: READY_FOR_API or QA_FAILED.
    pub status: TicketStatus,
    pub report: QaReport,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpsertQaRuleInput {
    /// Unique rule name (lower-case words and underscores), e.g. "dis_no_under_13".
    pub name: String,
    /// CEL expression that is TRUE WHEN THE RULE IS VIOLATED. Variables: spec (the neutral
    /// payload config), payloads (translated bodies by object: campaign, adset, ...),
    /// ticket, campaign, brand, market, channel. Example: "spec.targeting.age_min < 13".
    /// Every rule runs on every ticket, so it must be cheap: at most 2,000 characters,
    /// all/exists/exists_one/map/filter nested or chained at most 2 deep, list literals of at
    /// most 100 items, and 100 ms per ticket; a rule that overruns on a ticket is disabled.
    pub expression: String,
    /// BLOCK (fails QA) or WARN (reported only).
    pub severity: String,
    /// What the trafficker sees when the rule fires; say how to fix it.
    pub message: String,
    pub description: Option<String>,
    /// Only tickets of this brand code, e.g. "DIS".
    pub brand_code: Option<String>,
    /// Only tickets in this market code, e.g. "US".
    pub market_code: Option<String>,
    /// Only tickets on this platform: META, TIKTOK or GOOGLE_ADS.
    pub platform: Option<String>,
    /// JSON path of the field the rule is about, e.g. "payload_config.targeting.age_min".
    pub field_path: Option<String>,
    /// Default true. Saving a rule the server disabled (see its disabled_reason) re-enables it.
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UpsertQaRuleOutput {
    pub created: bool,
    pub rule: QaRuleRecord,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BuiltinRule {
    pub rule_id: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct QaRuleList {
    pub builtin: Vec<BuiltinRule>,
    pub custom: Vec<QaRuleRecord>,
    /// Interests family-friendly brands may not target.
    pub blocked_interests: Vec<BlockedInterest>,
}

const BUILTIN: &[(&str, &str)] = &[
    (
        "taxonomy.valid",
        "The ticket's name follows the naming convention with governed codes and matches its campaign and channel.",
    ),
    (
        "spec.valid",
        "payload_config parses as the neutral campaign spec.",
    ),
    (
        "spec.targeting",
        "Ages within 13-65 and ordered; countries are ISO codes.",
    ),
    (
        "spec.schedule",
        "Times are RFC 3339, end after start; a start in the past warns.",
    ),
    (
        "brand_safety.blocked_interests",
        "A family-friendly brand targets no adult, alcohol or gambling interest.",
    ),
    (
        "brand_safety.payload_interests",
        "The same, on the translated bodies (overrides included).",
    ),
    (
        "budget.limits",
        "Daily and lifetime budgets within the cap for the brand in the ticket's market (set_market_budget_cap), else the brand's own cap, else 100,000 daily / 1,000,000 lifetime, in the brand's currency.",
    ),
    ("budget.lifetime_end", "A lifetime budget has an end date."),
    (
        "translation",
        "The spec translates into the platform's request bodies.",
    ),
    (
        "payload.schema",
        "Each request body matches the JSON Schema of its endpoint.",
    ),
    (
        "budget.platform_minimum",
        "TikTok's minimum ad-group budget (warning).",
    ),
];

impl QaService {
    pub fn new(governance: Governance, versions: ApiVersions) -> Self {
        Self {
            governance,
            versions,
        }
    }

    /// The (platform, interest id) pairs a family-friendly brand may not target, as QA
    /// loads them (see [`crate::qa::blocks_interest`]).
    pub async fn blocked_interests(&self) -> AppResult<HashSet<(Platform, String)>> {
        let mut conn = self.governance.db().pool().acquire().await?;
        Ok(store::list_blocked_interests(&mut conn)
            .await?
            .into_iter()
            .filter_map(|b| {
                Platform::parse("platform", &b.platform)
                    .ok()
                    .map(|p| (p, b.interest_id))
            })
            .collect())
    }

    /// Load the current rule set from the store.
    pub async fn engine(&self) -> AppResult<QaEngine> {
        let picklists = self.governance.picklists().await?;
        let blocked = self.blocked_interests().await?;
        let mut conn = self.governance.db().pool().acquire().await?;
        let budget_caps = store::list_market_budget_caps(&mut conn)
            .await?
            .into_iter()
            .map(|r| {
                (
                    (r.brand_id, r.market_id),
                    MarketCaps {
                        daily_minor: r.daily_limit_minor,
                        lifetime_minor: r.lifetime_limit_minor,
                    },
                )
            })
            .collect();
        let mut rules: Vec<CompiledRule> = Vec::new();
        for r in store::list_qa_rules(&mut conn).await? {
            let name = r.name.clone();
            match compile_rule(r) {
                Ok(c) => rules.push(c),
                // Rules are compiled before they are saved, so this means a stored row was edited by hand.
                Err(e) => {
                    tracing::error!(rule = %name, error = %e, "stored QA rule does not compile; skipped")
                }
            }
        }
        Ok(QaEngine {
            convention: self.governance.convention().clone(),
            picklists,
            blocked_interests: blocked,
            budget_caps,
            rules,
            versions: self.versions.clone(),
        })
    }

    /// Check a ticket on a blocking thread with each CEL rule held to RULE_TIME_BUDGET, and
    /// disable the rules that overran, so later runs do not pay for them again.
    async fn check(&self, subject: TicketContext) -> AppResult<(Arc<TicketContext>, Checked)> {
        let engine = Arc::new(self.engine().await?);
        let subject = Arc::new(subject);
        let checked = watchdog::check(engine.clone(), subject.clone(), RULE_TIME_BUDGET).await?;
        for name in &checked.over_budget {
            let Some(rule) = engine.rules.iter().find(|r| &r.record.name == name) else {
                continue;
            };
            // QA has its answer either way; a rule left enabled is cut off again next time.
            if let Err(e) = self.disable_rule(&rule.record, subject.ticket.id).await {
                tracing::error!(rule = %name, error = %e, "could not disable a QA rule that overran its time budget");
            }
        }
        Ok((subject, checked))
    }

    async fn disable_rule(&self, rule: &QaRuleRecord, ticket_id: i64) -> AppResult<()> {
        let reason = format!(
            "disabled at {} because it ran past its time budget of {} ms on ticket {ticket_id}; simplify the expression and save the rule again with upsert_qa_rule to re-enable it",
            crate::domain::now_text(),
            RULE_TIME_BUDGET.as_millis()
        );
        let mut tx = self.governance.db().begin_write().await?;
        let disabled =
            store::disable_qa_rule(&mut tx, &rule.name, &rule.expression, &reason).await?;
        tx.commit().await?;
        if disabled {
            tracing::warn!(rule = %rule.name, ticket_id, "QA rule overran its time budget and was disabled");
        }
        Ok(())
    }

    /// QA of a ticket as if its payload config were `payload`, without storing anything.
    pub async fn preview(&self, ticket_id: i64, payload: serde_json::Value) -> AppResult<QaReport> {
        let ctx = self.governance.ticket_context(ticket_id).await?;
        let mut ctx = self.governance.with_assets_of(ctx, &[&payload]).await?;
        ctx.ticket.payload_config = payload;
        let (subject, checked) = self.check(ctx).await?;
        Ok(QaReport::new(&subject.ticket, checked.results))
    }

    /// Run QA on a ticket, store the report, and move it to READY_FOR_API or QA_FAILED.
    pub async fn run_qa(&self, actor: &Principal, input: RunQaInput) -> AppResult<RunQaOutput> {
        let ctx = self.governance.ticket_context(input.ticket_id).await?;
        let ticket = &ctx.ticket;
        if !matches!(
            ticket.status,
            TicketStatus::Draft | TicketStatus::QaFailed | TicketStatus::ReadyForApi
        ) {
            return Err(AppError::InvalidTransition {
                message: format!(
                    "ticket {} is {}; QA runs on DRAFT, QA_FAILED and READY_FOR_API tickets",
                    ticket.id, ticket.status
                ),
            });
        }
        let (subject, checked) = self.check(ctx).await?;
        let ticket = &subject.ticket;
        let report = QaReport::new(ticket, checked.results);
        let to = if report.outcome == Outcome::Block {
            TicketStatus::QaFailed
        } else {
            TicketStatus::ReadyForApi
        };
        let detail = format!(
            "QA {:?}: {} blocking, {} warning(s)",
            report.outcome, report.blocking, report.warnings
        )
        .to_lowercase();
        let json = serde_json::to_value(&report).map_err(|e| AppError::Internal(e.to_string()))?;
        let updated = self
            .governance
            .record_qa(&actor.name, ticket, json, to, &detail)
            .await?;
        Ok(RunQaOutput {
            status: updated.status,
            report,
        })
    }

    /// The exact request bodies the ticket would send, without changing anything.
    pub async fn preview_payloads(&self, ticket_id: i64) -> AppResult<TranslatedPayloads> {
        self.governance
            .ticket_context(ticket_id)
            .await?
            .translate(&self.versions)
    }

    pub async fn list_rules(&self) -> AppResult<QaRuleList> {
        let mut conn = self.governance.db().pool().acquire().await?;
        Ok(QaRuleList {
            builtin: BUILTIN
                .iter()
                .map(|(id, d)| BuiltinRule {
                    rule_id: id,
                    description: d,
                })
                .collect(),
            custom: store::list_qa_rules(&mut conn).await?,
            blocked_interests: store::list_blocked_interests(&mut conn).await?,
        })
    }

    pub async fn upsert_rule(&self, input: UpsertQaRuleInput) -> AppResult<UpsertQaRuleOutput> {
        let name = input.name.trim().to_owned();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(AppError::validation(
                "name",
                "use 1-64 lower-case letters, digits and underscores, e.g. \"dis_no_under_13\"",
            ));
        }
        let severity = input.severity.trim().to_ascii_uppercase();
        if severity != "BLOCK" && severity != "WARN" {
            return Err(AppError::validation(
                "severity",
                format!(
                    "\"{}\" is not a severity; use BLOCK or WARN",
                    input.severity
                ),
            ));
        }
        if input.message.trim().is_empty() {
            return Err(AppError::validation(
                "message",
                "say what is wrong and how to fix it",
            ));
        }
        let brand_code = match &input.brand_code {
            Some(b) => Some(
                self.governance
                    .get_brand(b)
                    .await
                    .map_err(|e| match e {
                        AppError::NotFound { .. } => AppError::not_found("brand", b)
                            .with_field("brand_code", "list_brands shows the codes"),
                        other => other,
                    })?
                    .code,
            ),
            None => None,
        };
        let market_code = match &input.market_code {
            Some(m) => Some(Code::parse("market_code", m)?.as_str().to_owned()),
            None => None,
        };
        let platform = input
            .platform
            .as_deref()
            .map(|p| Platform::parse("platform", p))
            .transpose()?;
        let now = crate::domain::now_text();
        let record = QaRuleRecord {
            id: 0,
            name,
            description: input.description,
            brand_code,
            market_code,
            platform: platform.map(|p| p.as_str().to_owned()),
            expression: input.expression.trim().to_owned(),
            severity,
            message: input.message.trim().to_owned(),
            field_path: input.field_path,
            enabled: input.enabled.unwrap_or(true),
            disabled_reason: None,
            created_at: now.clone(),
            updated_at: now,
        };
        let compiled = admit_rule(record).map_err(|e| AppError::validation("expression", e))?;
        // What the expression costs by itself, before any ticket's data, timed on its own
        // thread. The wait allows for a busy machine being slow to start that thread; a rule
        // still running by then is refused without waiting for it.
        let trial = compiled.clone();
        let took = tokio::time::timeout(
            RULE_TIME_BUDGET * 10,
            tokio::task::spawn_blocking(move || trial.trial()),
        )
        .await;
        match took {
            Ok(Ok(t)) if t <= RULE_TIME_BUDGET => {}
            Ok(Err(e)) => return Err(AppError::Internal(format!("rule trial failed: {e}"))),
            _ => {
                return Err(AppError::validation(
                    "expression",
                    format!(
                        "the expression takes longer than its time budget of {} ms even without any ticket data; every rule runs on every ticket, so make it cheaper (fewer nested all/exists/map/filter, shorter lists; at most {MAX_MACRO_NESTING} deep, {MAX_LIST_ITEMS} items per list, {MAX_EXPRESSION_CHARS} characters)",
                        RULE_TIME_BUDGET.as_millis()
                    ),
                ));
            }
        }
        let mut tx = self.governance.db().begin_write().await?;
        let created = store::upsert_qa_rule(&mut tx, &compiled.record).await?;
        tx.commit().await?;
        let mut conn = self.governance.db().pool().acquire().await?;
        let rule = store::list_qa_rules(&mut conn)
            .await?
            .into_iter()
            .find(|r| r.name == compiled.record.name)
            .ok_or_else(|| AppError::Internal("rule vanished after saving".into()))?;
        Ok(UpsertQaRuleOutput { created, rule })
    }
}

/// For callers that only need a ticket's latest report.
pub fn report_of(ticket: &Ticket) -> Option<QaReport> {
    ticket
        .qa_report
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
}
