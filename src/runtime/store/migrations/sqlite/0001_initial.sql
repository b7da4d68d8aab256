-- pdca runtime schema, version 1 (SQLite).
-- JSON and timestamps are TEXT: the stored bytes are exactly what pdca wrote
-- and hashed; timestamps are RFC 3339 in UTC with microseconds, so they sort
-- as text.

CREATE TABLE definitions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    process     TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    hash        TEXT    NOT NULL,
    ir          TEXT    NOT NULL,
    -- The version that new instances start on (one per process).
    active      BOOLEAN NOT NULL DEFAULT FALSE,
    deployed_at TEXT    NOT NULL,
    UNIQUE (process, version),
    UNIQUE (process, hash)
);
CREATE UNIQUE INDEX definitions_one_active ON definitions (process) WHERE active;

CREATE TABLE instances (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    process       TEXT    NOT NULL,
    definition_id INTEGER NOT NULL REFERENCES definitions (id),
    state         TEXT    NOT NULL,
    record        TEXT    NOT NULL,
    revision      INTEGER NOT NULL,
    created_at    TEXT    NOT NULL,
    updated_at    TEXT    NOT NULL
);
CREATE INDEX instances_process_state ON instances (process, state);

CREATE TABLE events (
    instance_id INTEGER NOT NULL REFERENCES instances (id),
    seq         INTEGER NOT NULL,
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    actor_roles TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    transition  TEXT,
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    patch       TEXT    NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL,
    PRIMARY KEY (instance_id, seq)
);

-- Events are append-only. The triggers stop mistakes; the hash chain
-- (`pdca audit verify`) detects whoever drops them.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
