-- The Docker runtime's bookkeeping: the warm pool, when a sandbox's status last changed (so the
-- reconciler leaves in-flight operations alone) and why the reconciler changed it.

ALTER TABLE sandboxes
    ADD COLUMN status_changed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Set when the reconciler (not a request) moved the sandbox to `error` or `stopped`.
    ADD COLUMN status_reason     TEXT;

CREATE FUNCTION sandboxes_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.status_changed_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER sandboxes_status_changed
    BEFORE UPDATE OF status ON sandboxes
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION sandboxes_status_changed();

-- Admission control sums the resources of these rows (and of the pool) on every create.
CREATE INDEX sandboxes_committed ON sandboxes (status) WHERE status IN ('creating', 'running', 'paused');

-- Pre-started sandboxes that belong to nobody yet. The id is final: a claim deletes the row and
-- inserts the sandbox row with the same id in one transaction.
CREATE TABLE pool_sandboxes (
    id               TEXT PRIMARY KEY,
    template_id      BIGINT NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    -- The secret of the agent's one-time configure step.
    configure_secret TEXT NOT NULL,
    -- Set once the sandbox is ready.
    agent_addr       TEXT,
    status           TEXT NOT NULL CHECK (status IN ('starting', 'ready')),
    -- The resources the container was started with (they count against capacity).
    vcpu             INTEGER NOT NULL,
    memory_mb        INTEGER NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX pool_sandboxes_ready ON pool_sandboxes (template_id, created_at) WHERE status = 'ready';
