-- Re-authentication (SECURITY.md 39): when the user last proved a factor
-- in each session (NULL for sessions from before: their start), and the
-- notifications of email and password changes.

ALTER TABLE sessions ADD COLUMN authenticated_at timestamptz;

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('invitation', 'email_verification', 'password_reset', 'two_factor_changed',
                    'email_changed', 'password_changed'));
