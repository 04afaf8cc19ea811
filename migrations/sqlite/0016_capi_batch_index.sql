-- Conversion events indexed by batch only once they went out in one (SQLite dialect). Keep
-- in step with ../postgres/0016_capi_batch_index.sql.

-- An event has a batch_id only once a batch recorded it, and the index serves one lookup,
-- whether a batch still has events (`e.batch_id = b.id`, which implies NOT NULL). Until now
-- every event the intake queued took an entry (NULL) in it as well.
DROP INDEX capi_events_batch;
CREATE INDEX capi_events_batch ON capi_events(batch_id) WHERE batch_id IS NOT NULL;
