-- Version 5: outbox rows carry a random stamp, so a projection can tell the row it last
-- applied from another row that later took the same id (after `atelier.db` was restored from
-- a backup, ids are handed out again). Rows written before this migration have none.
ALTER TABLE outbox ADD COLUMN stamp INTEGER;
