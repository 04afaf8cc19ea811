-- Conversions API dedupe that holds under concurrent intake (SQLite dialect). Keep in step
-- with ../postgres/0009_capi_dedupe.sql.
-- One row per brand, destination, event name and event id: when it was last accepted. Intake
-- claims a key with one upsert, so two requests racing with the same event cannot both
-- queue it; a key older than the dedupe window is taken over.
CREATE TABLE capi_dedupe (
    brand_id       INTEGER NOT NULL REFERENCES brands(id),
    destination    TEXT NOT NULL,
    event_name     TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    received_epoch INTEGER NOT NULL,
    PRIMARY KEY (brand_id, destination, event_name, event_id)
);
INSERT INTO capi_dedupe (brand_id, destination, event_name, event_id, received_epoch)
SELECT brand_id, destination, event_name, event_id, MAX(received_epoch)
FROM capi_events GROUP BY brand_id, destination, event_name, event_id;
-- The dedupe lookup on capi_events is replaced by the table above.
DROP INDEX capi_events_dedupe;
