//! Admin rules in CEL: an expression that is true when the rule is violated, evaluated with
//! the variables `spec`, `payloads`, `ticket`, `campaign`, `brand`, `market`, `channel`.
//!
//! The `cel` crate has no cost or time limit of its own (only a parser recursion limit), and
//! an evaluation cannot be interrupted: `[1,...,90].all(a, [...].all(b, [...].all(c, ...)))`
//! runs 729,000 steps for seconds. So a rule is bounded three ways: its shape is limited when
//! it is saved (length, nesting of the looping macros, literal list size), it is run once
//! then against empty data within the time budget, and on every ticket it is timed; one that
//! overruns is reported and not waited for (see `watchdog`), and the service disables it.

use std::collections::{BTreeMap, HashMap};
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
    /// What the expression reads of each of VARIABLES; only that is built per ticket.
    reads: [Reads; 7],
}

/// What a rule reads of one variable.
#[derive(Clone, Debug, Default, PartialEq)]
enum Reads {
    #[default]
    Nothing,
    /// Only these fields (`spec.targeting.age_min`, `has(spec.schedule)`): the variable is
    /// built as a map of just those fields, each exactly as the whole value has it, and a
    /// field read only in part (`targeting` there) is itself picked the same way.
    Fields(BTreeMap<String, Reads>),
    /// The value as a whole (`size(spec)`, `spec["targeting"]`, `spec.exists(..)`, ...).
    Whole,
}

impl Reads {
    fn merge(&mut self, other: &Reads) {
        match (&mut *self, other) {
            (_, Reads::Nothing) | (Reads::Whole, _) => {}
            (Reads::Fields(mine), Reads::Fields(theirs)) => {
                for (field, reads) in theirs {
                    mine.entry(field.clone()).or_default().merge(reads);
                }
            }
            (me, other) => *me = other.clone(),
        }
    }

    /// Record a read of `path`, the field names from the variable down; the last field is
    /// read whole.
    fn add_path(&mut self, path: &[&str]) {
        let Some((first, rest)) = path.split_first() else {
            *self = Reads::Whole;
            return;
        };
        match self {
            Reads::Whole => {}
            Reads::Nothing => {
                *self = Reads::Fields(BTreeMap::new());
                self.add_path(path);
            }
            Reads::Fields(f) => f.entry((*first).to_owned()).or_default().add_path(rest),
        }
    }
}

