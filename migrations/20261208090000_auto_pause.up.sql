-- Auto-pause (docs/auto-pause.md): a sandbox created with `auto_pause` (idle seconds) is paused once it
-- has had no API or router traffic for that long and its agent reports no work; the router resumes it
-- on the next request. `last_active_at` is written by every replica from its in-memory activity set
-- (a few seconds late at most); `auto_paused` tells a pause the idle pauser made (resumed on traffic)
-- from one a user asked for (stays paused). It is in the route trigger: routers must know it.

ALTER TABLE sandboxes ADD COLUMN auto_pause_seconds INTEGER;
ALTER TABLE sandboxes ADD COLUMN last_active_at TIMESTAMPTZ NOT NULL DEFAULT now();
ALTER TABLE sandboxes ADD COLUMN auto_paused BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE sandboxes ADD COLUMN paused_at TIMESTAMPTZ;

CREATE INDEX sandboxes_idle ON sandboxes (last_active_at)
    WHERE status = 'running' AND auto_pause_seconds IS NOT NULL;

DROP TRIGGER sandboxes_route_changed ON sandboxes;
CREATE TRIGGER sandboxes_route_changed
    AFTER INSERT OR DELETE OR UPDATE OF status, agent_addr, token_key, private_previews,
        previous_token_key, previous_key_valid_until, preview_epoch, auto_paused
    ON sandboxes
    FOR EACH ROW EXECUTE FUNCTION warren_route_changed();
