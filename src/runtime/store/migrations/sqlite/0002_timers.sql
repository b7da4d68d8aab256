-- pdca runtime schema, version 2 (SQLite): timers.
-- One row per `after` transition leaving the state an instance is in,
-- written in the transaction that enters the state and deleted in the one
-- that leaves it. `due_at` is RFC 3339 in UTC with microseconds (sorts as
-- text); `entered_seq` is the seq of the event that entered the state.

CREATE TABLE timers (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    transition  TEXT    NOT NULL,
    due_at      TEXT    NOT NULL,
    entered_seq INTEGER NOT NULL,
    PRIMARY KEY (instance_id, transition)
);
CREATE INDEX timers_due_at ON timers (due_at);
