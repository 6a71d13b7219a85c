-- Campaigns worked as a power dialer: agents in sessions, each record's outcome and wrap-up.
-- Keep in step with ../sqlite/0011_dialer.sql.

-- The dialer's settings of a campaign worked in sessions; NULL for a campaign that rings its
-- agent once per record, which the per-record runner alone steps.
ALTER TABLE airtable_campaigns ADD COLUMN dialer jsonb;

-- Which session a record was dialled for, its customer's Twilio call, what became of it (human, voicemail, abandoned, …),
-- what detection said and how long the customer talked, what its agent said of it at wrap-up,
-- whether that outcome was queued for Airtable (once), and, for a record outside the
-- recipient's calling hours, when it may be dialled.
ALTER TABLE campaign_items ADD COLUMN session_id uuid;
ALTER TABLE campaign_items ADD COLUMN outcome TEXT;
ALTER TABLE campaign_items ADD COLUMN disposition TEXT;
ALTER TABLE campaign_items ADD COLUMN notes TEXT;
ALTER TABLE campaign_items ADD COLUMN answered_by TEXT;
ALTER TABLE campaign_items ADD COLUMN talk_secs BIGINT;
ALTER TABLE campaign_items ADD COLUMN call_sid TEXT;
ALTER TABLE campaign_items ADD COLUMN written boolean NOT NULL DEFAULT false;
ALTER TABLE campaign_items ADD COLUMN not_before timestamptz;

-- An agent working a campaign: on the line in their own conference, which each customer who
-- answers is joined into.
CREATE TABLE dialer_sessions (
    id             uuid PRIMARY KEY NOT NULL,
    campaign_id    uuid NOT NULL REFERENCES airtable_campaigns (id),
    agent_id       uuid NOT NULL REFERENCES agents (id),
    mode           TEXT NOT NULL,
    state          TEXT NOT NULL,
    conference     TEXT NOT NULL UNIQUE,
    agent_call_sid TEXT,
    current_item   uuid REFERENCES campaign_items (id),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
-- At most one session an agent has not left per campaign, so that joining again finds it.
CREATE UNIQUE INDEX dialer_sessions_live ON dialer_sessions (campaign_id, agent_id)
    WHERE state <> 'left';
