//! Admin rules in CEL: an expression that is true when the rule is violated, evaluated with
//! the variables `spec`, `payloads`, `ticket`, `campaign`, `brand`, `market`, `channel`.
//!
//! The `cel` crate has no cost or time limit of its own (only a parser recursion limit), and
//! an evaluation cannot be interrupted: `[1,...,90].all(a, [...].all(b, [...].all(c, ...)))`
//! runs 729,000 steps for seconds. So a rule is bounded three ways: its shape is limited when
//! it is saved (length, nesting of the looping macros, literal list size), it is run once
//! then against empty data within the time budget, and on every ticket it is timed; one that
//! overruns is reported and not waited for (see `watchdog`), and the service disables it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cel::common::ast::{EntryExpr, Expr, IdedExpr};

use super::{Outcome, QaResult};
use crate::domain::TicketContextRef;
use crate::platforms::{CampaignSpec, TranslatedPayloads};
use crate::store::QaRuleRecord;

pub const VARIABLES: &[&str] = &[
    "spec", "payloads", "ticket", "campaign", "brand", "market", "channel",
];

/// How long one CEL rule may run on one ticket. Rules read a few fields and take
/// microseconds (tens in a debug build); a tenth of a second is far above that, yet short
/// enough that a QA run with a runaway rule still answers promptly.
pub const RULE_TIME_BUDGET: Duration = Duration::from_millis(100);

/// The longest expression a rule may have, in characters. Leaves room for a list of a
/// hundred interest ids; also bounds how much work literals alone can describe.
pub const MAX_EXPRESSION_CHARS: usize = 2_000;

/// How deep `all`, `exists`, `exists_one`, `map` and `filter` may be nested, chains included
/// (`a.filter(..).map(..)` is two deep). Each level multiplies the work: two deep is
/// quadratic in the lists' sizes, three deep is what stalled the server.
pub const MAX_MACRO_NESTING: usize = 2;

/// The most items one list literal may have.
pub const MAX_LIST_ITEMS: usize = 100;

/// CEL's standard environment, built once: building it per ticket dominated QA time.
fn stdlib() -> Arc<cel::Env> {
    static ENV: std::sync::OnceLock<Arc<cel::Env>> = std::sync::OnceLock::new();
    Arc::clone(ENV.get_or_init(|| Arc::new(cel::Env::stdlib())))
}

#[derive(Clone)]
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

/// Compile an expression an admin is saving: `compile_rule`, and a shape cheap enough to run
/// on every ticket. Stored rules are not held to this when loaded (they may predate it); the
/// time budget bounds them.
pub fn admit_rule(record: QaRuleRecord) -> Result<CompiledRule, String> {
    let chars = record.expression.chars().count();
    if chars > MAX_EXPRESSION_CHARS {
        return Err(format!(
            "the expression has {chars} characters; keep it to {MAX_EXPRESSION_CHARS}, since every rule runs on every ticket"
        ));
    }
    let rule = compile_rule(record)?;
    check_shape(rule.program.expression(), 0)?;
    Ok(rule)
}

/// Refuse macro nesting deeper than MAX_MACRO_NESTING and list literals longer than
/// MAX_LIST_ITEMS. The parser bounds the tree's depth, so recursing is safe.
fn check_shape(e: &IdedExpr, nesting: usize) -> Result<(), String> {
    match &e.expr {
        Expr::Comprehension(c) => {
            let nesting = nesting + 1;
            if nesting > MAX_MACRO_NESTING {
                return Err(format!(
                    "all/exists/exists_one/map/filter are nested (or chained) more than {MAX_MACRO_NESTING} deep; each level multiplies the work on every ticket, so keep to two, e.g. a.exists(x, b.exists(y, x == y))"
                ));
            }
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                check_shape(part, nesting)?;
            }
            Ok(())
        }
        Expr::List(list) => {
            if list.elements.len() > MAX_LIST_ITEMS {
                return Err(format!(
                    "a list literal has {} items; at most {MAX_LIST_ITEMS}",
                    list.elements.len()
                ));
            }
            list.elements
                .iter()
                .try_for_each(|x| check_shape(x, nesting))
        }
        Expr::Call(call) => call
            .target
            .iter()
            .map(|t| &**t)
            .chain(&call.args)
            .try_for_each(|x| check_shape(x, nesting)),
        Expr::Select(select) => check_shape(&select.operand, nesting),
        Expr::Map(map) => map
            .entries
            .iter()
            .try_for_each(|x| entry_shape(&x.expr, nesting)),
        Expr::Struct(st) => st
            .entries
            .iter()
            .try_for_each(|x| entry_shape(&x.expr, nesting)),
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Ok(()),
    }
}

