//! Pacing: planned spend to date against actual, the projection to the end, a verdict, and
//! the platforms' own reasons for a gap, ranked. Pure: the service feeds it stored data.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use crate::domain::{Currency, Money, Platform, TicketStatus};
use crate::platforms::client::Delivery;
use crate::platforms::spec::BudgetPeriod;

/// Below this share of the plan a ticket is UNDER; above the other, OVER (per cent).
pub const UNDER_BELOW_PERCENT: i64 = 85;
pub const OVER_ABOVE_PERCENT: i64 = 115;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    OnTrack,
    Under,
    Over,
    NotStarted,
    Ended,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OnTrack => "ON_TRACK",
            Self::Under => "UNDER",
            Self::Over => "OVER",
            Self::NotStarted => "NOT_STARTED",
            Self::Ended => "ENDED",
        }
    }
}

/// One reason the platforms (or the schedule) give for how a ticket delivers.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Reason {
    /// NOT_LAUNCHED, PAUSED, DISAPPROVED, IN_REVIEW, ACCOUNT_ISSUE, LEARNING_LIMITED,
    /// BUDGET_CONSTRAINED, BID_CONSTRAINED, LEARNING, SCHEDULE_NOT_STARTED, SCHEDULE_ENDED,
    /// DELIVERY_ISSUE, NO_DATA, SYNC_FAILED, CURRENCY_MISMATCH.
    pub code: String,
    pub ticket_id: i64,
    /// The object it comes from (`campaign`, `adset`, `ad_group_ad`, ... or `ticket`).
    pub object: String,
    pub object_id: Option<String>,
    /// The platform field it was read from (`effective_status`,
    /// `learning_stage_info.status`, `primary_status_reasons`, ...).
    pub field: String,
    /// The value as the platform gave it.
    pub value: Value,
    /// What it means, in a sentence.
    pub detail: String,
    /// What could be done about it (a tool to call).
    pub suggestion: Option<String>,
}

/// Rank of a reason code: lower is more important (what stops delivery first).
pub fn rank(code: &str) -> usize {
    const ORDER: &[&str] = &[
        "NOT_LAUNCHED",
        "PAUSED",
        "DISAPPROVED",
        "ACCOUNT_ISSUE",
        "IN_REVIEW",
        "LEARNING_LIMITED",
        "BUDGET_CONSTRAINED",
        "BID_CONSTRAINED",
        "LEARNING",
        "SCHEDULE_NOT_STARTED",
        "SCHEDULE_ENDED",
        "DELIVERY_ISSUE",
        "NO_DATA",
        "SYNC_FAILED",
        "CURRENCY_MISMATCH",
    ];
    ORDER.iter().position(|c| *c == code).unwrap_or(ORDER.len())
}

/// What pacing needs of one ticket.
pub struct TicketPlan<'a> {
    pub ticket_id: i64,
    pub platform: Platform,
    pub status: TicketStatus,
    pub currency: Currency,
    pub budget_minor: i64,
    pub period: BudgetPeriod,
    /// When spending starts: the schedule's start, else when the ticket went live.
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Spend per day in the ticket's currency (micros), and rows in other currencies.
    pub spend_micros: i64,
    pub foreign_currency_rows: usize,
    pub days_with_data: usize,
    pub delivery: Option<&'a [Delivery]>,
    pub synced_at: Option<&'a str>,
    pub last_error: Option<&'a Value>,
    pub now: DateTime<Utc>,
}

/// The numbers of a pacing answer, in minor units of `currency`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    pub planned_to_date_minor: i64,
    pub actual_to_date_minor: i64,
    /// Per mille of the plan (875 = 87.5 %); None when nothing was planned yet.
    pub pace_permille: Option<i64>,
    /// What the ticket will have spent at its end at the current rate; None without an end.
    pub projected_end_minor: Option<i64>,
    /// The whole plan: lifetime budget, or daily budget x scheduled days; None without an end.
    pub planned_total_minor: Option<i64>,
    /// Average spend per day live so far.
    pub run_rate_daily_minor: i64,
    pub seconds_live: i64,
}

