//! SQL for fix proposals and their audit trail.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Db, GroupCount, group_counts};
use crate::domain::{ProposalStatus, Risk, now_text};
use crate::error::AppResult;

#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct FixProposal {
    pub id: i64,
    pub ticket_id: i64,
    /// The ticket version the patch was made against.
    pub ticket_version: i64,
    /// platform:code:subcode, e.g. "META:100:1487694".
    pub error_key: String,
    /// The platform error it answers (parsed).
    pub error: Value,
    /// RFC 6902 JSON Patch on the ticket's payload_config.
    pub patch: Value,
    pub rationale: String,
    /// RULE:<fixer>, LLM or ASSISTANT:<key name>.
    pub source: String,
    pub risk: Risk,
    /// QA of the patched ticket.
    pub qa_report: Option<Value>,
    pub status: ProposalStatus,
    /// The ticket's payload_config when the proposal was made.
    pub payload_before: Value,
    /// The payload_config with the patch applied.
    pub payload_after: Value,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Set when part of the stored record could not be read (those fields are null): the
    /// proposal is listed so it can be rejected, but it cannot be approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub damaged: Option<String>,
}

/// A JSON column; an unreadable one becomes null and is noted in `damaged`, so one bad row
/// never fails a whole page of the review queue.
fn json(r: &AnyRow, col: &str, damaged: &mut Vec<String>) -> AppResult<Value> {
    let t: String = r.try_get(col)?;
    Ok(serde_json::from_str(&t).unwrap_or_else(|e| {
        damaged.push(format!("{col}: {e}"));
        Value::Null
    }))
}

fn from_row(r: &AnyRow) -> AppResult<FixProposal> {
    let mut damaged = Vec::new();
    let qa: Option<String> = r.try_get("qa_report")?;
    let id: i64 = r.try_get("id")?;
    let proposal = FixProposal {
        id,
        ticket_id: r.try_get("ticket_id")?,
        ticket_version: r.try_get("ticket_version")?,
        error_key: r.try_get("error_key")?,
        error: json(r, "error", &mut damaged)?,
        patch: json(r, "patch", &mut damaged)?,
        rationale: r.try_get("rationale")?,
        source: r.try_get("source")?,
        // An unknown stored class reads as the highest, so it can never pass as SAFE.
        risk: Risk::parse("risk", &r.try_get::<String, _>("risk")?).unwrap_or_else(|e| {
            damaged.push(e.to_string());
            Risk::SpendIncrease
        }),
        qa_report: qa.and_then(|q| serde_json::from_str(&q).ok()),
        // An unknown stored status reads as one that can never be approved.
        status: ProposalStatus::parse("status", &r.try_get::<String, _>("status")?).unwrap_or_else(
            |e| {
                damaged.push(e.to_string());
                ProposalStatus::QaFailed
            },
        ),
        payload_before: json(r, "payload_before", &mut damaged)?,
        payload_after: json(r, "payload_after", &mut damaged)?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        damaged: None,
    };
    if damaged.is_empty() {
        return Ok(proposal);
    }
    let why = damaged.join("; ");
    tracing::warn!(proposal = id, problem = %why, "fix proposal has unreadable stored JSON");
    Ok(FixProposal {
        damaged: Some(why),
        ..proposal
    })
}

pub struct NewProposal<'a> {
    pub ticket_id: i64,
    pub ticket_version: i64,
    pub error_key: &'a str,
    pub error: &'a Value,
    pub patch: &'a Value,
    pub rationale: &'a str,
    pub source: &'a str,
    pub risk: Risk,
    pub qa_report: Option<&'a Value>,
    pub status: ProposalStatus,
    pub payload_before: &'a Value,
    pub payload_after: &'a Value,
    pub created_by: &'a str,
}

pub async fn insert_proposal(c: &mut AnyConnection, p: &NewProposal<'_>) -> AppResult<i64> {
    let now = now_text();
    let row = sqlx::query(
        "INSERT INTO fix_proposals (ticket_id, ticket_version, error_key, error, patch, rationale, source, risk, \
         qa_report, status, payload_before, payload_after, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
    )
    .bind(p.ticket_id)
    .bind(p.ticket_version)
    .bind(p.error_key)
    .bind(p.error.to_string())
    .bind(p.patch.to_string())
    .bind(p.rationale)
    .bind(p.source)
    .bind(p.risk.as_str())
    .bind(p.qa_report.map(|q| q.to_string()))
    .bind(p.status.as_str())
    .bind(p.payload_before.to_string())
    .bind(p.payload_after.to_string())
    .bind(p.created_by)
    .bind(&now)
    .fetch_one(c)
    .await?;
    Ok(row.try_get("id")?)
}

pub async fn get_proposal(c: &mut AnyConnection, id: i64) -> AppResult<Option<FixProposal>> {
    let row = sqlx::query("SELECT * FROM fix_proposals WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    row.as_ref().map(from_row).transpose()
}

/// Proposals, newest first, optionally by status and ticket; `before_id` pages by id.
pub async fn list_proposals(
    c: &mut AnyConnection,
    status: Option<ProposalStatus>,
    ticket_id: Option<i64>,
    before_id: Option<i64>,
    limit: i64,
    brands: Option<&[String]>,
) -> AppResult<Vec<FixProposal>> {
    let page = ReviewPage {
        status: status.map(ProposalStatus::as_str),
        ticket_id,
        before_id,
        limit,
        brands,
    };
    page.fetch(c, "fix_proposals", from_row).await
}

/// A page of a review queue (fix proposals, changes): newest first, optionally by status and
/// ticket, within the caller's brands.
pub(crate) struct ReviewPage<'a> {
    pub status: Option<&'a str>,
    pub ticket_id: Option<i64>,
    pub before_id: Option<i64>,
    pub limit: i64,
    pub brands: Option<&'a [String]>,
}