fn entry_shape(entry: &EntryExpr, nesting: usize) -> Result<(), String> {
    match entry {
        EntryExpr::MapEntry(m) => {
            check_shape(&m.key, nesting)?;
            check_shape(&m.value, nesting)
        }
        EntryExpr::StructField(f) => check_shape(&f.value, nesting),
    }
}

impl CompiledRule {
    /// Run the rule once with every variable an empty map and say how long it took: what the
    /// expression costs by itself, before any ticket's data. Blocks; call it off the async
    /// threads.
    pub fn trial(&self) -> Duration {
        let mut context = cel::Context::with_env(stdlib());
        for name in VARIABLES {
            context.add_variable_from_value(
                *name,
                std::collections::HashMap::<String, cel::Value>::new(),
            );
        }
        let started = Instant::now();
        let _ = self.program.execute(&context);
        started.elapsed()
    }
}

/// How a check times its CEL rules, and who hears about it.
pub struct RuleClock<'a> {
    /// How long one rule may run on one ticket.
    pub budget: Duration,
    /// Rules (indexes into `QaEngine::rules`) already found to overrun on this ticket: they
    /// are reported as such and not run again.
    pub overran: &'a [usize],
    /// Told a rule's index just before it runs, so a watchdog on another thread can stop
    /// waiting for one that overruns; answers false when nobody waits any more, which ends
    /// the check early.
    pub starting: &'a dyn Fn(usize) -> bool,
}

fn always(_: usize) -> bool {
    true
}

impl Default for RuleClock<'_> {
    fn default() -> Self {
        Self {
            budget: RULE_TIME_BUDGET,
            overran: &[],
            starting: &always,
        }
    }
}

/// The CEL part of a check.
pub struct CelOutcome {
    pub results: Vec<QaResult>,
    /// Names of the rules that ran past their time budget.
    pub over_budget: Vec<String>,
}

fn over_budget(rule: &CompiledRule, budget: Duration) -> QaResult {
    QaResult {
        rule_id: format!("cel.{}", rule.record.name),
        outcome: Outcome::Warn,
        message: format!(
            "rule {} exceeded its time budget of {} ms on this ticket, so it was not applied and has been disabled; simplify the expression (fewer nested all/exists/map/filter, smaller lists) and save it again with upsert_qa_rule to re-enable it",
            rule.record.name,
            budget.as_millis()
        ),
        path: None,
    }
}

fn applies(rule: &QaRuleRecord, ctx: &TicketContextRef<'_>) -> bool {
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
    ctx: &TicketContextRef<'_>,
    spec: &CampaignSpec,
    payloads: Option<&TranslatedPayloads>,
    clock: &RuleClock<'_>,
) -> CelOutcome {
    let mut out = CelOutcome {
        results: Vec::new(),
        over_budget: Vec::new(),
    };
    let active: Vec<(usize, &CompiledRule)> = rules
        .iter()
        .enumerate()
        .filter(|(_, r)| applies(&r.record, ctx))
        .collect();
    if active.is_empty() {
        return out;
    }
    let mut context = cel::Context::with_env(stdlib());
    let needed: [bool; 7] = std::array::from_fn(|i| active.iter().any(|(_, r)| r.uses[i]));
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
    for (i, rule) in active {
        if clock.overran.contains(&i) {
            out.results.push(over_budget(rule, clock.budget));
            out.over_budget.push(rule.record.name.clone());
            continue;
        }
        if !(clock.starting)(i) {
            break;
        }
        let started = Instant::now();
        let verdict = rule.program.execute(&context);
        // Nobody cut it off (a plain `check` has no watchdog), but it still overran.
        if started.elapsed() > clock.budget {
            out.results.push(over_budget(rule, clock.budget));
            out.over_budget.push(rule.record.name.clone());
            continue;
        }
        out.results.push(judge(rule, verdict));
    }
    out
}

fn judge(rule: &CompiledRule, verdict: cel::ResolveResult) -> QaResult {
    let rule_id = format!("cel.{}", rule.record.name);
    let path = rule.record.field_path.clone();
    match verdict {
        Ok(cel::Value::Bool(true)) => QaResult {
            rule_id,
            outcome: if rule.record.severity == "BLOCK" {
                Outcome::Block
            } else {
                Outcome::Warn
            },
            message: rule.record.message.clone(),
            path,
        },
        Ok(cel::Value::Bool(false)) => QaResult {
            rule_id,
            outcome: Outcome::Pass,
            message: "not violated".into(),
            path: None,
        },
        Ok(other) => QaResult {
            rule_id,
            outcome: Outcome::Warn,
            message: format!(
                "the rule's expression gave {other:?}, not true or false; fix the rule with upsert_qa_rule"
            ),
            path,
        },
        // A field the expression reads is absent from this ticket: the rule does not apply.
        Err(e) => QaResult {
            rule_id,
            outcome: Outcome::Pass,
            message: format!("not applicable to this ticket ({e})"),
            path: None,
        },
    }
}
