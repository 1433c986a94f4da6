-- Issue 17: every full build of an organization's index reads which of its
-- members are active, and an account's status lives in its JSON document.
-- A generated column names it, and a partial index holds the accounts that
-- are not ACTIVE (few), so the build finds them without parsing every
-- member's document. (ALTER TABLE can add only a VIRTUAL generated column;
-- the index stores what it needs.)
ALTER TABLE users
    ADD COLUMN status TEXT GENERATED ALWAYS AS (json_extract(data, '$.status')) VIRTUAL;
CREATE INDEX users_not_active ON users (id) WHERE status <> 'ACTIVE';
