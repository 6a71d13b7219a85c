-- The reconciler looks for calls that stopped moving before they ended.
CREATE INDEX calls_unfinished ON calls (updated_at) WHERE state NOT IN ('completed', 'failed');
