-- Read-back from the platforms (PostgreSQL dialect). Keep in step with ../sqlite/0013_insights.sql.

-- Daily metrics per ticket, live object and day, as the platform reported them. Money is
-- exact: spend in millionths of the account currency's major unit (Meta and TikTok report
-- decimal strings, Google micros). A re-sync replaces a day, never adds to it.
CREATE TABLE insights_daily (
    ticket_id         BIGINT NOT NULL REFERENCES tickets(id),
    platform          TEXT NOT NULL,
    -- The external_ids key of the object (campaign) and its platform id.
    object            TEXT NOT NULL,
    object_id         TEXT NOT NULL,
    -- YYYY-MM-DD in the ad account's time zone.
    day               TEXT NOT NULL,
    currency          TEXT NOT NULL,
    spend_micros      BIGINT NOT NULL,
    impressions       BIGINT NOT NULL,
    clicks            BIGINT NOT NULL,
    -- Conversions in thousandths (Google reports fractional, attributed conversions).
    conversions_milli BIGINT NOT NULL,
    synced_at         TEXT NOT NULL,
    PRIMARY KEY (ticket_id, object, object_id, day)
);
CREATE INDEX insights_daily_day ON insights_daily(day, ticket_id);

-- The last sync of each ticket: when it last succeeded, the last failure, and what the
-- platform said of each live object's delivery (JSON, with the platform's own reasons).
CREATE TABLE insights_sync (
    ticket_id    BIGINT PRIMARY KEY REFERENCES tickets(id),
    synced_at    TEXT,
    attempted_at TEXT NOT NULL,
    last_error   TEXT,
    delivery     TEXT
);
