-- Issue 17: every full build of an organization's index reads which of its
-- members are active, and an account's status lives in its `data`
-- document. As a column of its own (generated, so every write keeps it
-- exact) it has planner statistics, and the accounts that are not ACTIVE
-- (few) are found through their own index instead of by reading every
-- member's account.
ALTER TABLE users
    ADD COLUMN status text GENERATED ALWAYS AS (data ->> 'status') STORED;
CREATE INDEX users_not_active ON users (id) WHERE status <> 'ACTIVE';
