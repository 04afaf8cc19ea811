-- Per brand-and-market budget caps (SQLite dialect). Keep in step with ../postgres/0003_budget_caps.sql.
-- Amounts are integer minor units of the brand's currency. NULL means "use the brand's own cap,
-- else the global default" for that period.
CREATE TABLE market_budget_caps (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    brand_id             INTEGER NOT NULL REFERENCES brands (id),
    market_id            INTEGER NOT NULL REFERENCES markets (id),
    daily_limit_minor    INTEGER CHECK (daily_limit_minor > 0),
    lifetime_limit_minor INTEGER CHECK (lifetime_limit_minor > 0),
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    UNIQUE (brand_id, market_id)
);
