-- Creative asset registry (PostgreSQL dialect). Keep in step with ../sqlite/0015_assets.sql.

-- One row per brand and distinct content: the same bytes uploaded again find this row (the
-- SHA-256 is unique per brand). The bytes are kept so a later deploy can upload the asset to
-- another channel on demand.
CREATE TABLE assets (
    id          TEXT PRIMARY KEY,
    brand_code  TEXT NOT NULL REFERENCES brands(code),
    sha256      TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('IMAGE', 'VIDEO')),
    file_name   TEXT NOT NULL,
    byte_size   BIGINT NOT NULL,
    -- jpeg, png, gif, webp, mp4, mov ... (from the content, not the file name).
    format      TEXT NOT NULL,
    width       BIGINT,
    height      BIGINT,
    duration_ms BIGINT,
    content     BYTEA NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    UNIQUE (brand_code, sha256)
);
CREATE INDEX assets_brand ON assets(brand_code, created_at);

-- Each asset on each channel: the platform's id (Meta image hash or video_id, TikTok
-- image_id or video_id, Google asset resource name) and where the upload stands. SENDING
-- means a request left without an answer being recorded: the next attempt looks the asset
-- up on the platform before uploading again.
CREATE TABLE asset_uploads (
    asset_id     TEXT NOT NULL REFERENCES assets(id),
    channel_code TEXT NOT NULL REFERENCES channels(code),
    platform     TEXT NOT NULL,
    platform_id  TEXT,
    status       TEXT NOT NULL CHECK (status IN ('SENDING', 'UPLOADED', 'PROCESSING', 'READY', 'FAILED')),
    error        TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (asset_id, channel_code)
);
