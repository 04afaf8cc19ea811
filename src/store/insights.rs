//! SQL for read-back: daily metrics per ticket, object and day, and each ticket's last sync.

use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{fetch_all_as, fetch_optional_as};
use crate::domain::now_text;
use crate::error::AppResult;

/// One day of one live object's metrics, as the platform reported them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyMetric {
    pub ticket_id: i64,
    pub platform: String,
    /// The `external_ids` key of the object (`campaign`).
    pub object: String,
    pub object_id: String,
    /// YYYY-MM-DD in the ad account's time zone.
    pub day: String,
    /// ISO 4217 code of the account currency.
    pub currency: String,
    /// Millionths of the currency's major unit (exact).
    pub spend_micros: i64,
    pub impressions: i64,
    pub clicks: i64,
    /// Thousandths of a conversion.
    pub conversions_milli: i64,
}

fn metric_from_row(r: &AnyRow) -> AppResult<DailyMetric> {
    Ok(DailyMetric {
        ticket_id: r.try_get("ticket_id")?,
        platform: r.try_get("platform")?,
        object: r.try_get("object")?,
        object_id: r.try_get("object_id")?,
        day: r.try_get("day")?,
        currency: r.try_get("currency")?,
        spend_micros: r.try_get("spend_micros")?,
        impressions: r.try_get("impressions")?,
        clicks: r.try_get("clicks")?,
        conversions_milli: r.try_get("conversions_milli")?,
    })
}

/// Replace one object's days in `[from, to]` with `rows` (a re-sync replaces a day, it never
/// adds to it). Rows outside the window are ignored.
pub async fn replace_daily(
    c: &mut AnyConnection,
    ticket_id: i64,
    object: &str,
    object_id: &str,
    (from, to): (&str, &str),
    rows: &[DailyMetric],
) -> AppResult<()> {
    sqlx::query(
        "DELETE FROM insights_daily WHERE ticket_id = $1 AND object = $2 AND object_id = $3 \
         AND day >= $4 AND day <= $5",
    )
    .bind(ticket_id)
    .bind(object)
    .bind(object_id)
    .bind(from)
    .bind(to)
    .execute(&mut *c)
    .await?;
    let now = now_text();
    for m in rows
        .iter()
        .filter(|m| m.day.as_str() >= from && m.day.as_str() <= to)
    {
        sqlx::query(
            "INSERT INTO insights_daily (ticket_id, platform, object, object_id, day, currency, \
             spend_micros, impressions, clicks, conversions_milli, synced_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (ticket_id, object, object_id, day) DO UPDATE SET \
             platform = excluded.platform, currency = excluded.currency, \
             spend_micros = excluded.spend_micros, impressions = excluded.impressions, \
             clicks = excluded.clicks, conversions_milli = excluded.conversions_milli, \
             synced_at = excluded.synced_at",
        )
        .bind(ticket_id)
        .bind(&m.platform)
        .bind(object)
        .bind(object_id)
        .bind(&m.day)
        .bind(&m.currency)
        .bind(m.spend_micros)
        .bind(m.impressions)
        .bind(m.clicks)
        .bind(m.conversions_milli)
        .bind(&now)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// Which tickets a metrics query covers.
#[derive(Debug, Clone)]
pub enum MetricScope<'a> {
    Tickets(&'a [i64]),
    Campaign(i64),
    Brand(&'a str),
}

/// Daily rows in scope with `day` in `[from, to]`, ordered by day, ticket and object.
pub async fn daily_metrics(
    c: &mut AnyConnection,
    scope: &MetricScope<'_>,
    (from, to): (&str, &str),
) -> AppResult<Vec<DailyMetric>> {
    // Only these constants go into the SQL; every value is bound.
    let base = "SELECT d.* FROM insights_daily d JOIN tickets t ON t.id = d.ticket_id \
                JOIN campaigns c ON c.id = t.campaign_id JOIN brands b ON b.id = c.brand_id \
                WHERE d.day >= $1 AND d.day <= $2";
    let order = " ORDER BY d.day, d.ticket_id, d.object, d.object_id";
    match scope {
        MetricScope::Tickets(ids) => {
            let mut out = Vec::new();
            for id in *ids {
                let sql = format!("{base} AND d.ticket_id = $3{order}");
                let q = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(from)
                    .bind(to)
                    .bind(*id);
                out.extend(fetch_all_as(&mut *c, q, metric_from_row).await?);
            }
            out.sort_by(|a, b| (&a.day, a.ticket_id).cmp(&(&b.day, b.ticket_id)));
            Ok(out)
        }
        MetricScope::Campaign(id) => {
            let sql = format!("{base} AND t.campaign_id = $3{order}");
            let q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(to)
                .bind(*id);
            fetch_all_as(c, q, metric_from_row).await
        }
        MetricScope::Brand(code) => {
            let sql = format!("{base} AND b.code = $3{order}");
            let q = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(from)
                .bind(to)
                .bind(*code);
            fetch_all_as(c, q, metric_from_row).await
        }
    }
}

/// A ticket's last sync.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncState {
    pub ticket_id: i64,
    /// When a sync last succeeded.
    pub synced_at: Option<String>,
    pub attempted_at: String,
    /// The last failure, cleared by a success.
    pub last_error: Option<Value>,
    /// Per live object, its delivery state and the platform's reasons.
    pub delivery: Option<Value>,
}

fn sync_from_row(r: &AnyRow) -> AppResult<SyncState> {
    let json = |col: &str| -> AppResult<Option<Value>> {
        let t: Option<String> = r.try_get(col)?;
        Ok(t.and_then(|t| serde_json::from_str(&t).ok()))
    };
    Ok(SyncState {
        ticket_id: r.try_get("ticket_id")?,
        synced_at: r.try_get("synced_at")?,
        attempted_at: r.try_get("attempted_at")?,
        last_error: json("last_error")?,
        delivery: json("delivery")?,
    })
}

pub async fn sync_state(c: &mut AnyConnection, ticket_id: i64) -> AppResult<Option<SyncState>> {
    let q = sqlx::query("SELECT * FROM insights_sync WHERE ticket_id = $1").bind(ticket_id);
    fetch_optional_as(c, q, sync_from_row).await
}

/// A successful sync: when, and the delivery it read (the last error is cleared).
pub async fn record_sync_ok(
    c: &mut AnyConnection,
    ticket_id: i64,
    delivery: &Value,
) -> AppResult<()> {
    // An upsert: two syncs of one ticket at once (a worker and sync_insights, or two
    // processes) both succeed, the later one winning.
    sqlx::query(
        "INSERT INTO insights_sync (ticket_id, synced_at, attempted_at, delivery) \
         VALUES ($1, $2, $2, $3) ON CONFLICT (ticket_id) DO UPDATE SET \
         synced_at = excluded.synced_at, attempted_at = excluded.attempted_at, \
         last_error = NULL, delivery = excluded.delivery",
    )
    .bind(ticket_id)
    .bind(now_text())
    .bind(delivery.to_string())
    .execute(c)
    .await?;
    Ok(())
}

/// A failed sync: the error is kept, the last good data and its time stay as they were.
pub async fn record_sync_failed(
    c: &mut AnyConnection,
    ticket_id: i64,
    error: &Value,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO insights_sync (ticket_id, attempted_at, last_error) VALUES ($1, $2, $3) \
         ON CONFLICT (ticket_id) DO UPDATE SET attempted_at = excluded.attempted_at, \
         last_error = excluded.last_error",
    )
    .bind(ticket_id)
    .bind(now_text())
    .bind(error.to_string())
    .execute(c)
    .await?;
    Ok(())
}

/// Tickets the scheduled sync reads: live or paused ones, and ended ones until `ended_since`
/// (late conversions still arrive for a few days).
pub async fn tickets_to_sync(c: &mut AnyConnection, ended_since: &str) -> AppResult<Vec<i64>> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM tickets WHERE status IN ('LIVE', 'PAUSED') \
         OR (status = 'ENDED' AND updated_at >= $1) ORDER BY id",
    )
    .bind(ended_since)
    .fetch_all(c)
    .await?;
    Ok(ids)
}

