-- Hourly rollups, the hourly_changes and latency views and metrics(): rollups
-- agree with a recount of the raw rows (counts exactly, sketches bit for bit),
-- hourly_changes with a recount of changes per UTC hour, metrics()
-- has the /metrics shape with per-job fields and values, bounds bracket estimates,
-- bad windows fail with 22023, and only the reader may read.
BEGIN;
SELECT plan(39);

SELECT has_table('buildtrace', 'hourly_rollups', 'table buildtrace.hourly_rollups');
SELECT col_is_pk('buildtrace', 'hourly_rollups', ARRAY['hour', 'drawing_id'], 'one rollup row per hour and drawing');
SELECT has_view('buildtrace', 'latency', 'view buildtrace.latency');
SELECT function_returns('buildtrace', 'metrics', ARRAY['interval'], 'jsonb');
SELECT volatility_is('buildtrace', 'metrics', ARRAY['interval'], 'stable');

-- Start from nothing, so every figure below is this file's.
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

-- 600 pairs over 6 drawings in three statements (so rows are updated by
-- ON CONFLICT), 1 in 25 invalid, each valid pair with 0-5 added walls and a
-- latency on 2 pairs out of 3.
CREATE FUNCTION pg_temp.walls(n integer) RETURNS jsonb LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object('id', 'W' || i, 'type', 'wall', 'x', i, 'y', 0,
                                                 'width', 1, 'height', 1) ORDER BY i), '[]')
    FROM generate_series(1, n) i $$;
CREATE FUNCTION pg_temp.submit(lo integer, hi integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
    SELECT 'tap-m-' || (i % 6), 'tap-job-' || (i / 10),
           CASE WHEN i % 25 = 0 THEN '"broken"' ELSE pg_temp.walls(3) END,
           pg_temp.walls(3 + i % 6),
           CASE WHEN i % 3 <> 0 THEN round((random() * 1000)::numeric, 1) END
    FROM generate_series(lo, hi) i $$;
SELECT setseed(0.4);
SELECT pg_temp.submit(1, 200);
SELECT pg_temp.submit(201, 400);
SELECT pg_temp.submit(401, 600);

SELECT is((SELECT count(*) FROM buildtrace.hourly_rollups), 6::bigint, 'one rollup row per drawing this hour');

-- Counts equal a recount from changes (done pairs) and pairs (failed ones).
SELECT results_eq(
    $$SELECT drawing_id, pairs, failed, added, removed, moved, resized, retyped, modified, unchanged,
             rotated, reidentified
      FROM buildtrace.hourly_rollups ORDER BY drawing_id$$,
    $$SELECT p.drawing_id, count(c.pair_id), count(*) FILTER (WHERE p.status = 'failed'),
             coalesce(sum(c.added), 0), coalesce(sum(c.removed), 0), coalesce(sum(c.moved), 0),
             coalesce(sum(c.resized), 0), coalesce(sum(c.retyped), 0),
             coalesce(sum(c.modified), 0), coalesce(sum(c.unchanged), 0),
             coalesce(sum(c.rotated), 0), coalesce(sum(c.reidentified), 0)
      FROM buildtrace.pairs p LEFT JOIN buildtrace.changes c USING (pair_id)
      GROUP BY p.drawing_id ORDER BY p.drawing_id$$,
    'rollup counts equal a recount from changes and pairs');
SELECT is((SELECT sum(failed) FROM buildtrace.hourly_rollups), 24::numeric, '24 failed pairs counted');

-- Sketches: the merged rollups are the sketch of the raw values, so their
-- quantiles are bt_percentile's over the raw rows, exactly.
SELECT is((SELECT buildtrace.bt_sketch_quantiles(buildtrace.bt_sketch_merge(processing_ms), ARRAY[0.5, 0.95, 0.99])
           FROM buildtrace.hourly_rollups),
          (SELECT buildtrace.bt_percentile(processing_us / 1000.0::float8, ARRAY[0.5, 0.95, 0.99])
           FROM buildtrace.changes),
          'merged processing sketch quantiles = bt_percentile over raw processing times');
SELECT is((SELECT buildtrace.bt_sketch_merge(processing_ms)::text FROM buildtrace.hourly_rollups),
          (SELECT buildtrace.bt_sketch(processing_us / 1000.0::float8)::text FROM buildtrace.changes),
          'merged processing sketch is bit-identical to the sketch of the raw values');
SELECT is((SELECT buildtrace.bt_sketch_merge(reported_latency_ms)::text FROM buildtrace.hourly_rollups),
          (SELECT buildtrace.bt_sketch(p.latency_ms)::text FROM buildtrace.pairs p WHERE p.status = 'done'),
          'reported latency sketch = sketch of the done pairs'' latency_ms');
SELECT is((SELECT buildtrace.bt_sketch_count(buildtrace.bt_sketch_merge(reported_latency_ms))
           FROM buildtrace.hourly_rollups),
          (SELECT count(latency_ms) FROM buildtrace.pairs WHERE status = 'done'),
          'pairs without latency_ms are not in the reported sketch');

-- rebuild_rollups() = what the trigger maintained.
CREATE TEMP TABLE maintained AS
SELECT hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped, modified, unchanged,
       processing_ms::text AS p, reported_latency_ms::text AS l FROM buildtrace.hourly_rollups;
SELECT is(buildtrace.rebuild_rollups(), 6::bigint, 'rebuild_rollups() writes 6 rows');
SELECT set_eq(
    $$SELECT hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped, modified,
             unchanged, processing_ms::text, reported_latency_ms::text FROM buildtrace.hourly_rollups$$,
    $$SELECT * FROM maintained$$,
    'rebuilt rollups equal the maintained ones');

-- rebuild_rollups(since) rewrites the hours from since's on and leaves the
-- earlier ones: an hour ten days ago with no pairs behind it stays, a
-- spoiled row of this hour is mended.
INSERT INTO buildtrace.hourly_rollups (hour, drawing_id, pairs)
VALUES (date_trunc('hour', now() - interval '10 days', 'UTC'), 'mt-old', 7);
UPDATE buildtrace.hourly_rollups SET pairs = 999
WHERE drawing_id = (SELECT min(drawing_id) FROM maintained);
SELECT is(buildtrace.rebuild_rollups(now() - interval '1 hour'), 6::bigint,
          'rebuild_rollups(since) writes the 6 rows of the window');
SELECT set_eq(
    $$SELECT hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped, modified,
             unchanged, processing_ms::text, reported_latency_ms::text FROM buildtrace.hourly_rollups
      WHERE drawing_id <> 'mt-old'$$,
    $$SELECT * FROM maintained$$,
    'and mends them');
SELECT is((SELECT pairs FROM buildtrace.hourly_rollups WHERE drawing_id = 'mt-old'), 7::bigint,
          'and leaves the hours before since');
DELETE FROM buildtrace.hourly_rollups WHERE drawing_id = 'mt-old';

-- metrics(): the /metrics keys and the per-job fields.
SELECT ok(buildtrace.metrics() ?& ARRAY['hourly_stats', 'latency_p95', 'latency_p99', 'data_quality_issues',
                                         'latency_p95_bounds', 'latency_p99_bounds', 'jobs'],
          'metrics() has the /metrics keys, bounds and jobs');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(buildtrace.metrics() -> 'jobs' -> 0) k),
          ARRAY['job_id', 'latency_ms', 'pairs', 'processed_at', 'total_added', 'total_modified',
                'total_removed', 'total_unchanged'],
          'a job has the per-job fields');
