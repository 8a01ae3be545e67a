-- The router (docs/router.md): private port previews, and a notification on every change that
-- affects where a sandbox's hosts route, so each replica drops its cached route within milliseconds.

ALTER TABLE sandboxes ADD COLUMN private_previews BOOLEAN NOT NULL DEFAULT false;

-- Payload: `{sandbox id}:{status}` (`deleted` when the row itself goes away).
CREATE FUNCTION warren_route_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('warren_routes', OLD.id || ':deleted');
    ELSE
        PERFORM pg_notify('warren_routes', NEW.id || ':' || NEW.status);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER sandboxes_route_changed
    AFTER INSERT OR DELETE OR UPDATE OF status, agent_addr, token_key, private_previews
    ON sandboxes
    FOR EACH ROW EXECUTE FUNCTION warren_route_changed();
