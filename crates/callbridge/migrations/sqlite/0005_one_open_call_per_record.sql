-- At most one call in progress per Airtable record, across every instance: a link is open
-- (call_open = 1) from the moment its call is stored until the call reaches a final state, and
-- the unique index refuses a second open link for the same record. A trigger closes the link in
-- the very statement that ends the call, whichever code ends it. Keep in step with
-- ../postgres/0005_one_open_call_per_record.sql.
ALTER TABLE airtable_links ADD COLUMN call_open BIGINT NOT NULL DEFAULT 0;

-- Links stored before this migration: the newest unfinished call of each record is the open one.
UPDATE airtable_links SET call_open = 1
WHERE call_id IN (SELECT id FROM calls WHERE state NOT IN ('completed', 'failed'))
  AND NOT EXISTS (
      SELECT 1 FROM airtable_links newer JOIN calls c ON c.id = newer.call_id
      WHERE newer.record_id = airtable_links.record_id
        AND c.state NOT IN ('completed', 'failed')
        AND (newer.created_at > airtable_links.created_at
             OR (newer.created_at = airtable_links.created_at
                 AND newer.call_id > airtable_links.call_id)));

CREATE UNIQUE INDEX airtable_links_one_open_call ON airtable_links (record_id) WHERE call_open = 1;

CREATE TRIGGER calls_final_closes_airtable_link AFTER UPDATE OF state ON calls
FOR EACH ROW WHEN NEW.state IN ('completed', 'failed')
BEGIN
    UPDATE airtable_links SET call_open = 0 WHERE call_id = NEW.id AND call_open = 1;
END;
