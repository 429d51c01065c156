-- What a purge costs must follow what it removes, not what is kept: it
-- finds the pairs processed before its cutoff by processed_at, the pairs
-- made of each version it deletes by version, and old versions, resolved
-- anomalies and rollups by their times. Checked with the
-- transaction's counters of rows read, among 20,000 pairs kept and a drawing
-- of 2,000 versions and the pairs made of them: a handful, not thousands.
BEGIN;
SELECT plan(9);

-- Stored as a restore would (no trigger runs): 20,000 recent pairs, five
-- old ones of a drawing that has a newer pair, and a drawing of 2,000
-- versions, a day apart, each pair made of two of them.
SET LOCAL session_replication_role = replica;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, submitted_at, status, processed_at)
SELECT 'rk-' || (i % 500), '[]', '[]', now() - interval '1 day', 'done', now() - interval '1 day'
FROM generate_series(1, 20000) i;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, submitted_at, status, processed_at)
SELECT 'rk-1', '[]', '[]', now() - interval '100 days', 'done', now() - interval '100 days'
FROM generate_series(1, 5) i;
INSERT INTO buildtrace.versions (version_id, drawing_id, payload, uploaded_at)
SELECT 900000 + i, 'rk-v', '[]', now() - interval '3000 days' + i * interval '1 day'
FROM generate_series(1, 2000) i;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, from_version, to_version,
                              submitted_at, status, processed_at)
SELECT 'rk-v', '[]', '[]', 900000 + i - 1, 900000 + i, now(), 'done', now()
FROM generate_series(2, 2000) i;
-- and 5,000 resolved anomalies of no pair, three of them old
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, detected_at, resolved_at)
SELECT 'missing_upload', 'medium', 'rk-a', now() - interval '101 days',
       now() - CASE WHEN i <= 3 THEN interval '100 days' ELSE interval '1 day' END
FROM generate_series(1, 5000) i;
-- and 20,000 rollups of recent hours, three of a hundred days ago, before
-- the purge horizon of ten days ago
INSERT INTO buildtrace.hourly_rollups (hour, drawing_id, pairs)
SELECT date_trunc('hour', now() - interval '1 day', 'UTC'), 'rk-r' || i, 1 FROM generate_series(1, 20000) i;
INSERT INTO buildtrace.hourly_rollups (hour, drawing_id, pairs)
SELECT date_trunc('hour', now() - interval '100 days', 'UTC'), 'rk-old' || i, 1 FROM generate_series(1, 3) i;
INSERT INTO buildtrace.purge_horizon (pairs_processed_until) VALUES (now() - interval '10 days');
RESET session_replication_role;
ANALYZE buildtrace.pairs, buildtrace.versions, buildtrace.anomalies, buildtrace.hourly_rollups;

\ir include/rows_read.psql

SELECT is(buildtrace._purge_batch('pairs', now() - interval '30 days', 10000), 5::bigint,
          'a batch removes the five old pairs');
SELECT cmp_ok((SELECT n FROM pg_temp.rows_read_since() WHERE relname = 'pairs'), '<', 500::bigint,
              'and reads a handful of the 22,000 pairs kept');

SELECT pg_temp.rows_read_mark();
SELECT is(buildtrace._purge_batch('versions', now() - interval '2990 days', 10000), 9::bigint,
          'a batch removes the nine oldest versions');
SELECT cmp_ok((SELECT n FROM pg_temp.rows_read_since() WHERE relname = 'pairs'), '<', 500::bigint,
              'and reads a handful of the pairs made of versions to unlink them');
SELECT cmp_ok((SELECT n FROM pg_temp.rows_read_since() WHERE relname = 'versions'), '<', 500::bigint,
              'and a handful of the 2,000 versions');

SELECT pg_temp.rows_read_mark();
SELECT is(buildtrace._purge_batch('anomalies', now() - interval '30 days', 10000), 3::bigint,
          'a batch removes the three old resolved anomalies');
SELECT cmp_ok((SELECT n FROM pg_temp.rows_read_since() WHERE relname = 'anomalies'), '<', 500::bigint,
              'and reads a handful of the 5,000 kept');

SELECT pg_temp.rows_read_mark();
SELECT is(buildtrace._purge_batch('rollups', now() - interval '30 days', 10000), 3::bigint,
          'a batch removes the three old rollups');
SELECT cmp_ok((SELECT n FROM pg_temp.rows_read_since() WHERE relname = 'hourly_rollups'), '<', 500::bigint,
              'and reads a handful of the 20,000 kept');

SELECT * FROM finish();
ROLLBACK;
