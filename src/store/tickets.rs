//! SQL for tickets and their append-only history. Only `crate::tickets` (the one writer)
//! calls the functions that change a ticket; the rest are reads.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::governance::{bind_brand_scope, brand_scope_clause, json_col, opt_json_col};
use super::{Db, fetch_all_as, fetch_optional_as};
use crate::domain::{HistoryEntry, Platform, RequestType, Ticket, TicketStatus, now_text};
use crate::error::{AppError, AppResult};

// ---------------------------------------------------------------- tickets

const TICKET_SELECT: &str = "SELECT t.*, ch.code AS channel_code, ch.platform AS platform \
     FROM tickets t JOIN channels ch ON ch.id = t.channel_id";

fn ticket_from_row(r: &AnyRow) -> AppResult<Ticket> {
    let status: String = r.try_get("status")?;
    let request_type: String = r.try_get("request_type")?;
    let platform: String = r.try_get("platform")?;
    Ok(Ticket {
        id: r.try_get("id")?,
        campaign_id: r.try_get("campaign_id")?,
        channel_code: r.try_get("channel_code")?,
        platform: Platform::parse("platform", &platform)?,
        request_type: RequestType::parse("request_type", &request_type)?,
        status: TicketStatus::parse("status", &status)?,
        platform_name: r.try_get("platform_name")?,
        payload_config: json_col(r, "payload_config")?,
        qa_report: opt_json_col(r, "qa_report")?,
        external_ids: json_col(r, "external_ids")?,
        live_state: opt_json_col(r, "live_state")?,
        version: r.try_get("version")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

#[derive(Debug, Default)]
pub struct TicketFilter<'a> {
    pub campaign_id: Option<i64>,
    /// A scoped key's brand codes: only their tickets.
    pub brands: Option<&'a [String]>,
    pub channel_id: Option<i64>,
    pub status: Option<TicketStatus>,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list_tickets(c: &mut AnyConnection, f: &TicketFilter<'_>) -> AppResult<Vec<Ticket>> {
    let scope = match f.brands {
        Some(_) => format!(
            "AND t.campaign_id IN (SELECT sc.id FROM campaigns sc JOIN brands sb ON sb.id = sc.brand_id WHERE TRUE {})",
            brand_scope_clause("sb.code", f.brands, 6)
        ),
        None => String::new(),
    };
    let sql = format!(
        "{TICKET_SELECT} WHERE ($1 IS NULL OR t.campaign_id = $1) AND ($2 IS NULL OR t.channel_id = $2) \
         AND ($3 IS NULL OR t.status = $3) {scope} ORDER BY t.id LIMIT $4 OFFSET $5"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.campaign_id)
        .bind(f.channel_id)
        .bind(f.status.map(|s| s.as_str()))
        .bind(f.limit)
        .bind(f.offset);
    fetch_all_as(c, bind_brand_scope(q, f.brands), ticket_from_row).await
}

pub async fn get_ticket(c: &mut AnyConnection, id: i64) -> AppResult<Option<Ticket>> {
    let sql = format!("{TICKET_SELECT} WHERE t.id = $1");
    let q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id);
    fetch_optional_as(c, q, ticket_from_row).await
}

/// Tickets whose name depends on a campaign, brand, market or channel.
pub async fn tickets_using(
    c: &mut AnyConnection,
    brand_id: Option<i64>,
    market_id: Option<i64>,
    channel_id: Option<i64>,
    campaign_id: Option<i64>,
) -> AppResult<Vec<Ticket>> {
    let sql = format!(
        "{TICKET_SELECT} JOIN campaigns c ON c.id = t.campaign_id \
         WHERE ($1 IS NULL OR c.brand_id = $1) AND ($2 IS NULL OR c.market_id = $2) \
         AND ($3 IS NULL OR t.channel_id = $3) AND ($4 IS NULL OR t.campaign_id = $4) ORDER BY t.id"
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(brand_id)
        .bind(market_id)
        .bind(channel_id)
        .bind(campaign_id);
    fetch_all_as(c, q, ticket_from_row).await
}

/// What a new ticket takes from its campaign and channel: the parts of its name, and the
/// channel it shows. Read once and remembered (`governance`), since creating tickets is the
/// busiest write; the insert checks every one of them again in the same round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketParents {
    pub campaign_id: i64,
    pub brand_code: String,
    pub market_code: String,
    pub campaign_name: String,
    pub year: i32,
    pub channel_id: i64,
    pub channel_code: String,
    pub platform: Platform,
}

pub struct NewTicket<'a> {
    /// Checked by the insert: the campaign and channel must still be so, and not archived.
    pub parents: &'a TicketParents,
    pub request_type: RequestType,
    /// The payload as JSON text.
    pub payload_config: &'a str,
    pub platform_name: &'a str,
    /// Who creates it, for its history row.
    pub actor: &'a str,
}

/// Tickets inserted by one call of [`insert_tickets`], at most.
pub(crate) const MAX_TICKETS_PER_INSERT: usize = 32;
const _: () = assert!(MAX_TICKETS_PER_INSERT.is_power_of_two());

/// What [`insert_tickets`] did.
pub enum Inserted {
    /// Each ticket's id in the order given (`None`, nothing written for it, when its campaign
    /// or channel is no longer as its `parents` say: changed, archived or gone), and their
    /// creation time.
    Written(Vec<Option<i64>>, String),
    /// The database refused a statement (a constraint, a trigger): none of them is written.
    Refused(AppError),
}

/// Insert DRAFT tickets, each with its CREATED history row (by its actor, its name as the
/// detail), in one round trip, at most [`MAX_TICKETS_PER_INSERT`] at a time. Any other
/// error than a refusal (the connection lost, say) may leave them written or not.
///
/// One round trip is all it takes: this is the hottest write (on SQLite every statement is
/// a hand-off to the connection's thread while the writer is held, on PostgreSQL one to the
/// server), and the campaign and channel are checked in the insert rather than read first.
/// - PostgreSQL inserts all rows in one statement: the tickets as a `VALUES` list, joined once
///   with their campaign and channel, each row that passes taking its id from the sequence;
///   both inserts read those rows (data-modifying `WITH`s).
/// - SQLite runs the inserts in one query (each ticket's parameters numbered on from the
///   previous ticket's), each history row taking its ticket's id from `last_insert_rowid()`
///   only when that ticket row was written (`changes() = 1`). They run in the savepoint
///   `ot_one`, which only a writer from `Db::begin_write_one` rolls back to if one fails:
///   make it through that.
///
/// The check is as good as each store's ordering of writes. On SQLite all writes are in one
/// order (the write lock), so a ticket always has the facts current when it was written. On
/// PostgreSQL (READ COMMITTED, no row locks) the check sees what was committed when the
/// statement began: a rename committing at that moment, whose sweep of draft tickets ran
/// before this ticket existed, can leave it with the old name (as the read before it could).
pub(crate) async fn insert_tickets(
    c: &mut AnyConnection,
    news: &[NewTicket<'_>],
) -> AppResult<Inserted> {
    // Padded to a power of two with tickets of no campaign (ids start at 1), which write
    // nothing: six queries in all rather than one per count, each prepared (on PostgreSQL
    // also planned) once per connection.
    let k = news.len().next_power_of_two();
    let Some(sql) = insert_tickets_sql(super::is_postgres(c), k).filter(|_| !news.is_empty())
    else {
        return Err(AppError::Internal(format!(
            "inserting {} tickets at once; between 1 and {MAX_TICKETS_PER_INSERT} can be",
            news.len()
        )));
    };
    let now = now_text();
    let mut q = sqlx::query_as::<_, (i64, i64)>(sql);
    for (i, n) in news
        .iter()
        .chain(news.last().into_iter().cycle())
        .take(k)
        .enumerate()
    {
        let p = n.parents;
        q = q
            .bind(if i < news.len() { p.campaign_id } else { -1 })
            .bind(p.channel_id)
            .bind(n.request_type.as_str())
            .bind(n.payload_config)
            .bind(n.platform_name)
            .bind(TicketStatus::Draft.as_str())
            .bind(&now)
            .bind(n.actor)
            .bind(&p.campaign_name)
            .bind(i64::from(p.year))
            .bind(&p.brand_code)
            .bind(&p.market_code)
            .bind(&p.channel_code)
            .bind(p.platform.as_str());
    }
    // `fetch_all`, not `fetch_optional`: sqlx's Any driver on SQLite answers from the first
    // statement's outcome alone (no row) and stops before the others.
    let rows = match q.fetch_all(c).await {
        Ok(rows) => rows,
        Err(e @ sqlx::Error::Database(_)) => return Ok(Inserted::Refused(e.into())),
        Err(e) => return Err(e.into()),
    };
    let mut ids = vec![None; news.len()];
    for (slot, id) in rows {
        match usize::try_from(slot).ok().and_then(|s| ids.get_mut(s)) {
            Some(place @ None) => *place = Some(id),
            _ => {
                return Err(AppError::Internal(format!(
                    "inserting {} tickets answered for ticket {slot} unexpectedly",
                    news.len()
                )));
            }
        }
    }
    Ok(Inserted::Written(ids, now))
}

/// The query [`insert_tickets`] runs for `k` tickets (a power of two): 14 parameters per
/// ticket (the first ticket's `$1` to `$14`, the next one's from `$15`), answering (its
/// place, its id) for each ticket written. Built once per dialect and count; `None` past
/// [`MAX_TICKETS_PER_INSERT`].
fn insert_tickets_sql(postgres: bool, k: usize) -> Option<&'static str> {
    use std::sync::OnceLock;
    const PER: usize = 14;
    // The ticket row, only if the campaign and channel are as remembered and not archived.
    const TICKET: &str = "INSERT INTO tickets (campaign_id, channel_id, request_type, \
         payload_config, platform_name, status, created_at, updated_at) \
         SELECT c.id, ch.id, $3, $4, $5, $6, $7, $7 FROM campaigns c \
         JOIN brands b ON b.id = c.brand_id JOIN markets m ON m.id = c.market_id \
         JOIN channels ch ON ch.id = $2 \
         WHERE c.id = $1 AND c.archived_at IS NULL AND c.name = $9 AND c.year = $10 \
         AND b.code = $11 AND m.code = $12 AND ch.code = $13 AND ch.platform = $14 \
         AND ch.archived_at IS NULL";
    const HISTORY: &str =
        "INSERT INTO ticket_history (ticket_id, event, from_status, to_status, actor, detail, at) ";
    // One per power of two up to the most: 1, 2, 4 … 32.
    const COUNTS: usize = MAX_TICKETS_PER_INSERT.trailing_zeros() as usize + 1;
    static SQL: [[OnceLock<String>; COUNTS]; 2] =
        [const { [const { OnceLock::new() }; COUNTS] }; 2];
    if !k.is_power_of_two() {
        return None;
    }
    let cell = SQL[usize::from(postgres)].get(k.trailing_zeros() as usize)?;
    let sql = cell.get_or_init(|| {
        let mut sql = String::new();
        if postgres {
            // One statement over a list of the tickets: the rows whose campaign and channel
            // are as remembered take an id (in the order given), then both inserts read them.
            // PostgreSQL plans one join, not one per ticket as a `WITH` per ticket did.
            sql.push_str("WITH n (slot, campaign_id, channel_id, request_type, payload_config, \
                 platform_name, status, at, actor, name, year, brand, market, channel_code, \
                 platform) AS (VALUES ");
            for i in 0..k {
                if i > 0 {
                    sql.push_str(", ");
                }
                let first = i * PER + 1;
                let params: Vec<String> = (first..first + PER).map(|p| format!("${p}")).collect();
                sql.push_str(&format!("(CAST({i} AS BIGINT), {})", params.join(", ")));
            }
            sql.push_str(
                "), w AS (SELECT n.*, nextval('tickets_id_seq') AS id FROM n \
                 JOIN campaigns c ON c.id = n.campaign_id JOIN brands b ON b.id = c.brand_id \
                 JOIN markets m ON m.id = c.market_id JOIN channels ch ON ch.id = n.channel_id \
                 WHERE c.archived_at IS NULL AND c.name = n.name AND c.year = n.year \
                 AND b.code = n.brand AND m.code = n.market AND ch.code = n.channel_code \
                 AND ch.platform = n.platform AND ch.archived_at IS NULL ORDER BY n.slot), \
                 t AS (INSERT INTO tickets (id, campaign_id, channel_id, request_type, \
                 payload_config, platform_name, status, created_at, updated_at) \
                 SELECT id, campaign_id, channel_id, request_type, payload_config, platform_name, \
                 status, at, at FROM w ORDER BY slot), \
                 h AS (",
            );
            sql.push_str(HISTORY);
            sql.push_str(
                "SELECT id, 'CREATED', NULL, status, actor, platform_name, at FROM w ORDER BY slot) \
                 SELECT slot, id FROM w",
            );
        } else {
            // In its own savepoint (`ot_one`, see `writer::UNDO_ONE_WRITE`), released by the
            // last statement: the writer undoes it all if a statement fails midway.
            sql.push_str("SAVEPOINT ot_one; ");
            for i in 0..k {
                let h = renumber(
                    "SELECT last_insert_rowid(), 'CREATED', NULL, $6, $8, $5, $7",
                    i * PER,
                );
                sql.push_str(&format!(
                    "{}; {HISTORY}{h} WHERE changes() = 1 RETURNING {i}, ticket_id; ",
                    renumber(TICKET, i * PER)
                ));
            }
            sql.push_str("RELEASE ot_one");
        }
        sql
    });
    Some(sql)
}

/// `sql` with every parameter `$n` written as `$(n + by)`.
fn renumber(sql: &str, by: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Write a ticket's editable fields (its channel by code), guarded by its version: returns
/// false when another writer changed it first. Only `tickets` calls this.
pub async fn update_ticket_row(
    c: &mut AnyConnection,
    t: &Ticket,
    expected_version: i64,
) -> AppResult<bool> {
    let done = sqlx::query(
        "UPDATE tickets SET channel_id = (SELECT id FROM channels WHERE code = $1), request_type = $2, \
         payload_config = $3, platform_name = $4, status = $5, qa_report = $6, external_ids = $7, \
         version = version + 1, updated_at = $8 WHERE id = $9 AND version = $10",
    )
    .bind(&t.channel_code)
    .bind(t.request_type.as_str())
    .bind(t.payload_config.to_string())
    .bind(&t.platform_name)
    .bind(t.status.as_str())
    .bind(t.qa_report.as_ref().map(|v| v.to_string()))
    .bind(t.external_ids.to_string())
    .bind(now_text())
    .bind(t.id)
    .bind(expected_version)
    .execute(c)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn append_history(
    c: &mut AnyConnection,
    ticket_id: i64,
    event: &str,
    from: Option<TicketStatus>,
    to: TicketStatus,
    actor: &str,
    detail: Option<&str>,
) -> AppResult<()> {
    sqlx::query(
        "INSERT INTO ticket_history (ticket_id, event, from_status, to_status, actor, detail, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket_id)
    .bind(event)
    .bind(from.map(|s| s.as_str()))
    .bind(to.as_str())
    .bind(actor)
    .bind(detail)
    .bind(now_text())
    .execute(c)
    .await?;
    Ok(())
}

fn history_from_row(r: &AnyRow) -> AppResult<HistoryEntry> {
    let from: Option<String> = r.try_get("from_status")?;
    let to: String = r.try_get("to_status")?;
    Ok(HistoryEntry {
        id: r.try_get("id")?,
        event: r.try_get("event")?,
        from_status: from
            .map(|s| TicketStatus::parse("from_status", &s))
            .transpose()?,
        to_status: TicketStatus::parse("to_status", &to)?,
        actor: r.try_get("actor")?,
        detail: r.try_get("detail")?,
        at: r.try_get("at")?,
    })
}

pub async fn ticket_history(c: &mut AnyConnection, ticket_id: i64) -> AppResult<Vec<HistoryEntry>> {
    let q = sqlx::query("SELECT * FROM ticket_history WHERE ticket_id = $1 ORDER BY id")
        .bind(ticket_id);
    fetch_all_as(c, q, history_from_row).await
}

/// The newest ticket history id (0 when there is none yet). Reads from the pool, for the
/// ticket watch, which runs outside any transaction.
pub async fn latest_ticket_history_id(db: &Db) -> AppResult<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM ticket_history")
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get::<i64, _>("m")?)
}

/// A ticket history entry as the ticket watch and the event stream see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketChange {
    pub history_id: i64,
    pub ticket_id: i64,
    /// CREATED, TRANSITION, EDITED, RENAMED ...
    pub event: String,
    /// The ticket's status after this entry, as stored.
    pub to_status: String,
    pub at: String,
    /// The ticket's brand, for brand-scoped listeners.
    pub brand_code: String,
}

/// Up to 1,000 history entries after `after_id`, oldest first. Reads from the pool, like
/// [`latest_ticket_history_id`]. A row that cannot be read is left out.
pub async fn ticket_changes_after(db: &Db, after_id: i64) -> AppResult<Vec<TicketChange>> {
    let rows = sqlx::query(
        "SELECT h.id, h.ticket_id, h.event, h.to_status, h.at, b.code AS brand_code \
         FROM ticket_history h JOIN tickets t ON t.id = h.ticket_id \
         JOIN campaigns c ON c.id = t.campaign_id JOIN brands b ON b.id = c.brand_id \
         WHERE h.id > $1 ORDER BY h.id LIMIT 1000",
    )
    .bind(after_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(TicketChange {
                history_id: r.try_get::<i64, _>("id").ok()?,
                ticket_id: r.try_get::<i64, _>("ticket_id").ok()?,
                event: r.try_get("event").ok()?,
                to_status: r.try_get("to_status").ok()?,
                at: r.try_get("at").ok()?,
                brand_code: r.try_get("brand_code").ok()?,
            })
        })
        .collect())
}

