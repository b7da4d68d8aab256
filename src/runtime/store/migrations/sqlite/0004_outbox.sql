-- pdca runtime schema, version 4 (sqlite): notification outbox.
-- One row per notification: per role of an `on enter` when an instance
-- enters a state (event_seq is the entering event), per `breach escalate
-- to` role when an SLA is breached (event_seq is the breach event).
-- The unique key makes each notification exist once per triggering event.
-- `sent_at` is null until a sender delivers it.

CREATE TABLE outbox (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    instance_id    INTEGER NOT NULL REFERENCES instances (id),
    event_seq      INTEGER NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('on_enter', 'breach')),
    recipient_role TEXT NOT NULL,
    recipient_id   TEXT,
    subject        TEXT NOT NULL,
    body           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    sent_at        TEXT,
    UNIQUE (instance_id, event_seq, kind, recipient_role)
);
CREATE INDEX outbox_pending ON outbox (sent_at, id);
