-- pdca runtime schema, version 3 (postgres): SLA clocks.
-- One row per SLA an instance has entered the span of. Times are RFC 3339
-- in UTC with microseconds (sort as text); durations are whole business
-- minutes (wall-clock minutes for an SLA without a calendar).
-- `accumulated` counts the finished segments; `segment_started_at` is
-- null unless the clock runs; `due_at` (null unless running and not yet
-- breached) is when the remaining target time elapses. `warn_at` is
-- reserved for warn thresholds (not scheduled yet).

CREATE TABLE clocks (
    instance_id        BIGINT NOT NULL REFERENCES instances (id),
    sla                TEXT    NOT NULL,
    status             TEXT    NOT NULL CHECK (status IN ('running', 'paused', 'met', 'breached')),
    started_at         TEXT    NOT NULL,
    accumulated        BIGINT NOT NULL,
    segment_started_at TEXT,
    target             BIGINT NOT NULL,
    due_at             TEXT,
    warn_at            TEXT,
    warned             BIGINT NOT NULL DEFAULT 0,
    breached           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (instance_id, sla)
);
CREATE INDEX clocks_due_at ON clocks (due_at);
