-- Atelier vault schema, version 1: tasks, canon, shapes, grants, audit, outbox.
-- Append-only: once released, this file never changes. Add 0002_… instead.

CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY,
    title          TEXT    NOT NULL,
    description    TEXT    NOT NULL DEFAULT '',
    state          TEXT    NOT NULL CHECK (state IN
                       ('pending', 'active', 'in_progress', 'blocked', 'completed', 'failed', 'cancelled')),
    parent_id      INTEGER REFERENCES tasks (id),
    role           TEXT,
    play           TEXT,
    priority       INTEGER NOT NULL DEFAULT 0,
    blocked_reason TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE INDEX tasks_by_parent ON tasks (parent_id);
CREATE INDEX tasks_by_state ON tasks (state);

CREATE TABLE task_dependencies (
    task_id    INTEGER NOT NULL REFERENCES tasks (id),
    depends_on INTEGER NOT NULL REFERENCES tasks (id),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (task_id, depends_on),
    CHECK (task_id <> depends_on)
) WITHOUT ROWID;
CREATE INDEX task_dependencies_by_target ON task_dependencies (depends_on, task_id);

CREATE TABLE canon_blocks (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '[]',
    tier       TEXT    NOT NULL CHECK (tier IN ('canon', 'secondary')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE shapes (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL CHECK (kind IN ('markdown', 'json_schema')),
    description TEXT    NOT NULL DEFAULT '',
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE grants (
    id          INTEGER PRIMARY KEY,
    principal   TEXT    NOT NULL,
    capability  TEXT    NOT NULL,
    scope       TEXT,
    expires_at  INTEGER,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX grants_by_principal ON grants (principal);

-- The audit log: append-only and hash-chained. `audit_head` is kept by a trigger so that a
-- truncated log is detectable; the triggers refuse edits and deletions and gaps in seq.
CREATE TABLE audit_events (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    principal  TEXT    NOT NULL,
    action     TEXT    NOT NULL,
    target     TEXT    NOT NULL,
    summary    TEXT    NOT NULL,
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_events_in_order BEFORE INSERT ON audit_events
WHEN NEW.seq <> (SELECT seq FROM audit_head WHERE id = 1) + 1
  OR NEW.prev_hash <> (SELECT hash FROM audit_head WHERE id = 1)
BEGIN
    SELECT RAISE(ABORT, 'audit events must extend the chain');
END;
CREATE TRIGGER audit_events_advance_head AFTER INSERT ON audit_events
BEGIN
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

-- Changes for the projections (Kuzu graph; later the vector index), written in the same
-- transaction as the change. Projectors record how far they applied inside the projection.
CREATE TABLE outbox (
    id         INTEGER PRIMARY KEY,
    topic      TEXT    NOT NULL,
    payload    TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);