SELECT is((buildtrace.metrics() ->> 'data_quality_issues')::bigint,
          (SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'invalid_input'),
          'data_quality_issues = invalid_input anomalies = failed pairs');
SELECT is((SELECT sum((v ->> 'added')::bigint) FROM jsonb_each(buildtrace.metrics() -> 'hourly_stats') e(k, v)),
          (SELECT sum(added)::numeric FROM buildtrace.changes), 'hourly_stats added = recount');
SELECT is((buildtrace.metrics() ->> 'latency_p99')::float8,
          (SELECT buildtrace.bt_percentile(processing_us / 1000.0::float8, 0.99) FROM buildtrace.changes),
          'latency_p99 = bt_percentile over raw processing times (ms)');
SELECT ok((m #>> '{latency_p95_bounds,lower}')::float8 <= (m ->> 'latency_p95')::float8
          AND (m ->> 'latency_p95')::float8 <= (m #>> '{latency_p95_bounds,upper}')::float8,
          'latency_p95 lies within its bounds')
FROM buildtrace.metrics() m;
SELECT results_eq(
    $$SELECT j ->> 'job_id', (j ->> 'latency_ms')::float8, (j ->> 'total_added')::bigint,
             (j ->> 'total_unchanged')::bigint
      FROM jsonb_array_elements(buildtrace.metrics() -> 'jobs') j ORDER BY 1$$,
    $$SELECT c.job_id, max(p.latency_ms), sum(c.added), sum(c.unchanged)
      FROM buildtrace.changes c JOIN buildtrace.pairs p USING (pair_id)
      WHERE c.job_id IS NOT NULL GROUP BY c.job_id ORDER BY 1$$,
    'jobs: the latency and totals of every job');

-- latency view: bounds bracket the estimates; windows from rollups only.
SELECT is((SELECT n FROM buildtrace.latency WHERE period = 'all'),
          (SELECT count(*) FROM buildtrace.changes), 'latency n = processed pairs');
SELECT ok(bool_and(p50_lower <= p50 AND p50 <= p50_upper AND p95_lower <= p95 AND p95 <= p95_upper
                   AND p99_lower <= p99 AND p99 <= p99_upper),
          'every latency estimate lies within its bounds')
FROM buildtrace.latency WHERE n > 0;
-- A rollup row 3 days old counts in 7 days and all, not in 24 hours.
INSERT INTO buildtrace.hourly_rollups (hour, drawing_id, pairs, processing_ms)
SELECT date_trunc('hour', now() - interval '3 days', 'UTC'), 'tap-old', 10,
       (SELECT buildtrace.bt_sketch(x) FROM generate_series(1, 10) x);
SELECT is(ARRAY(SELECT n FROM buildtrace.latency ORDER BY n),
          ARRAY[576::bigint, 576, 586, 586], 'a 3-day-old hour is in the 7-day and all windows only');

-- Bad windows.
SELECT throws_ok($$SELECT buildtrace.metrics(NULL)$$, '22023', 'metrics window must not be NULL', 'NULL since');
SELECT throws_ok($$SELECT buildtrace.metrics('-5 minutes')$$, '22023', 'metrics window must not be negative',
                 'negative since');
SELECT throws_ok($$SELECT buildtrace.metrics('300000 years')$$, '22023', 'metrics window is out of range',
                 'since beyond the timestamp range');

-- Privileges: the reader reads, the writer does not.
SET LOCAL ROLE buildtrace_reader;
SELECT lives_ok($$SELECT * FROM buildtrace.latency$$, 'reader reads latency');
SELECT is((buildtrace.metrics('7 days') ->> 'pairs')::bigint, 586::bigint, 'reader calls metrics()');
RESET ROLE;
SET LOCAL ROLE buildtrace_writer;
SELECT throws_ok($$SELECT * FROM buildtrace.latency$$, '42501', NULL, 'writer cannot read latency');
SELECT throws_ok($$SELECT buildtrace.metrics()$$, '42501', NULL, 'writer cannot call metrics()');
RESET ROLE;

-- A job whose pairs reported no latency still counts.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b)
VALUES ('tap-quiet', 'tap-no-latency', '[]', '[{"id":"Q","type":"wall","x":0,"y":0,"width":1,"height":1}]');
SELECT is((SELECT j - 'processed_at' FROM jsonb_array_elements(buildtrace.metrics() -> 'jobs') j
           WHERE j ->> 'job_id' = 'tap-no-latency'),
          '{"job_id": "tap-no-latency", "latency_ms": null, "pairs": 1, "total_added": 1, "total_removed": 0,
            "total_modified": 0, "total_unchanged": 0}'::jsonb,
          'a job without a reported latency is listed, latency_ms null');
