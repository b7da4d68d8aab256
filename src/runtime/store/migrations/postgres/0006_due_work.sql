-- pdca runtime schema, version 6 (postgres): approval timeouts, schedules,
-- and the outbox kinds of warnings and approval timeouts.
--
-- approval_timeouts: one row per approval with a `timeout` whose state an
-- instance is in, written in the transaction that enters the state and
-- deleted in the one that leaves it. `due_at` (RFC 3339, UTC, microseconds:
-- sorts as text) is null once `tick` has escalated the round, so the row
-- remembers that this round timed out; `entered_seq` is the event that
-- opened the round.
--
-- The outbox CHECK gains `warn` and `approval_timeout` (and lists
-- `escalation`, the kind of escalation rules, so that this migration stays
-- right whichever of the two lands first).
--
-- schedules: one row per deployed process with `schedule every`; `tick`
-- starts one instance when `next_due` is reached and moves it past now.
--
-- clocks (unchanged): `warn_at` is now the next warn threshold, `warned` the
-- thresholds reached in the clock's run, and `due_at` the earlier of
-- `warn_at` and the breach.

CREATE TABLE approval_timeouts (
    instance_id BIGINT NOT NULL REFERENCES instances (id),
    approval    TEXT   NOT NULL,
    due_at      TEXT,
    entered_seq BIGINT NOT NULL,
    timed_out_seq BIGINT,
    PRIMARY KEY (instance_id, approval)
);
CREATE INDEX approval_timeouts_due_at ON approval_timeouts (due_at);

CREATE TABLE schedules (
    process         TEXT PRIMARY KEY,
    every           TEXT NOT NULL,
    next_due        TEXT NOT NULL,
    last_instance   BIGINT,
    last_started_at TEXT
);
CREATE INDEX schedules_next_due ON schedules (next_due);

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('on_enter', 'breach', 'escalation', 'warn', 'approval_timeout'));
