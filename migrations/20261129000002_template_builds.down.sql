DROP TABLE template_uploads;
DROP TABLE template_builds;
