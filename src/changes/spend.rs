//! What a change risks in money: the planned daily spend before and after, and whether an
//! increase is large enough for ops to review.

use serde_json::Value;

use crate::domain::{ChangeKind, Currency, Money, Risk};
use crate::platforms::spec::{BudgetPeriod, CampaignSpec};

/// Review spend increases above this many minor units of the brand's currency a day, unless
/// the brand says otherwise (`change_review_daily_minor`): 1,000.00 in a two-decimal currency.
pub const DEFAULT_REVIEW_DAILY_MINOR: i64 = 100_000;
/// …or above this percentage of the current daily spend (`change_review_percent`).
pub const DEFAULT_REVIEW_PERCENT: i64 = 50;

/// The planned spend a day of a spec, in minor units: a daily budget as it is, a lifetime
/// budget spread over its scheduled days (rounded up). `None` when it cannot be told.
pub fn daily_minor(payload: &Value, currency: Currency) -> Option<i64> {
    let spec = CampaignSpec::parse(payload).ok()?;
    let amount = Money::parse_major("budget.amount", &spec.budget.amount, currency)
        .ok()?
        .amount_minor;
    match spec.budget.period {
        BudgetPeriod::Daily => Some(amount),
        BudgetPeriod::Lifetime => {
            let s = spec.schedule?;
            let start = chrono::DateTime::parse_from_rfc3339(s.start_time.trim()).ok()?;
            let end = chrono::DateTime::parse_from_rfc3339(s.end_time?.trim()).ok()?;
            let secs = (end - start).num_seconds().max(1);
            let days = (secs + 86_399) / 86_400;
            // Rounded up without overflow, whatever the amount.
            Some(amount / days + i64::from(amount % days != 0))
        }
    }
}

/// Daily spend before and after a change of `kind` to a ticket whose spec goes from
/// `before` to `after`: launching or resuming starts spending, pausing or ending stops.
pub fn daily_before_after(
    kind: ChangeKind,
    before: &Value,
    after: &Value,
    currency: Currency,
) -> (Option<i64>, Option<i64>) {
    match kind {
        ChangeKind::Launch | ChangeKind::Resume => (Some(0), daily_minor(after, currency)),
        ChangeKind::Pause | ChangeKind::End => (daily_minor(before, currency), Some(0)),
        ChangeKind::Edit => (daily_minor(before, currency), daily_minor(after, currency)),
    }
}

/// The brand's thresholds, defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewLimits {
    pub daily_minor: i64,
    pub percent: i64,
}

impl ReviewLimits {
    pub fn of(stored: (Option<i64>, Option<i64>)) -> Self {
        Self {
            daily_minor: stored.0.unwrap_or(DEFAULT_REVIEW_DAILY_MINOR),
            percent: stored.1.unwrap_or(DEFAULT_REVIEW_PERCENT),
        }
    }

    /// Why a spend increase must go to ops, if it must: more than `daily_minor` a day more,
    /// or (when something is spent today) more than `percent` % more. An increase that cannot
    /// be measured always goes to ops.
    pub fn needs_review(
        &self,
        risk: Risk,
        before: Option<i64>,
        after: Option<i64>,
        currency: Currency,
    ) -> Option<String> {
        if risk != Risk::SpendIncrease {
            return None;
        }
        let money = |m: i64| {
            Money {
                amount_minor: m,
                currency,
            }
            .to_major_string()
        };
        let (Some(b), Some(a)) = (before, after) else {
            return Some(
                "the spend increase could not be measured from the spec, so ops must look at it"
                    .into(),
            );
        };
        let up = a - b;
        if up > self.daily_minor {
            return Some(format!(
                "spend rises by {} {currency} a day, above the brand's review threshold of {} {currency}",
                money(up),
                money(self.daily_minor)
            ));
        }
        if b > 0 && (up as i128) * 100 > (b as i128) * (self.percent as i128) {
            return Some(format!(
                "spend rises by {}% ({} to {} {currency} a day), above the brand's review threshold of {}%",
                (up as i128) * 100 / (b as i128),
                money(b),
                money(a),
                self.percent
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn usd() -> Currency {
        Currency::parse("c", "USD").expect("USD")
    }

    fn spec(amount: &str, period: &str) -> Value {
        json!({"objective": "TRAFFIC", "budget": {"amount": amount, "period": period},
               "schedule": {"start_time": "2026-03-01T00:00:00Z", "end_time": "2026-03-11T00:00:00Z"}})
    }

    #[test]
    fn daily_spend_of_daily_and_lifetime_budgets() {
        assert_eq!(daily_minor(&spec("50.00", "DAILY"), usd()), Some(5000));
        // 1,000.00 over ten days.
        assert_eq!(
            daily_minor(&spec("1000.00", "LIFETIME"), usd()),
            Some(10_000)
        );
    }

    #[test]
    fn review_thresholds_absolute_and_relative() {
        let l = ReviewLimits::of((None, None));
        let usd = usd();
        // +10 % of 50.00: confirmation only.
        assert_eq!(
            l.needs_review(Risk::SpendIncrease, Some(5000), Some(5500), usd),
            None
        );
        // +100 %: ops.
        assert!(
            l.needs_review(Risk::SpendIncrease, Some(5000), Some(10_000), usd)
                .is_some_and(|w| w.contains("100%"))
        );
        // Launching 2,000.00 a day: above 1,000.00.
        assert!(
            l.needs_review(Risk::SpendIncrease, Some(0), Some(200_000), usd)
                .is_some_and(|w| w.contains("2000.00 USD"))
        );
        // Launching 50.00 a day: confirmation only (no percentage of nothing).
        assert_eq!(
            l.needs_review(Risk::SpendIncrease, Some(0), Some(5000), usd),
            None
        );
        assert_eq!(
            l.needs_review(Risk::Safe, Some(0), Some(900_000), usd),
            None
        );
        assert!(
            l.needs_review(Risk::SpendIncrease, None, Some(1), usd)
                .is_some()
        );
    }
}
