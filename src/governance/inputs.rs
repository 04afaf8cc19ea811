//! Inputs of the governance and taxonomy operations. The doc comments are the schema
//! descriptions an assistant reads, so they say what to send and give an example.

use schemars::JsonSchema;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListInput {
    /// Also list archived entries. Default false.
    #[serde(default)]
    pub include_archived: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeInput {
    /// The governed code, e.g. "US".
    pub code: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMarketInput {
    /// Market code used in campaign names: 1-16 upper-case letters/digits, e.g. "US".
    pub code: String,
    /// ISO 3166-1 alpha-2 country, e.g. "US".
    pub country: String,
    /// Region the market reports into, e.g. "NA", "EMEA", "APAC".
    pub region: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMarketInput {
    /// Code of the market to change, e.g. "US".
    pub code: String,
    /// Rename the code. Draft tickets are renamed to match; deployed ones keep their names.
    /// Call rename_impact first to see what changes.
    pub new_code: Option<String>,
    pub country: Option<String>,
    pub region: Option<String>,
    /// false restores an archived market.
    pub archived: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBrandInput {
    /// Brand display name, e.g. "Disney".
    pub name: String,
    /// Brand code used in campaign names: 1-16 upper-case letters/digits, e.g. "DIS".
    pub code: String,
    /// Family-friendly brands may never target adult, alcohol or gambling interests.
    pub family_friendly: bool,
    /// ISO 4217 currency the brand budgets in, e.g. "USD".
    pub currency: String,
    /// Per-brand daily budget cap as a decimal string in major units, e.g. "50000.00".
    /// Omit to use the global default (100,000).
    pub daily_budget_limit: Option<String>,
    /// Per-brand lifetime budget cap, decimal string in major units, e.g. "500000".
    /// Omit to use the global default (1,000,000).
    pub lifetime_budget_limit: Option<String>,
    /// Meta pixel (dataset) id for conversion events: 5 to 20 digits, e.g. "1234567890123456".
    pub meta_pixel_id: Option<String>,
    /// TikTok pixel code for conversion events: upper-case letters and digits, e.g.
    /// "C4ABCDEFGH1234567890".
    pub tiktok_pixel_code: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBrandInput {
    /// Code of the brand to change, e.g. "DIS".
    pub code: String,
    /// Rename the code. Draft tickets are renamed; deployed ones keep their names.
    pub new_code: Option<String>,
    pub name: Option<String>,
    pub family_friendly: Option<bool>,
    /// Only while the brand has no campaigns.
    pub currency: Option<String>,
    /// Decimal string in major units; "" removes the override.
    pub daily_budget_limit: Option<String>,
    /// Decimal string in major units; "" removes the override.
    pub lifetime_budget_limit: Option<String>,
    /// Spend increases on live campaigns above this much a day (decimal string in major
    /// units, e.g. "500.00") go to ops review instead of the person's confirmation; "" back
    /// to the default (1000.00 in a two-decimal currency).
    pub change_review_daily_amount: Option<String>,
    /// …or above this percentage of the current daily spend (0-1000); -1 back to the default (50).
    pub change_review_percent: Option<i64>,
    /// 5 to 20 digits; "" removes it.
    pub meta_pixel_id: Option<String>,
    /// Upper-case letters and digits, e.g. "C4ABCDEFGH1234567890"; "" removes it.
    pub tiktok_pixel_code: Option<String>,
    /// false restores an archived brand.
    pub archived: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannelInput {
    /// Channel code used in campaign names, e.g. "META", "TIKTOK", "GADS".
    pub code: String,
    /// META, TIKTOK or GOOGLE_ADS.
    pub platform: String,
    /// The platform ad account: Meta ad account id (digits, without "act_"), TikTok
    /// advertiser id, or Google Ads customer id (10 digits, dashes allowed).
    pub account_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannelInput {
    /// Code of the channel to change.
    pub code: String,
    /// Rename the code. Draft tickets are renamed; deployed ones keep their names.
    pub new_code: Option<String>,
    pub account_id: Option<String>,
    /// false restores an archived channel.
    pub archived: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCampaignsInput {
    /// Only this brand's campaigns, e.g. "DIS".
    pub brand_code: Option<String>,
    /// Only this market's campaigns, e.g. "US".
    pub market_code: Option<String>,
    pub year: Option<i32>,
    #[serde(default)]
    pub include_archived: bool,
    /// Page size, 1-500. Default 50.
    pub limit: Option<i64>,
    /// Rows to skip. Default 0.
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignIdInput {
    pub campaign_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaignInput {
    /// Brand code, e.g. "DIS" (see list_brands).
    pub brand_code: String,
    /// Market code, e.g. "US" (see list_markets).
    pub market_code: String,
    /// Free-text campaign name; it is sanitised into the taxonomy name
    /// ("Moana Launch!" becomes "MoanaLaunch").
    pub name: String,
    /// Four-digit campaign year, e.g. 2026.
    pub year: i32,
    /// Daily budget as a decimal string in the brand's currency, major units: "1500.00".
    pub daily_budget: Option<String>,
    /// Lifetime budget as a decimal string in major units: "30000".
    pub lifetime_budget: Option<String>,
    /// First day, YYYY-MM-DD.
    pub start_date: Option<String>,
    /// Last day, YYYY-MM-DD. Needed with a lifetime budget.
    pub end_date: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaignInput {
    pub campaign_id: i64,
    /// New free-text name; draft tickets are renamed to match.
    pub name: Option<String>,
    /// New year; draft tickets are renamed to match.
    pub year: Option<i32>,
    /// Decimal string in major units; "" removes it.
    pub daily_budget: Option<String>,
    /// Decimal string in major units; "" removes it.
    pub lifetime_budget: Option<String>,
    /// YYYY-MM-DD; "" removes it.
    pub start_date: Option<String>,
    /// YYYY-MM-DD; "" removes it.
    pub end_date: Option<String>,
    pub archived: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListTicketsInput {
    pub campaign_id: Option<i64>,
    /// Only tickets on this channel, e.g. "META".
    pub channel_code: Option<String>,
    /// Only tickets in this status, e.g. "DRAFT" or "QA_FAILED".
    pub status: Option<String>,
    /// Page size, 1-500. Default 50.
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketIdInput {
    pub ticket_id: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketInput {
    /// The campaign to traffic (see list_campaigns / create_campaign).
    pub campaign_id: i64,
    /// The channel to traffic it on, e.g. "META" (see list_channels).
    pub channel_code: String,
    /// NEW_CAMPAIGN (the default and the only type accepted). To change or pause a live campaign use change_ticket or pause_ticket on its deployed ticket.
    pub request_type: Option<String>,
    /// The platform-neutral campaign spec (objective, budget, schedule, targeting, creative,
    /// bidding, overrides). A draft may be incomplete; run_qa reports what is missing.
    #[schemars(with = "Option<crate::platforms::CampaignSpec>")]
    pub payload_config: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTicketInput {
    pub ticket_id: i64,
    /// Replace the campaign spec. Sends the ticket back to DRAFT.
    #[schemars(with = "Option<crate::platforms::CampaignSpec>")]
    pub payload_config: Option<serde_json::Value>,
    /// Move to another channel, e.g. "TIKTOK". Renames the ticket; sends it back to DRAFT.
    pub channel_code: Option<String>,
    pub request_type: Option<String>,
    /// DRAFT (reopen for editing) or CANCELLED. Other states are reached through run_qa
    /// and deploy_ticket.
    pub status: Option<String>,
    /// The ticket version you read (from get_ticket). When given, the update is refused
    /// if someone changed the ticket since.
    pub expected_version: Option<i64>,
    /// Why, recorded in the ticket history.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewNameInput {
    /// Use an existing campaign's brand, market, name and year...
    pub campaign_id: Option<i64>,
    /// ...or give them directly: brand code, e.g. "DIS".
    pub brand_code: Option<String>,
    /// Market code, e.g. "US".
    pub market_code: Option<String>,
    /// Free-text campaign name, e.g. "Moana Launch!".
    pub campaign_name: Option<String>,
    /// Campaign year, e.g. 2026.
    pub year: Option<i32>,
    /// The channel code, e.g. "META". Always required.
    pub channel_code: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateNameInput {
    /// A campaign name to check, e.g. "DIS_US_META_2026_MoanaLaunch".
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameImpactInput {
    /// Which kind of code would change: "brand", "market" or "channel".
    pub segment: String,
    /// The current code, e.g. "DIS".
    pub code: String,
    /// The code it would become, e.g. "DSNY".
    pub new_code: String,
}