/// Micros of a major unit to minor units of `c`, rounded half up.
pub fn micros_to_minor(micros: i64, c: Currency) -> i64 {
    let div = 10i64.pow(6u32.saturating_sub(u32::from(c.minor_digits())));
    if div <= 1 {
        return micros;
    }
    let half = div / 2;
    if micros >= 0 {
        (micros + half) / div
    } else {
        -((-micros + half) / div)
    }
}

pub fn money(minor: i64, currency: Currency) -> String {
    Money {
        amount_minor: minor,
        currency,
    }
    .to_major_string()
}

fn mul_div(a: i64, b: i64, d: i64) -> i64 {
    if d == 0 {
        return 0;
    }
    let v = i128::from(a) * i128::from(b) / i128::from(d);
    i64::try_from(v).unwrap_or(if v > 0 { i64::MAX } else { i64::MIN })
}

const DAY: i64 = 86_400;

pub fn figures(p: &TicketPlan<'_>) -> Figures {
    let actual = micros_to_minor(p.spend_micros, p.currency);
    let Some(start) = p.start else {
        return Figures {
            planned_to_date_minor: 0,
            actual_to_date_minor: actual,
            pace_permille: None,
            projected_end_minor: None,
            planned_total_minor: None,
            run_rate_daily_minor: 0,
            seconds_live: 0,
        };
    };
    let until = p.end.map_or(p.now, |e| e.min(p.now));
    let live = (until - start).num_seconds().max(0);
    let total = p.end.map(|e| (e - start).num_seconds().max(0));
    let planned = match p.period {
        BudgetPeriod::Daily => mul_div(p.budget_minor, live, DAY),
        BudgetPeriod::Lifetime => match total {
            Some(t) if t > 0 => mul_div(p.budget_minor, live, t),
            _ => 0,
        },
    };
    let planned_total = match p.period {
        BudgetPeriod::Daily => total.map(|t| mul_div(p.budget_minor, t, DAY)),
        BudgetPeriod::Lifetime => Some(p.budget_minor),
    };
    let run_rate = if live > 0 {
        mul_div(actual, DAY, live)
    } else {
        0
    };
    let projected = total.map(|t| {
        if live > 0 {
            mul_div(actual, t, live)
        } else {
            actual
        }
    });
    Figures {
        planned_to_date_minor: planned,
        actual_to_date_minor: actual,
        pace_permille: (planned > 0).then(|| mul_div(actual, 1000, planned)),
        projected_end_minor: projected,
        planned_total_minor: planned_total,
        run_rate_daily_minor: run_rate,
        seconds_live: live,
    }
}

pub fn verdict(p: &TicketPlan<'_>, f: &Figures) -> Verdict {
    if p.status == TicketStatus::Ended || p.end.is_some_and(|e| e <= p.now) {
        return Verdict::Ended;
    }
    if p.status == TicketStatus::TraffickedSuccess || p.start.is_none_or(|s| s > p.now) {
        return Verdict::NotStarted;
    }
    match f.pace_permille {
        None => Verdict::NotStarted,
        Some(x) if x < UNDER_BELOW_PERCENT * 10 => Verdict::Under,
        Some(x) if x > OVER_ABOVE_PERCENT * 10 => Verdict::Over,
        Some(_) => Verdict::OnTrack,
    }
}

/// Pacing verdict of several tickets' summed figures.
pub fn verdict_of_sum(planned: i64, actual: i64, all: &[Verdict]) -> Verdict {
    if !all.is_empty() && all.iter().all(|v| *v == Verdict::Ended) {
        return Verdict::Ended;
    }
    if planned <= 0 {
        return Verdict::NotStarted;
    }
    let x = mul_div(actual, 1000, planned);
    if x < UNDER_BELOW_PERCENT * 10 {
        Verdict::Under
    } else if x > OVER_ABOVE_PERCENT * 10 {
        Verdict::Over
    } else {
        Verdict::OnTrack
    }
}

fn state_field(platform: Platform) -> &'static str {
    match platform {
        Platform::Meta => "effective_status",
        Platform::Tiktok => "secondary_status",
        Platform::GoogleAds => "primary_status",
    }
}