/// The last sync of every ticket in scope (one query for a campaign or a brand).
pub async fn sync_states_in(
    c: &mut AnyConnection,
    scope: &MetricScope<'_>,
) -> AppResult<Vec<SyncState>> {
    match scope {
        MetricScope::Tickets(ids) => {
            let mut out = Vec::new();
            for id in *ids {
                out.extend(sync_state(&mut *c, *id).await?);
            }
            Ok(out)
        }
        MetricScope::Campaign(id) => {
            let q = sqlx::query(
                "SELECT s.* FROM insights_sync s JOIN tickets t ON t.id = s.ticket_id \
                 WHERE t.campaign_id = $1",
            )
            .bind(*id);
            fetch_all_as(c, q, sync_from_row).await
        }
        MetricScope::Brand(code) => {
            let q = sqlx::query(
                "SELECT s.* FROM insights_sync s JOIN tickets t ON t.id = s.ticket_id \
                 JOIN campaigns c ON c.id = t.campaign_id JOIN brands b ON b.id = c.brand_id \
                 WHERE b.code = $1",
            )
            .bind(*code);
            fetch_all_as(c, q, sync_from_row).await
        }
    }
}

/// When each ticket in scope first went LIVE and first ENDED: (ticket id, status, time).
pub async fn first_live_and_end(
    c: &mut AnyConnection,
    scope: &MetricScope<'_>,
) -> AppResult<Vec<(i64, String, String)>> {
    fn row(r: &AnyRow) -> AppResult<(i64, String, String)> {
        Ok((
            r.try_get("ticket_id")?,
            r.try_get("to_status")?,
            r.try_get("at")?,
        ))
    }
    let base = "SELECT h.ticket_id AS ticket_id, h.to_status AS to_status, MIN(h.at) AS at \
                FROM ticket_history h JOIN tickets t ON t.id = h.ticket_id \
                WHERE h.to_status IN ('LIVE', 'ENDED')";
    let group = " GROUP BY h.ticket_id, h.to_status";
    // Only these constants go into the SQL; every value is bound.
    match scope {
        MetricScope::Tickets(ids) => {
            let mut out = Vec::new();
            for id in *ids {
                let sql = format!("{base} AND h.ticket_id = $1{group}");
                let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*id);
                out.extend(fetch_all_as(&mut *c, q, row).await?);
            }
            Ok(out)
        }
        MetricScope::Campaign(id) => {
            let sql = format!("{base} AND t.campaign_id = $1{group}");
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*id);
            fetch_all_as(c, q, row).await
        }
        MetricScope::Brand(code) => {
            let sql = format!(
                "{base} AND t.campaign_id IN (SELECT c.id FROM campaigns c JOIN brands b \
                 ON b.id = c.brand_id WHERE b.code = $1){group}"
            );
            let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*code);
            fetch_all_as(c, q, row).await
        }
    }
}
