use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

use super::TicketStatus;
use crate::error::AppError;

/// The ad platform a channel publishes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Platform {
    Meta,
    Tiktok,
    GoogleAds,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Meta => "META",
            Platform::Tiktok => "TIKTOK",
            Platform::GoogleAds => "GOOGLE_ADS",
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "META" => Ok(Platform::Meta),
            "TIKTOK" => Ok(Platform::Tiktok),
            "GOOGLE_ADS" => Ok(Platform::GoogleAds),
            _ => Err(AppError::validation(
                field,
                format!("\"{raw}\" is not a platform; use META, TIKTOK or GOOGLE_ADS"),
            )),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a ticket asks the trafficking team to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RequestType {
    /// Build a new campaign (campaign, ad set/ad group, ad) on the channel.
    NewCampaign,
    /// Change the budget of an existing campaign.
    BudgetChange,
    /// Change targeting of an existing campaign.
    TargetingChange,
    /// Swap or edit the creative.
    CreativeChange,
    /// Pause a running campaign.
    Pause,
}

impl RequestType {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestType::NewCampaign => "NEW_CAMPAIGN",
            RequestType::BudgetChange => "BUDGET_CHANGE",
            RequestType::TargetingChange => "TARGETING_CHANGE",
            RequestType::CreativeChange => "CREATIVE_CHANGE",
            RequestType::Pause => "PAUSE",
        }
    }

    /// What to do instead of a ticket of this type, for the types that do not build a new
    /// campaign: they change a live one, which is what the live-campaign tools do.
    pub fn instead(self) -> Option<&'static str> {
        match self {
            RequestType::NewCampaign => None,
            RequestType::BudgetChange
            | RequestType::TargetingChange
            | RequestType::CreativeChange => Some(
                "a ticket builds a new campaign; to change a live one, call change_ticket {ticket_id, payload_config, reason} on the deployed ticket",
            ),
            RequestType::Pause => Some(
                "a ticket builds a new campaign; to pause a live one, call pause_ticket {ticket_id} on the deployed ticket",
            ),
        }
    }

    /// A request type for a new or edited ticket: only NEW_CAMPAIGN; the others are refused
    /// with the tool to use instead.
    pub fn parse_for_ticket(field: &str, raw: &str) -> Result<Self, AppError> {
        let r = Self::parse(field, raw)?;
        match r.instead() {
            None => Ok(r),
            Some(hint) => Err(AppError::validation(
                field,
                format!("{} is no longer accepted: {hint}", r.as_str()),
            )),
        }
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, AppError> {
        let all = [
            RequestType::NewCampaign,
            RequestType::BudgetChange,
            RequestType::TargetingChange,
            RequestType::CreativeChange,
            RequestType::Pause,
        ];
        all.into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| {
                AppError::validation(
                    field,
                    format!(
                        "\"{raw}\" is not a request type; use one of {}",
                        all.map(|r| r.as_str()).join(", ")
                    ),
                )
            })
    }
}

/// A market: where a campaign runs.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Market {
    pub id: i64,
    /// Governed code used in names, e.g. "US".
    pub code: String,
    /// ISO 3166-1 alpha-2 country, e.g. "US".
    pub country: String,
    /// Free-text region, e.g. "NA" or "EMEA".
    pub region: String,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A brand: who advertises.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Brand {
    pub id: i64,
    /// Governed code used in names, e.g. "DIS".
    pub code: String,
    pub name: String,
    /// Family-friendly brands may never target adult, alcohol or gambling interests.
    pub family_friendly: bool,
    /// ISO 4217 currency the brand budgets in.
    pub currency: String,
    /// Per-brand daily budget cap in minor units; null uses the global default.
    pub daily_budget_limit_minor: Option<i64>,
    /// Per-brand lifetime budget cap in minor units; null uses the global default.
    pub lifetime_budget_limit_minor: Option<i64>,
    /// Spend increases on live campaigns above this many minor units a day go to ops review;
    /// null uses the default (100000, i.e. 1,000.00 in a two-decimal currency).
    pub change_review_daily_minor: Option<i64>,
    /// …or above this percentage of the current daily spend; null uses the default (50).
    pub change_review_percent: Option<i64>,
    pub meta_pixel_id: Option<String>,
    pub tiktok_pixel_code: Option<String>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A channel: one ad account on one platform.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Channel {
    pub id: i64,
    /// Governed code used in names, e.g. "META".
    pub code: String,
    pub platform: Platform,
    /// The platform's ad account id (Meta act id without "act_", TikTok advertiser id,
    /// Google Ads customer id).
    pub account_id: String,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A campaign: a brand's initiative in one market and year.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Campaign {
    pub id: i64,
    pub brand_code: String,
    pub market_code: String,
    /// Free-text name as the planner wrote it ("Moana Launch!").
    pub name: String,
    pub year: i32,
    /// ISO 4217 currency of the budgets (the brand's currency).
    pub currency: String,
    /// Daily budget in minor units (cents for USD), if set.
    pub daily_budget_minor: Option<i64>,
    /// Lifetime budget in minor units, if set.
    pub lifetime_budget_minor: Option<i64>,
    /// YYYY-MM-DD
    pub start_date: Option<String>,
    /// YYYY-MM-DD
    pub end_date: Option<String>,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A trafficking ticket: one campaign on one channel.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Ticket {
    pub id: i64,
    pub campaign_id: i64,
    pub channel_code: String,
    pub platform: Platform,
    pub request_type: RequestType,
    pub status: TicketStatus,
    /// The taxonomy name the platform objects get, e.g. "DIS_US_META_2026_MoanaLaunch".
    pub platform_name: String,
    /// Platform-neutral campaign spec.
    pub payload_config: serde_json::Value,
    /// Latest pre-flight QA report, once QA has run.
    pub qa_report: Option<serde_json::Value>,
    /// Platform object ids written back by the deploy.
    pub external_ids: serde_json::Value,
    /// What the platform last reported of the live objects, once a change was applied:
    /// `{"read_at", "objects": [{"object", "id", "delivery_state"}]}` (Meta
    /// `effective_status`, TikTok `secondary_status`, Google `primary_status`).
    pub live_state: Option<serde_json::Value>,
    /// Increases on every change.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// One entry of a ticket's append-only history.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct HistoryEntry {
    pub id: i64,
    /// CREATED, TRANSITION, EDITED or RENAMED.
    pub event: String,
    pub from_status: Option<TicketStatus>,
    pub to_status: TicketStatus,
    /// Who did it: the API key name, or "local-operator" over stdio.
    pub actor: String,
    pub detail: Option<String>,
    pub at: String,
}

/// A ticket with its history.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct TicketView {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub history: Vec<HistoryEntry>,
}
