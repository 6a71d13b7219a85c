-- PostgreSQL's own types instead of the shapes SQLite shares: `uuid` ids, `timestamptz` times
-- (from epoch milliseconds), `boolean` flags (from 0/1) and `jsonb` payloads (from text).
-- Every column is converted in place, rows and all. SQLite keeps the portable shapes.

-- A foreign key needs both of its columns of one type, so the keys go while ids change type
-- and come back, under the names PostgreSQL gave them, once every id is a uuid.
ALTER TABLE calls DROP CONSTRAINT calls_agent_id_fkey;
ALTER TABLE call_legs DROP CONSTRAINT call_legs_call_id_fkey;
ALTER TABLE call_events DROP CONSTRAINT call_events_call_id_fkey;
ALTER TABLE audit_events DROP CONSTRAINT audit_events_agent_id_fkey;
ALTER TABLE recordings DROP CONSTRAINT recordings_call_id_fkey;
ALTER TABLE airtable_links DROP CONSTRAINT airtable_links_call_id_fkey;
ALTER TABLE airtable_campaigns DROP CONSTRAINT airtable_campaigns_agent_id_fkey;
ALTER TABLE campaign_items DROP CONSTRAINT campaign_items_campaign_id_fkey;
ALTER TABLE campaign_items DROP CONSTRAINT campaign_items_call_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_agent_id_fkey;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_call_id_fkey;
ALTER TABLE web_sessions DROP CONSTRAINT web_sessions_agent_id_fkey;
ALTER TABLE admins DROP CONSTRAINT admins_agent_id_fkey;

-- Its predicate compares the flag with 1, which a boolean cannot be: rebuilt below.
DROP INDEX airtable_links_one_open_call;

-- Column defaults of the old types do not cast by themselves, so each flag's default is
-- dropped before its type changes and set again after.
ALTER TABLE agents
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN email_verified_at TYPE timestamptz USING to_timestamp(email_verified_at / 1000.0),
    ALTER COLUMN phone_verified_at TYPE timestamptz USING to_timestamp(phone_verified_at / 1000.0),
    ALTER COLUMN revoked_at TYPE timestamptz USING to_timestamp(revoked_at / 1000.0),
    ALTER COLUMN record_by_default DROP DEFAULT,
    ALTER COLUMN record_by_default TYPE boolean USING record_by_default <> 0,
    ALTER COLUMN record_by_default SET DEFAULT FALSE,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE calls
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN agent_id TYPE uuid USING agent_id::uuid,
    ALTER COLUMN record DROP DEFAULT,
    ALTER COLUMN record TYPE boolean USING record <> 0,
    ALTER COLUMN record SET DEFAULT FALSE,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0),
    ALTER COLUMN ended_at TYPE timestamptz USING to_timestamp(ended_at / 1000.0);

ALTER TABLE call_legs
    ALTER COLUMN call_id TYPE uuid USING call_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE call_events
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN call_id TYPE uuid USING call_id::uuid,
    ALTER COLUMN payload TYPE jsonb USING payload::jsonb,
    ALTER COLUMN received_at TYPE timestamptz USING to_timestamp(received_at / 1000.0);

ALTER TABLE rate_limits
    ALTER COLUMN window_start TYPE timestamptz USING to_timestamp(window_start / 1000.0);

ALTER TABLE audit_events
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN agent_id TYPE uuid USING agent_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0);

ALTER TABLE recordings
    ALTER COLUMN call_id TYPE uuid USING call_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE airtable_links
    ALTER COLUMN call_id TYPE uuid USING call_id::uuid,
    ALTER COLUMN campaign_id TYPE uuid USING campaign_id::uuid,
    ALTER COLUMN settled DROP DEFAULT,
    ALTER COLUMN settled TYPE boolean USING settled <> 0,
    ALTER COLUMN settled SET DEFAULT FALSE,
    ALTER COLUMN call_open DROP DEFAULT,
    ALTER COLUMN call_open TYPE boolean USING call_open <> 0,
    ALTER COLUMN call_open SET DEFAULT FALSE,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0);

