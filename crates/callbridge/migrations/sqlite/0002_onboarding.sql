-- Onboarding: rate limits shared by every instance, and the audit log.
-- Keep in step with ../postgres/0002_onboarding.sql.

-- One fixed window per key (the key names its window length); a hit in a newer window
-- restarts the count.
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id         TEXT PRIMARY KEY NOT NULL,
    kind       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    -- The email or phone acted on; an agent may not exist yet (a failed first attempt).
    subject    TEXT NOT NULL,
    agent_id   TEXT REFERENCES agents (id),
    client_ip  TEXT,
    detail     TEXT,
    created_at BIGINT NOT NULL
);
CREATE INDEX audit_events_agent ON audit_events (agent_id, created_at);
CREATE INDEX audit_events_subject ON audit_events (subject, created_at);
