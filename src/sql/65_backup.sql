
-- ---------------------------------------------------------------------------
-- Backups. The tables are the extension's, so pg_dump would write only
-- CREATE EXTENSION and none of their rows: marked as its configuration,
-- every row is dumped, and the identity sequences' positions with them
-- (pg_dump orders the tables' data by their foreign keys).
--
-- A restore must not process the rows again: versions would make pairs
-- that the dump holds already. Restore with the triggers off, as a
-- superuser: PGOPTIONS='-c session_replication_role=replica' pg_restore …
-- (README, Backup and restore; test/backup/run.sh).
-- ---------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('buildtrace.versions', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.pairs', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.changes', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.anomalies', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.drawing_state', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.hourly_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.upload_expectations', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.scheduled_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.purge_horizon', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.versions_version_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.pairs_pair_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.anomalies_anomaly_id_seq', '');
