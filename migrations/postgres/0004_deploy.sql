-- Deploy pipeline (PostgreSQL dialect). Keep in step with ../sqlite/0004_deploy.sql.
-- The job queue itself lives in apalis's own tables; these hold what ops and the worker need:
-- one row per deploy of a ticket, and every attempt against a platform.

CREATE TABLE deploy_runs (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT NOT NULL REFERENCES tickets(id),
    -- QUEUED: waiting for a worker; RUNNING: a worker holds the lease; WAITING: a retry is
    -- scheduled at next_attempt_at; then SUCCEEDED, FAILED or CANCELLED.
    state           TEXT NOT NULL CHECK (state IN ('QUEUED', 'RUNNING', 'WAITING', 'SUCCEEDED', 'FAILED', 'CANCELLED')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    -- The worker deploying it and until when; another worker may take over after lease_until.
    lease_owner     TEXT,
    lease_until     TEXT,
    last_error      TEXT,
    requested_by    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);
-- At most one unfinished deploy per ticket.
CREATE UNIQUE INDEX deploy_runs_one_active ON deploy_runs(ticket_id)
    WHERE state IN ('QUEUED', 'RUNNING', 'WAITING');
CREATE INDEX deploy_runs_state ON deploy_runs(state, lease_until);

-- Append-mostly: a CREATE row is written IN_FLIGHT before the request leaves, then closed,
-- so a worker that dies mid-request leaves evidence that the object may exist.
CREATE TABLE deploy_attempts (
    id          BIGSERIAL PRIMARY KEY,
    run_id      BIGINT NOT NULL REFERENCES deploy_runs(id),
    ticket_id   BIGINT NOT NULL REFERENCES tickets(id),
    attempt     BIGINT NOT NULL,
    object      TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('CREATE', 'LOOKUP', 'VALIDATE')),
    outcome     TEXT NOT NULL,
    external_id TEXT,
    http_status BIGINT,
    error       TEXT,
    latency_ms  BIGINT,
    worker      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX deploy_attempts_ticket ON deploy_attempts(ticket_id, object);
