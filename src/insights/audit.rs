//! Live governance: what runs in an ad account, compared with what OmniTraffick trafficked.
//!
//! Three findings, for one channel's account or for the accounts one campaign's tickets use:
//! - campaign names in the account that break the taxonomy (the convention's own validator);
//! - foreign campaigns: in the account, but in no ticket's `external_ids` for that channel;
//! - drift: a deployed ticket's live objects no longer hold what OmniTraffick last set
//!   (status from the ticket's live state; budget, end date and targeting from its current
//!   `payload_config`, translated and planned exactly as a live change would be).
//!
//! Nothing is written to a platform. New drift (not the same as the ticket's last recorded
//! drift) becomes a `LIVE_DRIFT` history entry through the tickets writer, so subscribers of
//! `omnitraffick://tickets/{id}` hear of it like any other history entry; drift that has gone
//! is noted once as `LIVE_DRIFT_CLEARED`.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::auth::Principal;
use crate::domain::{Campaign, Channel, Platform, Ticket, TicketContext, TicketStatus};
use crate::error::{AppError, AppResult};
use crate::governance::Governance;
use crate::platforms::ApiVersions;
use crate::platforms::client::{
    CampaignListing, ErrorClass, ListedCampaign, MAX_LISTED, PlatformClients, PlatformError,
    with_read_retries,
};
use crate::platforms::live::{self, LiveStatus, ObjectUpdate, covers, same_value};
use crate::store::{self, TicketFilter};
use crate::taxonomy::{SegmentIssue, SegmentKind};
use crate::tickets;

/// History events written by the audit.
pub const DRIFT_EVENT: &str = "LIVE_DRIFT";
pub const DRIFT_CLEARED_EVENT: &str = "LIVE_DRIFT_CLEARED";

/// Each list in the report shows at most this many entries; the rest is counted.
pub const MAX_LISTED_FINDINGS: usize = 200;
/// At most this many deployed tickets are read back in one audit.
pub const MAX_TICKETS: usize = 300;
/// A value longer than this is shortened in the history text.
const MAX_VALUE_TEXT: usize = 300;

