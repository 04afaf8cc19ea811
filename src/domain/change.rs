//! Changes to a deployed ticket's live objects: what kind, and where each is on its way.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use super::TicketStatus;
use crate::error::AppError;

/// What a change does to a deployed ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeKind {
    /// The objects go live (ACTIVE / ENABLE / ENABLED).
    Launch,
    /// Live objects stop delivering.
    Pause,
    /// Paused objects deliver again.
    Resume,
    /// The ticket's objects are paused for good; the ticket ends.
    End,
    /// A new payload_config (budget, schedule, bid, targeting, creative) for the live objects.
    Edit,
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 5] = [
        ChangeKind::Launch,
        ChangeKind::Pause,
        ChangeKind::Resume,
        ChangeKind::End,
        ChangeKind::Edit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Launch => "LAUNCH",
            ChangeKind::Pause => "PAUSE",
            ChangeKind::Resume => "RESUME",
            ChangeKind::End => "END",
            ChangeKind::Edit => "EDIT",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        super::parse_named(field, raw, &Self::ALL, Self::as_str, "a change kind")
    }

    /// The ticket states this change may start from, and the state it leaves the ticket in
    /// (`None`: unchanged).
    pub fn ticket_move(self) -> (&'static [TicketStatus], Option<TicketStatus>) {
        use TicketStatus::*;
        match self {
            ChangeKind::Launch => (&[TraffickedSuccess], Some(Live)),
            ChangeKind::Pause => (&[Live], Some(Paused)),
            ChangeKind::Resume => (&[Paused], Some(Live)),
            ChangeKind::End => (&[TraffickedSuccess, Live, Paused], Some(Ended)),
            ChangeKind::Edit => (&[TraffickedSuccess, Live, Paused], None),
        }
    }
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a change is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeStatus {
    /// Waits for the person behind the assistant to confirm (`confirm_change` with the token).
    NeedsConfirmation,
    /// Waits for ops (`POST /api/v1/changes/{id}/approve`).
    PendingReview,
    /// Confirmed or approved (or SAFE); a worker applies it.
    Queued,
    /// A worker is writing it to the platform.
    Applying,
    /// Every object holds the new values.
    Applied,
    /// The platform refused it; the per-object results say what was and was not written.
    Failed,
    /// Ops rejected it; nothing was sent.
    Rejected,
    /// Declined, expired or superseded before anything was sent.
    Cancelled,
}

impl ChangeStatus {
    pub const ALL: [ChangeStatus; 8] = [
        ChangeStatus::NeedsConfirmation,
        ChangeStatus::PendingReview,
        ChangeStatus::Queued,
        ChangeStatus::Applying,
        ChangeStatus::Applied,
        ChangeStatus::Failed,
        ChangeStatus::Rejected,
        ChangeStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeStatus::NeedsConfirmation => "NEEDS_CONFIRMATION",
            ChangeStatus::PendingReview => "PENDING_REVIEW",
            ChangeStatus::Queued => "QUEUED",
            ChangeStatus::Applying => "APPLYING",
            ChangeStatus::Applied => "APPLIED",
            ChangeStatus::Failed => "FAILED",
            ChangeStatus::Rejected => "REJECTED",
            ChangeStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        super::parse_named(field, raw, &Self::ALL, Self::as_str, "a change status")
    }
}

impl fmt::Display for ChangeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
