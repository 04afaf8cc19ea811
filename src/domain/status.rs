use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;

/// Where a ticket is in its life. Every change goes through [`TicketStatus::check_transition`]
/// and is written to the ticket's append-only history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketStatus {
    /// Being prepared; editable.
    Draft,
    /// Pre-flight QA blocked it; the QA report says why. Edit it, then re-run QA.
    QaFailed,
    /// QA passed; may be deployed.
    ReadyForApi,
    /// A deploy job is waiting in the queue.
    Queued,
    /// A worker is creating the platform objects.
    Deploying,
    /// Every platform object exists (created PAUSED).
    TraffickedSuccess,
    /// The platform refused the payload; a fix can be proposed.
    DeployFailed,
    /// A fix proposal awaits review.
    FixProposed,
    /// Withdrawn; terminal.
    Cancelled,
    /// Launched: the platform objects are active (changes go through `change_ticket`).
    Live,
    /// Launched, then paused; `resume_ticket` makes it live again.
    Paused,
    /// Ended for good: its objects are paused and it takes no more changes.
    Ended,
}

use TicketStatus::*;

impl TicketStatus {
    pub const ALL: [TicketStatus; 12] = [
        Draft,
        QaFailed,
        ReadyForApi,
        Queued,
        Deploying,
        TraffickedSuccess,
        DeployFailed,
        FixProposed,
        Cancelled,
        Live,
        Paused,
        Ended,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Draft => "DRAFT",
            QaFailed => "QA_FAILED",
            ReadyForApi => "READY_FOR_API",
            Queued => "QUEUED",
            Deploying => "DEPLOYING",
            TraffickedSuccess => "TRAFFICKED_SUCCESS",
            DeployFailed => "DEPLOY_FAILED",
            FixProposed => "FIX_PROPOSED",
            Cancelled => "CANCELLED",
            Live => "LIVE",
            Paused => "PAUSED",
            Ended => "ENDED",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        super::parse_named(field, raw, &Self::ALL, Self::as_str, "a ticket status")
    }

    /// The states this one may move to.
    pub fn allowed_next(self) -> &'static [TicketStatus] {
        match self {
            Draft => &[QaFailed, ReadyForApi, Cancelled],
            QaFailed => &[Draft, QaFailed, ReadyForApi, Cancelled],
            ReadyForApi => &[Draft, QaFailed, ReadyForApi, Queued, Cancelled],
            Queued => &[Deploying, ReadyForApi, Cancelled],
            Deploying => &[TraffickedSuccess, DeployFailed, Queued],
            DeployFailed => &[FixProposed, Draft, Queued, Cancelled],
            // Approval re-runs QA; rejection returns to DEPLOY_FAILED.
            FixProposed => &[QaFailed, ReadyForApi, DeployFailed, Draft, Cancelled],
            // Only applied changes move a deployed ticket (see `ChangeKind::ticket_move`).
            TraffickedSuccess => &[Live, Ended],
            Live => &[Paused, Ended],
            Paused => &[Live, Ended],
            Cancelled | Ended => &[],
        }
    }

    /// The board column of a ticket in this state (the console's Kanban board); cancelled
    /// tickets are not on the board.
    pub fn board_column(self) -> &'static str {
        match self {
            Draft => "draft",
            QaFailed => "qa_failed",
            ReadyForApi => "ready",
            Queued | Deploying => "deploying",
            TraffickedSuccess | Live | Paused | Ended => "live",
            DeployFailed => "failed",
            FixProposed => "fix_proposed",
            Cancelled => "cancelled",
        }
    }

    /// The board's columns in order: id, title and the states each holds.
    pub fn board_columns() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
        let titles = [
            ("draft", "Draft"),
            ("qa_failed", "QA failed"),
            ("ready", "Ready"),
            ("deploying", "Queued / deploying"),
            ("live", "Trafficked / live"),
            ("failed", "Deploy failed"),
            ("fix_proposed", "Fix proposed"),
        ];
        titles
            .into_iter()
            .map(|(id, title)| {
                let states = Self::ALL
                    .into_iter()
                    .filter(|s| s.board_column() == id)
                    .map(Self::as_str)
                    .collect();
                (id, title, states)
            })
            .collect()
    }

    /// Whether the ticket's name may still change: nothing has been sent to a platform yet.
    pub fn is_pre_deploy(self) -> bool {
        matches!(self, Draft | QaFailed | ReadyForApi)
    }

    /// Whether the ticket's content (payload, channel, request type) may be edited.
    /// Editing sends it back to DRAFT, so QA must run again.
    pub fn is_editable(self) -> bool {
        matches!(self, Draft | QaFailed | ReadyForApi | DeployFailed)
    }

    pub fn check_transition(self, to: TicketStatus) -> Result<(), AppError> {
        if self.allowed_next().contains(&to) {
            return Ok(());
        }
        let allowed = self.allowed_next();
        let next = if allowed.is_empty() {
            format!("{} is final; no further change is possible", self.as_str())
        } else {
            format!(
                "from {} a ticket may move to {}",
                self.as_str(),
                allowed
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Err(AppError::InvalidTransition {
            message: format!(
                "a ticket cannot move from {} to {}: {next}",
                self.as_str(),
                to.as_str()
            ),
        })
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_is_allowed() {
        let path = [Draft, ReadyForApi, Queued, Deploying, TraffickedSuccess];
        for w in path.windows(2) {
            w[0].check_transition(w[1]).unwrap();
        }
        let live = [TraffickedSuccess, Live, Paused, Live, Ended];
        for w in live.windows(2) {
            w[0].check_transition(w[1]).unwrap();
        }
        let heal = [Deploying, DeployFailed, FixProposed, ReadyForApi, Queued];
        for w in heal.windows(2) {
            w[0].check_transition(w[1]).unwrap();
        }
    }

    #[test]
    fn illegal_moves_are_refused_with_the_allowed_ones() {
        let e = TraffickedSuccess
            .check_transition(Draft)
            .unwrap_err()
            .to_string();
        assert!(e.contains("may move to LIVE, ENDED"), "{e}");
        let e = Ended.check_transition(Live).unwrap_err().to_string();
        assert!(e.contains("ENDED is final"), "{e}");
        let e = Draft.check_transition(Queued).unwrap_err().to_string();
        assert!(
            e.contains("may move to QA_FAILED, READY_FOR_API, CANCELLED"),
            "{e}"
        );
        assert!(Cancelled.check_transition(Draft).is_err());
        assert!(Queued.check_transition(TraffickedSuccess).is_err());
    }

    #[test]
    fn statuses_parse_from_their_wire_names() {
        for s in TicketStatus::ALL {
            assert_eq!(TicketStatus::parse("status", s.as_str()).unwrap(), s);
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!(TicketStatus::parse("status", "RUNNING").is_err());
    }
}