/// Exactly one of the two.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditLiveInput {
    /// Audit this channel's whole ad account (keys limited to brands must use campaign_id).
    pub channel_code: Option<String>,
    /// Audit one campaign: its deployed tickets and the accounts they run in.
    pub campaign_id: Option<i64>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditSummary {
    /// "channel META" or "campaign 7".
    pub scope: String,
    pub accounts_listed: usize,
    /// Accounts whose campaigns could not be listed (see `accounts[].error`).
    pub accounts_failed: usize,
    pub campaigns_listed: usize,
    /// True when an account held more than 5,000 campaigns and only the first 5,000 were checked.
    pub listing_truncated: bool,
    pub naming_issues: usize,
    pub foreign_campaigns: usize,
    pub tickets_checked: usize,
    /// Deployed tickets in scope beyond the per-audit bound, not read back this time.
    pub tickets_left_off: usize,
    pub tickets_drifted: usize,
    pub drifted_fields: usize,
    /// History entries this run wrote (new drift, or drift that has gone).
    pub history_entries_written: usize,
    /// Live objects that could not be read (see `read_errors`).
    pub read_errors: usize,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditedAccount {
    pub channel_code: String,
    pub platform: Platform,
    pub account_id: String,
    pub campaigns_listed: usize,
    pub truncated: bool,
    /// Why the account could not be listed, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct NamingIssue {
    pub channel_code: String,
    /// The platform's campaign id.
    pub id: String,
    pub name: String,
    pub status: String,
    /// The ticket that created it, when OmniTraffick did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_id: Option<i64>,
    /// What is wrong, in one line.
    pub problem: String,
    pub issues: Vec<SegmentIssue>,
    /// The name with every suggestion applied, when each issue had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggested_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ForeignCampaign {
    pub channel_code: String,
    #[serde(flatten)]
    pub campaign: ListedCampaign,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct DriftedField {
    pub ticket_id: i64,
    pub channel_code: String,
    /// The `external_ids` key of the object: campaign, adset, adgroup, campaign_budget, ...
    pub object: String,
    pub object_id: String,
    /// The platform's field name (`daily_budget`, `operation_status`, `amountMicros`, ...),
    /// or `exists` when the object is gone from the platform.
    pub platform_field: String,
    /// What OmniTraffick last set, in the platform's wire format.
    pub expected: Value,
    /// What the platform holds now.
    pub actual: Value,
    /// True when this run wrote it to the ticket's history (false: already recorded).
    pub newly_recorded: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct ReadError {
    pub ticket_id: i64,
    pub object: String,
    pub object_id: String,
    pub error: String,
}

/// The audit's answer: counts first, then the lists (each at most 200 entries, with how many
/// were left off).
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditReport {
    pub summary: AuditSummary,
    pub accounts: Vec<AuditedAccount>,
    pub naming_issues: Vec<NamingIssue>,
    pub naming_issues_left_off: usize,
    pub foreign_campaigns: Vec<ForeignCampaign>,
    pub foreign_campaigns_left_off: usize,
    pub drift: Vec<DriftedField>,
    pub drift_left_off: usize,
    pub read_errors: Vec<ReadError>,
    pub read_errors_left_off: usize,
    /// What the report means and what to do next.
    pub message: String,
}

/// Keep the first [`MAX_LISTED_FINDINGS`]; the count of the rest.
fn bounded<T>(mut v: Vec<T>) -> (Vec<T>, usize) {
    let left = v.len().saturating_sub(MAX_LISTED_FINDINGS);
    v.truncate(MAX_LISTED_FINDINGS);
    (v, left)
}

/// The fields the audit compares besides status, per platform and `external_ids` object: the
/// budget, the end date and the targeting, as the translators write them. Google targeting is
/// made of separate criteria that are not edited in place, so it is not compared there.
fn audited_fields(platform: Platform, object: &str) -> &'static [&'static str] {
    match (platform, object) {
        (Platform::Meta, "campaign") => &["daily_budget", "lifetime_budget", "stop_time"],
        (Platform::Meta, "adset") => &["daily_budget", "lifetime_budget", "end_time", "targeting"],
        (Platform::Tiktok, "campaign") => &["budget"],
        (Platform::Tiktok, "adgroup") => &[
            "budget",
            "schedule_end_time",
            "location_ids",
            "age_groups",
            "gender",
            "interest_category_ids",
            "audience_ids",
            "excluded_audience_ids",
            "languages",
        ],
        (Platform::GoogleAds, "campaign_budget") => &["amountMicros", "totalAmountMicros"],
        (Platform::GoogleAds, "campaign") => &["endDateTime"],
        _ => &[],
    }
}

/// The status a ticket's live objects should have: LIVE is active, every other deployed
/// state (TRAFFICKED_SUCCESS, created paused; PAUSED; ENDED) is paused.
fn expected_status(status: TicketStatus) -> Option<LiveStatus> {
    match status {
        TicketStatus::Live => Some(LiveStatus::Active),
        TicketStatus::TraffickedSuccess | TicketStatus::Paused | TicketStatus::Ended => {
            Some(LiveStatus::Paused)
        }
        _ => None,
    }
}

/// What OmniTraffick last set on each live object of a ticket, as the updates a live change
/// would plan: the status plan for its live state, plus the audited fields of its current
/// spec (the translation with those fields taken out, edited back in by `plan_edit`, so the
/// values and field names are exactly the ones a change writes).
pub fn expected_state(ctx: &TicketContext, versions: &ApiVersions) -> AppResult<Vec<ObjectUpdate>> {
    let platform = ctx.channel.platform;
    let ids: Map<String, Value> = ctx
        .ticket
        .external_ids
        .as_object()
        .cloned()
        .unwrap_or_default();
    let status = expected_status(ctx.ticket.status).ok_or_else(|| {
        AppError::validation(
            "ticket_id",
            format!(
                "ticket {} is {}, not deployed; nothing of it runs on the platform",
                ctx.ticket.id, ctx.ticket.status
            ),
        )
    })?;
    let mut plan = live::plan_status(platform, &ids, status)?;
    let after = ctx.translate(versions)?;
    let mut before = after.clone();
    for r in &mut before.requests {
        let fields = audited_fields(platform, &r.object);
        let body = match platform {
            Platform::GoogleAds => r.body.pointer_mut("/operations/0/create"),
            _ => Some(&mut r.body),
        };
        if let Some(Value::Object(o)) = body {
            for f in fields {
                o.remove(*f);
            }
        }
    }
    for edit in live::plan_edit(platform, &before, &after, &ids)? {
        match plan.iter_mut().find(|u| u.object == edit.object) {
            Some(u) => u.fields.extend(edit.fields),
            None => plan.push(edit),
        }
    }
    Ok(plan)
}

/// A value as history text, shortened when long.
fn value_text(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() <= MAX_VALUE_TEXT {
        s
    } else {
        format!("{}…", s.chars().take(MAX_VALUE_TEXT).collect::<String>())
    }
}

/// The history text of a ticket's drift; the same drift always gives the same text, which is
/// how a repeated audit recognises drift it already recorded.
fn drift_text(platform: Platform, drift: &[DriftedField]) -> String {
    let parts: Vec<String> = drift
        .iter()
        .map(|d| {
            format!(
                "{} {} {}: expected {}, found {}",
                d.object,
                d.object_id,
                d.platform_field,
                value_text(&d.expected),
                value_text(&d.actual)
            )
        })
        .collect();
    format!(
        "audit_live: changed on {platform} outside OmniTraffick: {}. Nothing was changed back; use change_ticket to set it again, or accept it by changing the ticket",
        parts.join("; ")
    )
}

/// The brand code a name claims, if it parses under the convention.
fn claimed_brand(gov: &Governance, name: &str) -> Option<String> {
    let conv = gov.convention();
    let parsed = conv.parse(name).ok()?;
    conv.segments
        .iter()
        .zip(parsed)
        .find(|(s, _)| s.kind == SegmentKind::BrandCode)
        .map(|(_, p)| p.value)
}

fn read_error_text(e: &PlatformError) -> String {
    let hint = match e.class {
        ErrorClass::RateLimited => "; the platform is throttling, run the audit again later",
        ErrorClass::Transient => "; run the audit again",
        ErrorClass::Permanent => "",
    };
    format!("{e}{hint}")
}

#[derive(Clone)]
pub struct AuditService {
    governance: Governance,
    clients: PlatformClients,
    versions: ApiVersions,
}

/// One account to list, and which of its campaigns count in this scope.
struct Account {
    channel: Channel,
    /// Campaign id -> ticket id, for every ticket (any brand, any state) on the channel.
    ours: HashMap<String, i64>,
}

impl AuditService {
    pub fn new(governance: Governance, clients: PlatformClients, versions: ApiVersions) -> Self {
        Self {
            governance,
            clients,
            versions,
        }
    }

    /// Authorisation of the scope: a channel's account holds every brand's campaigns, so only
    /// a key for every brand may audit it; a campaign needs a key covering its brand.
    pub async fn authorize(&self, who: &Principal, input: &AuditLiveInput) -> AppResult<()> {
        match Self::scope(input)? {
            Scope::Channel(_) => who.require_unscoped(
                "audit a whole ad account (it holds every brand's campaigns); audit by campaign_id instead",
            ),
            Scope::Campaign(id) => self.governance.authorize_campaign(who, id).await,
        }
    }

    fn scope(input: &AuditLiveInput) -> AppResult<Scope<'_>> {
        match (input.channel_code.as_deref(), input.campaign_id) {
            (Some(_), Some(_)) => Err(AppError::validation(
                "campaign_id",
                "give either channel_code (a whole ad account) or campaign_id (one campaign), not both",
            )),
            (None, None) => Err(AppError::validation(
                "channel_code",
                "give channel_code (a whole ad account; list_channels shows the codes) or campaign_id (one campaign; list_campaigns shows the ids)",
            )),
            (Some(code), None) => Ok(Scope::Channel(code)),
            (None, Some(id)) => Ok(Scope::Campaign(id)),
        }
    }

    /// Run the audit (see the module). `who` is the history entries' actor; authorise first
    /// with [`AuditService::authorize`].
    pub async fn audit(&self, who: &Principal, input: AuditLiveInput) -> AppResult<AuditReport> {
        let scope = Self::scope(&input)?;
        let (label, campaign, channels) = match scope {
            Scope::Channel(code) => {
                let mut c = self.governance.db().pool().acquire().await?;
                let ch = crate::governance::must::<Channel>(&mut c, "channel_code", code).await?;
                (format!("channel {}", ch.code), None, vec![ch])
            }
            Scope::Campaign(id) => {
                let k = self.governance.get_campaign(id).await?;
                (format!("campaign {id}"), Some(k), Vec::new())
            }
        };
        // Deployed tickets in scope.
        let in_scope = self
            .tickets(
                campaign.as_ref().map(|k| k.id),
                channels.first().map(|c| c.id),
            )
            .await?;
        let mut deployed: Vec<Ticket> = in_scope
            .into_iter()
            .filter(|t| {
                expected_status(t.status).is_some()
                    && t.external_ids.as_object().is_some_and(|o| !o.is_empty())
            })
            .collect();
        let tickets_left_off = deployed.len().saturating_sub(MAX_TICKETS);
        deployed.truncate(MAX_TICKETS);
        // The accounts: the channel, or every channel the campaign's deployed tickets use.
        let mut channels = channels;
        if campaign.is_some() {
            let mut c = self.governance.db().pool().acquire().await?;
            let mut codes: Vec<&str> = deployed.iter().map(|t| t.channel_code.as_str()).collect();
            codes.sort_unstable();
            codes.dedup();
            for code in codes {
                channels
                    .push(crate::governance::must::<Channel>(&mut c, "channel_code", code).await?);
            }
        }
        let mut accounts = Vec::with_capacity(channels.len());
        for ch in channels {
            let ours = self.campaign_ids(&ch).await?;
            accounts.push(Account { channel: ch, ours });
        }

        let mut report = Findings::default();
        self.check_accounts(&accounts, campaign.as_ref(), &mut report)
            .await?;
        let mut tickets_checked = 0;
        for t in &deployed {
            tickets_checked += 1;
            self.check_ticket(who, t.id, &mut report).await?;
        }
        Ok(report.finish(label, tickets_checked, tickets_left_off))
    }

    /// Tickets by campaign or by channel, every page.
    async fn tickets(
        &self,
        campaign_id: Option<i64>,
        channel_id: Option<i64>,
    ) -> AppResult<Vec<Ticket>> {
        let mut c = self.governance.db().pool().acquire().await?;
        let mut out = Vec::new();
        let limit = 500;
        loop {
            let page = store::list_tickets(
                &mut c,
                &TicketFilter {
                    campaign_id,
                    brands: None,
                    channel_id,
                    status: None,
                    limit,
                    offset: out.len() as i64,
                },
            )
            .await?;
            let n = page.len() as i64;
            out.extend(page);
            if n < limit {
                return Ok(out);
            }
        }
    }

    /// Campaign id -> ticket id for every ticket on the channel.
    async fn campaign_ids(&self, ch: &Channel) -> AppResult<HashMap<String, i64>> {
        let mut ours = HashMap::new();
        for t in self.tickets(None, Some(ch.id)).await? {
            let id = t.external_ids.get("campaign").and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            });
            for one in id.iter().flat_map(|s| s.split(',')) {
                let one = one.trim();
                if !one.is_empty() {
                    ours.insert(one.to_owned(), t.id);
                }
            }
        }
        Ok(ours)
    }

    /// List each account; check names; find foreign campaigns. A campaign scope keeps only the
    /// campaign's own objects and foreign ones whose name claims its brand.
    async fn check_accounts(
        &self,
        accounts: &[Account],
        campaign: Option<&Campaign>,
        out: &mut Findings,
    ) -> AppResult<()> {
        let picklists = self.governance.picklists().await?;
        let conv = self.governance.convention();
        let campaign_tickets: Option<Vec<i64>> = match campaign {
            Some(k) => Some(
                self.tickets(Some(k.id), None)
                    .await?
                    .iter()
                    .map(|t| t.id)
                    .collect(),
            ),
            None => None,
        };
        for a in accounts {
            let ch = &a.channel;
            // Each page is retried inside the listing.
            let listing = self.clients.list_campaigns(ch).await;
            let CampaignListing {
                campaigns,
                truncated,
            } = match listing {
                Ok(l) => l,
                Err(e) => {
                    out.accounts.push(AuditedAccount {
                        channel_code: ch.code.clone(),
                        platform: ch.platform,
                        account_id: ch.account_id.clone(),
                        campaigns_listed: 0,
                        truncated: false,
                        error: Some(read_error_text(&e)),
                    });
                    continue;
                }
            };
            out.accounts.push(AuditedAccount {
                channel_code: ch.code.clone(),
                platform: ch.platform,
                account_id: ch.account_id.clone(),
                campaigns_listed: campaigns.len(),
                truncated,
                error: None,
            });
            for lc in campaigns {
                let owner = a.ours.get(&lc.id).copied();
                if let (Some(k), Some(mine)) = (campaign, &campaign_tickets) {
                    let keep = match owner {
                        Some(t) => mine.contains(&t),
                        None => claimed_brand(&self.governance, &lc.name)
                            .is_some_and(|b| b.eq_ignore_ascii_case(&k.brand_code)),
                    };
                    if !keep {
                        continue;
                    }
                }
                let v = conv.validate(&lc.name, &picklists);
                if !v.valid {
                    out.naming.push(NamingIssue {
                        channel_code: ch.code.clone(),
                        id: lc.id.clone(),
                        name: lc.name.clone(),
                        status: lc.status.clone(),
                        ticket_id: owner,
                        problem: v
                            .issues
                            .iter()
                            .map(|i| format!("{} \"{}\" {}", i.segment, i.value, i.problem))
                            .collect::<Vec<_>>()
                            .join("; "),
                        issues: v.issues,
                        suggested_name: v.suggested_name,
                    });
                }
                if owner.is_none() {
                    out.foreign.push(ForeignCampaign {
                        channel_code: ch.code.clone(),
                        campaign: lc,
                    });
                }
            }
        }
        Ok(())
    }

    /// Read a deployed ticket's live objects back, compare, and record new drift.
    async fn check_ticket(
        &self,
        who: &Principal,
        ticket_id: i64,
        out: &mut Findings,
    ) -> AppResult<()> {
        let ctx = self.governance.ticket_context(ticket_id).await?;
        let expected = match expected_state(&ctx, &self.versions) {
            Ok(p) => p,
            Err(e) => {
                // A spec the translator no longer accepts cannot say what should be live.
                out.read_errors.push(ReadError {
                    ticket_id,
                    object: "payload_config".into(),
                    object_id: String::new(),
                    error: format!("what OmniTraffick set could not be rebuilt: {e}"),
                });
                return Ok(());
            }
        };
        let mut drift = Vec::new();
        let mut complete = true;
        for u in &expected {
            let read = with_read_retries(|| self.clients.read_object(&ctx.channel, u)).await;
            let current = match read {
                Ok(m) => m,
                Err(e) if e.code.as_deref() == Some("NOT_FOUND") => {
                    drift.push(self.drifted(
                        &ctx,
                        u,
                        "exists",
                        Value::Bool(true),
                        Value::Bool(false),
                    ));
                    continue;
                }
                Err(e) => {
                    complete = false;
                    out.read_errors.push(ReadError {
                        ticket_id,
                        object: u.object.clone(),
                        object_id: u.id.clone(),
                        error: read_error_text(&e),
                    });
                    continue;
                }
            };
            // Sorted, so the same drift always reads the same.
            let fields: BTreeMap<&String, &Value> = u.fields.iter().collect();
            for (field, want) in fields {
                let have = current.get(field).cloned().unwrap_or(Value::Null);
                // Objects (targeting) one way: the platform adds keys of its own on read-back.
                let holds = if want.is_object() {
                    covers(&have, want)
                } else {
                    same_value(&have, want)
                };
                if !holds {
                    drift.push(self.drifted(&ctx, u, field, want.clone(), have));
                }
            }
        }
        out.tickets_drifted += usize::from(!drift.is_empty());
        // A partial read proves neither new drift nor its end: record nothing.
        if complete {
            let written = self.record(who, &ctx, &drift).await?;
            out.history_written += usize::from(written);
            if written && !drift.is_empty() {
                for d in &mut drift {
                    d.newly_recorded = true;
                }
            }
        }
        out.drift.extend(drift);
        Ok(())
    }

    fn drifted(
        &self,
        ctx: &TicketContext,
        u: &ObjectUpdate,
        field: &str,
        expected: Value,
        actual: Value,
    ) -> DriftedField {
        DriftedField {
            ticket_id: ctx.ticket.id,
            channel_code: ctx.channel.code.clone(),
            object: u.object.clone(),
            object_id: u.id.clone(),
            platform_field: field.to_owned(),
            expected,
            actual,
            newly_recorded: false,
        }
    }

    /// Write the ticket's drift to its history unless it is what was last recorded; note once
    /// when recorded drift has gone. True when an entry was written.
    async fn record(
        &self,
        who: &Principal,
        ctx: &TicketContext,
        drift: &[DriftedField],
    ) -> AppResult<bool> {
        let mut tx = self.governance.db().begin_write().await?;
        let history = store::ticket_history(&mut tx, ctx.ticket.id).await?;
        let last = history
            .iter()
            .rev()
            .find(|h| h.event == DRIFT_EVENT || h.event == DRIFT_CLEARED_EVENT);
        let last_drift = last
            .filter(|h| h.event == DRIFT_EVENT)
            .and_then(|h| h.detail.clone());
        let (event, detail) = if drift.is_empty() {
            match last_drift {
                Some(_) => (
                    DRIFT_CLEARED_EVENT,
                    "audit_live: the live objects hold what OmniTraffick last set again".to_owned(),
                ),
                None => return Ok(false),
            }
        } else {
            let text = drift_text(ctx.channel.platform, drift);
            if last_drift.as_deref() == Some(text.as_str()) {
                return Ok(false);
            }
            (DRIFT_EVENT, text)
        };
        tickets::note(
            &mut tx,
            ctx.ticket.id,
            ctx.ticket.status,
            event,
            &who.name,
            &detail,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            ticket_id = ctx.ticket.id,
            event,
            "live audit recorded drift"
        );
        Ok(true)
    }
}

