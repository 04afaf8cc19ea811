-- Conversions API relay (SQLite dialect). Keep in step with ../postgres/0007_capi.sql.

-- One row per event and destination, holding only what is sent (customer data hashed).
CREATE TABLE capi_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id    INTEGER NOT NULL REFERENCES brands(id),
    -- META or TIKTOK.
    destination TEXT NOT NULL,
    event_name  TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    event_time  INTEGER NOT NULL,
    payload     TEXT NOT NULL,
    test_event_code TEXT,
    -- QUEUED, SENT or FAILED.
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    batch_id    INTEGER,
    received_at TEXT NOT NULL,
    received_epoch INTEGER NOT NULL,
    -- When a worker claimed it for sending (status SENDING); a claim older than a minute
    -- is released by the sweep (the destinations dedupe a resent event_id).
    claimed_epoch  INTEGER
);
CREATE INDEX capi_events_dedupe ON capi_events(destination, event_name, event_id, received_epoch);
CREATE INDEX capi_events_queue ON capi_events(brand_id, destination, status, id);

-- Every request sent to a destination, for the audit trail.
CREATE TABLE capi_batches (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id        INTEGER NOT NULL REFERENCES brands(id),
    destination     TEXT NOT NULL,
    events          INTEGER NOT NULL,
    status          TEXT NOT NULL,
    events_received INTEGER,
    trace_id        TEXT,
    error           TEXT,
    latency_ms      INTEGER,
    sent_at         TEXT NOT NULL
);
