-- Custom templates (docs/templates.md): build records, and the uploads COPY steps read from.

-- One build record per template (`update: true` replaces it); the build id is the template id.
CREATE TABLE template_builds (
    template_id    BIGINT PRIMARY KEY REFERENCES templates (id) ON DELETE CASCADE,
    status         TEXT NOT NULL CHECK (status IN ('pending', 'building', 'active', 'failed')),
    progress       INTEGER NOT NULL DEFAULT 0,
    current_step   TEXT,
    -- The whole build log; clients read it from an offset (in characters).
    logs           TEXT NOT NULL DEFAULT '',
    error_message  TEXT,
    started_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at   TIMESTAMPTZ,
    -- Bumped while a replica works on the build; a build whose heartbeat stops is failed, never stuck.
    heartbeat_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- COPY sources, content-addressed by the client's `files_hash`, per organization.
CREATE TABLE template_uploads (
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    files_hash      TEXT NOT NULL,
    content_length  BIGINT NOT NULL CHECK (content_length >= 0),
    -- The secret in the upload URL (which carries no other credentials).
    upload_token    TEXT NOT NULL UNIQUE,
    uploaded        BOOLEAN NOT NULL DEFAULT false,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (organization_id, files_hash)
);
