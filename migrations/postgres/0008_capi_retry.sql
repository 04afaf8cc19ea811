-- Conversions API retries wait as the destination said (PostgreSQL dialect). Keep in step
-- with ../sqlite/0008_capi_retry.sql.
-- Unix seconds before which a QUEUED event is not sent again (NULL: now).
ALTER TABLE capi_events ADD COLUMN next_attempt_epoch BIGINT;
