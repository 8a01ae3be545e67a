DROP TRIGGER sandboxes_route_changed ON sandboxes;
DROP FUNCTION warren_route_changed();
ALTER TABLE sandboxes DROP COLUMN private_previews;