enum Scope<'a> {
    Channel(&'a str),
    Campaign(i64),
}

#[derive(Default)]
struct Findings {
    accounts: Vec<AuditedAccount>,
    naming: Vec<NamingIssue>,
    foreign: Vec<ForeignCampaign>,
    drift: Vec<DriftedField>,
    read_errors: Vec<ReadError>,
    tickets_drifted: usize,
    history_written: usize,
}

impl Findings {
    fn finish(self, scope: String, tickets_checked: usize, tickets_left_off: usize) -> AuditReport {
        let listed: usize = self.accounts.iter().map(|a| a.campaigns_listed).sum();
        let listing_truncated = self.accounts.iter().any(|a| a.truncated);
        let accounts_failed = self.accounts.iter().filter(|a| a.error.is_some()).count();
        let summary = AuditSummary {
            scope,
            accounts_listed: self.accounts.len() - accounts_failed,
            accounts_failed,
            campaigns_listed: listed,
            listing_truncated,
            naming_issues: self.naming.len(),
            foreign_campaigns: self.foreign.len(),
            tickets_checked,
            tickets_left_off,
            tickets_drifted: self.tickets_drifted,
            drifted_fields: self.drift.len(),
            history_entries_written: self.history_written,
            read_errors: self.read_errors.len(),
        };
        let mut notes = vec![format!(
            "{} campaign name(s) break the taxonomy, {} campaign(s) were not created by OmniTraffick, {} field(s) on {} ticket(s) drifted from what OmniTraffick set",
            summary.naming_issues,
            summary.foreign_campaigns,
            summary.drifted_fields,
            summary.tickets_drifted
        )];
        notes.push("nothing was changed on any platform: fix drift with change_ticket (or pause_ticket), rename or pause foreign campaigns in the platform if they should not be there".into());
        if tickets_checked == 0 && tickets_left_off == 0 {
            notes.push("no deployed ticket is in scope, so there was no drift to check".into());
        }
        if listing_truncated {
            notes.push(format!(
                "an account holds more than {MAX_LISTED} campaigns; only the first {MAX_LISTED} were checked"
            ));
        }
        if tickets_left_off > 0 {
            notes.push(format!(
                "{tickets_left_off} deployed ticket(s) beyond the first {MAX_TICKETS} were not read back; audit by campaign_id to cover them"
            ));
        }
        if accounts_failed > 0 || !self.read_errors.is_empty() {
            notes.push("some accounts or objects could not be read (see accounts[].error and read_errors); drift of a ticket that was not fully read is not recorded".into());
        }
        let (naming_issues, naming_issues_left_off) = bounded(self.naming);
        let (foreign_campaigns, foreign_campaigns_left_off) = bounded(self.foreign);
        let (drift, drift_left_off) = bounded(self.drift);
        let (read_errors, read_errors_left_off) = bounded(self.read_errors);
        AuditReport {
            summary,
            accounts: self.accounts,
            naming_issues,
            naming_issues_left_off,
            foreign_campaigns,
            foreign_campaigns_left_off,
            drift,
            drift_left_off,
            read_errors,
            read_errors_left_off,
            message: notes.join(". "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(object: &str, name: &str, expected: Value, actual: Value) -> DriftedField {
        DriftedField {
            ticket_id: 1,
            channel_code: "META".into(),
            object: object.into(),
            object_id: "120".into(),
            platform_field: name.into(),
            expected,
            actual,
            newly_recorded: false,
        }
    }

    #[test]
    fn the_same_drift_reads_the_same_and_long_values_are_cut() {
        let a = vec![field("adset", "daily_budget", json!(5000), json!(9000))];
        let b = vec![field("adset", "daily_budget", json!(5000), json!(9000))];
        assert_eq!(
            drift_text(Platform::Meta, &a),
            drift_text(Platform::Meta, &b)
        );
        let c = vec![field("adset", "daily_budget", json!(5000), json!(9100))];
        assert_ne!(
            drift_text(Platform::Meta, &a),
            drift_text(Platform::Meta, &c)
        );
        let long = Value::String("x".repeat(1000));
        assert!(value_text(&long).chars().count() <= MAX_VALUE_TEXT + 1);
    }

    #[test]
    fn scope_is_exactly_one_of_channel_or_campaign() {
        let both = AuditLiveInput {
            channel_code: Some("META".into()),
            campaign_id: Some(1),
        };
        let e = AuditService::scope(&both).err().map(|e| e.code());
        assert_eq!(e, Some("VALIDATION"));
        assert!(AuditService::scope(&AuditLiveInput::default()).is_err());
        let one = AuditLiveInput {
            campaign_id: Some(3),
            ..Default::default()
        };
        assert!(matches!(AuditService::scope(&one), Ok(Scope::Campaign(3))));
    }

    #[test]
    fn deployed_states_map_to_the_status_last_set() {
        assert_eq!(
            expected_status(TicketStatus::Live),
            Some(LiveStatus::Active)
        );
        for s in [
            TicketStatus::Paused,
            TicketStatus::Ended,
            TicketStatus::TraffickedSuccess,
        ] {
            assert_eq!(expected_status(s), Some(LiveStatus::Paused));
        }
        assert_eq!(expected_status(TicketStatus::Draft), None);
    }
}
