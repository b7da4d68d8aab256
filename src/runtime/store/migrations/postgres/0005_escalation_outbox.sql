-- pdca runtime schema, version 5 (postgres): raised escalation rules write
-- outbox rows too (kind `escalation`, event_seq is the escalation event).

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('on_enter', 'breach', 'escalation'));
