-- Tenant isolation of accounts: an invitation link belongs to its
-- organization (NULL: an account-wide link), and each account records the
-- organization that manages it (User.managed_by, inside the JSON).

ALTER TABLE tokens ADD COLUMN org_id uuid;

-- Accounts from before managing organizations: one that belongs to exactly
-- one organization is managed by it; one in several manages itself.
UPDATE users
SET data = jsonb_set(data, '{managed_by}',
                     to_jsonb((SELECT m.org_id::text FROM memberships m WHERE m.user_id = users.id)))
WHERE NOT (data ? 'managed_by')
  AND (SELECT count(*) FROM memberships m WHERE m.user_id = users.id) = 1;
