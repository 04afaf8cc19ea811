//! Performance memory: when every deployed ticket of a campaign has ended, a short factual
//! summary of its results becomes a document of its brand for the copilot, named after the
//! campaign, so `ask_copilot` answers "how did our last launch do on TikTok?" from facts and
//! cites the campaign. Re-syncs of ended tickets (late conversions) refresh it.

use std::collections::BTreeMap;

use super::query::Metrics;
use super::{DEPLOYED, InsightsService, MAX_TICKETS, currency_of};
use crate::copilot::IngestOutcome;
use crate::domain::{Platform, TicketStatus};
use crate::error::AppResult;
use crate::store::{self, DailyMetric, MetricScope};

/// The document name a campaign's results are kept under (and cited by); the id keeps two
/// campaigns of the same name apart.
pub fn results_document_name(campaign_name: &str, year: i32, campaign_id: i64) -> String {
    let name: String = campaign_name.chars().take(150).collect();
    format!("Results - {} {year} (campaign {campaign_id})", name.trim())
}

fn platform_name(p: &str) -> &str {
    match Platform::parse("platform", p) {
        Ok(Platform::Meta) => "Meta (Facebook, Instagram)",
        Ok(Platform::Tiktok) => "TikTok",
        Ok(Platform::GoogleAds) => "Google Ads",
        Err(_) => p,
    }
}

fn line(m: &Metrics, currency: &str) -> String {
    let mut parts = vec![
        format!("spend {} {currency}", m.spend),
        format!("{} impressions", m.impressions),
        format!("{} clicks", m.clicks),
    ];
    if let Some(ctr) = &m.ctr_percent {
        parts.push(format!("CTR {ctr} %"));
    }
    if let Some(cpc) = &m.cpc {
        parts.push(format!("CPC {cpc} {currency}"));
    }
    if let Some(cpm) = &m.cpm {
        parts.push(format!("CPM {cpm} {currency}"));
    }
    parts.push(format!("{} conversions", m.conversions));
    parts.join(", ")
}

impl InsightsService {
    /// Write (or refresh) the results document of `campaign_id` once all its deployed
    /// tickets have ended; None while any is still running or nothing was deployed.
    pub async fn remember_campaign(&self, campaign_id: i64) -> AppResult<Option<IngestOutcome>> {
        let Some(copilot) = &self.copilot else {
            return Ok(None);
        };
        let campaign = self.governance.get_campaign(campaign_id).await?;
        let brand = self.governance.get_brand(&campaign.brand_code).await?;
        let currency = currency_of(&brand.currency)?;
        let mut c = self.governance.db().pool().acquire().await?;
        let filter = store::TicketFilter {
            campaign_id: Some(campaign_id),
            limit: MAX_TICKETS,
            ..Default::default()
        };
        let all = store::list_tickets(&mut c, &filter).await?;
        // At the listing bound the rest is unknown: never summarise part of a campaign.
        let complete = (all.len() as i64) < MAX_TICKETS;
        let tickets: Vec<_> = all
            .into_iter()
            .filter(|t| DEPLOYED.contains(&t.status))
            .collect();
        if !complete
            || tickets.is_empty()
            || tickets.iter().any(|t| t.status != TicketStatus::Ended)
        {
            return Ok(None);
        }
        let ids: Vec<i64> = tickets.iter().map(|t| t.id).collect();
        let rows = store::daily_metrics(
            &mut c,
            &MetricScope::Tickets(&ids),
            ("0000-01-01", "9999-12-31"),
        )
        .await?;
        drop(c);
        let mine: Vec<&DailyMetric> = rows
            .iter()
            .filter(|r| r.currency == currency.as_str())
            .collect();
        let (first, last) = (
            mine.iter().map(|r| r.day.as_str()).min(),
            mine.iter().map(|r| r.day.as_str()).max(),
        );
        let dates = match (
            campaign.start_date.as_deref().or(first),
            campaign.end_date.as_deref().or(last),
        ) {
            (Some(a), Some(b)) => format!("from {a} to {b}"),
            _ => "with no delivery reported".to_owned(),
        };
        let mut per_platform: BTreeMap<String, Vec<&DailyMetric>> = BTreeMap::new();
        for r in &mine {
            per_platform.entry(r.platform.clone()).or_default().push(r);
        }
        let cur = currency.as_str();
        let mut text = format!(
            "Campaign results: {name} ({brand} {market} {year}), {dates}. \
             Performance as reported by the ad platforms and read by OmniTraffick after the campaign ended; money in {cur}.\n",
            name = campaign.name,
            brand = brand.name,
            market = campaign.market_code,
            year = campaign.year,
        );
        for (platform, rows) in &per_platform {
            let m = super::query::sum_metrics(rows.iter().copied(), currency);
            let names: Vec<&str> = tickets
                .iter()
                .filter(|t| t.platform.as_str() == platform)
                .map(|t| t.platform_name.as_str())
                .collect();
            let days = (
                rows.iter().map(|r| r.day.as_str()).min().unwrap_or("-"),
                rows.iter().map(|r| r.day.as_str()).max().unwrap_or("-"),
            );
            text.push_str(&format!(
                "On {} ({}), {} to {}: {}.\n",
                platform_name(platform),
                names.join(", "),
                days.0,
                days.1,
                line(&m, cur)
            ));
        }
        if per_platform.len() > 1 {
            let m = super::query::sum_metrics(mine.iter().copied(), currency);
            text.push_str(&format!("All platforms together: {}.\n", line(&m, cur)));
        }
        if per_platform.is_empty() {
            text.push_str("The platforms reported no delivery for it.\n");
        }
        let other = rows.len() - mine.len();
        if other > 0 {
            text.push_str(&format!(
                "{other} day(s) were reported in another currency than {cur} and are not included.\n"
            ));
        }
        let name = results_document_name(&campaign.name, campaign.year, campaign.id);
        Ok(Some(
            copilot.remember(&brand.code, &name, vec![text]).await?,
        ))
    }
}
