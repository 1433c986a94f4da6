-- iamkit schema for PostgreSQL, version 1: the same tables as the SQLite
-- adapter's migrations 1 and 2, in native types: `uuid` ids, `timestamptz`
-- times, `bigint` counters, `bytea` digests and sealed secrets, `jsonb`
-- documents, `text` with CHECK constraints for status and kind columns.
--
-- Every primary key, unique constraint and unique index is named after the
-- portable constraint name of the repository traits (`users_username`,
-- `tokens_id`, ...): PostgreSQL reports that name on a violation, and the
-- adapter passes it on as is.
--
-- Text that is compared or ordered as Rust compares strings (usernames,
-- normalized emails, directory sort keys, name keys) uses the "C"
-- collation: byte order, whatever the database's default collation is.

-- Identity ---------------------------------------------------------------

CREATE TABLE users (
    id               uuid NOT NULL,
    username         text COLLATE "C" NOT NULL,  -- Username: lower-case already
    email_normalized text COLLATE "C" NOT NULL,  -- Email::normalized()
    sort_key         text COLLATE "C" NOT NULL,  -- iamkit_identity::sort_key
    search_text      text COLLATE "C" NOT NULL,  -- iamkit_identity::search_text
    data             jsonb NOT NULL,             -- the whole User
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_username_form CHECK (username ~ '^[a-z0-9._-]+$'),
    CONSTRAINT users_data_object CHECK (jsonb_typeof(data) = 'object')
);
-- Case-insensitive uniqueness: both columns hold the case-folded forms the
-- domain types compare by.
CREATE UNIQUE INDEX users_username ON users (username);
CREATE UNIQUE INDEX users_email ON users (email_normalized);
-- The directory's order and keyset paging.
CREATE INDEX users_sort ON users (sort_key, id);

