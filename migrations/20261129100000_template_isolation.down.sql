ALTER TABLE templates DROP COLUMN isolation;
