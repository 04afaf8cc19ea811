//! Admin rules in CEL: an expression that is true when the rule is violated, evaluated with
//! the variables `spec`, `payloads`, `ticket`, `campaign`, `brand`, `market`, `channel`.

use std::sync::Arc;

use super::{Outcome, QaResult, TicketContext};
use crate::platforms::{CampaignSpec, TranslatedPayloads};
use crate::store::QaRuleRecord;

pub const VARIABLES: &[&str] = &[
    "spec", "payloads", "ticket", "campaign", "brand", "market", "channel",
];

pub struct CompiledRule {
    pub record: QaRuleRecord,
    program: Arc<cel::Program>,
}

impl std::fmt::Debug for CompiledRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledRule")
            .field("name", &self.record.name)
            .field("expression", &self.record.expression)
            .finish()
    }
}

/// Compile an expression, refusing syntax errors and unknown variables with a message that
/// says what is wrong.
pub fn compile_rule(record: QaRuleRecord) -> Result<CompiledRule, String> {
    let program = cel::Program::compile(&record.expression)
        .map_err(|e| format!("CEL does not compile: {e}"))?;
    let refs = program.references();
    // Macro iteration variables (`exists(i, ...)`) show up as references too; they are bound
    // by the `(name,` that introduces them.
    let compact: String = record
        .expression
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let unknown: Vec<&str> = refs
        .variables()
        .into_iter()
        .filter(|v| !VARIABLES.contains(v) && !compact.contains(&format!("({v},")))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown variable(s) {}; rules may use {}",
            unknown.join(", "),
            VARIABLES.join(", ")
        ));
    }
    Ok(CompiledRule {
        record,
        program: Arc::new(program),
    })
}

fn applies(rule: &QaRuleRecord, ctx: &TicketContext<'_>) -> bool {
    rule.enabled
        && rule
            .brand_code
            .as_deref()
            .is_none_or(|b| b == ctx.brand.code)
        && rule
            .market_code
            .as_deref()
            .is_none_or(|m| m == ctx.market.code)
        && rule
            .platform
            .as_deref()
            .is_none_or(|p| p == ctx.channel.platform.as_str())
}

pub fn evaluate(
    rules: &[CompiledRule],
    ctx: &TicketContext<'_>,
    spec: &CampaignSpec,
    payloads: Option<&TranslatedPayloads>,
) -> Vec<QaResult> {
    let active: Vec<&CompiledRule> = rules.iter().filter(|r| applies(&r.record, ctx)).collect();
    if active.is_empty() {
        return vec![];
    }
    let mut context = cel::Context::default();
    let mut bodies = serde_json::Map::new();
    if let Some(p) = payloads {
        for r in &p.requests {
            bodies.insert(r.object.clone(), r.body.clone());
        }
    }
    let vars: [(&str, Result<cel::Value, String>); 7] = [
        ("spec", cel::to_value(spec).map_err(|e| e.to_string())),
        (
            "payloads",
            cel::to_value(&bodies).map_err(|e| e.to_string()),
        ),
        (
            "ticket",
            cel::to_value(ctx.ticket).map_err(|e| e.to_string()),
        ),
        (
            "campaign",
            cel::to_value(ctx.campaign).map_err(|e| e.to_string()),
        ),
        ("brand", cel::to_value(ctx.brand).map_err(|e| e.to_string())),
        (
            "market",
            cel::to_value(ctx.market).map_err(|e| e.to_string()),
        ),
        (
            "channel",
            cel::to_value(ctx.channel).map_err(|e| e.to_string()),
        ),
    ];
    for (name, v) in vars {
        match v {
            Ok(v) => context.add_variable_from_value(name, v),
            Err(e) => {
                tracing::error!(variable = name, error = %e, "cannot expose a QA variable to CEL");
            }
        }
    }
    active
        .into_iter()
        .map(|rule| {
            let rule_id = format!("cel.{}", rule.record.name);
            let path = rule.record.field_path.clone();
            match rule.program.execute(&context) {
                Ok(cel::Value::Bool(true)) => QaResult {
                    rule_id,
                    outcome: if rule.record.severity == "BLOCK" { Outcome::Block } else { Outcome::Warn },
                    message: rule.record.message.clone(),
                    path,
                },
                Ok(cel::Value::Bool(false)) => QaResult { rule_id, outcome: Outcome::Pass, message: "not violated".into(), path: None },
                Ok(other) => QaResult {
                    rule_id,
                    outcome: Outcome::Warn,
                    message: format!("the rule's expression gave {other:?}, not true or false; fix the rule with upsert_qa_rule"),
                    path,
                },
                // A field the expression reads is absent from this ticket: the rule does not apply.
                Err(e) => QaResult { rule_id, outcome: Outcome::Pass, message: format!("not applicable to this ticket ({e})"), path: None },
            }
        })
        .collect()
}
