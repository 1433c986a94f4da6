-- Per-organization authorization versions (bumped with every change that
-- can alter a decision) and email changes awaiting verification.

CREATE TABLE authz_versions (
    org_id  TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 0)
);

-- One pending address per verification token, looked up by the token.
CREATE TABLE pending_emails (
    token_id TEXT PRIMARY KEY NOT NULL,
    user_id  TEXT NOT NULL,
    email    TEXT NOT NULL CHECK (json_valid(email)) -- the Email as entered
);
