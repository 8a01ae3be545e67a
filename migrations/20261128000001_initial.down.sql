DROP TABLE sandboxes;
DROP TABLE templates;
DROP TABLE rate_limit_buckets;
DROP TABLE api_keys;
DROP TABLE organizations;
