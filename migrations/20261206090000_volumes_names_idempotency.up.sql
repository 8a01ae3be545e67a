-- Issue 15: volumes (per organization, a size reserved at create, on the sandbox disk), sandbox
-- names unique among an organization's live sandboxes, and idempotency keys of creates.

CREATE TABLE volumes (
    id              TEXT PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 63),
    -- Reserved at create against `volumes.org_quota_mb`; the runtime's limit on the volume's disk.
    size_mb         INTEGER NOT NULL CHECK (size_mb > 0),
    -- `creating` until the runtime made its directory; a row left `creating` by a crash is removed,
    -- with whatever the runtime made, by the reconciler.
    status          TEXT NOT NULL CHECK (status IN ('creating', 'ready')),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX volumes_org_name ON volumes (organization_id, name);

-- Which sandbox mounts which volume where. Rows of deleted sandboxes stay (and stop counting).
CREATE TABLE sandbox_volumes (
    sandbox_id TEXT NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    volume_id  TEXT NOT NULL REFERENCES volumes (id) ON DELETE CASCADE,
    mount_path TEXT NOT NULL,
    read_only  BOOLEAN NOT NULL,
    PRIMARY KEY (sandbox_id, mount_path)
);
CREATE INDEX sandbox_volumes_volume ON sandbox_volumes (volume_id);

-- A client-chosen name, unique among the organization's live sandboxes (lifecycle's LIVE: every
-- state but `error` and `deleted`): the index, not the code, decides a race of two creates.
ALTER TABLE sandboxes ADD COLUMN name TEXT CHECK (length(name) BETWEEN 1 AND 63);
CREATE UNIQUE INDEX sandboxes_org_live_name ON sandboxes (organization_id, name)
    WHERE name IS NOT NULL AND status NOT IN ('error', 'deleted');

-- `Idempotency-Key` of `POST /v1/sandboxes`: the sandbox a key made, and a hash of the request
-- that made it; a key is replaced once it expired.
CREATE TABLE idempotency_keys (
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key             TEXT NOT NULL,
    request_hash    BYTEA NOT NULL,
    sandbox_id      TEXT NOT NULL REFERENCES sandboxes (id) ON DELETE CASCADE,
    expires_at      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (organization_id, key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
