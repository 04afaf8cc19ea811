-- Foundation schema (SQLite dialect). Keep in step with ../postgres/0001_foundation.sql.
-- Timestamps are RFC 3339 UTC text with a fixed width, so they sort as text in both dialects.
-- JSON documents are text: the application validates them; both dialects store them alike.

CREATE TABLE markets (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL UNIQUE,
    country     TEXT NOT NULL,
    region      TEXT NOT NULL,
    archived_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE brands (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    code                   TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    family_friendly        INTEGER NOT NULL DEFAULT 0,
    currency               TEXT NOT NULL,
    -- Per-brand QA limits in minor units of `currency`; NULL means the global default.
    daily_budget_limit_minor    INTEGER,
    lifetime_budget_limit_minor INTEGER,
    meta_pixel_id          TEXT,
    tiktok_pixel_code      TEXT,
    archived_at            TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE TABLE channels (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL UNIQUE,
    platform    TEXT NOT NULL CHECK (platform IN ('META', 'TIKTOK', 'GOOGLE_ADS')),
    account_id  TEXT NOT NULL,
    archived_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE campaigns (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id              INTEGER NOT NULL REFERENCES brands(id),
    market_id             INTEGER NOT NULL REFERENCES markets(id),
    name                  TEXT NOT NULL,
    year                  INTEGER NOT NULL,
    currency              TEXT NOT NULL,
    daily_budget_minor    INTEGER,
    lifetime_budget_minor INTEGER,
    start_date            TEXT,
    end_date              TEXT,
    archived_at           TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
);
CREATE INDEX campaigns_brand ON campaigns(brand_id);
CREATE INDEX campaigns_market ON campaigns(market_id);

CREATE TABLE tickets (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id    INTEGER NOT NULL REFERENCES campaigns(id),
    channel_id     INTEGER NOT NULL REFERENCES channels(id),
    request_type   TEXT NOT NULL,
    payload_config TEXT NOT NULL,
    platform_name  TEXT NOT NULL,
    status         TEXT NOT NULL,
    qa_report      TEXT,
    external_ids   TEXT NOT NULL DEFAULT '{}',
    -- Bumped on every change; later work uses it for optimistic concurrency.
    version        INTEGER NOT NULL DEFAULT 1,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX tickets_campaign ON tickets(campaign_id);
CREATE INDEX tickets_channel ON tickets(channel_id);
CREATE INDEX tickets_status ON tickets(status);

-- Append-only: the application never updates or deletes rows here.
CREATE TABLE ticket_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   INTEGER NOT NULL REFERENCES tickets(id),
    event       TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    at          TEXT NOT NULL
);
CREATE INDEX ticket_history_ticket ON ticket_history(ticket_id, id);

CREATE TABLE api_keys (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    -- SHA-256 of the whole key, hex. The key itself is shown once and never stored.
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    -- Brand codes a tracker key may send events for (JSON array); NULL = all.
    brand_scope  TEXT,
    created_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);

-- One row per naming convention; the active one names new tickets.
CREATE TABLE taxonomy_conventions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    definition TEXT NOT NULL,
    active     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
