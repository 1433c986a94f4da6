-- Each organization's change log: what the change that bumped its
-- authorization version to `version` touched (iamkit's AuthzDelta), so a
-- process holding an older compiled index re-reads only that. `kind` is
-- not checked here: a kind an older process does not know reads as "rebuild".
-- Versions bumped before this table existed have no delta: readers holding
-- them rebuild once.

CREATE TABLE authz_deltas (
    org_id  uuid NOT NULL,
    version bigint NOT NULL CHECK (version > 0),
    kind    text NOT NULL,
    subject uuid, -- the entity's id for the kinds that name one
    CONSTRAINT authz_deltas_pkey PRIMARY KEY (org_id, version)
);
