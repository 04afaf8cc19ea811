//! Append-only audit trails of the review queues: who did what to a fix proposal or a change,
//! when and why.

use schemars::JsonSchema;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::fetch_all_as;
use crate::domain::now_text;
use crate::error::AppResult;

/// Which trail: the table and the column naming what it is about.
#[derive(Debug, Clone, Copy)]
pub enum Trail {
    /// `fix_audit`: PROPOSED, QA_FAILED, APPROVED, APPLIED, REJECTED, SUPERSEDED,
    /// AUTO_APPLIED, ESCALATED.
    Fix,
    /// `change_audit`: REQUESTED, CONFIRMATION_ASKED, CONFIRMED, DECLINED, SENT_TO_REVIEW,
    /// APPROVED, REJECTED, QUEUED, APPLYING, RETRY, APPLIED, FAILED, CANCELLED.
    Change,
}

impl Trail {
    fn table_and_key(self) -> (&'static str, &'static str) {
        match self {
            Trail::Fix => ("fix_audit", "proposal_id"),
            Trail::Change => ("change_audit", "change_id"),
        }
    }
}

/// One entry of an audit trail.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AuditEntry {
    pub at: String,
    pub actor: String,
    /// What happened, e.g. APPROVED or APPLIED (see the trail's list).
    pub action: String,
    pub detail: Option<String>,
}

fn entry_from_row(r: &AnyRow) -> AppResult<AuditEntry> {
    Ok(AuditEntry {
        at: r.try_get("at")?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        detail: r.try_get("detail")?,
    })
}

pub async fn append_audit(
    trail: Trail,
    c: &mut AnyConnection,
    id: i64,
    actor: &str,
    action: &str,
    detail: Option<&str>,
) -> AppResult<()> {
    let (table, key) = trail.table_and_key();
    let sql = format!(
        "INSERT INTO {table} ({key}, at, actor, action, detail) VALUES ($1, $2, $3, $4, $5)"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(now_text())
        .bind(actor)
        .bind(action)
        .bind(detail)
        .execute(c)
        .await?;
    Ok(())
}

pub async fn audit_trail(
    trail: Trail,
    c: &mut AnyConnection,
    id: i64,
) -> AppResult<Vec<AuditEntry>> {
    let (table, key) = trail.table_and_key();
    let sql = format!("SELECT at, actor, action, detail FROM {table} WHERE {key} = $1 ORDER BY id");
    fetch_all_as(
        c,
        sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id),
        entry_from_row,
    )
    .await
}
