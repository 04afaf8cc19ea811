-- Changes to live campaigns (PostgreSQL dialect). Keep in step with ../sqlite/0012_changes.sql.

-- Spend increases above these go to ops review (minor units of the brand's currency a day,
-- and a percentage of the current daily spend); NULL means the default.
ALTER TABLE brands ADD COLUMN change_review_daily_minor BIGINT;
-- What the platform last said of the ticket's live objects (JSON: read_at, per object its
-- delivery state), written when a change is applied.
ALTER TABLE tickets ADD COLUMN live_state TEXT;

ALTER TABLE brands ADD COLUMN change_review_percent BIGINT;

-- A change to a deployed ticket's live objects: launch, pause, resume, end or an edit of
-- payload_config, with its before and after, risk, QA report and per-object results.
CREATE TABLE ticket_changes (
    id               BIGSERIAL PRIMARY KEY,
    ticket_id        BIGINT NOT NULL REFERENCES tickets(id),
    kind             TEXT NOT NULL CHECK (kind IN ('LAUNCH', 'PAUSE', 'RESUME', 'END', 'EDIT')),
    status           TEXT NOT NULL CHECK (status IN ('NEEDS_CONFIRMATION', 'PENDING_REVIEW', 'QUEUED', 'APPLYING', 'APPLIED', 'FAILED', 'REJECTED', 'CANCELLED')),
    risk             TEXT NOT NULL CHECK (risk IN ('SAFE', 'SPEND_INCREASE', 'TARGETING_WIDENING', 'CREATIVE_CHANGE')),
    -- The ticket's version when the change was asked for; applying refuses a changed ticket.
    ticket_version   BIGINT NOT NULL,
    payload_before   TEXT NOT NULL,
    payload_after    TEXT NOT NULL,
    -- [{"path", "before", "after"}] of every field that differs.
    diff             TEXT NOT NULL,
    -- Daily spend before and after, in minor units of `currency`.
    daily_before_minor BIGINT,
    daily_after_minor  BIGINT,
    currency         TEXT NOT NULL,
    qa_report        TEXT,
    reason           TEXT NOT NULL,
    -- The change this one undoes, for rollbacks.
    rollback_of      BIGINT REFERENCES ticket_changes(id),
    -- SHA-256 (hex) of the one-time confirmation token, and when it stops working.
    token_hash       TEXT,
    token_expires_at TEXT,
    -- Per-object outcome of the last application attempt.
    results          TEXT NOT NULL DEFAULT '[]',
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,
    last_error       TEXT,
    requested_by     TEXT NOT NULL,
    decided_by       TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX ticket_changes_ticket ON ticket_changes(ticket_id, id);
CREATE INDEX ticket_changes_status ON ticket_changes(status, id);
-- At most one change per ticket in progress, whatever the writers' isolation level.
CREATE UNIQUE INDEX ticket_changes_one_open ON ticket_changes(ticket_id)
    WHERE status IN ('NEEDS_CONFIRMATION', 'PENDING_REVIEW', 'QUEUED', 'APPLYING');

-- Append-only: who did what to a change, when and why.
CREATE TABLE change_audit (
    id        BIGSERIAL PRIMARY KEY,
    change_id BIGINT NOT NULL REFERENCES ticket_changes(id),
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    detail    TEXT
);
CREATE INDEX change_audit_change ON change_audit(change_id, id);
