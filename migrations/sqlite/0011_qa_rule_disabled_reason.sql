-- QA rules the server switched off (SQLite dialect). Keep in step with
-- ../postgres/0010_qa_rule_disabled_reason.sql.
-- Why the server disabled a rule, e.g. it ran past its time budget; NULL when an admin's
-- setting decides. Saving the rule again clears it.
ALTER TABLE qa_rules ADD COLUMN disabled_reason TEXT;