/// Classify a delivery state (Meta effective_status, TikTok secondary_status, Google
/// primary_status) into a reason code, if it explains a gap.
fn state_reason(platform: Platform, state: &str) -> Option<(&'static str, String)> {
    let s = state;
    let code = match platform {
        Platform::Meta => match s {
            "PAUSED" | "CAMPAIGN_PAUSED" | "ADSET_PAUSED" | "ARCHIVED" | "DELETED" => "PAUSED",
            "DISAPPROVED" => "DISAPPROVED",
            "PENDING_REVIEW" | "IN_PROCESS" | "PREAPPROVED" => "IN_REVIEW",
            "PENDING_BILLING_INFO" => "ACCOUNT_ISSUE",
            "WITH_ISSUES" => "DELIVERY_ISSUE",
            _ => return None,
        },
        Platform::Tiktok => {
            if s.ends_with("_DISABLE") || s.ends_with("_DELETE") {
                "PAUSED"
            } else if s.contains("ADVERTISER")
                || s.contains("BALANCE_EXCEED")
                || s.contains("INDUSTRY_QUALIFICATION")
                || s.contains("QUOTA_LIMIT")
            {
                "ACCOUNT_ISSUE"
            } else if s.contains("AUDIT_DENY")
                || s.contains("REVIEW_PARTIALLY_APPROVED")
                || s.contains("DISAPPROVED")
                || s.contains("NO_DELIVERY")
            {
                "DISAPPROVED"
            } else if s.ends_with("_AUDIT") || s.ends_with("_REAUDIT") {
                "IN_REVIEW"
            } else if s.contains("BUDGET_EXCEED") || s.contains("CAMPAIGN_EXCEED") {
                "BUDGET_CONSTRAINED"
            } else if s.contains("NOT_START") {
                "SCHEDULE_NOT_STARTED"
            } else if s.contains("TIME_DONE") || s.ends_with("_DONE") {
                "SCHEDULE_ENDED"
            } else if s.contains("TRANSCODING_FAIL")
                || s.contains("AUTHORIZATION")
                || s.contains("PIXEL_UNBIND")
            {
                "DELIVERY_ISSUE"
            } else {
                return None;
            }
        }
        Platform::GoogleAds => match s {
            "PAUSED" | "REMOVED" => "PAUSED",
            "NOT_ELIGIBLE" => "DISAPPROVED",
            "PENDING" => "SCHEDULE_NOT_STARTED",
            "ENDED" => "SCHEDULE_ENDED",
            "LEARNING" => "LEARNING",
            "LIMITED" | "MISCONFIGURED" => "DELIVERY_ISSUE",
            _ => return None,
        },
    };
    let detail = match code {
        "PAUSED" => format!("the object is not running ({s})"),
        "DISAPPROVED" => format!("the platform refused it in review ({s})"),
        "IN_REVIEW" => format!("it waits for the platform's review ({s})"),
        "ACCOUNT_ISSUE" => format!("the ad account cannot deliver ({s})"),
        "BUDGET_CONSTRAINED" => format!("its budget is spent ({s})"),
        "SCHEDULE_NOT_STARTED" => format!("its schedule has not started ({s})"),
        "SCHEDULE_ENDED" => format!("its schedule is over ({s})"),
        "LEARNING" => format!("the delivery system is still learning ({s})"),
        _ => format!("the platform reports a delivery problem ({s})"),
    };
    Some((code, detail))
}

/// Google `primary_status_reasons` values and what they mean for pacing (I3).
fn google_reason(value: &str) -> Option<(&'static str, &'static str)> {
    Some(match value {
        "CAMPAIGN_PAUSED" | "AD_GROUPS_PAUSED" | "AD_GROUP_PAUSED" | "AD_GROUP_AD_PAUSED" => {
            ("PAUSED", "paused on Google")
        }
        "HAS_ADS_DISAPPROVED" | "AD_GROUP_AD_DISAPPROVED" | "HAS_ADS_LIMITED_BY_POLICY" => {
            ("DISAPPROVED", "ads disapproved or limited by policy")
        }
        "MOST_ADS_UNDER_REVIEW" | "AD_GROUP_AD_UNDER_REVIEW" => ("IN_REVIEW", "ads under review"),
        "BIDDING_STRATEGY_LIMITED" | "BIDDING_STRATEGY_MISCONFIGURED" => (
            "LEARNING_LIMITED",
            "the bidding strategy is limited or misconfigured",
        ),
        "BUDGET_CONSTRAINED" | "BUDGET_MISCONFIGURED" => {
            ("BUDGET_CONSTRAINED", "the budget limits serving")
        }
        "BIDDING_STRATEGY_CONSTRAINED" => ("BID_CONSTRAINED", "bid targets limit serving"),
        "BIDDING_STRATEGY_LEARNING" => ("LEARNING", "the bidding strategy is learning"),
        "CAMPAIGN_PENDING" => ("SCHEDULE_NOT_STARTED", "the campaign has not started"),
        "CAMPAIGN_ENDED" => ("SCHEDULE_ENDED", "the campaign has ended"),
        "SEARCH_VOLUME_LIMITED"
        | "NO_KEYWORDS"
        | "NO_AD_GROUP_ADS"
        | "NO_AD_GROUPS"
        | "MISSING_LOCATION_TARGETING" => ("DELIVERY_ISSUE", "set-up limits serving"),
        _ => return None,
    })
}

