-- The Airtable integration: links between calls and records, the durable outbox of writes,
-- cross-instance pacing, and campaigns. Keep in step with ../sqlite/0004_airtable.sql.

-- A call started from an Airtable record. `last_enqueued` is the snapshot (JSON) of the call as
-- last queued for writing; a change is queued only by the one instance whose conditional UPDATE
-- still sees the old snapshot. `settled` stops the scan once the outcome can no longer change.
CREATE TABLE airtable_links (
    call_id       TEXT PRIMARY KEY NOT NULL REFERENCES calls (id),
    record_id     TEXT NOT NULL,
    campaign_id   TEXT,
    last_enqueued TEXT NOT NULL DEFAULT '',
    settled       BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);
CREATE INDEX airtable_links_open ON airtable_links (settled, created_at);
CREATE INDEX airtable_links_record ON airtable_links (record_id);

-- A durable queue of writes. Rows of one key (e.g. one record) are delivered in `seq` order:
-- only the oldest unfinished row of a key can be claimed. A claim is a lease (`claimed_until`);
-- a row whose lease ran out is claimable again.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY NOT NULL,
    kind            TEXT NOT NULL,
    key             TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_by      TEXT,
    claimed_until   BIGINT,
    -- 1 when a delivery may have happened unseen (lease ran out, request timed out).
    uncertain       BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (key, seq)
);
CREATE INDEX outbox_status ON outbox (status, next_attempt_at);

-- One row per shared budget (an Airtable base, the account's call rate): the earliest moment
-- the next request may go out, moved forward atomically by whoever takes a slot.
CREATE TABLE pacing (
    key             TEXT PRIMARY KEY NOT NULL,
    next_allowed_at BIGINT NOT NULL
);

CREATE TABLE airtable_campaigns (
    id            TEXT PRIMARY KEY NOT NULL,
    agent_id      TEXT NOT NULL REFERENCES agents (id),
    view_name     TEXT NOT NULL,
    status        TEXT NOT NULL,
    claimed_by    TEXT,
    claimed_until BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX airtable_campaigns_status ON airtable_campaigns (status, created_at);

CREATE TABLE campaign_items (
    id          TEXT PRIMARY KEY NOT NULL,
    campaign_id TEXT NOT NULL REFERENCES airtable_campaigns (id),
    position    BIGINT NOT NULL,
    record_id   TEXT NOT NULL,
    phone       TEXT,
    state       TEXT NOT NULL,
    call_id     TEXT REFERENCES calls (id),
    error       TEXT,
    updated_at  BIGINT NOT NULL,
    UNIQUE (campaign_id, position)
);
CREATE INDEX campaign_items_state ON campaign_items (campaign_id, state, position);
