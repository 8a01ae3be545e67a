DELETE FROM templates WHERE name = 'desktop' AND organization_id IS NULL;
