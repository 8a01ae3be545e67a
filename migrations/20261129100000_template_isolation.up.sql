-- How strongly sandboxes of a template are isolated from the host: 'container' (a hardened
-- container on the host's kernel) or 'gvisor' (gVisor's user-space kernel in between).
ALTER TABLE templates
    ADD COLUMN isolation TEXT NOT NULL DEFAULT 'container'
        CHECK (isolation IN ('container', 'gvisor'));
