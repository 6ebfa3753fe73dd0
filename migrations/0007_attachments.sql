-- Version 7: attachments are documents. Images, audio, video, PDFs and canvases get kinds of
-- their own and the facts read from them: media type, image dimensions, duration, page count.
-- SQLite cannot widen a CHECK constraint in place, so `documents` is rebuilt (the migration
-- runner turns foreign keys off around it and checks them before committing, so the tables
-- that reference documents keep their rows). The full-text triggers name `documents`, so they
-- are dropped before the rebuild and made again after it.
DROP TRIGGER passages_fts_insert;
DROP TRIGGER passages_fts_update;
DROP TRIGGER passages_fts_document;

CREATE TABLE documents_v7 (
    id           INTEGER PRIMARY KEY,
    project_id   INTEGER NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- Relative to the project root, `/`-separated.
    path         TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN
                     ('markdown', 'text', 'fountain', 'org', 'rst', 'code',
                      'image', 'audio', 'video', 'pdf', 'canvas')),
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
    -- Attachments only (NULL for notes): the IANA media type, then what could be read of the
    -- content. All NULL but the type when the content could not be read.
    media_type   TEXT,
    width        INTEGER,
    height       INTEGER,
    duration_ms  INTEGER,
    pages        INTEGER,
    CHECK ((media_type IS NULL) = (kind IN ('markdown', 'text', 'fountain', 'org', 'rst', 'code'))),
    UNIQUE (project_id, path)
);
INSERT INTO documents_v7
    (id, project_id, path, kind, title, content_hash, size, modified_at, frontmatter, aliases,
     ingested_at)
SELECT id, project_id, path, kind, title, content_hash, size, modified_at, frontmatter, aliases,
       ingested_at
  FROM documents;
DROP TABLE documents;
ALTER TABLE documents_v7 RENAME TO documents;

-- Files read before this version were read without attachments in mind: a canvas as plain
-- text, a note without its Markdown images (`![alt](img.png)`). Their hash and time are
-- cleared so the next ingest reads them again; vectors are kept by text hash, so nothing is
-- embedded twice.
UPDATE documents SET content_hash = '', modified_at = -1
 WHERE kind = 'markdown' OR path LIKE '%.canvas';

CREATE TRIGGER passages_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO passages_fts (rowid, title, aliases, heading, path, tags, body)
    SELECT NEW.id, d.title, d.aliases, NEW.heading, d.path,
           (SELECT group_concat(t.tag, ' ') FROM document_tags t WHERE t.document_id = d.id),
           NEW.body
      FROM documents d WHERE d.id = NEW.document_id;
END;
CREATE TRIGGER passages_fts_update AFTER UPDATE ON chunks BEGIN
    DELETE FROM passages_fts WHERE rowid = OLD.id;
    INSERT INTO passages_fts (rowid, title, aliases, heading, path, tags, body)
    SELECT NEW.id, d.title, d.aliases, NEW.heading, d.path,
           (SELECT group_concat(t.tag, ' ') FROM document_tags t WHERE t.document_id = d.id),
           NEW.body
      FROM documents d WHERE d.id = NEW.document_id;
END;
CREATE TRIGGER passages_fts_document AFTER UPDATE OF title, aliases, path ON documents
WHEN OLD.title IS NOT NEW.title OR OLD.aliases IS NOT NEW.aliases OR OLD.path IS NOT NEW.path
BEGIN
    DELETE FROM passages_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = NEW.id);
    INSERT INTO passages_fts (rowid, title, aliases, heading, path, tags, body)
    SELECT c.id, NEW.title, NEW.aliases, c.heading, NEW.path,
           (SELECT group_concat(t.tag, ' ') FROM document_tags t WHERE t.document_id = NEW.id),
           c.body
      FROM chunks c WHERE c.document_id = NEW.id;
END;
