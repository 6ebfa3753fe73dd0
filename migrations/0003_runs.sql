-- Atelier vault schema, version 3: providers and key references, routing, runs and their
-- steps, banked assets with versions, reviews and lineage, and the kill switch.
-- Append-only: once released, this file never changes. Add 0004_… instead.

-- Facts about the vault itself. `vault_id` names its keychain entries, so two vaults on one
-- machine never read each other's keys.
CREATE TABLE vault_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO vault_meta (key, value) VALUES ('vault_id', lower(hex(randomblob(16))));

-- Key references. The key itself is only in the OS keychain, under (atelier:<vault_id>, name).
CREATE TABLE key_refs (
    name        TEXT    PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    -- The last `keys test`: when, and whether the provider accepted the key.
    tested_at   INTEGER,
    test_passed INTEGER CHECK (test_passed IN (0, 1))
) WITHOUT ROWID;

-- Providers added by the user (built-in ones are in code; a row of the same name replaces one).
CREATE TABLE providers (
    name       TEXT    PRIMARY KEY,
    format     TEXT    NOT NULL CHECK (format IN ('openai', 'anthropic', 'gemini')),
    base_url   TEXT    NOT NULL,
    key_ref    TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Routing by task class: an ordered list of provider:model per class.
CREATE TABLE routes (
    task_class TEXT    NOT NULL,
    position   INTEGER NOT NULL CHECK (position >= 0),
    model      TEXT    NOT NULL,
    PRIMARY KEY (task_class, position)
) WITHOUT ROWID;

-- One execution of a play. `play_text` pins the exact version (`play_version` is its SHA-256).
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    play          TEXT    NOT NULL,
    play_version  TEXT    NOT NULL,
    play_text     TEXT    NOT NULL,
    params        TEXT    NOT NULL,
    principal     TEXT    NOT NULL,
    task_id       INTEGER REFERENCES tasks (id),
    status        TEXT    NOT NULL CHECK (status IN
                      ('pending', 'running', 'passed', 'failed', 'cancelled')),
    -- Why it failed or was cancelled: gates, provider, interrupted, sealed, cancelled, error.
    reason        TEXT,
    message       TEXT,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros   INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER
);
CREATE INDEX runs_by_status ON runs (status);

-- Each step of a run, written when it starts and when it ends.
CREATE TABLE run_steps (
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    step          TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN
                      ('pending', 'running', 'passed', 'failed', 'cancelled', 'skipped')),
    role          TEXT    NOT NULL,
    model         TEXT,
    system_prompt TEXT,
    prompt        TEXT,
    -- JSON: the cited sources and what was cut; the gate results; the typed error; attempts.
    sources       TEXT,
    output        TEXT,
    gates         TEXT,
    error         TEXT,
    attempts      TEXT,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros   INTEGER NOT NULL DEFAULT 0,
    latency_ms    INTEGER,
    started_at    INTEGER,
    finished_at   INTEGER,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

-- Banked outputs. The bytes are in blobs/<first two hex>/<sha256>; a version points at one.
CREATE TABLE assets (
    id         INTEGER PRIMARY KEY,
    title      TEXT    NOT NULL,
    media_type TEXT    NOT NULL CHECK (media_type IN ('text/markdown', 'application/json')),
    state      TEXT    NOT NULL CHECK (state IN ('draft', 'in_review', 'approved', 'rejected')),
    task_id    INTEGER REFERENCES tasks (id),
    canon_id   INTEGER REFERENCES canon_blocks (id),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX assets_by_state ON assets (state);

CREATE TABLE asset_versions (
    asset_id   INTEGER NOT NULL REFERENCES assets (id),
    version    INTEGER NOT NULL CHECK (version >= 1),
    blob       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    run_id     INTEGER REFERENCES runs (id),
    step       TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (asset_id, version)
) WITHOUT ROWID;

-- Every approval move, with its note.
CREATE TABLE asset_reviews (
    id         INTEGER PRIMARY KEY,
    asset_id   INTEGER NOT NULL REFERENCES assets (id),
    version    INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    principal  TEXT    NOT NULL,
    note       TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX asset_reviews_by_asset ON asset_reviews (asset_id, id);

-- What a version was derived from: canon blocks, documents and passages it was given.
CREATE TABLE asset_sources (
    asset_id INTEGER NOT NULL REFERENCES assets (id),
    version  INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('canon', 'document', 'chunk')),
    ref_id   INTEGER NOT NULL,
    PRIMARY KEY (asset_id, version, kind, ref_id)
) WITHOUT ROWID;

-- The kill switch: one row while sealed.
CREATE TABLE kill_switch (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    principal TEXT    NOT NULL,
    reason    TEXT    NOT NULL DEFAULT '',
    sealed_at INTEGER NOT NULL
);
