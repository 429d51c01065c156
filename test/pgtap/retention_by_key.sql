-- What a purge costs must follow what it removes, not what is kept: it
-- finds the pairs processed before its cutoff by processed_at, and the pairs
-- made of each version it deletes by version. Checked with the
-- transaction's counters of rows read, among 20,000 pairs kept and a drawing
-- of 2,000 versions and the pairs made of them: a handful, not thousands.
BEGIN;
SELECT plan(4);

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
RESET session_replication_role;
ANALYZE buildtrace.pairs, buildtrace.versions;

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

SELECT * FROM finish();
ROLLBACK;