impl ReviewPage<'_> {
    pub(crate) async fn fetch<T>(
        &self,
        c: &mut AnyConnection,
        table: &'static str,
        map: super::RowMap<T>,
    ) -> AppResult<Vec<T>> {
        let scope = match self.brands {
            Some(_) => format!(
                "AND ticket_id IN (SELECT st.id FROM tickets st JOIN campaigns sc ON sc.id = st.campaign_id \
                 JOIN brands sb ON sb.id = sc.brand_id WHERE TRUE {})",
                super::governance::brand_scope_clause("sb.code", self.brands, 5)
            ),
            None => String::new(),
        };
        let sql = format!(
            "SELECT * FROM {table} WHERE ($1 IS NULL OR status = $1) AND ($2 IS NULL OR ticket_id = $2) \
             AND ($3 IS NULL OR id < $3) {scope} ORDER BY id DESC LIMIT $4"
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(self.status)
            .bind(self.ticket_id)
            .bind(self.before_id)
            .bind(self.limit);
        for b in self.brands.unwrap_or_default() {
            q = q.bind(b.as_str());
        }
        super::fetch_all_as(c, q, map).await
    }
}

/// Move a proposal from one status to another; false when it was not in `from`.
pub async fn move_proposal(
    c: &mut AnyConnection,
    id: i64,
    from: ProposalStatus,
    to: ProposalStatus,
) -> AppResult<bool> {
    let r = sqlx::query(
        "UPDATE fix_proposals SET status = $1, updated_at = $2 WHERE id = $3 AND status = $4",
    )
    .bind(to.as_str())
    .bind(now_text())
    .bind(id)
    .bind(from.as_str())
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Supersede every other pending proposal of the ticket.
pub async fn supersede_others(
    c: &mut AnyConnection,
    ticket_id: i64,
    keep: i64,
) -> AppResult<Vec<i64>> {
    let rows = sqlx::query(
        "SELECT id FROM fix_proposals WHERE ticket_id = $1 AND id <> $2 AND status = 'PENDING_REVIEW'",
    )
    .bind(ticket_id)
    .bind(keep)
    .fetch_all(&mut *c)
    .await?;
    let ids: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    for id in &ids {
        move_proposal(
            c,
            *id,
            ProposalStatus::PendingReview,
            ProposalStatus::Superseded,
        )
        .await?;
    }
    Ok(ids)
}

/// How many proposals the ticket has for this error, and how many of them were applied.
pub async fn proposal_counts(
    c: &mut AnyConnection,
    ticket_id: i64,
    error_key: &str,
) -> AppResult<(i64, i64)> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN status = 'APPLIED' THEN 1 ELSE 0 END), 0) AS applied \
         FROM fix_proposals WHERE ticket_id = $1 AND error_key = $2",
    )
    .bind(ticket_id)
    .bind(error_key)
    .fetch_one(c)
    .await?;
    Ok((row.try_get("n")?, row.try_get("applied")?))
}

/// The ticket a proposal belongs to.
pub async fn proposal_ticket(c: &mut AnyConnection, id: i64) -> AppResult<Option<i64>> {
    let row = sqlx::query("SELECT ticket_id FROM fix_proposals WHERE id = $1")
        .bind(id)
        .fetch_optional(c)
        .await?;
    Ok(row.map(|r| r.try_get("ticket_id")).transpose()?)
}

/// Fix proposals counted by status.
pub async fn fix_proposals_by_status(db: &Db) -> AppResult<Vec<GroupCount>> {
    group_counts(
        db,
        "SELECT status AS k, COUNT(*) AS n FROM fix_proposals GROUP BY status",
    )
    .await
}

/// DEPLOY_FAILED tickets that self-healing never looked at: the failure is their latest
/// history row, older than `before`, with no proposal made since. With the id of the run
/// that failed.
pub async fn unhealed_failures(c: &mut AnyConnection, before: &str) -> AppResult<Vec<(i64, i64)>> {
    let rows = sqlx::query(
        "SELECT t.id AS ticket_id, (SELECT MAX(r.id) FROM deploy_runs r WHERE r.ticket_id = t.id) AS run_id \
         FROM tickets t JOIN ticket_history h \
           ON h.id = (SELECT MAX(h2.id) FROM ticket_history h2 WHERE h2.ticket_id = t.id) \
         WHERE t.status = 'DEPLOY_FAILED' AND h.to_status = 'DEPLOY_FAILED' \
           AND h.from_status = 'DEPLOYING' AND h.at < $1 \
           AND NOT EXISTS (SELECT 1 FROM fix_proposals p WHERE p.ticket_id = t.id AND p.created_at >= h.at) \
         ORDER BY t.id LIMIT 50",
    )
    .bind(before)
    .fetch_all(c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("ticket_id")?,
                r.try_get::<Option<i64>, _>("run_id")?.unwrap_or(0),
            ))
        })
        .collect()
}