/// Record, for each of VARIABLES, which of its fields `e` selects, or that it uses the
/// variable some other way. A macro's iteration variable that shadows one of VARIABLES only
/// makes this read more than needed, never less. The parser bounds the tree's depth.
fn collect_reads(e: &IdedExpr, reads: &mut [Reads; 7]) {
    let var = |name: &str| VARIABLES.iter().position(|v| *v == name);
    match &e.expr {
        Expr::Select(_) => {
            // A chain of selects down to a variable reads that path only.
            let mut path = Vec::new();
            let mut at = e;
            while let Expr::Select(select) = &at.expr {
                path.push(select.field.as_str());
                at = &select.operand;
            }
            if let Expr::Ident(name) = &at.expr
                && let Some(i) = var(name)
            {
                path.reverse();
                reads[i].add_path(&path);
            } else {
                collect_reads(at, reads);
            }
        }
        Expr::Ident(name) => {
            // `.spec` (an absolute name) is the variable too.
            if let Some(i) = var(name.strip_prefix('.').unwrap_or(name)) {
                reads[i] = Reads::Whole;
            }
        }
        Expr::Comprehension(c) => {
            for part in [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ] {
                collect_reads(part, reads);
            }
        }
        Expr::List(list) => list.elements.iter().for_each(|x| collect_reads(x, reads)),
        Expr::Call(call) => call
            .target
            .iter()
            .map(|t| &**t)
            .chain(&call.args)
            .for_each(|x| collect_reads(x, reads)),
        Expr::Map(map) => map.entries.iter().for_each(|x| entry_reads(&x.expr, reads)),
        Expr::Struct(st) => st.entries.iter().for_each(|x| entry_reads(&x.expr, reads)),
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn entry_reads(entry: &EntryExpr, reads: &mut [Reads; 7]) {
    match entry {
        EntryExpr::MapEntry(m) => {
            collect_reads(&m.key, reads);
            collect_reads(&m.value, reads);
        }
        EntryExpr::StructField(f) => collect_reads(&f.value, reads),
    }
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
    let mut reads: [Reads; 7] = Default::default();
    collect_reads(program.expression(), &mut reads);
    // A variable the references list names but no node above was recognised as reading is
    // built whole, as before.
    for (i, r) in reads.iter_mut().enumerate() {
        if *r == Reads::Nothing && vars.contains(&VARIABLES[i]) {
            *r = Reads::Whole;
        }
    }
    Ok(CompiledRule {
        record,
        program: Arc::new(program),
        reads,
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
    // One rule's reads are used as they are; several are merged (a copy per ticket).
    let needed: std::borrow::Cow<'_, [Reads; 7]> = match active.as_slice() {
        [(_, only)] => std::borrow::Cow::Borrowed(&only.reads),
        _ => {
            let mut merged: [Reads; 7] = Default::default();
            for (_, r) in &active {
                for (n, reads) in merged.iter_mut().zip(&r.reads) {
                    n.merge(reads);
                }
            }
            std::borrow::Cow::Owned(merged)
        }
    };
    for (i, name) in VARIABLES.iter().enumerate() {
        let reads = &needed[i];
        if *reads == Reads::Nothing {
            continue;
        }
        let v = match i {
            0 => build(spec, reads),
            1 => payloads_value(payloads, reads),
            2 => build(ctx.ticket, reads),
            3 => build(ctx.campaign, reads),
            4 => build(ctx.brand, reads),
            5 => build(ctx.market, reads),
            _ => build(ctx.channel, reads),
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

/// Whether a rule reads `spec.overrides` (or `spec` as a whole): then the spec must hold every
/// platform's overrides, not only those of the ticket's channel.
pub fn read_overrides(rules: &[CompiledRule]) -> bool {
    // VARIABLES[0] is `spec`.
    rules.iter().any(|r| match &r.reads[0] {
        Reads::Nothing => false,
        Reads::Whole => true,
        Reads::Fields(fields) => fields.contains_key("overrides"),
    })
}

/// The CEL value of a variable: the whole value, or a map of just the fields read, each as
/// `cel::to_value` of the whole would have it. A value that is not a plain struct (a map, a
/// flattened struct) is built whole.
fn build<T: serde::Serialize>(
    value: &T,
    reads: &Reads,
) -> Result<cel::Value, cel::SerializationError> {
    if let Reads::Fields(fields) = reads
        && let Ok(v) = value.serialize(pick::Picker { fields })
    {
        return Ok(v);
    }
    cel::to_value(value)
}

/// `payloads`: each request's body under its object name (a later request of the same
/// object replaces an earlier one), only the objects read unless the whole map is.
fn payloads_value(
    payloads: Option<&TranslatedPayloads>,
    reads: &Reads,
) -> Result<cel::Value, cel::SerializationError> {
    let mut map = HashMap::new();
    for r in payloads.map(|p| p.requests.as_slice()).unwrap_or_default() {
        if let Reads::Fields(f) = reads
            && !f.contains_key(&r.object)
        {
            continue;
        }
        map.insert(
            cel::objects::Key::String(Arc::new(r.object.clone())),
            cel::to_value(&r.body)?,
        );
    }
    Ok(cel::Value::Map(map.into()))
}

/// A serializer that accepts only a struct (or `Some` of one) and keeps the fields named in
/// `fields`: one read whole serialized by `cel::to_value`, one read in part picked in turn
/// (or built whole if it is not a struct); anything else is refused (the caller builds it
/// whole).
mod pick {
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Arc;

    use cel::SerializationError;
    use cel::objects::Key;
    use serde::Serialize;
    use serde::ser::{Impossible, SerializeStruct, Serializer};

    use super::Reads;

    pub struct Picker<'a> {
        pub fields: &'a BTreeMap<String, Reads>,
    }

    pub struct Picked<'a> {
        fields: &'a BTreeMap<String, Reads>,
        map: HashMap<Key, cel::Value>,
    }

    fn refuse<T>() -> Result<T, SerializationError> {
        Err(SerializationError::SerdeError("not a struct".into()))
    }

    macro_rules! refuse {
        ($($name:ident($($arg:ty),*)),* $(,)?) => {
            $(fn $name(self, $(_: $arg),*) -> Result<cel::Value, SerializationError> {
                refuse()
            })*
        };
    }

    impl<'a> Serializer for Picker<'a> {
        type Ok = cel::Value;
        type Error = SerializationError;
        type SerializeSeq = Impossible<cel::Value, SerializationError>;
        type SerializeTuple = Impossible<cel::Value, SerializationError>;
        type SerializeTupleStruct = Impossible<cel::Value, SerializationError>;
        type SerializeTupleVariant = Impossible<cel::Value, SerializationError>;
        type SerializeMap = Impossible<cel::Value, SerializationError>;
        type SerializeStruct = Picked<'a>;
        type SerializeStructVariant = Impossible<cel::Value, SerializationError>;

        refuse!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_char(char),
            serialize_str(&str),
            serialize_bytes(&[u8]),
            serialize_none(),
            serialize_unit(),
            serialize_unit_struct(&'static str),
            serialize_unit_variant(&'static str, u32, &'static str),
        );

        // As `cel::to_value` has it: `Some(x)` is `x`.
        fn serialize_some<T: ?Sized + Serialize>(
            self,
            value: &T,
        ) -> Result<cel::Value, SerializationError> {
            value.serialize(self)
        }

        fn serialize_newtype_struct<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: &T,
        ) -> Result<cel::Value, SerializationError> {
            refuse()
        }

        fn serialize_newtype_variant<T: ?Sized + Serialize>(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: &T,
        ) -> Result<cel::Value, SerializationError> {
            refuse()
        }

        fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, SerializationError> {
            refuse()
        }

        fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, SerializationError> {
            refuse()
        }

        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, SerializationError> {
            refuse()
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, SerializationError> {
            refuse()
        }

        fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, SerializationError> {
            refuse()
        }

        fn serialize_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStruct, SerializationError> {
            Ok(Picked {
                fields: self.fields,
                map: HashMap::with_capacity(self.fields.len()),
            })
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, SerializationError> {
            refuse()
        }
    }

    impl SerializeStruct for Picked<'_> {
        type Ok = cel::Value;
        type Error = SerializationError;

        fn serialize_field<T: ?Sized + Serialize>(
            &mut self,
            key: &'static str,
            value: &T,
        ) -> Result<(), SerializationError> {
            let value = match self.fields.get(key) {
                None => return Ok(()),
                Some(Reads::Fields(fields)) => value
                    .serialize(Picker { fields })
                    .or_else(|_| cel::to_value(value))?,
                Some(_) => cel::to_value(value)?,
            };
            self.map
                .insert(Key::String(Arc::new(key.to_owned())), value);
            Ok(())
        }

        fn end(self) -> Result<cel::Value, SerializationError> {
            Ok(cel::Value::Map(self.map.into()))
        }
    }
}

fn judge(rule: &CompiledRule, verdict: cel::ResolveResult) -> QaResult {
    let rule_id = ["cel.", &rule.record.name].concat();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reads_of(expression: &str) -> [Reads; 7] {
        let program = cel::Program::compile(expression).unwrap();
        let mut reads: [Reads; 7] = Default::default();
        collect_reads(program.expression(), &mut reads);
        reads
    }

    /// The reads of these dotted paths, each read whole at its end.
    fn fields(paths: &[&str]) -> Reads {
        let mut reads = Reads::Nothing;
        for p in paths {
            reads.add_path(&p.split('.').collect::<Vec<_>>());
        }
        reads
    }

    #[test]
    fn a_rule_reads_the_fields_it_selects() {
        let r = reads_of("spec.targeting.age_min < 14 && has(spec.schedule)");
        assert_eq!(r[0], fields(&["schedule", "targeting.age_min"]));
        assert_eq!(r[1], Reads::Nothing);
        let r = reads_of("payloads.adset.targeting.age_min < 18 || brand.code == 'DIS'");
        assert_eq!(r[1], fields(&["adset.targeting.age_min"]));
        assert_eq!(r[4], fields(&["code"]));
        let r = reads_of("spec.targeting.interests.exists(i, i.id == '1') && size(ticket) > 0");
        assert_eq!(r[0], fields(&["targeting.interests"]));
        assert_eq!(r[2], Reads::Whole);
        // A field read whole anywhere is built whole.
        let r = reads_of("spec.targeting.age_min < 14 && size(spec.targeting) > 0");
        assert_eq!(r[0], fields(&["targeting"]));
        let r = reads_of("size(spec.targeting) > 0 && spec.targeting.age_min < 14");
        assert_eq!(r[0], fields(&["targeting"]));
        assert_eq!(reads_of("spec['budget'].amount == '1'")[0], Reads::Whole);
        assert_eq!(reads_of("spec.exists(k, k == 'budget')")[0], Reads::Whole);
        // An iteration variable that shadows a variable makes it read more, never less.
        let r = reads_of("[spec.budget].exists(spec, spec.amount == '1')");
        assert_eq!(r[0], fields(&["amount", "budget"]));
        assert_eq!(reads_of("[1].exists(spec, spec > 0)")[0], Reads::Whole);
    }

    #[test]
    fn reads_of_several_rules_merge_to_what_any_reads() {
        let mut a = fields(&["targeting.age_min"]);
        a.merge(&fields(&["targeting.countries", "budget"]));
        assert_eq!(
            a,
            fields(&["budget", "targeting.age_min", "targeting.countries"])
        );
        a.merge(&fields(&["targeting"]));
        assert_eq!(a, fields(&["budget", "targeting"]));
        a.merge(&fields(&["targeting.age_min"]));
        assert_eq!(a, fields(&["budget", "targeting"]));
        a.merge(&Reads::Nothing);
        assert_eq!(a, fields(&["budget", "targeting"]));
        a.merge(&Reads::Whole);
        assert_eq!(a, Reads::Whole);
        // An absolute name is the variable, read whole.
        assert_eq!(reads_of(".spec.targeting.age_min < 14")[0], Reads::Whole);
    }

    fn spec() -> CampaignSpec {
        CampaignSpec::parse(&serde_json::json!({
            "objective": "TRAFFIC",
            "budget": {"amount": "50.00", "period": "DAILY"},
            "targeting": {"countries": ["US"], "age_min": 13, "interests": [{"id": "1", "name": "x"}]},
            "creative": {"headline": "Moana"},
            "overrides": {"meta": {"adset": {"bid_amount": 100}}}
        }))
        .unwrap()
    }

    fn scheduled_spec() -> CampaignSpec {
        CampaignSpec::parse(&serde_json::json!({
            "objective": "SALES",
            "budget": {"amount": "900.00", "period": "LIFETIME"},
            "schedule": {"start_time": "2027-03-01T00:00:00-05:00", "end_time": "2027-03-31T23:59:59-05:00"},
            "targeting": {"countries": ["US", "CA"], "age_max": 40},
            "creative": {"body": "Sail"},
            "bidding": {"strategy": "COST_CAP", "bid_amount": "2.50"}
        }))
        .unwrap()
    }

    fn map(v: &cel::Value) -> &cel::objects::Map {
        let cel::Value::Map(m) = v else {
            panic!("a struct, picked or whole, is a map: {v:?}")
        };
        m
    }

    fn get<'a>(m: &'a cel::objects::Map, key: &str) -> Option<&'a cel::Value> {
        m.map.get(&cel::objects::Key::from(key))
    }

    #[test]
    fn picked_fields_are_the_whole_values_fields() {
        let spec = spec();
        let whole = cel::to_value(&spec).unwrap();
        let whole = map(&whole);
        assert!(whole.map.len() >= 7);
        for key in whole.map.keys() {
            let cel::objects::Key::String(name) = key else {
                panic!("struct keys are strings")
            };
            let picked = build(&spec, &fields(&[name.as_str()])).unwrap();
            let picked = map(&picked);
            assert_eq!(picked.map.len(), 1);
            assert_eq!(picked.map.get(key), whole.map.get(key), "{name}");
        }
        // A field read in part is the whole value's field, cut to what is read.
        let targeting = map(get(whole, "targeting").unwrap());
        let picked = build(&spec, &fields(&["targeting.age_min"])).unwrap();
        let picked = map(get(map(&picked), "targeting").unwrap());
        assert_eq!(picked.map.len(), 1);
        assert_eq!(get(picked, "age_min"), get(targeting, "age_min"));
        assert_eq!(get(picked, "age_min"), Some(&cel::Value::Int(13)));
        // A field the struct does not have is absent, as it is from the whole value.
        assert!(
            map(&build(&spec, &fields(&["nope"])).unwrap())
                .map
                .is_empty()
        );
        // Something other than a struct is built whole.
        let json = serde_json::json!({"a": 1, "b": 2});
        assert_eq!(
            build(&json, &fields(&["a"])).unwrap(),
            cel::to_value(&json).unwrap()
        );
    }

    #[test]
    fn rules_judge_the_same_on_picked_and_whole_values() {
        for (spec, expression) in [spec(), scheduled_spec()].iter().flat_map(|s| {
            [
            "spec.targeting.age_min < 14",
            "spec.targeting.interests.exists(i, i.id == '1')",
            "has(spec.schedule) && spec.schedule == null",
            "spec.budget.amount == '50.00' && spec.bidding == null",
            "spec.nope == 1",
            "spec.overrides.meta.adset.bid_amount > 10",
            "size(spec.creative) > 3",
            "has(spec.schedule.end_time) && spec.schedule.end_time > spec.schedule.start_time",
            "has(spec.targeting.age_max) ? spec.targeting.age_max < 50 : spec.targeting.age_min > 12",
            "spec.targeting.nope == 1",
            "spec.bidding.bid_amount == '2.50' && spec.bidding.strategy == 'COST_CAP'",
            "spec.budget.period == 'LIFETIME' && size(spec.budget) == 2",
            "spec.targeting.countries.exists(c, c == 'CA') || spec.creative.headline == 'Moana'",
            "[spec.targeting].exists(spec, spec.age_min == 13)",
            "has(spec.targeting.age_min) && spec.targeting == spec.targeting",
            "spec.targeting.interests.map(i, i.name).size() == 1",
            ]
            .map(|e| (s, e))
        }) {
            let program = cel::Program::compile(expression).unwrap();
            let mut reads: [Reads; 7] = Default::default();
            collect_reads(program.expression(), &mut reads);
            assert!(matches!(reads[0], Reads::Fields(_)), "{expression}");
            let mut picked = cel::Context::with_env(stdlib());
            picked.add_variable_from_value("spec", build(spec, &reads[0]).unwrap());
            let mut whole = cel::Context::with_env(stdlib());
            whole.add_variable_from_value("spec", cel::to_value(spec).unwrap());
            assert_eq!(
                format!("{:?}", program.execute(&picked)),
                format!("{:?}", program.execute(&whole)),
                "{expression}"
            );
        }
    }
}
