-- Idempotency-Key of the call start endpoints, per agent, shared by every instance: the first
-- request claims the key (the row), binds it to the call it created, then saves its answer; a
-- retry replays that answer. Rows expire after a day (removed by later claims).
-- Keep in step with ../postgres/0006_idempotency_keys.sql.
CREATE TABLE idempotency_keys (
    agent_id             TEXT NOT NULL REFERENCES agents (id),
    key                  TEXT NOT NULL,
    -- What was asked (endpoint and body, hashed): the same key with another body is refused.
    fingerprint          TEXT NOT NULL,
    call_id              TEXT REFERENCES calls (id),
    response_status      BIGINT,
    response_retry_after BIGINT,
    response_body        TEXT,
    created_at           BIGINT NOT NULL,
    PRIMARY KEY (agent_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