fn suggestion(code: &str) -> Option<String> {
    Some(
        match code {
            "NOT_LAUNCHED" => "launch_ticket (the person confirms the spend)",
            "PAUSED" => "resume_ticket, if the pause was not intended",
            "DISAPPROVED" => {
                "read the review feedback; fix the creative with change_ticket or deploy a new ad"
            }
            "BUDGET_CONSTRAINED" => "raise the budget with change_ticket (goes through the gate)",
            "BID_CONSTRAINED" => "loosen the bid target with change_ticket (bidding)",
            "LEARNING_LIMITED" => {
                "broaden targeting or raise the budget with change_ticket; avoid small edits"
            }
            "LEARNING" => "wait: edits restart learning",
            "SYNC_FAILED" | "NO_DATA" => "sync_insights to read the platform again",
            _ => return None,
        }
        .to_owned(),
    )
}

fn reason(
    ticket_id: i64,
    code: &str,
    d: Option<&Delivery>,
    field: &str,
    value: Value,
    detail: String,
) -> Reason {
    Reason {
        code: code.to_owned(),
        ticket_id,
        object: d.map_or("ticket".into(), |d| d.object.clone()),
        object_id: d.map(|d| d.id.clone()),
        field: field.to_owned(),
        value,
        detail,
        suggestion: suggestion(code),
    }
}

