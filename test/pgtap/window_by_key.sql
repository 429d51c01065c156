-- What metrics(), report_html(), rebuild_rollups(since) and a window of
-- hourly_changes cost must follow
-- the window they show or write, not the history kept: each reads the
-- rollups, pairs, changes and anomalies of its window by their indexes
-- (planned with the window's start: SQL functions planned without it read
-- every table whole, as if a third of each were in the window). Checked
-- with the transaction's counters of rows read, among two years of hourly
-- rollups of ten drawings, 20,000 old anomalies and 5,000 pairs processed a
-- year ago: a handful, not thousands.
BEGIN;
SELECT plan(8);

INSERT INTO buildtrace.hourly_rollups (hour, drawing_id, pairs, processing_ms)
SELECT date_trunc('hour', now(), 'UTC') - h * interval '1 hour', 'wk-' || d, 1,
       (SELECT buildtrace.bt_sketch(1.5::float8))
FROM generate_series(24, 24 + 2 * 8760) h, generate_series(1, 10) d;
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at, resolved_at)
SELECT 'delayed_upload', 'low', 'wk-' || (i % 10), '{}', now() - interval '2 days' - i * interval '1 hour',
       now() - interval '2 days'
FROM generate_series(1, 20000) i;
-- The window's own: one pair of a job.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b)
VALUES ('wk-1', 'wk-job', '[]', '[{"id":"w","type":"wall","x":0,"y":0,"width":1,"height":1}]');
-- And 5,000 pairs processed a year ago, with their change sets (whose
-- rollups that year are among the ones above).
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'wk-old-' || (i % 10), '[]', '[]' FROM generate_series(1, 5000) i;
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '1 year' WHERE drawing_id LIKE 'wk-old-%';
UPDATE buildtrace.changes SET computed_at = computed_at - interval '1 year' WHERE drawing_id LIKE 'wk-old-%';
DELETE FROM buildtrace.hourly_rollups WHERE drawing_id LIKE 'wk-old-%';
ANALYZE buildtrace.hourly_rollups, buildtrace.anomalies, buildtrace.pairs, buildtrace.changes;

\ir include/rows_read.psql

SELECT is(buildtrace.metrics('1 hour') -> 'jobs' -> 0 ->> 'job_id', 'wk-job', 'metrics() shows the window''s job');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('hourly_rollups', 'anomalies', 'pairs', 'changes') AND n >= 500$$,
                'metrics() reads a handful of the 175,000 rollups and 20,000 anomalies kept');

SELECT pg_temp.rows_read_mark();
SELECT matches(buildtrace.report_html('1 hour'), '<b>1</b> pairs processed', 'report_html() shows the window''s pair');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('hourly_rollups', 'anomalies', 'pairs', 'changes') AND n >= 500$$,
                'report_html() reads a handful of them');

SELECT pg_temp.rows_read_mark();
SELECT is(buildtrace.rebuild_rollups(now() - interval '1 hour'), 1::bigint,
          'rebuild_rollups(since) writes the window''s rollup');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('hourly_rollups', 'pairs', 'changes') AND n >= 500$$,
                'and reads a handful of the rollups, pairs and change sets kept');

SELECT pg_temp.rows_read_mark();
SELECT is((SELECT sum(pairs) FROM buildtrace.hourly_changes WHERE hour >= now() - interval '1 hour'),
          1::numeric, 'hourly_changes shows the window''s pair');
SELECT is_empty($$SELECT * FROM pg_temp.rows_read_since()
                  WHERE relname IN ('hourly_rollups', 'changes') AND n >= 500$$,
                'and reads a handful of the rollups kept, and no change set');

SELECT * FROM finish();
ROLLBACK;