/// What the board filters on; `brands` is the key's scope.
#[derive(Debug, Default)]
pub struct BoardFilter<'a> {
    pub brands: Option<&'a [String]>,
    pub brand: Option<&'a str>,
    pub market: Option<&'a str>,
    pub channel: Option<&'a str>,
    pub limit: i64,
}

/// One ticket as the board shows it: where it stands and what it belongs to.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct BoardCard {
    pub id: i64,
    pub status: TicketStatus,
    /// The board column the status falls in (see the board's `columns`).
    pub column: &'static str,
    pub platform_name: String,
    pub brand_code: String,
    pub market_code: String,
    pub channel_code: String,
    pub platform: Platform,
    pub campaign_id: i64,
    pub campaign_name: String,
    pub updated_at: String,
    pub version: i64,
}

/// The newest `limit` tickets that are not cancelled, newest first.
pub async fn board_cards(c: &mut AnyConnection, f: &BoardFilter<'_>) -> AppResult<Vec<BoardCard>> {
    let sql = format!(
        "SELECT t.id, t.status, t.platform_name, t.campaign_id, t.updated_at, t.version, \
         ch.code AS channel_code, ch.platform AS platform, b.code AS brand_code, \
         m.code AS market_code, c.name AS campaign_name \
         FROM tickets t JOIN channels ch ON ch.id = t.channel_id \
         JOIN campaigns c ON c.id = t.campaign_id JOIN brands b ON b.id = c.brand_id \
         JOIN markets m ON m.id = c.market_id \
         WHERE t.status <> 'CANCELLED' AND ($1 IS NULL OR b.code = $1) \
         AND ($2 IS NULL OR m.code = $2) AND ($3 IS NULL OR ch.code = $3) {} \
         ORDER BY t.id DESC LIMIT $4",
        brand_scope_clause("b.code", f.brands, 5)
    );
    let q = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(f.brand)
        .bind(f.market)
        .bind(f.channel)
        .bind(f.limit);
    fetch_all_as(c, bind_brand_scope(q, f.brands), |r| {
        let status: String = r.try_get("status")?;
        let status = TicketStatus::parse("status", &status)?;
        let platform: String = r.try_get("platform")?;
        Ok(BoardCard {
            id: r.try_get("id")?,
            status,
            column: status.board_column(),
            platform_name: r.try_get("platform_name")?,
            brand_code: r.try_get("brand_code")?,
            market_code: r.try_get("market_code")?,
            channel_code: r.try_get("channel_code")?,
            platform: Platform::parse("platform", &platform)?,
            campaign_id: r.try_get("campaign_id")?,
            campaign_name: r.try_get("campaign_name")?,
            updated_at: r.try_get("updated_at")?,
            version: r.try_get("version")?,
        })
    })
    .await
}

