-- Each organization's change log: what the change that bumped its
-- authorization version to `version` touched (iamkit's AuthzDelta), so a
-- process holding an older compiled index re-reads only that. `kind` is
-- not checked here: a kind an older process does not know reads as "rebuild".
-- Versions bumped before this table existed have no delta: readers holding
-- them rebuild once.

CREATE TABLE authz_deltas (
    org_id  TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    kind    TEXT NOT NULL,
    subject TEXT, -- the entity's id for the kinds that name one
    PRIMARY KEY (org_id, version)
);
