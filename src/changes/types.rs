//! What the change tools and the REST review queue take and give.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::ChangeStatus;
use crate::store::{AuditEntry, Change};

/// A change with what a person needs to judge it.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChangeView {
    #[serde(flatten)]
    pub change: Change,
    /// The ticket's taxonomy name, platform and ad account.
    pub ticket_name: String,
    pub platform: String,
    pub account_id: String,
    /// Daily spend before and after in the brand's currency, e.g. "50.00".
    pub daily_before: Option<String>,
    pub daily_after: Option<String>,
    pub audit: Vec<AuditEntry>,
}

/// What asking for a change gives back.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ChangeOutput {
    pub change: ChangeView,
    /// For NEEDS_CONFIRMATION: show the person the change, and pass this to `confirm_change`
    /// only if they say yes. Works once, for 15 minutes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
    pub message: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketIdInput {
    pub ticket_id: i64,
    /// Why, for the audit trail.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeTicketInput {
    pub ticket_id: i64,
    /// The full new spec (same shape as create_ticket's payload_config); the change is the
    /// difference from the live one.
    pub payload_config: Value,
    /// Why, for the audit trail and the reviewer.
    pub reason: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmChangeInput {
    pub change_id: i64,
    /// The token `change_ticket` (or launch/resume) returned.
    pub token: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeIdInput {
    pub change_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackChangeInput {
    pub change_id: i64,
    pub reason: Option<String>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListChangesInput {
    pub ticket_id: Option<i64>,
    /// NEEDS_CONFIRMATION, PENDING_REVIEW, QUEUED, APPLYING, APPLIED, FAILED, REJECTED or CANCELLED.
    pub status: Option<String>,
    /// At most 200; default 50.
    pub limit: Option<i64>,
    /// For the next page: the `next_before_id` of the previous one.
    pub before_id: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeList {
    pub changes: Vec<Change>,
    pub next_before_id: Option<i64>,
}

/// What ops decided.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ChangeDecision {
    pub change_id: i64,
    pub status: ChangeStatus,
    pub message: String,
}
