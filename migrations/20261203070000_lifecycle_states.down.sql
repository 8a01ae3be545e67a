-- Back to the stable states only: a row mid-action goes back to the state it was leaving (a stop
-- counts as done; the reconciler of the older version repairs what the runtime disagrees with).
UPDATE sandboxes SET status = CASE status
    WHEN 'pausing' THEN 'running'
    WHEN 'resuming' THEN 'paused'
    ELSE 'stopped' END
WHERE status IN ('starting', 'pausing', 'resuming', 'stopping');
ALTER TABLE sandboxes DROP CONSTRAINT sandboxes_status_check;
ALTER TABLE sandboxes ADD CONSTRAINT sandboxes_status_check CHECK (status IN
    ('creating', 'running', 'paused', 'stopped', 'error', 'deleted'));
DROP INDEX sandboxes_committed;
CREATE INDEX sandboxes_committed ON sandboxes (status) WHERE status IN ('creating', 'running', 'paused');