-- A pair sent without a job_id is of no job: the jobs list has no entry
-- for it, not a "null" job that sums every such pair.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('tap-jobless', '[]', '[]');
SELECT is((SELECT count(*) FROM jsonb_array_elements(buildtrace.metrics() -> 'jobs') j
           WHERE j -> 'job_id' = 'null'::jsonb), 0::bigint, 'a pair without a job_id is in no job');

-- Windows are counted back in UTC, as the rollups' hours are: a span of
-- months gives the same start from a session in New York as from one in UTC
-- (whatever the date, one of these spans crosses a change of New York's
-- clocks, which moved the start by an hour).
SET LOCAL timezone = 'UTC';
CREATE TEMP TABLE window_starts AS
SELECT span, buildtrace._window_start(span) AS utc_start
FROM unnest(ARRAY['3 months', '6 months', '9 months']::interval[]) span;
SET LOCAL timezone = 'America/New_York';
SELECT is_empty($$SELECT span FROM window_starts WHERE buildtrace._window_start(span) <> utc_start$$,
                'a window''s start does not depend on the session''s time zone');

-- hourly_changes: the rollups summed per UTC hour equal a recount of
-- changes, over three hours of done pairs; an hour of failed pairs only is
-- not listed. The processing times are moved back, then the rollups rebuilt.
UPDATE buildtrace.changes SET computed_at = computed_at - (pair_id % 3) * interval '1 hour';
UPDATE buildtrace.pairs SET processed_at = processed_at - interval '5 hours' WHERE status = 'failed';
SELECT buildtrace.rebuild_rollups();
SELECT ok(EXISTS (SELECT FROM buildtrace.hourly_rollups r WHERE r.pairs = 0 AND r.failed > 0),
          'a rollup hour holds failed pairs only');
SELECT results_eq(
    $$SELECT hour, pairs, drawings, added, removed, moved, resized, retyped, modified, rotated,
             reidentified
      FROM buildtrace.hourly_changes ORDER BY hour$$,
    $$SELECT date_trunc('hour', c.computed_at, 'UTC'), count(*), count(DISTINCT c.drawing_id),
             sum(c.added)::bigint, sum(c.removed)::bigint, sum(c.moved)::bigint,
             sum(c.resized)::bigint, sum(c.retyped)::bigint, sum(c.modified)::bigint,
             sum(c.rotated)::bigint, sum(c.reidentified)::bigint
      FROM buildtrace.changes c GROUP BY 1 ORDER BY 1$$,
    'hourly_changes equals a recount of changes per UTC hour, without the failed-only hour');

SELECT * FROM finish();
ROLLBACK;
