-- Self-healing (PostgreSQL dialect). Keep in step with ../sqlite/0006_healing.sql.

-- A proposed fix for a ticket the platform refused: an RFC 6902 patch on payload_config,
-- proven against QA before anyone is asked to approve it.
CREATE TABLE fix_proposals (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT NOT NULL REFERENCES tickets(id),
    -- The ticket's version the patch was computed against; approval refuses a changed ticket.
    ticket_version  BIGINT NOT NULL,
    -- platform:code:subcode of the error it answers, e.g. "META:100:1487694".
    error_key       TEXT NOT NULL,
    error           TEXT NOT NULL,
    patch           TEXT NOT NULL,
    rationale       TEXT NOT NULL,
    -- RULE:<fixer>, LLM, or ASSISTANT:<key name>.
    source          TEXT NOT NULL,
    risk            TEXT NOT NULL CHECK (risk IN ('SAFE', 'SPEND_INCREASE', 'TARGETING_WIDENING', 'CREATIVE_CHANGE')),
    qa_report       TEXT,
    status          TEXT NOT NULL CHECK (status IN ('PENDING_REVIEW', 'APPROVED', 'REJECTED', 'APPLIED', 'QA_FAILED', 'SUPERSEDED')),
    payload_before  TEXT NOT NULL,
    payload_after   TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX fix_proposals_ticket ON fix_proposals(ticket_id, error_key);
CREATE INDEX fix_proposals_status ON fix_proposals(status, id);

-- Append-only: who did what to a proposal, when and why.
CREATE TABLE fix_audit (
    id          BIGSERIAL PRIMARY KEY,
    proposal_id BIGINT NOT NULL REFERENCES fix_proposals(id),
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT
);
CREATE INDEX fix_audit_proposal ON fix_audit(proposal_id, id);
