DROP TABLE template_build_logs;
DROP INDEX template_builds_unfinished;
ALTER TABLE template_builds
    DROP COLUMN lease_expires_at,
    DROP COLUMN owner,
    DROP COLUMN attempt,
    ADD COLUMN heartbeat_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    ADD COLUMN logs TEXT NOT NULL DEFAULT '';
