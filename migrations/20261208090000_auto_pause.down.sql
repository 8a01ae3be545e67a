DROP TRIGGER sandboxes_route_changed ON sandboxes;
CREATE TRIGGER sandboxes_route_changed
    AFTER INSERT OR DELETE OR UPDATE OF status, agent_addr, token_key, private_previews,
        previous_token_key, previous_key_valid_until, preview_epoch
    ON sandboxes
    FOR EACH ROW EXECUTE FUNCTION warren_route_changed();
DROP INDEX sandboxes_idle;
ALTER TABLE sandboxes DROP COLUMN paused_at;
ALTER TABLE sandboxes DROP COLUMN auto_paused;
ALTER TABLE sandboxes DROP COLUMN last_active_at;
ALTER TABLE sandboxes DROP COLUMN auto_pause_seconds;
