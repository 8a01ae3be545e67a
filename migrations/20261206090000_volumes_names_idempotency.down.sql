DROP TABLE idempotency_keys;
DROP INDEX sandboxes_org_live_name;
ALTER TABLE sandboxes DROP COLUMN name;
DROP TABLE sandbox_volumes;
DROP TABLE volumes;
