DROP TRIGGER sandboxes_route_changed ON sandboxes;
CREATE TRIGGER sandboxes_route_changed
    AFTER INSERT OR DELETE OR UPDATE OF status, agent_addr, token_key, private_previews
    ON sandboxes
    FOR EACH ROW EXECUTE FUNCTION warren_route_changed();

ALTER TABLE sandboxes DROP COLUMN preview_epoch;
ALTER TABLE sandboxes DROP COLUMN previous_key_valid_until;
ALTER TABLE sandboxes DROP COLUMN previous_token_key;