/// The brand code of a ticket (through its campaign).
pub async fn ticket_brand(c: &mut AnyConnection, ticket_id: i64) -> AppResult<Option<String>> {
    let code = sqlx::query_scalar(
        "SELECT b.code AS code FROM tickets t JOIN campaigns c ON c.id = t.campaign_id \
         JOIN brands b ON b.id = c.brand_id WHERE t.id = $1",
    )
    .bind(ticket_id)
    .fetch_optional(c)
    .await?;
    Ok(code)
}

/// A ticket's current version (its optimistic-lock counter).
pub async fn ticket_version(c: &mut AnyConnection, ticket_id: i64) -> AppResult<Option<i64>> {
    let version = sqlx::query_scalar("SELECT version FROM tickets WHERE id = $1")
        .bind(ticket_id)
        .fetch_optional(c)
        .await?;
    Ok(version)
}

/// Record what the platform last said of a ticket's live objects (see `Ticket::live_state`).
pub async fn set_live_state(
    c: &mut AnyConnection,
    ticket_id: i64,
    state: &serde_json::Value,
) -> AppResult<()> {
    sqlx::query("UPDATE tickets SET live_state = $1 WHERE id = $2")
        .bind(state.to_string())
        .bind(ticket_id)
        .execute(c)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renumber_moves_every_parameter_and_nothing_else() {
        assert_eq!(
            renumber("a = $1 AND b = $14, '$', $x, $", 14),
            "a = $15 AND b = $28, '$', $x, $"
        );
        let two = insert_tickets_sql(false, 2).unwrap_or_default();
        assert!(two.contains("$28") && !two.contains("$29"), "{two}");
        assert!(insert_tickets_sql(true, 3).is_none());
        assert!(insert_tickets_sql(true, 64).is_none());
    }
}
