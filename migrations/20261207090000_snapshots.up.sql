-- Issue 15: filesystem snapshots of sandboxes (per organization, counted against a quota of
-- count and MiB). A snapshot outlives its sandbox, so `sandbox_id` is no foreign key.
CREATE TABLE snapshots (
    id              TEXT PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT CHECK (length(name) BETWEEN 1 AND 63),
    -- The sandbox it was taken of, and that sandbox's template: a sandbox made from the snapshot
    -- runs this template's image with the snapshot's files.
    sandbox_id      TEXT NOT NULL,
    template_id     BIGINT REFERENCES templates (id) ON DELETE SET NULL,
    template_name   TEXT NOT NULL,
    -- The disk size of the sandbox it was taken of (what it can hold), reserved against
    -- `snapshots.org_quota_mb`.
    size_mb         INTEGER NOT NULL CHECK (size_mb > 0),
    -- `creating` until the runtime took it (a fork's snapshot stays `creating` until its forks
    -- are made, then goes); rows left `creating` by a crash are removed, with what the runtime
    -- made, by the reconciler.
    status          TEXT NOT NULL CHECK (status IN ('creating', 'ready')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX snapshots_org ON snapshots (organization_id, created_at);
