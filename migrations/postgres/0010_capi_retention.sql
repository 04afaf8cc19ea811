-- Conversions API retention (PostgreSQL dialect). Keep in step with ../sqlite/0010_capi_retention.sql.
-- The retention sweep deletes finished events and expired dedupe keys by age, then the
-- batches no event points at; these indexes keep each of those deletes off a full scan.
CREATE INDEX capi_events_finished ON capi_events(status, received_epoch);
CREATE INDEX capi_events_batch ON capi_events(batch_id);
CREATE INDEX capi_dedupe_received ON capi_dedupe(received_epoch);
CREATE INDEX capi_batches_sent ON capi_batches(sent_at);
