-- Sessions of the web app. Keep in step with ../sqlite/0010_web_sessions.sql.

-- The cookie holds a random secret; only its SHA-256 is kept, so a copy of the database opens
-- no session. Each session has its own CSRF token, which pages send back on every change.
CREATE TABLE web_sessions (
    secret_hash TEXT PRIMARY KEY NOT NULL,
    agent_id    TEXT NOT NULL REFERENCES agents (id),
    csrf_token  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);

CREATE INDEX web_sessions_by_agent ON web_sessions (agent_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

-- Agents who administer the others in the web app, besides the first agent, who always does.
CREATE TABLE admins (
    agent_id    TEXT PRIMARY KEY NOT NULL REFERENCES agents (id),
    promoted_by TEXT NOT NULL,
    promoted_at BIGINT NOT NULL
);
