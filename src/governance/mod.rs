//! The governance service: markets, brands, channels, campaigns, tickets and the taxonomy
//! operations that need the store. MCP and REST call this; it holds the rules.
//!
//! This file holds the service, its constructor and the lookups every area shares; each area
//! lives in its own file: `reference` (markets, brands, channels), `campaigns`, `tickets`,
//! `taxonomy_ops` (names, picklists and what renaming a code would do).

mod batch;
mod campaigns;
mod inputs;
mod outputs;
mod parents;
mod reference;
mod taxonomy_ops;
mod tickets;

pub use inputs::*;
pub use outputs::*;
pub(crate) use taxonomy_ops::CodeKind;

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
    /// What new tickets take from their campaign and channel (`parents`).
    parents: Arc<parents::ParentsCache>,
    /// New tickets written together (`batch`).
    batch: Arc<batch::TicketBatcher>,
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

/// A record's daily and lifetime budgets (fields `daily_{name}` and `lifetime_{name}`) after an
/// input that may set or clear each, as [`optional_money`] does.
fn optional_budgets(
    name: &str,
    currency: Currency,
    daily: Option<&str>,
    lifetime: Option<&str>,
    current: (Option<i64>, Option<i64>),
) -> AppResult<(Option<i64>, Option<i64>)> {
    Ok((
        optional_money(&format!("daily_{name}"), daily, currency, current.0)?,
        optional_money(&format!("lifetime_{name}"), lifetime, currency, current.1)?,
    ))
}

/// A governed code's record: a market, brand or channel. Found by its code, archived rather
/// than deleted, and renamed only through [`Governance::finish_update`].
pub(crate) trait CodedRecord: Sized {
    /// "market", "brand" or "channel".
    const WHAT: &'static str;
    const KIND: CodeKind;
    async fn find(c: &mut AnyConnection, code: &str) -> AppResult<Option<Self>>;
    /// Write the record back; returns it as stored.
    async fn save(c: &mut AnyConnection, record: &Self) -> AppResult<Self>;
    fn id(&self) -> i64;
    fn code_mut(&mut self) -> &mut String;
    fn archived_mut(&mut self) -> &mut bool;
}

macro_rules! coded_record {
    ($t:ty, $what:literal, $kind:ident, $find:path, $save:path) => {
        impl CodedRecord for $t {
            const WHAT: &'static str = $what;
            const KIND: CodeKind = CodeKind::$kind;
            async fn find(c: &mut AnyConnection, code: &str) -> AppResult<Option<Self>> {
                $find(c, code).await
            }
            async fn save(c: &mut AnyConnection, record: &Self) -> AppResult<Self> {
                $save(c, record).await
            }
            fn id(&self) -> i64 {
                self.id
            }
            fn code_mut(&mut self) -> &mut String {
                &mut self.code
            }
            fn archived_mut(&mut self) -> &mut bool {
                &mut self.archived
            }
        }
    };
}

coded_record!(
    Market,
    "market",
    Market,
    store::find_market,
    store::update_market
);
coded_record!(
    Brand,
    "brand",
    Brand,
    store::find_brand,
    store::update_brand
);
coded_record!(
    Channel,
    "channel",
    Channel,
    store::find_channel,
    store::update_channel
);

/// The record with the code in `raw` (the input field `field`), or a not-found error.
pub(crate) async fn must<T: CodedRecord>(
    c: &mut AnyConnection,
    field: &str,
    raw: &str,
) -> AppResult<T> {
    let code = Code::parse(field, raw)?;
    T::find(c, code.as_str())
        .await?
        .ok_or_else(|| missing::<T>(field, &code))
}

/// No `T` has this code: the error that says where to find the codes.
pub(crate) fn missing<T: CodedRecord>(field: &str, code: &Code) -> AppError {
    AppError::not_found(T::WHAT, code)
        .with_field(field, format!("list_{}s shows the codes", T::WHAT))
}

async fn must_campaign(c: &mut AnyConnection, id: i64) -> AppResult<Campaign> {
    store::get_campaign(c, id)
        .await?
        .ok_or_else(|| campaign_missing(id))
}

/// No campaign has this id.
fn campaign_missing(id: i64) -> AppError {
    AppError::not_found("campaign", id).with_field("campaign_id", "list_campaigns shows the ids")
}

pub(crate) async fn must_ticket(c: &mut AnyConnection, id: i64) -> AppResult<Ticket> {
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
            batch: Arc::new(batch::TicketBatcher::new(db.clone())),
            db,
            convention: Arc::new(convention),
            parents: Arc::default(),
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
