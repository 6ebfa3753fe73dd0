-- Orchestration: the durable job queue, the scheduler's runs over task subtrees, and agent
-- threads.

-- One unit of background work. A job is `queued` until a worker leases it (`leased`, with an
-- owner and an expiry the worker renews by heartbeat); it ends `done`, or `dead` after its last
-- allowed attempt, keeping the last error. A lease that lapses (the worker crashed) sends the job
-- back to the queue on the next lease call.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    idempotency_key TEXT    UNIQUE,
    priority        INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'leased', 'done', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL CHECK (max_attempts >= 1),
    -- Times the process holding the lease died: not the job's fault, so not an attempt, but
    -- bounded so a job that kills its process cannot loop forever.
    interruptions   INTEGER NOT NULL DEFAULT 0,
    run_at          INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
-- The next job to lease: highest priority, then the one due first.
CREATE INDEX jobs_due ON jobs (state, priority DESC, run_at, id);
CREATE INDEX jobs_leases ON jobs (state, lease_until);

-- Agent threads (seed 004): hosts, roles and the scheduler coordinate through the vault.
CREATE TABLE threads (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    -- The newest message's seq: the next post takes last_seq + 1 in its transaction.
    last_seq   INTEGER NOT NULL DEFAULT 0
);

-- Who takes part, and how far each has acknowledged (a cursor that only moves forward).
CREATE TABLE thread_participants (
    thread_id INTEGER NOT NULL REFERENCES threads (id),
    principal TEXT    NOT NULL,
    joined_at INTEGER NOT NULL,
    acked_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (thread_id, principal)
) WITHOUT ROWID;

-- Messages in order: seq is 1, 2, 3… per thread with no gaps. A post retried with the same
-- author and idempotency key answers the first message.
CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    thread_id       INTEGER NOT NULL REFERENCES threads (id),
    seq             INTEGER NOT NULL,
    author          TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    idempotency_key TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (thread_id, seq),
    UNIQUE (thread_id, author, idempotency_key)
);

-- The scheduler working through a task subtree for the principal who started it. It stays
-- `running` while anything under its root can still move (including tasks waiting for a
-- person); it ends `finished` when the root closes, or `stopped` by a person.
CREATE TABLE orchestrations (
    id          INTEGER PRIMARY KEY,
    root_task   INTEGER NOT NULL REFERENCES tasks (id),
    principal   TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('running', 'finished', 'stopped')),
    -- Tasks its decomposition plays created, for the per-orchestration spawn cap.
    spawned     INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
);
CREATE INDEX orchestrations_running ON orchestrations (state);

-- The orchestration a task belongs to (stamped on its subtree when one starts, inherited by
-- tasks created under it), so a state change finds the tasks it may make ready without a scan.
ALTER TABLE tasks ADD COLUMN orchestration_id INTEGER REFERENCES orchestrations (id);
-- What a blocked task waits on: a failed dependency (`dependency`, the task) or a person's
-- approval of its output (`approval`, the asset).
ALTER TABLE tasks ADD COLUMN waiting_kind TEXT CHECK (waiting_kind IN ('dependency', 'approval'));
ALTER TABLE tasks ADD COLUMN waiting_on INTEGER;
-- Bumped by `reset`, so a retried task is a new job with a new idempotency key.
ALTER TABLE tasks ADD COLUMN attempt INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tasks_by_orchestration ON tasks (orchestration_id);
CREATE INDEX tasks_waiting ON tasks (waiting_kind, waiting_on);

-- A run started with an idempotency key (the scheduler's job key): a second start with the same
-- key answers the passed run instead of calling the model again.
ALTER TABLE runs ADD COLUMN idempotency_key TEXT;
CREATE INDEX runs_by_key ON runs (idempotency_key);
