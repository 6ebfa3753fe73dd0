-- Atelier vault schema, version 2: projects and their documents, chunks, links, tags,
-- embeddings and hook rules; the full-text index over chunks.
-- Append-only: once released, this file never changes. Add 0003_… instead.

CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    -- The canonical absolute path of the folder.
    root        TEXT    NOT NULL UNIQUE,
    -- Whether the desktop app and `atelier watch` keep it in sync.
    watch       INTEGER NOT NULL DEFAULT 0 CHECK (watch IN (0, 1)),
    created_at  INTEGER NOT NULL,
    ingested_at INTEGER
);

CREATE TABLE documents (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- Relative to the project root, `/`-separated.
    path         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN
                     ('markdown', 'text', 'fountain', 'org', 'rst', 'code')),
    title        TEXT    NOT NULL,
    -- SHA-256 of the file's bytes: unchanged files are skipped by it.
    content_hash TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    -- Modification time in ms, a cheap first check before hashing.
    modified_at  INTEGER NOT NULL,
    -- Frontmatter as a JSON object (every key kept), aliases as a JSON array.
    frontmatter  TEXT    NOT NULL DEFAULT '{}',
    aliases      TEXT    NOT NULL DEFAULT '[]',
    ingested_at  INTEGER NOT NULL,
    UNIQUE (project_id, path)
);

CREATE TABLE document_tags (
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    tag         TEXT    NOT NULL,
    PRIMARY KEY (document_id, tag)
) WITHOUT ROWID;
CREATE INDEX document_tags_by_tag ON document_tags (tag, document_id);

-- Links as written. `target_id` is NULL while the link dangles; links are re-resolved when
-- the project's set of documents changes, so a dangling link resolves once its target appears.
CREATE TABLE links (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    -- `wikilink`, `embed` (![[…]]) or `markdown` ([label](path)).
    form        TEXT    NOT NULL CHECK (form IN ('wikilink', 'embed', 'markdown')),
    -- The target as written, without heading or label.
    target      TEXT    NOT NULL,
    heading     TEXT,
    label       TEXT,
    line        INTEGER NOT NULL,
    target_id   INTEGER REFERENCES documents (id) ON DELETE SET NULL
);
CREATE INDEX links_by_source ON links (source_id);
CREATE INDEX links_by_target ON links (target_id);

-- Heading-aware passages of at most 256 model tokens. The id is derived from the document,
-- the text and its occurrence, so it stays the same while the text does.
CREATE TABLE chunks (
    id          INTEGER PRIMARY KEY,
    document_id INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    heading     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    -- Whether the embedded text is the heading path, a blank line, then the body (else the
    -- body alone); `text_hash` is the SHA-256 of that text.
    embeds_heading INTEGER NOT NULL CHECK (embeds_heading IN (0, 1)),
    text_hash   TEXT    NOT NULL,
    tokens      INTEGER NOT NULL,
    start_line  INTEGER NOT NULL,
    end_line    INTEGER NOT NULL
);
CREATE INDEX chunks_by_document ON chunks (document_id, seq);
CREATE INDEX chunks_by_text ON chunks (text_hash);

-- The full-text index, kept in step with `chunks` by triggers.
CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    heading, body,
    content = 'chunks', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO chunks_fts (rowid, heading, body) VALUES (NEW.id, NEW.heading, NEW.body);
END;
CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, body)
    VALUES ('delete', OLD.id, OLD.heading, OLD.body);
END;
CREATE TRIGGER chunks_fts_update AFTER UPDATE ON chunks BEGIN
    INSERT INTO chunks_fts (chunks_fts, rowid, heading, body)
    VALUES ('delete', OLD.id, OLD.heading, OLD.body);
    INSERT INTO chunks_fts (rowid, heading, body) VALUES (NEW.id, NEW.heading, NEW.body);
END;

-- Vectors by the hash of the text they embed, per model: a rebuild or a rename never
-- re-embeds. Little-endian f32s.
CREATE TABLE embeddings (
    model     TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector    BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;

-- What a watched change does: `ingest` the file, or create a task from a template.
CREATE TABLE hook_rules (
    id          INTEGER PRIMARY KEY,
    project_id  INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    glob        TEXT    NOT NULL,
    action      TEXT    NOT NULL CHECK (action IN ('ingest', 'task')),
    -- For `task`: the title template; `{path}` and `{name}` are filled in.
    template    TEXT,
    created_at  INTEGER NOT NULL,
    CHECK ((action = 'task') = (template IS NOT NULL))
);
CREATE INDEX hook_rules_by_project ON hook_rules (project_id);
