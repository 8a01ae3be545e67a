DROP TABLE pool_sandboxes;
DROP INDEX sandboxes_committed;
DROP TRIGGER sandboxes_status_changed ON sandboxes;
DROP FUNCTION sandboxes_status_changed();
ALTER TABLE sandboxes DROP COLUMN status_reason, DROP COLUMN status_changed_at;
