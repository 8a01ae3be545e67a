ALTER TABLE rate_limit_buckets DROP COLUMN last_granted;
ALTER TABLE rate_limit_buckets ADD COLUMN last_allowed BOOLEAN NOT NULL DEFAULT true;
DROP TRIGGER organizations_auth_changed ON organizations;
DROP TRIGGER api_keys_auth_changed ON api_keys;
DROP FUNCTION warren_auth_changed();