CREATE TABLE organizations (
    id   uuid NOT NULL,
    slug text COLLATE "C" NOT NULL,
    data jsonb NOT NULL,                          -- Organization with settings
    CONSTRAINT organizations_pkey PRIMARY KEY (id),
    CONSTRAINT organizations_slug_form CHECK (slug ~ '^[a-z0-9-]+$'),
    CONSTRAINT organizations_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX organizations_slug ON organizations (slug);

CREATE TABLE departments (
    id       uuid NOT NULL,
    org_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key text COLLATE "C" NOT NULL,           -- Name::key()
    data     jsonb NOT NULL,
    CONSTRAINT departments_pkey PRIMARY KEY (id),
    -- The target of memberships' (org_id, department_id) foreign key.
    CONSTRAINT departments_org_id UNIQUE (org_id, id),
    CONSTRAINT departments_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX departments_name ON departments (org_id, name_key);

-- A member is filed under a department of the same organization; deleting
-- the department files them under none (only department_id is cleared).
CREATE TABLE memberships (
    org_id        uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('INVITED', 'ACTIVE', 'DEACTIVATED')),
    department_id uuid,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    CONSTRAINT memberships_pkey PRIMARY KEY (org_id, user_id),
    CONSTRAINT memberships_department FOREIGN KEY (org_id, department_id)
        REFERENCES departments (org_id, id) ON DELETE SET NULL (department_id)
);
CREATE INDEX memberships_user ON memberships (user_id);
CREATE INDEX memberships_department_id ON memberships (department_id)
    WHERE department_id IS NOT NULL;

CREATE TABLE workspaces (
    id       uuid NOT NULL,
    org_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key text COLLATE "C" NOT NULL,
    data     jsonb NOT NULL,
    CONSTRAINT workspaces_pkey PRIMARY KEY (id),
    CONSTRAINT workspaces_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX workspaces_name ON workspaces (org_id, name_key);

CREATE TABLE groups (
    id       uuid NOT NULL,
    org_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key text COLLATE "C" NOT NULL,
    data     jsonb NOT NULL,
    CONSTRAINT groups_pkey PRIMARY KEY (id),
    CONSTRAINT groups_org_id UNIQUE (org_id, id),
    CONSTRAINT groups_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX groups_name ON groups (org_id, name_key);

-- A member of a group is a member of the group's organization: removing
-- the membership (or the user) removes the group memberships in that
-- organization; deleting the group removes all of its memberships.
CREATE TABLE group_members (
    group_id uuid NOT NULL,
    org_id   uuid NOT NULL,
    user_id  uuid NOT NULL,
    CONSTRAINT group_members_pkey PRIMARY KEY (group_id, user_id),
    CONSTRAINT group_members_group FOREIGN KEY (org_id, group_id)
        REFERENCES groups (org_id, id) ON DELETE CASCADE,
    CONSTRAINT group_members_membership FOREIGN KEY (org_id, user_id)
        REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX group_members_user ON group_members (org_id, user_id);

CREATE TABLE teams (
    id       uuid NOT NULL,
    org_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name_key text COLLATE "C" NOT NULL,
    data     jsonb NOT NULL,
    CONSTRAINT teams_pkey PRIMARY KEY (id),
    CONSTRAINT teams_org_id UNIQUE (org_id, id),
    CONSTRAINT teams_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX teams_name ON teams (org_id, name_key);

CREATE TABLE team_members (
    team_id uuid NOT NULL,
    org_id  uuid NOT NULL,
    user_id uuid NOT NULL,
    role    text NOT NULL CHECK (role IN ('member', 'lead')),
    CONSTRAINT team_members_pkey PRIMARY KEY (team_id, user_id),
    CONSTRAINT team_members_team FOREIGN KEY (org_id, team_id)
        REFERENCES teams (org_id, id) ON DELETE CASCADE,
    CONSTRAINT team_members_membership FOREIGN KEY (org_id, user_id)
        REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);
CREATE INDEX team_members_user ON team_members (org_id, user_id);

-- RBAC -------------------------------------------------------------------

CREATE TABLE custom_roles (
    id       uuid NOT NULL,
    org_id   uuid NOT NULL,
    name_key text COLLATE "C" NOT NULL,           -- RoleName::unique_key()
    data     jsonb NOT NULL,                      -- permissions, assignability
    CONSTRAINT custom_roles_id PRIMARY KEY (id),
    CONSTRAINT custom_roles_data_object CHECK (jsonb_typeof(data) = 'object')
);
CREATE UNIQUE INDEX custom_roles_org_name ON custom_roles (org_id, name_key);

-- One role per (grantee, scope). workspace_id is NULL at organization
-- scope; NULLS NOT DISTINCT makes the pair unique there too. Roles may be
-- built-in ids, so role_id has no foreign key; delete_custom_role checks
-- for grants itself.
CREATE TABLE grants (
    grantee_kind text NOT NULL CHECK (grantee_kind IN ('user', 'group', 'team')),
    grantee_id   uuid NOT NULL,
    org_id       uuid NOT NULL,
    workspace_id uuid,
    role_id      uuid NOT NULL,
    CONSTRAINT grants_pkey UNIQUE NULLS NOT DISTINCT
        (grantee_kind, grantee_id, org_id, workspace_id)
);
CREATE INDEX grants_org ON grants (org_id);
CREATE INDEX grants_role ON grants (role_id);

-- Audit ------------------------------------------------------------------

-- The head of each organization's chain, stored apart from the events. An
-- append locks this row (the sequence is assigned under the lock), so
-- appends to one organization are gapless and ordered.
CREATE TABLE audit_heads (
    org_id uuid NOT NULL,
    seq    bigint NOT NULL CHECK (seq >= 0),
    data   jsonb NOT NULL,                        -- ChainHead
    CONSTRAINT audit_heads_pkey PRIMARY KEY (org_id)
);

CREATE TABLE audit_events (
    org_id uuid NOT NULL,
    seq    bigint NOT NULL CHECK (seq >= 1),
    data   jsonb NOT NULL,                        -- the sealed AuditEvent
    CONSTRAINT audit_events_pkey PRIMARY KEY (org_id, seq)
);

-- Credentials (secrets only as digests) ----------------------------------

CREATE TABLE tokens (
    id          uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('invite', 'password_reset', 'email_verification')),
    by_admin    boolean NOT NULL,
    subject     uuid NOT NULL,
    secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz,
    revoked_at  timestamptz,
    CONSTRAINT tokens_id PRIMARY KEY (id)
);
CREATE INDEX tokens_subject ON tokens (subject, kind);

CREATE TABLE sessions (
    id           uuid NOT NULL,
    user_id      uuid NOT NULL,
    org_id       uuid,
    secret_hash  bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    state        text NOT NULL CHECK (state IN ('mfa_pending', 'full')),
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    client_ip    text,
    user_agent   text,
    revoked_at   timestamptz,
    CONSTRAINT sessions_id PRIMARY KEY (id)
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_keys (
    id           uuid NOT NULL,
    name         text NOT NULL,
    workspace_id uuid NOT NULL,
    restriction  jsonb CHECK (restriction IS NULL OR jsonb_typeof(restriction) = 'array'),
    created_by   uuid NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    secret_hash  bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    CONSTRAINT api_keys_id PRIMARY KEY (id)
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id, created_at, id);
CREATE INDEX api_keys_creator ON api_keys (created_by);

CREATE TABLE totp_enrollments (
    user_id       uuid NOT NULL,
    sealed_secret bytea NOT NULL,
    algorithm     text NOT NULL CHECK (algorithm IN ('sha1', 'sha256', 'sha512')),
    digits        smallint NOT NULL CHECK (digits > 0),
    period_secs   bigint NOT NULL CHECK (period_secs > 0),
    created_at    timestamptz NOT NULL,
    confirmed_at  timestamptz,
    last_step     bigint CHECK (last_step >= 0),
    CONSTRAINT totp_enrollments_pkey PRIMARY KEY (user_id)
);

CREATE TABLE recovery_codes (
    user_id    uuid NOT NULL,
    position   bigint NOT NULL CHECK (position >= 0),
    digest     bytea NOT NULL CHECK (octet_length(digest) = 32),
    created_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT recovery_codes_pkey PRIMARY KEY (user_id, position)
);

CREATE TABLE throttle (
    user_id      uuid NOT NULL,
    failures     bigint NOT NULL CHECK (failures BETWEEN 0 AND 4294967295),
    locked_until timestamptz,
    CONSTRAINT throttle_pkey PRIMARY KEY (user_id)
);

-- Facade -----------------------------------------------------------------

CREATE TABLE password_hashes (
    user_id uuid NOT NULL,
    phc     text NOT NULL,
    CONSTRAINT password_hashes_pkey PRIMARY KEY (user_id)
);

CREATE TABLE outbox (
    id           uuid NOT NULL,
    org_id       uuid,
    recipient    uuid NOT NULL,
    to_email     jsonb NOT NULL,                  -- the Email as entered
    language     text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('invitation', 'email_verification', 'password_reset', 'two_factor_changed')),
    sealed_link  bytea,
    created_at   timestamptz NOT NULL,
    delivered_at timestamptz,
    CONSTRAINT outbox_id PRIMARY KEY (id)
);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;

CREATE TABLE access_requests (
    id          uuid NOT NULL,
    org_id      uuid NOT NULL,
    requester   uuid NOT NULL,
    change_kind text NOT NULL CHECK (change_kind IN ('role', 'offboarding')),
    subject     uuid NOT NULL,
    scope       jsonb,                            -- Scope, for role changes
    role_id     uuid,
    status      text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected')),
    created_at  timestamptz NOT NULL,
    decided_by  uuid,
    decided_at  timestamptz,
    CONSTRAINT access_requests_id PRIMARY KEY (id),
    CONSTRAINT access_requests_role_scope CHECK (change_kind <> 'role' OR scope IS NOT NULL),
    CONSTRAINT access_requests_decision CHECK ((decided_by IS NULL) = (decided_at IS NULL))
);
CREATE INDEX access_requests_org ON access_requests (org_id, id);

CREATE TABLE service_accounts (
    user_id    uuid NOT NULL,
    org_id     uuid NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT service_accounts_user PRIMARY KEY (user_id)
);
CREATE INDEX service_accounts_org ON service_accounts (org_id, user_id);

-- Per-organization authorization versions, bumped with every change that
-- can alter a decision. lock_authz_version creates the row at 0 and locks
-- it for the rest of the transaction: every workflow that may change an
-- organization's authorization starts there, so they run one at a time per
-- organization.
CREATE TABLE authz_versions (
    org_id  uuid NOT NULL,
    version bigint NOT NULL CHECK (version >= 0),
    CONSTRAINT authz_versions_pkey PRIMARY KEY (org_id)
);

-- One pending address per verification token, looked up by the token.
CREATE TABLE pending_emails (
    token_id uuid NOT NULL,
    user_id  uuid NOT NULL,
    email    jsonb NOT NULL,                      -- the Email as entered
    CONSTRAINT pending_emails_pkey PRIMARY KEY (token_id)
);
