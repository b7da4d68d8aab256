-- pdca runtime schema, version 5 (sqlite): raised escalation rules write
-- outbox rows too (kind `escalation`, event_seq is the escalation event).
-- SQLite cannot alter a CHECK constraint: the table is rebuilt, rows and
-- ids kept.

CREATE TABLE outbox_v5 (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id    INTEGER NOT NULL REFERENCES instances (id),
    event_seq      INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('on_enter', 'breach', 'escalation')),
    recipient_role TEXT NOT NULL,
    recipient_id   TEXT,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    sent_at        TEXT,
    UNIQUE (instance_id, event_seq, kind, recipient_role)
);
INSERT INTO outbox_v5 (id, instance_id, event_seq, kind, recipient_role, recipient_id,
                       subject, body, created_at, sent_at)
    SELECT id, instance_id, event_seq, kind, recipient_role, recipient_id,
           subject, body, created_at, sent_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_v5 RENAME TO outbox;
CREATE INDEX outbox_pending ON outbox (sent_at, id);
