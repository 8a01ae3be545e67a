-- Organizations, API keys, the shared rate-limit buckets, templates and sandboxes.

CREATE TABLE organizations (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
    -- Overrides of the config defaults; NULL means "use the default".
    rate_limit         INTEGER CHECK (rate_limit > 0),
    max_live_sandboxes INTEGER CHECK (max_live_sandboxes >= 0),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id              BIGSERIAL PRIMARY KEY,
    -- The public part embedded in the key (`wrn_<key_id>_<secret>`), used for lookup.
    key_id          TEXT NOT NULL UNIQUE,
    organization_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name            TEXT,
    -- SHA-256 of the secret part; the secret itself is never stored.
    secret_hash     BYTEA NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);
CREATE INDEX api_keys_organization_id ON api_keys (organization_id);

-- One token bucket per organization, shared by every replica. UNLOGGED: no WAL flush per request;
-- after a crash the buckets start full, which is harmless.
CREATE UNLOGGED TABLE rate_limit_buckets (
    organization_id BIGINT PRIMARY KEY,
    capacity        DOUBLE PRECISION NOT NULL,
    refill_per_sec  DOUBLE PRECISION NOT NULL,
    tokens          DOUBLE PRECISION NOT NULL,
    refilled_at     TIMESTAMPTZ NOT NULL,
    last_allowed    BOOLEAN NOT NULL
);

CREATE TABLE templates (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    description     TEXT,
    category        TEXT,
    language        TEXT,
    -- The image sandboxes of this template run.
    image           TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'active',
    vcpu            INTEGER NOT NULL CHECK (vcpu > 0),
    memory_mb       INTEGER NOT NULL CHECK (memory_mb > 0),
    disk_gb         INTEGER NOT NULL CHECK (disk_gb > 0),
    features        TEXT[] NOT NULL DEFAULT '{}',
    tags            TEXT[] NOT NULL DEFAULT '{}',
    is_public       BOOLEAN NOT NULL DEFAULT false,
    -- NULL for built-in templates, which nobody may delete.
    organization_id BIGINT REFERENCES organizations (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX templates_owner_name ON templates (COALESCE(organization_id, 0), name);

CREATE TABLE sandboxes (
    id               TEXT PRIMARY KEY,
    organization_id  BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    template_id      BIGINT REFERENCES templates (id) ON DELETE SET NULL,
    template_name    TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN
                         ('creating', 'running', 'paused', 'stopped', 'error', 'deleted')),
    region           TEXT NOT NULL,
    vcpu             INTEGER NOT NULL,
    memory_mb        INTEGER NOT NULL,
    disk_mb          INTEGER NOT NULL,
    internet_access  BOOLEAN NOT NULL,
    timeout_seconds  BIGINT,
    -- The per-sandbox HMAC key agent tokens are signed with (32 bytes).
    token_key        BYTEA NOT NULL,
    agent_addr       TEXT,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at       TIMESTAMPTZ,
    expires_at       TIMESTAMPTZ,
    deleted_at       TIMESTAMPTZ
);
CREATE INDEX sandboxes_org_listing ON sandboxes (organization_id, created_at DESC, id DESC)
    WHERE status <> 'deleted';
CREATE INDEX sandboxes_expiry ON sandboxes (expires_at) WHERE status <> 'deleted';

INSERT INTO templates (name, display_name, description, category, language, image,
                       vcpu, memory_mb, disk_gb, features, tags, is_public)
VALUES
    ('code-interpreter', 'Code Interpreter',
     'Python with numpy, pandas and matplotlib, Node.js and bash.', 'development', 'python',
     'warren/template-code-interpreter:latest', 2, 2048, 10,
     '{code_execution,file_operations,terminal_access,rich_output}', '{python,nodejs,bash}', true),
    ('python', 'Python', 'Python 3 and bash.', 'development', 'python',
     'warren/template-python:latest', 1, 1024, 5,
     '{code_execution,file_operations,terminal_access}', '{python,bash}', true),
    ('nodejs', 'Node.js', 'Node.js and bash.', 'development', 'javascript',
     'warren/template-nodejs:latest', 1, 1024, 5,
     '{code_execution,file_operations,terminal_access}', '{nodejs,bash}', true),
    ('base', 'Base', 'A minimal Debian system with bash.', 'development', 'bash',
     'warren/template-base:latest', 1, 512, 5,
     '{code_execution,file_operations,terminal_access}', '{bash}', true);
