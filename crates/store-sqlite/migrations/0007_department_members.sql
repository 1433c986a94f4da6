-- Issue 21, item 2: a department's members are read to refuse deleting a
-- department that still has some, and the directory filters by department.
-- Memberships had no index on department_id (PostgreSQL's first schema has
-- one), so both read every membership, and so did the SET NULL of deleting
-- a department. Most members are filed under none: a partial index.
CREATE INDEX memberships_department ON memberships (department_id)
    WHERE department_id IS NOT NULL;
