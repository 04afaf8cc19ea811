//! Admin rules in CEL: an expression that is true when the rule is violated, evaluated with
//! the variables `spec`, `payloads`, `ticket`, `campaign`, `brand`, `market`, `channel`.

use std::sync::Arc;

use super::{Outcome, QaResult, TicketContext};
use crate::platforms::{CampaignSpec, TranslatedPayloads};
use crate::store::QaRuleRecord;

pub const VARIABLES: &[&str] = &[
    "spec", "payloads", "ticket", "campaign", "brand", "market", "channel",
];

/// CEL's standard environment, built once: building it per ticket dominated QA time.
fn stdlib() -> Arc<cel::Env> {
    static ENV: std::sync::OnceLock<Arc<cel::Env>> = std::sync::OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(cel::Env::stdlib())))
}

pub struct CompiledRule {
    pub record: QaRuleRecord,
    program: Arc<cel::Program>,
    /// Which of VARIABLES the expression reads; only those are built per ticket.
    uses: [bool; 7],
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
    let vars = refs.variables();
    let uses = std::array::from_fn(|i| vars.contains(&VARIABLES[i]));
    Ok(CompiledRule {
        record,
        program: Arc::new(program),
        uses,
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
    let mut context = cel::Context::with_env(stdlib());
    let needed: [bool; 7] = std::array::from_fn(|i| active.iter().any(|r| r.uses[i]));
    for (i, name) in VARIABLES.iter().enumerate() {
        if !needed[i] {
            continue;
        }
        let v = match i {
            0 => cel::to_value(spec),
            1 => {
                let mut bodies = serde_json::Map::new();
                if let Some(p) = payloads {
                    for r in &p.requests {
                        bodies.insert(r.object.clone(), r.body.clone());
                    }
                }
                cel::to_value(&bodies)
            }
            2 => cel::to_value(ctx.ticket),
            3 => cel::to_value(ctx.campaign),
            4 => cel::to_value(ctx.brand),
            5 => cel::to_value(ctx.market),
            _ => cel::to_value(ctx.channel),
        };
        match v {
            Ok(v) => context.add_variable_from_value(*name, v),
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
