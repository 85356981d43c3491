-- Readiness probes no longer write (they ask whether writes would be accepted): the probe
-- table is unused.
DROP TABLE IF EXISTS health_probe;
