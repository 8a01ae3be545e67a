-- The transitional states of the lifecycle (crates/lifecycle): each action writes one before the
-- runtime is asked anything, so a server that dies mid-action leaves a row the reconciler finishes.
ALTER TABLE sandboxes DROP CONSTRAINT sandboxes_status_check;
ALTER TABLE sandboxes ADD CONSTRAINT sandboxes_status_check CHECK (status IN
    ('creating', 'starting', 'running', 'pausing', 'paused', 'resuming', 'stopping', 'stopped',
     'error', 'deleted'));

-- Admission control sums the resources of the rows in these states (lifecycle's ACTIVE and LIVE).
DROP INDEX sandboxes_committed;
CREATE INDEX sandboxes_committed ON sandboxes (status)
    WHERE status NOT IN ('error', 'deleted');
