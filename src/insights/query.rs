//! Reading what was synced: insights with exact money, and pacing.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::pacing::{self, Figures, Reason, TicketPlan, Verdict, micros_to_minor, money};
use super::{DEPLOYED, InsightsService, MAX_TICKETS, currency_of, parse_time};
use crate::domain::{Currency, Money, Ticket, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::platforms::client::Delivery;
use crate::platforms::spec::CampaignSpec;
use crate::store::{self, DailyMetric, MetricScope};

/// How to group insights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Breakdown {
    #[default]
    Day,
    Platform,
    Ticket,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InsightsInput {
    /// Exactly one of campaign_id, ticket_id or brand_code.
    pub campaign_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub brand_code: Option<String>,
    /// First day, YYYY-MM-DD (default: 30 days before `to`).
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD, inclusive (default: today, UTC).
    pub to: Option<String>,
    /// day (default), platform or ticket.
    pub breakdown: Option<Breakdown>,
    /// Groups per page (default 31, at most 366).
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// Metrics normalised across platforms; money exact in `currency`.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq)]
pub struct Metrics {
    /// Spend as a decimal in major units ("1234.56"), rounded half up to the currency's
    /// minor unit from the platforms' exact figures.
    pub spend: String,
    /// Spend in millionths of a major unit, exactly as the platforms reported it.
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    /// Conversions (Google's may be fractional), as a decimal.
    pub conversions: String,
    /// Clicks per impression, per cent with two decimals; None without impressions.
    pub ctr_percent: Option<String>,
    /// Cost per click; None without clicks.
    pub cpc: Option<String>,
    /// Cost per thousand impressions; None without impressions.
    pub cpm: Option<String>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Sum {
    spend_micros: i64,
    impressions: i64,
    clicks: i64,
    conversions_milli: i64,
}

impl Sum {
    fn add(&mut self, m: &DailyMetric) {
        self.spend_micros = self.spend_micros.saturating_add(m.spend_micros);
        self.impressions = self.impressions.saturating_add(m.impressions);
        self.clicks = self.clicks.saturating_add(m.clicks);
        self.conversions_milli = self.conversions_milli.saturating_add(m.conversions_milli);
    }

    fn metrics(&self, c: Currency) -> Metrics {
        let ratio = |num: i64, den: i64, scale: i64| -> i64 {
            let v = i128::from(num) * i128::from(scale) / i128::from(den.max(1));
            i64::try_from(v).unwrap_or(i64::MAX)
        };
        let ctr = (self.impressions > 0).then(|| {
            // Hundredths of a per cent, rounded half up.
            let bp = ratio(self.clicks, self.impressions, 100_000);
            let bp = (bp + 5) / 10;
            format!("{}.{:02}", bp / 100, bp % 100)
        });
        let per = |den: i64, scale: i64| {
            (den > 0).then(|| money(micros_to_minor(ratio(self.spend_micros, den, scale), c), c))
        };
        Metrics {
            spend: money(micros_to_minor(self.spend_micros, c), c),
            spend_micros: self.spend_micros,
            impressions: self.impressions,
            clicks: self.clicks,
            conversions: milli_text(self.conversions_milli),
            ctr_percent: ctr,
            cpc: per(self.clicks, 1),
            cpm: per(self.impressions, 1000),
        }
    }
}

/// The metrics of some days, in `c`.
pub fn sum_metrics<'a>(rows: impl Iterator<Item = &'a DailyMetric>, c: Currency) -> Metrics {
    let mut s = Sum::default();
    for r in rows {
        s.add(r);
    }
    s.metrics(c)
}

fn milli_text(m: i64) -> String {
    let (sign, m) = if m < 0 { ("-", -m) } else { ("", m) };
    let frac = m % 1000;
    if frac == 0 {
        format!("{sign}{}", m / 1000)
    } else {
        format!("{sign}{}.{:03}", m / 1000, frac)
            .trim_end_matches('0')
            .to_owned()
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Group {
    /// The day, the platform, or the ticket id.
    pub key: String,
    /// The ticket's taxonomy name (ticket breakdown).
    pub name: Option<String>,
    pub metrics: Metrics,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    pub totals: Metrics,
}

/// How fresh the data is.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Freshness {
    /// Deployed tickets in scope.
    pub tickets: usize,
    /// The oldest and newest successful sync among them.
    pub oldest_sync: Option<String>,
    pub newest_sync: Option<String>,
    /// Deployed tickets never synced yet.
    pub never_synced: Vec<i64>,
    /// Tickets whose last sync failed, with the error (their data is from the last good one).
    pub failing: Vec<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct InsightsOutput {
    /// One line an assistant can say.
    pub summary: String,
    pub scope: String,
    pub from: String,
    pub to: String,
    /// The brand's currency; totals and groups are in it.
    pub currency: String,
    pub totals: Metrics,
    pub breakdown: Breakdown,
    pub groups: Vec<Group>,
    pub groups_total: usize,
    pub next_offset: Option<i64>,
    /// Spend the platforms reported in another currency (an account set up in another
    /// currency than the brand's); never converted, never added to the totals.
    pub other_currencies: Vec<CurrencyTotal>,
    pub freshness: Freshness,
}

fn day(field: &str, s: &str) -> AppResult<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| {
        AppError::validation(
            field,
            format!("\"{s}\" is not a date; write YYYY-MM-DD, e.g. 2026-09-01"),
        )
    })
}

/// Scope of a read: exactly one of ticket, campaign or brand.
pub enum Scope {
    Ticket(i64),
    Campaign(i64),
    Brand(String),
}

impl Scope {
    pub fn of(
        ticket_id: Option<i64>,
        campaign_id: Option<i64>,
        brand_code: Option<String>,
    ) -> AppResult<Self> {
        match (ticket_id, campaign_id, brand_code) {
            (Some(t), None, None) => Ok(Self::Ticket(t)),
            (None, Some(c), None) => Ok(Self::Campaign(c)),
            (None, None, Some(b)) => Ok(Self::Brand(b.trim().to_ascii_uppercase())),
            _ => Err(AppError::validation(
                "campaign_id",
                "give exactly one of campaign_id, ticket_id or brand_code",
            )),
        }
    }

    fn label(&self) -> String {
        match self {
            Self::Ticket(t) => format!("ticket {t}"),
            Self::Campaign(c) => format!("campaign {c}"),
            Self::Brand(b) => format!("brand {b}"),
        }
    }
}

impl InsightsService {
    /// The brand currency and the tickets of a scope (bounded).
    async fn scope(&self, scope: &Scope) -> AppResult<(Currency, Vec<Ticket>)> {
        let mut c = self.governance.db().pool().acquire().await?;
        match scope {
            Scope::Ticket(id) => {
                let ctx = self.governance.ticket_context(*id).await?;
                Ok((currency_of(&ctx.brand.currency)?, vec![ctx.ticket]))
            }
            Scope::Campaign(id) => {
                let campaign = self.governance.get_campaign(*id).await?;
                let brand = self.governance.get_brand(&campaign.brand_code).await?;
                let filter = store::TicketFilter {
                    campaign_id: Some(*id),
                    limit: MAX_TICKETS,
                    ..Default::default()
                };
                let tickets = store::list_tickets(&mut c, &filter).await?;
                Ok((currency_of(&brand.currency)?, tickets))
            }
            Scope::Brand(code) => {
                let brand = self.governance.get_brand(code).await?;
                let brands = [brand.code.clone()];
                let filter = store::TicketFilter {
                    brands: Some(&brands),
                    limit: 5 * MAX_TICKETS,
                    ..Default::default()
                };
                let tickets = store::list_tickets(&mut c, &filter).await?;
                Ok((currency_of(&brand.currency)?, tickets))
            }
        }
    }

    pub async fn insights(&self, input: InsightsInput) -> AppResult<InsightsOutput> {
        let scope = Scope::of(input.ticket_id, input.campaign_id, input.brand_code.clone())?;
        let today = chrono::Utc::now().date_naive();
        let to = match &input.to {
            Some(t) => day("to", t)?,
            None => today,
        };
        let from = match &input.from {
            Some(f) => day("from", f)?,
            None => to - chrono::Duration::days(30),
        };
        if from > to {
            return Err(AppError::validation(
                "from",
                format!("{from} is after to ({to}); give from <= to"),
            ));
        }
        if (to - from).num_days() > 731 {
            return Err(AppError::validation(
                "from",
                "the range is longer than two years; ask for a shorter one",
            ));
        }
        let limit = input.limit.unwrap_or(31);
        if !(1..=366).contains(&limit) {
            return Err(AppError::validation("limit", "must be between 1 and 366"));
        }
        let offset = input.offset.unwrap_or(0);
        if offset < 0 {
            return Err(AppError::validation("offset", "must be 0 or more"));
        }
        let (currency, tickets) = self.scope(&scope).await?;
        let (from_s, to_s) = (from.to_string(), to.to_string());
        let mut c = self.governance.db().pool().acquire().await?;
        let store_scope = match &scope {
            Scope::Ticket(t) => MetricScope::Tickets(std::slice::from_ref(t)),
            Scope::Campaign(id) => MetricScope::Campaign(*id),
            Scope::Brand(b) => MetricScope::Brand(b),
        };
        let rows = store::daily_metrics(&mut c, &store_scope, (&from_s, &to_s)).await?;
        let names: BTreeMap<i64, String> = tickets
            .iter()
            .map(|t| (t.id, t.platform_name.clone()))
            .collect();
        let breakdown = input.breakdown.unwrap_or_default();
        let mut total = Sum::default();
        let mut groups: BTreeMap<String, Sum> = BTreeMap::new();
        let mut foreign: BTreeMap<String, Sum> = BTreeMap::new();
        for r in &rows {
            if r.currency != currency.as_str() {
                foreign.entry(r.currency.clone()).or_default().add(r);
                continue;
            }
            total.add(r);
            let key = match breakdown {
                Breakdown::Day => r.day.clone(),
                Breakdown::Platform => r.platform.clone(),
                Breakdown::Ticket => r.ticket_id.to_string(),
            };
            groups.entry(key).or_default().add(r);
        }
        let groups_total = groups.len();
        let page: Vec<Group> = groups
            .iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(31))
            .map(|(k, s)| Group {
                key: k.clone(),
                name: match breakdown {
                    Breakdown::Ticket => {
                        k.parse::<i64>().ok().and_then(|id| names.get(&id).cloned())
                    }
                    _ => None,
                },
                metrics: s.metrics(currency),
            })
            .collect();
        let shown = offset + page.len() as i64;
        let next_offset = (shown < groups_total as i64).then_some(shown);
        let other_currencies: Vec<CurrencyTotal> = foreign
            .iter()
            .map(|(code, s)| CurrencyTotal {
                currency: code.clone(),
                totals: match currency_of(code) {
                    Ok(cur) => s.metrics(cur),
                    Err(_) => s.metrics(currency),
                },
            })
            .collect();
        let freshness = self.freshness(&tickets).await?;
        let totals = total.metrics(currency);
        let summary = format!(
            "{}: {} {} spent, {} impressions, {} clicks, {} conversions from {from_s} to {to_s}{}{}",
            scope.label(),
            totals.spend,
            currency,
            totals.impressions,
            totals.clicks,
            totals.conversions,
            match &freshness.oldest_sync {
                Some(t) => format!("; data as of {t}"),
                None => "; never synced: call sync_insights".into(),
            },
            if other_currencies.is_empty() {
                String::new()
            } else {
                format!(
                    "; spend in other currencies is listed apart ({})",
                    other_currencies
                        .iter()
                        .map(|c| c.currency.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }
        );
        Ok(InsightsOutput {
            summary,
            scope: scope.label(),
            from: from_s,
            to: to_s,
            currency: currency.as_str().to_owned(),
            totals,
            breakdown,
            groups: page,
            groups_total,
            next_offset,
            other_currencies,
            freshness,
        })
    }

    async fn freshness(&self, tickets: &[Ticket]) -> AppResult<Freshness> {
        let mut c = self.governance.db().pool().acquire().await?;
        let mut f = Freshness {
            tickets: 0,
            oldest_sync: None,
            newest_sync: None,
            never_synced: Vec::new(),
            failing: Vec::new(),
        };
        for t in tickets.iter().filter(|t| DEPLOYED.contains(&t.status)) {
            f.tickets += 1;
            match store::sync_state(&mut c, t.id).await? {
                Some(s) => {
                    if let Some(at) = &s.synced_at {
                        if f.oldest_sync.as_ref().is_none_or(|o| at < o) {
                            f.oldest_sync = Some(at.clone());
                        }
                        if f.newest_sync.as_ref().is_none_or(|n| at > n) {
                            f.newest_sync = Some(at.clone());
                        }
                    } else {
                        f.never_synced.push(t.id);
                    }
                    if let Some(e) = &s.last_error {
                        f.failing.push(format!(
                            "ticket {}: {}",
                            t.id,
                            e.get("message")
                                .and_then(|m| m.as_str())
                                .unwrap_or("failed")
                        ));
                    }
                }
                None => f.never_synced.push(t.id),
            }
        }
        Ok(f)
    }
}

// ---------------------------------------------------------------- pacing

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TicketPacing {
    pub ticket_id: i64,
    pub name: Option<String>,
    pub platform: String,
    pub status: TicketStatus,
    pub currency: String,
    /// The budget as trafficked, and DAILY or LIFETIME.
    pub budget: String,
    pub budget_period: String,
    pub start: Option<String>,
    pub end: Option<String>,
    /// Days live so far (one decimal).
    pub days_live: String,
    pub planned_to_date: String,
    pub actual_to_date: String,
    /// Actual against planned, per cent with one decimal; None when nothing was planned yet.
    pub pace_percent: Option<String>,
    /// Spend at the end of the schedule at the current rate; None without an end date.
    pub projected_end_spend: Option<String>,
    /// The whole plan (lifetime budget, or daily budget x scheduled days).
    pub planned_total: Option<String>,
    /// Average spend per day live.
    pub run_rate_daily: String,
    pub verdict: Verdict,
    /// Most important first.
    pub reasons: Vec<Reason>,
    /// When the data was read from the platform.
    pub data_as_of: Option<String>,
    /// The figures behind the text above, in minor units, for a campaign's sums.
    #[serde(skip)]
    #[schemars(skip)]
    figures: Figures,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct PacingOutput {
    /// One line an assistant can say.
    pub summary: String,
    pub scope: String,
    pub currency: String,
    pub planned_to_date: String,
    pub actual_to_date: String,
    pub pace_percent: Option<String>,
    /// Sum of the tickets' projections that have an end date.
    pub projected_end_spend: Option<String>,
    pub verdict: Verdict,
    /// The most important reasons across tickets (at most 20), ranked.
    pub reasons: Vec<Reason>,
    pub tickets: Vec<TicketPacing>,
    /// Tickets left out (not deployed), with why.
    pub skipped: Vec<String>,
}

fn permille_text(p: i64) -> String {
    format!("{}.{}", p / 10, p % 10)
}

impl InsightsService {
    pub async fn pacing(
        &self,
        ticket_id: Option<i64>,
        campaign_id: Option<i64>,
    ) -> AppResult<PacingOutput> {
        let scope = Scope::of(ticket_id, campaign_id, None)?;
        let (currency, tickets) = self.scope(&scope).await?;
        let now = chrono::Utc::now();
        let mut out = Vec::new();
        let mut skipped = Vec::new();
        if tickets.len() as i64 >= MAX_TICKETS {
            skipped.push(format!(
                "only the campaign's first {MAX_TICKETS} tickets are paced; ask for the others by ticket_id"
            ));
        }
        let facts = self.pacing_facts(&scope).await?;
        for t in tickets {
            if !DEPLOYED.contains(&t.status) {
                skipped.push(format!(
                    "ticket {} is {}: not deployed, nothing to pace",
                    t.id, t.status
                ));
                continue;
            }
            match ticket_pacing(&t, currency, now, &facts) {
                Ok(p) => out.push(p),
                // One ticket's unreadable spec does not hide the others.
                Err(e) if matches!(scope, Scope::Campaign(_)) => {
                    skipped.push(format!("ticket {} cannot be paced: {e}", t.id));
                }
                Err(e) => return Err(e),
            }
        }
        if out.is_empty() && matches!(scope, Scope::Ticket(_)) {
            return Err(AppError::validation(
                "ticket_id",
                format!("{}; pacing needs a deployed ticket", skipped.join("; ")),
            ));
        }
        let same: Vec<&TicketPacing> = out
            .iter()
            .filter(|p| p.currency == currency.as_str())
            .collect();
        let planned: i64 = same.iter().fold(0i64, |a, p| {
            a.saturating_add(p.figures.planned_to_date_minor)
        });
        let actual: i64 = same.iter().fold(0i64, |a, p| {
            a.saturating_add(p.figures.actual_to_date_minor)
        });
        let projected: Option<i64> = same
            .iter()
            .filter_map(|p| p.figures.projected_end_minor)
            .reduce(|a, b| a.saturating_add(b));
        let verdicts: Vec<Verdict> = out.iter().map(|p| p.verdict).collect();
        let verdict = if out.len() == 1 {
            out[0].verdict
        } else {
            pacing::verdict_of_sum(planned, actual, &verdicts)
        };
        let pace = (planned > 0).then(|| {
            let v = i128::from(actual) * 1000 / i128::from(planned);
            permille_text(i64::try_from(v).unwrap_or(i64::MAX))
        });
        let mut reasons: Vec<Reason> = out.iter().flat_map(|p| p.reasons.clone()).collect();
        reasons.sort_by_key(|r| pacing::rank(&r.code));
        reasons.truncate(20);
        let summary = format!(
            "{}: {} — {} {cur} spent of {} {cur} planned to date{}{}",
            scope.label(),
            verdict.as_str(),
            money(actual, currency),
            money(planned, currency),
            pace.as_ref()
                .map(|p| format!(" ({p} %)"))
                .unwrap_or_default(),
            reasons
                .first()
                .map(|r| format!("; first reason: {} on {} ({})", r.code, r.object, r.detail))
                .unwrap_or_default(),
            cur = currency,
        );
        Ok(PacingOutput {
            summary,
            scope: scope.label(),
            currency: currency.as_str().to_owned(),
            planned_to_date: money(planned, currency),
            actual_to_date: money(actual, currency),
            pace_percent: pace,
            projected_end_spend: projected.map(|p| money(p, currency)),
            verdict,
            reasons,
            tickets: out,
            skipped,
        })
    }

    /// Everything pacing reads of the scope's tickets, in three queries.
    async fn pacing_facts(&self, scope: &Scope) -> AppResult<PacingFacts> {
        let mut c = self.governance.db().pool().acquire().await?;
        let ids;
        let store_scope = match scope {
            Scope::Ticket(t) => {
                ids = [*t];
                MetricScope::Tickets(&ids)
            }
            Scope::Campaign(id) => MetricScope::Campaign(*id),
            Scope::Brand(b) => MetricScope::Brand(b),
        };
        let mut facts = PacingFacts::default();
        for r in store::daily_metrics(&mut c, &store_scope, ("0000-01-01", "9999-12-31")).await? {
            facts.days.entry(r.ticket_id).or_default().push(r);
        }
        for s in store::sync_states_in(&mut c, &store_scope).await? {
            facts.syncs.insert(s.ticket_id, s);
        }
        for (ticket, status, at) in store::first_live_and_end(&mut c, &store_scope).await? {
            if let Some(at) = parse_time(&at) {
                let map = if status == TicketStatus::Live.as_str() {
                    &mut facts.live_at
                } else {
                    &mut facts.ended_at
                };
                map.insert(ticket, at);
            }
        }
        Ok(facts)
    }
}

/// What pacing reads of a scope's tickets, by ticket id.
#[derive(Default)]
struct PacingFacts {
    days: HashMap<i64, Vec<DailyMetric>>,
    syncs: HashMap<i64, store::SyncState>,
    live_at: HashMap<i64, chrono::DateTime<chrono::Utc>>,
    ended_at: HashMap<i64, chrono::DateTime<chrono::Utc>>,
}

fn ticket_pacing(
    t: &Ticket,
    brand_currency: Currency,
    now: chrono::DateTime<chrono::Utc>,
    facts: &PacingFacts,
) -> AppResult<TicketPacing> {
    let spec = CampaignSpec::parse(&t.payload_config)?;
    let currency = match &spec.budget.currency {
        Some(c) => currency_of(c)?,
        None => brand_currency,
    };
    let budget = Money::parse_major(
        "payload_config.budget.amount",
        &spec.budget.amount,
        currency,
    )?;
    let went_live = facts.live_at.get(&t.id).copied();
    let ended = facts.ended_at.get(&t.id).copied();
    // Spending starts at the schedule's start, or at the launch when that came later
    // (days before the launch could not deliver).
    let scheduled = spec
        .schedule
        .as_ref()
        .and_then(|s| parse_time(&s.start_time));
    let start = match (scheduled, went_live) {
        (Some(s), Some(l)) => Some(s.max(l)),
        (s, l) => s.or(l),
    };
    // An ended ticket plans nothing after it ended.
    let end = spec
        .schedule
        .as_ref()
        .and_then(|s| s.end_time.as_deref())
        .and_then(parse_time);
    let end = match (end, ended) {
        (Some(e), Some(x)) => Some(e.min(x)),
        (e, x) => e.or(x),
    };
    let rows: &[DailyMetric] = facts.days.get(&t.id).map_or(&[], Vec::as_slice);
    let sync = facts.syncs.get(&t.id);
    let delivery: Option<Vec<Delivery>> = sync
        .as_ref()
        .and_then(|s| s.delivery.as_ref())
        .and_then(|d| d.get("objects"))
        .and_then(|o| serde_json::from_value(o.clone()).ok());
    let (mine, other): (Vec<&DailyMetric>, Vec<&DailyMetric>) =
        rows.iter().partition(|r| r.currency == currency.as_str());
    let plan = TicketPlan {
        ticket_id: t.id,
        platform: t.platform,
        status: t.status,
        currency,
        budget_minor: budget.amount_minor,
        period: spec.budget.period,
        start,
        end,
        spend_micros: mine
            .iter()
            .fold(0i64, |a, r| a.saturating_add(r.spend_micros)),
        foreign_currency_rows: other.len(),
        days_with_data: mine
            .iter()
            .filter(|r| r.impressions > 0 || r.spend_micros > 0)
            .count(),
        delivery: delivery.as_deref(),
        synced_at: sync.as_ref().and_then(|s| s.synced_at.as_deref()),
        last_error: sync.as_ref().and_then(|s| s.last_error.as_ref()),
        now,
    };
    let f: Figures = pacing::figures(&plan);
    let verdict = pacing::verdict(&plan, &f);
    let reasons = pacing::reasons(&plan, &f);
    Ok(TicketPacing {
        ticket_id: t.id,
        name: Some(t.platform_name.clone()),
        platform: t.platform.as_str().to_owned(),
        status: t.status,
        currency: currency.as_str().to_owned(),
        budget: budget.to_major_string(),
        budget_period: format!("{:?}", spec.budget.period).to_ascii_uppercase(),
        start: start.map(|s| s.to_rfc3339()),
        end: end.map(|e| e.to_rfc3339()),
        days_live: permille_text(f.seconds_live / 8640),
        planned_to_date: money(f.planned_to_date_minor, currency),
        actual_to_date: money(f.actual_to_date_minor, currency),
        pace_percent: f.pace_permille.map(permille_text),
        projected_end_spend: f.projected_end_minor.map(|m| money(m, currency)),
        planned_total: f.planned_total_minor.map(|m| money(m, currency)),
        run_rate_daily: money(f.run_rate_daily_minor, currency),
        verdict,
        reasons,
        data_as_of: sync.and_then(|s| s.synced_at.clone()),
        figures: f,
    })
}
