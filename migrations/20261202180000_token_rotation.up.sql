-- Scoped credentials (docs/router.md "Credentials"): after a token key rotation the previous key keeps
-- verifying until its grace deadline; preview links carry the sandbox's preview epoch, and bumping it
-- revokes them all. Every column the router verifies with is in the route trigger, so each replica
-- drops its cached route as soon as one changes.

ALTER TABLE sandboxes ADD COLUMN previous_token_key BYTEA;
ALTER TABLE sandboxes ADD COLUMN previous_key_valid_until TIMESTAMPTZ;
ALTER TABLE sandboxes ADD COLUMN preview_epoch BIGINT NOT NULL DEFAULT 0;

DROP TRIGGER sandboxes_route_changed ON sandboxes;
CREATE TRIGGER sandboxes_route_changed
    AFTER INSERT OR DELETE OR UPDATE OF status, agent_addr, token_key, private_previews,
        previous_token_key, previous_key_valid_until, preview_epoch
    ON sandboxes
    FOR EACH ROW EXECUTE FUNCTION warren_route_changed();
