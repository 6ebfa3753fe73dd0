-- Version 6: the full-text index holds each passage with its document's fields, so words
-- can match a title, an alias, a heading, a path or a tag as well as the body, each with its
-- own weight. The index keeps its own copy (the fields come from two tables); triggers keep it
-- in step with `chunks`, and with `documents` when a document's fields change in place.
DROP TRIGGER chunks_fts_insert;
DROP TRIGGER chunks_fts_delete;
DROP TRIGGER chunks_fts_update;
DROP TABLE chunks_fts;

CREATE VIRTUAL TABLE passages_fts USING fts5 (
    title, aliases, heading, path, tags, body,
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Aliases are stored as a JSON array; the tokenizer reads its punctuation as separators.
INSERT INTO passages_fts (rowid, title, aliases, heading, path, tags, body)
SELECT c.id, d.title, d.aliases, c.heading, d.path,
       (SELECT group_concat(t.tag, ' ') FROM document_tags t WHERE t.document_id = d.id),
       c.body
  FROM chunks c JOIN documents d ON d.id = c.document_id;

CREATE TRIGGER passages_fts_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO passages_fts (rowid, title, aliases, heading, path, tags, body)
    SELECT NEW.id, d.title, d.aliases, NEW.heading, d.path,
           (SELECT group_concat(t.tag, ' ') FROM document_tags t WHERE t.document_id = d.id),
           NEW.body
      FROM documents d WHERE d.id = NEW.document_id;
END;
CREATE TRIGGER passages_fts_delete AFTER DELETE ON chunks BEGIN
    DELETE FROM passages_fts WHERE rowid = OLD.id;
END;
CREATE TRIGGER passages_fts_update AFTER UPDATE ON chunks BEGIN
    DELETE FROM passages_fts WHERE rowid = OLD.id;
    INSERT INTO passages_fts (rowid, title, aliases, heading, path, tags, body)
    SELECT NEW.id, d.title, d.aliases, NEW.heading, d.path,
           (SELECT group_concat(t.tag, ' ') FROM document_tags t WHERE t.document_id = d.id),
           NEW.body
      FROM documents d WHERE d.id = NEW.document_id;
END;
-- Ingest replaces a document's tags and passages after updating it, so this fires only for
-- a change of fields that keeps the passages (a title, aliases or path changed in place).
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
