//! What a change to a ticket's spec risks, and where a fix proposal is in its review.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;

/// The risk of a change, judged on the change itself. Ordered: a higher class wins when a
/// change is several things at once. Anything but SAFE waits for a person.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Risk {
    /// Spends no more, reaches no one new, shows nothing new.
    Safe,
    /// Changes copy, media, landing page or objective.
    CreativeChange,
    /// Reaches people it did not reach before.
    TargetingWidening,
    /// May spend more (budget, bid, end date, pacing, a lifted cap).
    SpendIncrease,
}

impl Risk {
    pub const ALL: [Risk; 4] = [
        Risk::Safe,
        Risk::CreativeChange,
        Risk::TargetingWidening,
        Risk::SpendIncrease,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Safe => "SAFE",
            Risk::CreativeChange => "CREATIVE_CHANGE",
            Risk::TargetingWidening => "TARGETING_WIDENING",
            Risk::SpendIncrease => "SPEND_INCREASE",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        super::parse_named(field, raw, &Self::ALL, Self::as_str, "a risk class")
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a fix proposal is in its review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProposalStatus {
    /// Passed QA; waits for a person (or the SAFE auto-apply policy).
    PendingReview,
    /// Approved; the patch is being applied.
    Approved,
    Rejected,
    /// Applied and the deploy re-queued.
    Applied,
    /// The patched spec failed QA; never offered for approval.
    QaFailed,
    /// Another proposal for the same ticket was approved first.
    Superseded,
}

impl ProposalStatus {
    pub const ALL: [ProposalStatus; 6] = [
        ProposalStatus::PendingReview,
        ProposalStatus::Approved,
        ProposalStatus::Rejected,
        ProposalStatus::Applied,
        ProposalStatus::QaFailed,
        ProposalStatus::Superseded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProposalStatus::PendingReview => "PENDING_REVIEW",
            ProposalStatus::Approved => "APPROVED",
            ProposalStatus::Rejected => "REJECTED",
            ProposalStatus::Applied => "APPLIED",
            ProposalStatus::QaFailed => "QA_FAILED",
            ProposalStatus::Superseded => "SUPERSEDED",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        super::parse_named(field, raw, &Self::ALL, Self::as_str, "a proposal status")
    }
}

impl fmt::Display for ProposalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_classes_order_and_round_trip() {
        assert!(Risk::SpendIncrease > Risk::TargetingWidening);
        assert!(Risk::TargetingWidening > Risk::CreativeChange);
        assert!(Risk::CreativeChange > Risk::Safe);
        for r in Risk::ALL {
            assert_eq!(Risk::parse("risk", r.as_str()).unwrap(), r);
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for s in ProposalStatus::ALL {
            assert_eq!(ProposalStatus::parse("status", s.as_str()).unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(ProposalStatus::parse("status", "DONE").is_err());
    }
}
