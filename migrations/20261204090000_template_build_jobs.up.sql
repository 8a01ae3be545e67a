-- Template builds as durable jobs (docs/templates.md, "How a build runs"): each start of a build is a
-- new attempt, run by the replica that accepted it while it holds a lease; the log is kept in
-- bounded chunks. Old logs are dropped, not moved.

ALTER TABLE template_builds
    DROP COLUMN logs,
    DROP COLUMN heartbeat_at,
    -- New on every start (`update: true`, a rebuild after a failure). Every write of a running build
    -- names its attempt, so an attempt that was declared dead, or replaced, changes nothing.
    ADD COLUMN attempt UUID NOT NULL DEFAULT gen_random_uuid(),
    -- The replica that accepted the build and runs it (its uploads are on that replica's disk).
    ADD COLUMN owner TEXT NOT NULL DEFAULT '',
    -- Renewed by the owner while the build is pending or building; past it the leader fails the
    -- build (a build of an old version of Warren, left by this migration, has expired at once).
    ADD COLUMN lease_expires_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- The queue: admission counts unfinished builds per owner, and each owner claims its own pending
-- rows oldest first; the leader looks for expired leases.
CREATE INDEX template_builds_unfinished ON template_builds (owner, started_at)
    WHERE status IN ('pending', 'building');

-- The log of a build's current attempt, in chunks of at most `templates.log_chunk_bytes`, numbered
-- from 0; only the last `templates.log_max_chunks` are kept. Offsets are in characters of the whole
-- log as it was written, so a client reading from an offset is not moved by chunks dropped before it.
CREATE TABLE template_build_logs (
    template_id   BIGINT NOT NULL REFERENCES template_builds (template_id) ON DELETE CASCADE,
    attempt       UUID NOT NULL,
    seq           INTEGER NOT NULL CHECK (seq >= 0),
    -- Offsets of the chunk's first character and of the one after its last.
    start_offset  BIGINT NOT NULL CHECK (start_offset >= 0),
    end_offset    BIGINT NOT NULL CHECK (end_offset >= start_offset),
    chunk         TEXT NOT NULL,
    PRIMARY KEY (template_id, attempt, seq)
);
