-- Pre-flight QA (SQLite dialect). Keep in step with ../postgres/0002_qa.sql.

-- Admin rules as data: a CEL expression that is true when the rule is violated.
CREATE TABLE qa_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    -- Scope: NULL means every brand / market / platform.
    brand_code  TEXT,
    market_code TEXT,
    platform    TEXT,
    expression  TEXT NOT NULL,
    severity    TEXT NOT NULL CHECK (severity IN ('BLOCK', 'WARN')),
    message     TEXT NOT NULL,
    -- JSON path of the field the rule is about, shown with each failure.
    field_path  TEXT,
    enabled     INTEGER NOT NULL DEFAULT 1,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Interests a family-friendly brand may never target, per platform.
CREATE TABLE blocked_interests (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    platform    TEXT NOT NULL,
    interest_id TEXT NOT NULL,
    category    TEXT NOT NULL CHECK (category IN ('ALCOHOL', 'ADULT', 'GAMBLING')),
    name        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (platform, interest_id)
);

INSERT INTO blocked_interests (platform, interest_id, category, name, created_at) VALUES
    ('META', '6003139266461', 'ALCOHOL', 'Alcoholic beverages', '2026-01-01T00:00:00.000000Z'),
    ('META', '6004854404172', 'ADULT', 'Adult entertainment', '2026-01-01T00:00:00.000000Z'),
    ('TIKTOK', '100001', 'ALCOHOL', 'Alcohol', '2026-01-01T00:00:00.000000Z'),
    ('TIKTOK', '100002', 'GAMBLING', 'Gambling', '2026-01-01T00:00:00.000000Z'),
    ('TIKTOK', '100003', 'ADULT', 'Adult', '2026-01-01T00:00:00.000000Z');
