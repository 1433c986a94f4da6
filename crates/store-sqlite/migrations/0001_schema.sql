-- iamkit schema, version 1. Portable to PostgreSQL: TEXT ids (UUIDs) and
-- timestamps (RFC 3339, UTC, fixed nanosecond width, so text order is time
-- order), JSON documents in TEXT columns (JSONB there).
--
-- Unique indexes are named after the portable constraint names of the
-- repository traits (`users_username`, ...).

-- Identity ---------------------------------------------------------------

CREATE TABLE users (
    id               TEXT PRIMARY KEY NOT NULL,
    username         TEXT NOT NULL,           -- Username is lower-case already
    email_normalized TEXT NOT NULL,           -- Email::normalized()
    sort_key         TEXT NOT NULL,           -- iamkit_identity::sort_key
    search_text      TEXT NOT NULL,           -- iamkit_identity::search_text
    data             TEXT NOT NULL CHECK (json_valid(data)) -- the whole User
);
CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_email ON users (email_normalized);

CREATE TABLE organizations (
    id   TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL,
    data TEXT NOT NULL CHECK (json_valid(data)) -- Organization with settings
);
CREATE UNIQUE INDEX organizations_slug ON organizations (slug);

CREATE TABLE departments (
    id       TEXT PRIMARY KEY NOT NULL,
    org_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key TEXT NOT NULL,                   -- Name::key()
    data     TEXT NOT NULL CHECK (json_valid(data))
);
CREATE UNIQUE INDEX departments_name ON departments (org_id, name_key);

CREATE TABLE memberships (
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        TEXT NOT NULL CHECK (status IN ('INVITED', 'ACTIVE', 'DEACTIVATED')),
    department_id TEXT REFERENCES departments (id) ON DELETE SET NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE workspaces (
    id       TEXT PRIMARY KEY NOT NULL,
    org_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key TEXT NOT NULL,
    data     TEXT NOT NULL CHECK (json_valid(data))
);
CREATE UNIQUE INDEX workspaces_name ON workspaces (org_id, name_key);

CREATE TABLE groups (
    id       TEXT PRIMARY KEY NOT NULL,
    org_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key TEXT NOT NULL,
    data     TEXT NOT NULL CHECK (json_valid(data))
);
CREATE UNIQUE INDEX groups_name ON groups (org_id, name_key);

-- A member of a group must be a member of its organization: removing the
-- membership removes the group memberships in that organization.
CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    org_id   TEXT NOT NULL,
    user_id  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (org_id, user_id);

CREATE TABLE teams (
    id       TEXT PRIMARY KEY NOT NULL,
    org_id   TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key TEXT NOT NULL,
    data     TEXT NOT NULL CHECK (json_valid(data))
);
CREATE UNIQUE INDEX teams_name ON teams (org_id, name_key);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    org_id  TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role    TEXT NOT NULL CHECK (role IN ('member', 'lead')),
    PRIMARY KEY (team_id, user_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX team_members_user ON team_members (org_id, user_id);

-- RBAC -------------------------------------------------------------------

CREATE TABLE custom_roles (
    id       TEXT PRIMARY KEY NOT NULL,
    org_id   TEXT NOT NULL,
    name_key TEXT NOT NULL,                   -- RoleName::unique_key()
    data     TEXT NOT NULL CHECK (json_valid(data)) -- permissions, assignability
);
CREATE UNIQUE INDEX custom_roles_org_name ON custom_roles (org_id, name_key);

-- One role per (grantee, scope); workspace_id is '' at organization scope
-- so the primary key never holds a NULL. Roles may be built-in ids, so
-- role_id has no foreign key; delete_custom_role checks for grants itself.
CREATE TABLE grants (
    grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('user', 'group', 'team')),
    grantee_id   TEXT NOT NULL,
    org_id       TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    role_id      TEXT NOT NULL,
    PRIMARY KEY (grantee_kind, grantee_id, org_id, workspace_id)
);
CREATE INDEX grants_org ON grants (org_id);
CREATE INDEX grants_role ON grants (role_id);

-- Audit ------------------------------------------------------------------

CREATE TABLE audit_heads (
    org_id TEXT PRIMARY KEY NOT NULL,
    seq    INTEGER NOT NULL CHECK (seq >= 0),
    data   TEXT NOT NULL CHECK (json_valid(data)) -- ChainHead
);

CREATE TABLE audit_events (
    org_id TEXT NOT NULL,
    seq    INTEGER NOT NULL CHECK (seq >= 1),
    data   TEXT NOT NULL CHECK (json_valid(data)), -- the sealed AuditEvent
    PRIMARY KEY (org_id, seq)
);

-- Credentials (secrets only as digests) ----------------------------------

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('invite', 'password_reset', 'email_verification')),
    by_admin    INTEGER NOT NULL CHECK (by_admin IN (0, 1)),
    subject     TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    consumed_at TEXT,
    revoked_at  TEXT
);
CREATE INDEX tokens_subject ON tokens (subject, kind);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL,
    org_id       TEXT,
    secret_hash  BLOB NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('mfa_pending', 'full')),
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    client_ip    TEXT,
    user_agent   TEXT,
    revoked_at   TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    restriction  TEXT CHECK (restriction IS NULL OR json_valid(restriction)), -- permission names
    created_by   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    last_used_at TEXT,
    revoked_at   TEXT,
    secret_hash  BLOB NOT NULL
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);
CREATE INDEX api_keys_creator ON api_keys (created_by);

CREATE TABLE totp_enrollments (
    user_id       TEXT PRIMARY KEY NOT NULL,
    sealed_secret BLOB NOT NULL,
    algorithm     TEXT NOT NULL CHECK (algorithm IN ('sha1', 'sha256', 'sha512')),
    digits        INTEGER NOT NULL,
    period_secs   INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    confirmed_at  TEXT,
    last_step     INTEGER
);

CREATE TABLE recovery_codes (
    user_id    TEXT NOT NULL,
    position   INTEGER NOT NULL,
    digest     BLOB NOT NULL,
    created_at TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, position)
);

CREATE TABLE throttle (
    user_id      TEXT PRIMARY KEY NOT NULL,
    failures     INTEGER NOT NULL CHECK (failures >= 0),
    locked_until TEXT
);

-- Facade -----------------------------------------------------------------

CREATE TABLE password_hashes (
    user_id TEXT PRIMARY KEY NOT NULL,
    phc     TEXT NOT NULL
);

CREATE TABLE outbox (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT,
    recipient    TEXT NOT NULL,
    to_email     TEXT NOT NULL,
    language     TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('invitation', 'email_verification', 'password_reset', 'two_factor_changed')),
    sealed_link  BLOB,
    created_at   TEXT NOT NULL,
    delivered_at TEXT
);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;

CREATE TABLE access_requests (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT NOT NULL,
    requester    TEXT NOT NULL,
    change_kind  TEXT NOT NULL CHECK (change_kind IN ('role', 'offboarding')),
    subject      TEXT NOT NULL,
    scope        TEXT CHECK (scope IS NULL OR json_valid(scope)), -- Scope, for role changes
    role_id      TEXT,
    status       TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at   TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TEXT
);
CREATE INDEX access_requests_org ON access_requests (org_id);

CREATE TABLE service_accounts (
    user_id    TEXT PRIMARY KEY NOT NULL,
    org_id     TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX service_accounts_org ON service_accounts (org_id);
