-- Emails an operator invited with `callbridge users invite`: they may sign up whatever
-- ALLOWED_EMAIL_DOMAINS says. Keep in step with ../sqlite/0009_invites.sql.
CREATE TABLE invites (
    email      TEXT PRIMARY KEY NOT NULL,
    invited_by TEXT NOT NULL,
    invited_at BIGINT NOT NULL
);
