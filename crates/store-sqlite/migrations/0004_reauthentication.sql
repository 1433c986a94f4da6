-- Re-authentication (SECURITY.md 39): when the user last proved a factor
-- in each session (NULL for sessions from before: their start), and the
-- notifications of email and password changes.

ALTER TABLE sessions ADD COLUMN authenticated_at TEXT;

-- SQLite cannot alter a CHECK constraint: the outbox is rebuilt with the
-- two new kinds.
CREATE TABLE outbox_new (
    id           TEXT PRIMARY KEY NOT NULL,
    org_id       TEXT,
    recipient    TEXT NOT NULL,
    to_email     TEXT NOT NULL,
    language     TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('invitation', 'email_verification', 'password_reset',
                                               'two_factor_changed', 'email_changed', 'password_changed')),
    sealed_link  BLOB,
    created_at   TEXT NOT NULL,
    delivered_at TEXT
);
INSERT INTO outbox_new (id, org_id, recipient, to_email, language, kind, sealed_link, created_at,
                        delivered_at)
    SELECT id, org_id, recipient, to_email, language, kind, sealed_link, created_at, delivered_at
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
