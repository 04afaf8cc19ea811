//! The governance service: markets, brands, channels, campaigns, tickets and the taxonomy
//! operations that need the store. MCP and REST call this; it holds the rules.
//!
//! This file holds the service, its constructor and the lookups every area shares; each area
//! lives in its own file: `reference` (markets, brands, channels), `campaigns`, `tickets`,
//! `taxonomy_ops` (names, picklists and what renaming a code would do).

mod campaigns;
mod inputs;
mod outputs;
mod reference;
mod taxonomy_ops;
mod tickets;

pub use inputs::*;
pub use outputs::*;

use sqlx::AnyConnection;
use std::sync::Arc;

use crate::domain::{Brand, Campaign, Channel, Code, Currency, Market, Money, Ticket};
use crate::error::{AppError, AppResult};
use crate::store::{self, Db};
use crate::taxonomy::TaxonomyConvention;

#[derive(Clone)]
pub struct Governance {
    db: Db,
    convention: Arc<TaxonomyConvention>,
}

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 500;

fn page(limit: Option<i64>, offset: Option<i64>) -> AppResult<(i64, i64)> {
    let limit = limit.unwrap_or(DEFAULT_PAGE);
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(AppError::validation(
            "limit",
            format!("must be between 1 and {MAX_PAGE}; got {limit}"),
        ));
    }
    let offset = offset.unwrap_or(0);
    if offset < 0 {
        return Err(AppError::validation(
            "offset",
            format!("must be 0 or more; got {offset}"),
        ));
    }
    Ok((limit, offset))
}

fn next_offset(len: usize, limit: i64, offset: i64) -> Option<i64> {
    (len as i64 == limit).then_some(offset + limit)
}

fn optional_money(
    field: &str,
    raw: Option<&str>,
    currency: Currency,
    current: Option<i64>,
) -> AppResult<Option<i64>> {
    match raw {
        None => Ok(current),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => {
            let m = Money::parse_major(field, s, currency)?;
            if m.amount_minor == 0 {
                return Err(AppError::validation(
                    field,
                    "must be greater than zero; use \"\" to remove it",
                ));
            }
            Ok(Some(m.amount_minor))
        }
    }
}

pub(crate) async fn must_market(
    c: &mut AnyConnection,
    field: &str,
    raw: &str,
) -> AppResult<Market> {
    let code = Code::parse(field, raw)?;
    store::find_market(c, code.as_str()).await?.ok_or_else(|| {
        AppError::not_found("market", code).with_field(field, "list_markets shows the codes")
    })
}

pub(crate) async fn must_brand(c: &mut AnyConnection, field: &str, raw: &str) -> AppResult<Brand> {
    let code = Code::parse(field, raw)?;
    store::find_brand(c, code.as_str()).await?.ok_or_else(|| {
        AppError::not_found("brand", code).with_field(field, "list_brands shows the codes")
    })
}

async fn must_channel(c: &mut AnyConnection, field: &str, raw: &str) -> AppResult<Channel> {
    let code = Code::parse(field, raw)?;
    store::find_channel(c, code.as_str()).await?.ok_or_else(|| {
        AppError::not_found("channel", code).with_field(field, "list_channels shows the codes")
    })
}

async fn must_campaign(c: &mut AnyConnection, id: i64) -> AppResult<Campaign> {
    store::get_campaign(c, id).await?.ok_or_else(|| {
        AppError::not_found("campaign", id)
            .with_field("campaign_id", "list_campaigns shows the ids")
    })
}

async fn must_ticket(c: &mut AnyConnection, id: i64) -> AppResult<Ticket> {
    store::get_ticket(c, id).await?.ok_or_else(|| {
        AppError::not_found("ticket", id).with_field("ticket_id", "list_tickets shows the ids")
    })
}

fn not_archived(what: &str, code: &str, archived: bool, field: &str) -> AppResult<()> {
    if archived {
        Err(AppError::conflict(
            Some(field),
            format!(
                "{what} {code} is archived; pick an active one or restore it with update_{what} {{\"code\": \"{code}\", \"archived\": false}}"
            ),
        ))
    } else {
        Ok(())
    }
}

impl Governance {
    /// Load (or seed) the active naming convention.
    pub async fn new(db: Db) -> AppResult<Self> {
        let mut conn = db.pool().acquire().await?;
        let convention = match store::active_convention(&mut conn).await? {
            Some(def) => serde_json::from_str(&def).map_err(|e| {
                AppError::Internal(format!("stored taxonomy convention is invalid: {e}"))
            })?,
            None => {
                let c = TaxonomyConvention::default();
                let def =
                    serde_json::to_string(&c).map_err(|e| AppError::Internal(e.to_string()))?;
                store::insert_convention(&mut conn, "default", &def).await?;
                c
            }
        };
        Ok(Self {
            db,
            convention: Arc::new(convention),
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn convention(&self) -> &TaxonomyConvention {
        &self.convention
    }

    async fn conn(&self) -> AppResult<sqlx::pool::PoolConnection<sqlx::Any>> {
        Ok(self.db.pool().acquire().await?)
    }
}
