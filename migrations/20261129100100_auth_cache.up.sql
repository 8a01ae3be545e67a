-- The in-process cache of API keys and leased rate-limit tokens (crates/control-plane/src/auth_cache.rs):
-- a notification on every change that makes a cached key wrong, so each replica drops it at once, and
-- the size of the last grant of tokens in each bucket (a replica takes several at a time).

-- Payload: `key:{key_id}` when a key is revoked or deleted, `org:{id}` when an organization's rate
-- limit changes or it is deleted.
CREATE FUNCTION warren_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'api_keys' THEN
        PERFORM pg_notify('warren_auth', 'key:' || OLD.key_id);
    ELSE
        PERFORM pg_notify('warren_auth', 'org:' || OLD.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_auth_changed
    AFTER DELETE OR UPDATE OF revoked_at, secret_hash, organization_id, key_id ON api_keys
    FOR EACH ROW EXECUTE FUNCTION warren_auth_changed();

CREATE TRIGGER organizations_auth_changed
    AFTER DELETE OR UPDATE OF rate_limit ON organizations
    FOR EACH ROW EXECUTE FUNCTION warren_auth_changed();

-- How many tokens the last statement granted (0 = refused); replaces the yes/no `last_allowed`.
ALTER TABLE rate_limit_buckets DROP COLUMN last_allowed;
ALTER TABLE rate_limit_buckets ADD COLUMN last_granted INTEGER NOT NULL DEFAULT 0;
