-- Portable shapes: TEXT ids, BIGINT epoch-millisecond timestamps, BIGINT 0/1 flags.
-- Keep in step with ../sqlite/0001_initial.sql.

CREATE TABLE agents (
    id                TEXT PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL UNIQUE,
    email_verified_at BIGINT,
    phone             TEXT UNIQUE,
    phone_verified_at BIGINT,
    token_version     BIGINT NOT NULL DEFAULT 0,
    revoked_at        BIGINT,
    record_by_default BIGINT NOT NULL DEFAULT 0,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);

CREATE TABLE calls (
    id              TEXT PRIMARY KEY NOT NULL,
    agent_id        TEXT NOT NULL REFERENCES agents (id),
    state           TEXT NOT NULL,
    reason          TEXT,
    label           TEXT,
    recipient       TEXT NOT NULL,
    agent_number    TEXT NOT NULL,
    conference_name TEXT NOT NULL UNIQUE,
    conference_sid  TEXT,
    record          BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    ended_at        BIGINT,
    duration_secs   BIGINT
);
CREATE INDEX calls_agent_created ON calls (agent_id, created_at);

CREATE TABLE call_legs (
    call_sid      TEXT PRIMARY KEY NOT NULL,
    call_id       TEXT NOT NULL REFERENCES calls (id),
    role          TEXT NOT NULL,
    status        TEXT NOT NULL,
    number        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    duration_secs BIGINT
);
CREATE INDEX call_legs_call ON call_legs (call_id);

CREATE TABLE call_events (
    id              TEXT PRIMARY KEY NOT NULL,
    call_id         TEXT NOT NULL REFERENCES calls (id),
    source          TEXT NOT NULL,
    kind            TEXT NOT NULL,
    call_sid        TEXT,
    -- A retried webhook carries the same key, so storing it again is a no-op.
    dedupe_key      TEXT NOT NULL UNIQUE,
    sequence_number BIGINT,
    payload         TEXT NOT NULL,
    received_at     BIGINT NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id, received_at);
