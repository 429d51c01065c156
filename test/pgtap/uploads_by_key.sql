-- What a run of check_uploads() costs must not grow with the uploads kept:
-- it reads each expected drawing's newest upload, and the uploads since the
-- last run, by their indexes (a max() over the uploads view read every
-- upload of every expected drawing, four times a run), and each drawing's
-- newest upload once (three times before). Checked with the
-- transaction's counters of rows read, for a drawing with a year of hourly
-- uploads: a handful, not thousands.
BEGIN;
SELECT plan(4);

-- A year of uploads of ub-1, versions and pairs sent directly, stored as a
-- restore would (no trigger makes pairs of the versions).
SET LOCAL session_replication_role = replica;
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
SELECT 'ub-1', '[]', now() - interval '1 year' + i * interval '1 hour' FROM generate_series(1, 3000) i;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, submitted_at, status, processed_at)
SELECT 'ub-1', '[]', '[]', now() - interval '1 year' + i * interval '1 hour' + interval '30 minutes',
       'done', now()
FROM generate_series(1, 3000) i;
RESET session_replication_role;
INSERT INTO buildtrace.upload_expectations (drawing_id, every, since)
VALUES ('ub-1', '1 hour', now() - interval '1 year');
ANALYZE buildtrace.versions, buildtrace.pairs;

-- The first run reads the whole year once, for late uploads.
SELECT is((buildtrace.check_uploads(now() - interval '2 hours') ->> 'delayed_upload')::int, 0,
          'a year of uploads every half hour: none late');

\ir include/rows_read.psql

-- One more version, an hour later: the next run reads a handful of rows.
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at) VALUES ('ub-1', '[]', now());
SELECT is((buildtrace.check_uploads(now() + interval '1 minute') ->> 'missing_upload')::int, 0,
          'the drawing is not missing an upload');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('versions', 'pairs') AND n >= 100$$,
                'a later run reads a handful of the 6,000 stored uploads');

-- Each expected drawing's last upload and due times are computed once a
-- run, not once for each of the statements that resolve, escalate and
-- record missing uploads (three times the index probes before).
SET LOCAL track_functions = 'all';
CREATE FUNCTION pg_temp.due_calls() RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(f.calls), 0)::bigint FROM pg_catalog.pg_stat_xact_user_functions f
    WHERE f.schemaname = 'buildtrace' AND f.funcname = '_upload_due'
$$;
SELECT pg_temp.due_calls() AS due_calls_before \gset
SELECT buildtrace.check_uploads(now() + interval '2 minutes') IS NOT NULL AS checked;
SELECT is(pg_temp.due_calls() - :due_calls_before, 1::bigint, 'a run computes the due times once');

SELECT * FROM finish();
ROLLBACK;