/// The reasons for one ticket, most important first.
pub fn reasons(p: &TicketPlan<'_>, f: &Figures) -> Vec<Reason> {
    let id = p.ticket_id;
    let mut out = Vec::new();
    if p.status == TicketStatus::TraffickedSuccess {
        out.push(reason(
            id,
            "NOT_LAUNCHED",
            None,
            "ticket.status",
            Value::from(p.status.as_str()),
            "the objects were created paused and have not been launched".into(),
        ));
    }
    if p.status == TicketStatus::Paused {
        out.push(reason(
            id,
            "PAUSED",
            None,
            "ticket.status",
            Value::from(p.status.as_str()),
            "the ticket was paused through OmniTraffick".into(),
        ));
    }
    for d in p.delivery.into_iter().flatten() {
        if let Some(s) = d.state.as_deref()
            && let Some((code, detail)) = state_reason(p.platform, s)
        {
            let detail = match d.fields.get("ad_review_feedback") {
                Some(fb) if code == "DISAPPROVED" => format!("{detail}: {fb}"),
                _ => detail,
            };
            out.push(reason(
                id,
                code,
                Some(d),
                state_field(p.platform),
                Value::from(s),
                detail,
            ));
        }
        if let Some(ls) = d
            .fields
            .get("learning_stage_info")
            .and_then(|l| l.get("status"))
            .and_then(Value::as_str)
        {
            let code = match ls {
                "FAIL" | "LEARNING_LIMITED" => Some("LEARNING_LIMITED"),
                "LEARNING" => Some("LEARNING"),
                _ => None,
            };
            if let Some(code) = code {
                out.push(reason(
                    id,
                    code,
                    Some(d),
                    "learning_stage_info.status",
                    Value::from(ls),
                    if code == "LEARNING" {
                        "the ad set is in Meta's learning phase".into()
                    } else {
                        "learning limited: the ad set gets too few optimisation events to leave learning".into()
                    },
                ));
            }
        }
        for issue in d
            .fields
            .get("issues_info")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let summary = issue
                .get("error_summary")
                .or_else(|| issue.get("error_message"))
                .and_then(Value::as_str)
                .unwrap_or("an issue without a summary");
            out.push(reason(
                id,
                "DELIVERY_ISSUE",
                Some(d),
                "issues_info",
                issue.clone(),
                format!("Meta reports: {summary}"),
            ));
        }
        for r in d
            .fields
            .get("primaryStatusReasons")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if let Some((code, detail)) = google_reason(r) {
                out.push(reason(
                    id,
                    code,
                    Some(d),
                    "primary_status_reasons",
                    Value::from(r),
                    format!("Google: {detail} ({r})"),
                ));
            }
        }
        if let Some(s) = d
            .fields
            .get("biddingStrategySystemStatus")
            .and_then(Value::as_str)
        {
            let code = if s.starts_with("LIMITED") || s.starts_with("MISCONFIGURED") {
                Some("LEARNING_LIMITED")
            } else if s.starts_with("LEARNING") {
                Some("LEARNING")
            } else {
                None
            };
            if let Some(code) = code {
                out.push(reason(
                    id,
                    code,
                    Some(d),
                    "bidding_strategy_system_status",
                    Value::from(s),
                    format!("Google's bidding strategy reports {s}"),
                ));
            }
        }
        if d.fields.get("hasRecommendedBudget") == Some(&Value::Bool(true)) {
            let rec = d
                .fields
                .get("recommendedBudgetAmountMicros")
                .and_then(crate::platforms::client::decimal_micros)
                .map(|m| micros_to_minor(m / 1_000_000, p.currency));
            out.push(reason(
                id,
                "BUDGET_CONSTRAINED",
                Some(d),
                "campaign_budget.has_recommended_budget",
                Value::Bool(true),
                match rec {
                    Some(r) => format!(
                        "Google recommends a daily budget of {} {}",
                        money(r, p.currency),
                        p.currency
                    ),
                    None => "Google recommends a higher budget".into(),
                },
            ));
        }
    }
    if let Some(start) = p.start
        && start > p.now
    {
        out.push(reason(
            id,
            "SCHEDULE_NOT_STARTED",
            None,
            "payload_config.schedule.start_time",
            Value::from(start.to_rfc3339()),
            "the schedule starts later".into(),
        ));
    }
    if let Some(end) = p.end
        && end <= p.now
    {
        out.push(reason(
            id,
            "SCHEDULE_ENDED",
            None,
            "payload_config.schedule.end_time",
            Value::from(end.to_rfc3339()),
            "the schedule is over".into(),
        ));
    }
    if p.synced_at.is_none() {
        out.push(reason(
            id,
            "NO_DATA",
            None,
            "insights.synced_at",
            Value::Null,
            "no metrics were read from the platform yet".into(),
        ));
    } else if p.days_with_data == 0 && f.seconds_live > DAY {
        out.push(reason(
            id,
            "NO_DATA",
            None,
            "insights",
            Value::from(0),
            "the platform reports no delivery for any day so far".into(),
        ));
    }
    if let Some(e) = p.last_error {
        out.push(reason(
            id,
            "SYNC_FAILED",
            None,
            "insights.last_error",
            e.clone(),
            "the last sync failed; the figures are from the last good one".into(),
        ));
    }
    if p.foreign_currency_rows > 0 {
        out.push(reason(
            id,
            "CURRENCY_MISMATCH",
            None,
            "account_currency",
            Value::from(p.foreign_currency_rows),
            format!(
                "{} day(s) were reported in another currency than the budget's {}; they are left out of the pace",
                p.foreign_currency_rows, p.currency
            ),
        ));
    }
    out.sort_by_key(|r| rank(&r.code));
    out.dedup_by(|a, b| a.code == b.code && a.object_id == b.object_id && a.field == b.field);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn plan(spend_micros: i64) -> TicketPlan<'static> {
        TicketPlan {
            ticket_id: 1,
            platform: Platform::Meta,
            status: TicketStatus::Live,
            currency: Currency::parse("c", "USD").unwrap(),
            budget_minor: 10_000,
            period: BudgetPeriod::Daily,
            start: Some(Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap()),
            end: Some(Utc.with_ymd_and_hms(2026, 9, 11, 0, 0, 0).unwrap()),
            spend_micros,
            foreign_currency_rows: 0,
            days_with_data: 4,
            delivery: None,
            synced_at: Some("2026-09-05T00:00:00Z"),
            last_error: None,
            now: Utc.with_ymd_and_hms(2026, 9, 5, 0, 0, 0).unwrap(),
        }
    }

    #[test]
    fn daily_budget_four_days_in() {
        // 4 days of $100 planned = $400; $200 spent = 50 %: UNDER; projected $500 of $1,000.
        let p = plan(200_000_000);
        let f = figures(&p);
        assert_eq!(f.planned_to_date_minor, 40_000);
        assert_eq!(f.actual_to_date_minor, 20_000);
        assert_eq!(f.pace_permille, Some(500));
        assert_eq!(f.projected_end_minor, Some(50_000));
        assert_eq!(f.planned_total_minor, Some(100_000));
        assert_eq!(verdict(&p, &f), Verdict::Under);
        let on = plan(400_000_000);
        assert_eq!(verdict(&on, &figures(&on)), Verdict::OnTrack);
        let over = plan(600_000_000);
        assert_eq!(verdict(&over, &figures(&over)), Verdict::Over);
    }

    #[test]
    fn lifetime_budget_prorated_and_states() {
        let mut p = plan(100_000_000);
        p.period = BudgetPeriod::Lifetime;
        p.budget_minor = 100_000; // $1,000 over 10 days: $400 by day 4.
        let f = figures(&p);
        assert_eq!(f.planned_to_date_minor, 40_000);
        p.now = Utc.with_ymd_and_hms(2026, 8, 30, 0, 0, 0).unwrap();
        assert_eq!(verdict(&p, &figures(&p)), Verdict::NotStarted);
        p.now = Utc.with_ymd_and_hms(2026, 9, 12, 0, 0, 0).unwrap();
        assert_eq!(verdict(&p, &figures(&p)), Verdict::Ended);
    }

    #[test]
    fn reasons_are_ranked_and_name_their_field() {
        let delivery = vec![
            Delivery {
                object: "adset".into(),
                id: "2".into(),
                level: crate::platforms::live::Level::AdSet,
                state: Some("ACTIVE".into()),
                fields: json!({"learning_stage_info": {"status": "FAIL"}})
                    .as_object()
                    .cloned()
                    .unwrap(),
                error: None,
            },
            Delivery {
                object: "ad".into(),
                id: "3".into(),
                level: crate::platforms::live::Level::Ad,
                state: Some("DISAPPROVED".into()),
                fields: serde_json::Map::new(),
                error: None,
            },
        ];
        let mut p = plan(100_000_000);
        p.delivery = Some(&delivery);
        let r = reasons(&p, &figures(&p));
        let codes: Vec<&str> = r.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["DISAPPROVED", "LEARNING_LIMITED"]);
        assert_eq!(r[0].field, "effective_status");
        assert_eq!(r[0].object_id.as_deref(), Some("3"));
        assert_eq!(r[1].field, "learning_stage_info.status");
    }

    #[test]
    fn tiktok_account_states_are_account_issues() {
        let code = |s: &str| state_reason(Platform::Tiktok, s).map(|r| r.0);
        assert_eq!(
            code("ADGROUP_STATUS_ADVERTISER_AUDIT"),
            Some("ACCOUNT_ISSUE")
        );
        assert_eq!(
            code("AD_STATUS_ADVERTISER_AUDIT_DENY"),
            Some("ACCOUNT_ISSUE")
        );
        assert_eq!(code("AD_STATUS_AUDIT_DENY"), Some("DISAPPROVED"));
        assert_eq!(
            code("AD_STATUS_REVIEW_PARTIALLY_APPROVED"),
            Some("DISAPPROVED")
        );
        assert_eq!(code("ADGROUP_STATUS_AUDIT"), Some("IN_REVIEW"));
        assert_eq!(code("ADGROUP_STATUS_DELIVERY_OK"), None);
    }

    #[test]
    fn micros_round_to_minor_units() {
        let usd = Currency::parse("c", "USD").unwrap();
        let jpy = Currency::parse("c", "JPY").unwrap();
        assert_eq!(micros_to_minor(12_345_000, usd), 1_235);
        assert_eq!(micros_to_minor(12_344_999, usd), 1_234);
        assert_eq!(micros_to_minor(5_000_500_000, jpy), 5_001);
        assert_eq!(money(1_235, usd), "12.35");
    }
}
