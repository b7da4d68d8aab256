-- pdca runtime schema, version 8 (postgres): idempotency keys of the HTTP API's writes.
--
-- One row per (actor, key): the key is scoped to the actor that sent it.
-- It is inserted at the start of the write's transaction (a second request
-- with the same key waits on the primary key, or on SQLite's write lock)
-- and `response` (the answer's JSON text) is set before that transaction
-- commits, so a committed row always has its answer. `fingerprint` is what
-- the request asked for (route and body); `created_at` (RFC 3339, UTC,
-- microseconds: sorts as text) is when; the worker's tick deletes rows
-- older than the server's retention through the index on it.

CREATE TABLE idempotency_keys (
    actor       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    response    TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
