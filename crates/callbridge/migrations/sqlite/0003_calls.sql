-- What the call flow needs beyond the initial schema. Keep in step with ../postgres/0003_calls.sql.

-- Twilio's callbacks arrive out of order: a leg's status only moves to an equal or higher rank
-- (queued 0, initiated 1, ringing 2, in-progress 3, final 4), so a late "ringing" never
-- overwrites "completed".
ALTER TABLE call_legs ADD COLUMN status_rank BIGINT NOT NULL DEFAULT 0;

CREATE TABLE recordings (
    sid            TEXT PRIMARY KEY NOT NULL,
    call_id        TEXT NOT NULL REFERENCES calls (id),
    conference_sid TEXT,
    status         TEXT NOT NULL,
    -- Same ranking idea as call_legs: in-progress 0, completed / absent / failed 1.
    status_rank    BIGINT NOT NULL DEFAULT 0,
    duration_secs  BIGINT,
    url            TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX recordings_call ON recordings (call_id, created_at);
