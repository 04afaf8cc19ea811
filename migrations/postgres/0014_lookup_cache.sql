-- Platform lookups cached for a short while (PostgreSQL dialect). Keep in step with
-- ../sqlite/0014_lookup_cache.sql.

-- One platform answer per channel, lookup kind and normalised query (ad accounts, pages,
-- pixels, interest and location searches, reach estimates). The answer is the platform's
-- own (JSON text, never a credential); verdicts and flags are computed when it is read, so
-- a change to the blocked-interest list applies at once. An expired row is replaced.
CREATE TABLE lookup_cache (
    channel_code TEXT NOT NULL,
    kind         TEXT NOT NULL,
    query_key    TEXT NOT NULL,
    -- The channel's account when the answer was read: a changed account id misses.
    account_id   TEXT NOT NULL,
    body         TEXT NOT NULL,
    read_at      TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    PRIMARY KEY (channel_code, kind, query_key)
);
CREATE INDEX lookup_cache_expires ON lookup_cache(expires_at);