ALTER TABLE outbox
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN payload TYPE jsonb USING payload::jsonb,
    ALTER COLUMN next_attempt_at TYPE timestamptz USING to_timestamp(next_attempt_at / 1000.0),
    ALTER COLUMN claimed_until TYPE timestamptz USING to_timestamp(claimed_until / 1000.0),
    ALTER COLUMN uncertain DROP DEFAULT,
    ALTER COLUMN uncertain TYPE boolean USING uncertain <> 0,
    ALTER COLUMN uncertain SET DEFAULT FALSE,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE pacing
    ALTER COLUMN next_allowed_at TYPE timestamptz USING to_timestamp(next_allowed_at / 1000.0);

ALTER TABLE airtable_campaigns
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN agent_id TYPE uuid USING agent_id::uuid,
    ALTER COLUMN claimed_until TYPE timestamptz USING to_timestamp(claimed_until / 1000.0),
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE campaign_items
    ALTER COLUMN id TYPE uuid USING id::uuid,
    ALTER COLUMN campaign_id TYPE uuid USING campaign_id::uuid,
    ALTER COLUMN call_id TYPE uuid USING call_id::uuid,
    ALTER COLUMN updated_at TYPE timestamptz USING to_timestamp(updated_at / 1000.0);

ALTER TABLE idempotency_keys
    ALTER COLUMN agent_id TYPE uuid USING agent_id::uuid,
    ALTER COLUMN call_id TYPE uuid USING call_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0);

ALTER TABLE invites
    ALTER COLUMN invited_at TYPE timestamptz USING to_timestamp(invited_at / 1000.0);

ALTER TABLE web_sessions
    ALTER COLUMN agent_id TYPE uuid USING agent_id::uuid,
    ALTER COLUMN created_at TYPE timestamptz USING to_timestamp(created_at / 1000.0),
    ALTER COLUMN expires_at TYPE timestamptz USING to_timestamp(expires_at / 1000.0);

ALTER TABLE admins
    ALTER COLUMN agent_id TYPE uuid USING agent_id::uuid,
    ALTER COLUMN promoted_at TYPE timestamptz USING to_timestamp(promoted_at / 1000.0);

ALTER TABLE calls ADD CONSTRAINT calls_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id);
ALTER TABLE call_legs ADD CONSTRAINT call_legs_call_id_fkey
    FOREIGN KEY (call_id) REFERENCES calls (id);
ALTER TABLE call_events ADD CONSTRAINT call_events_call_id_fkey
    FOREIGN KEY (call_id) REFERENCES calls (id);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id);
ALTER TABLE recordings ADD CONSTRAINT recordings_call_id_fkey
    FOREIGN KEY (call_id) REFERENCES calls (id);
ALTER TABLE airtable_links ADD CONSTRAINT airtable_links_call_id_fkey
    FOREIGN KEY (call_id) REFERENCES calls (id);
ALTER TABLE airtable_campaigns ADD CONSTRAINT airtable_campaigns_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id);
ALTER TABLE campaign_items ADD CONSTRAINT campaign_items_campaign_id_fkey
    FOREIGN KEY (campaign_id) REFERENCES airtable_campaigns (id);
ALTER TABLE campaign_items ADD CONSTRAINT campaign_items_call_id_fkey
    FOREIGN KEY (call_id) REFERENCES calls (id);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id);
ALTER TABLE idempotency_keys ADD CONSTRAINT idempotency_keys_call_id_fkey
    FOREIGN KEY (call_id) REFERENCES calls (id);
ALTER TABLE web_sessions ADD CONSTRAINT web_sessions_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id);
ALTER TABLE admins ADD CONSTRAINT admins_agent_id_fkey
    FOREIGN KEY (agent_id) REFERENCES agents (id);

CREATE UNIQUE INDEX airtable_links_one_open_call ON airtable_links (record_id) WHERE call_open;

-- The same trigger (see 0005), on the flag's new type.
CREATE OR REPLACE FUNCTION airtable_link_close() RETURNS trigger AS $$
BEGIN
    UPDATE airtable_links SET call_open = FALSE WHERE call_id = NEW.id AND call_open;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
