-- Hourly rollups kept by the pipeline, the latency view and metrics().
-- processing_us is wall-clock time and varies from run to run, so sketches of
-- processing time are compared with sketches of the raw rows (same values ⇒
-- bit-identical sketch), while counts and everything built from fixed values
-- (reported latency_ms, hand-made rollup rows) are printed exactly.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET timezone = 'UTC';
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

\i test/data/walls.sql

-- The rollup row of this hour and drawing, read in the same transaction as
-- the inserts so that now() is the processing time.
CREATE VIEW pg_temp.rollup AS
SELECT r.hour = date_trunc('hour', now(), 'UTC') AS this_hour, r.drawing_id, r.pairs, r.failed,
       r.added, r.removed, r.moved, r.resized, r.retyped, r.modified, r.unchanged,
       buildtrace.bt_sketch_count(r.processing_ms) AS n_processing,
       buildtrace.bt_sketch_quantiles(r.reported_latency_ms, '{0,0.5,1}') AS reported_min_p50_max
FROM buildtrace.hourly_rollups r;

BEGIN;
-- One statement: drawing m-a gets 3 done pairs (2 with a reported latency),
-- m-b one done and one failed pair, m-c only a failed pair.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms) VALUES
    ('m-a', 'job-1', pg_temp.walls(3), pg_temp.walls(4), 120),       -- 1 added, 3 unchanged
    ('m-a', 'job-1', pg_temp.walls(4), pg_temp.walls(4, 2), 80),     -- 2 moved, 2 unchanged
    ('m-a', 'job-2', pg_temp.walls(4), pg_temp.walls(2), NULL),      -- 2 removed, 2 unchanged
    ('m-b', 'job-2', pg_temp.walls(2), pg_temp.walls(5, 1), 300),    -- 3 added, 1 moved, 1 unchanged
    ('m-b', 'job-2', '7', '[]', 999),                                -- failed
    ('m-c', NULL, '[]', '{"objects": 5}', NULL);                     -- failed
SELECT * FROM pg_temp.rollup ORDER BY drawing_id;
-- A second statement adds to the same rows (ON CONFLICT ... DO UPDATE).
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms) VALUES
    ('m-a', 'job-3', pg_temp.walls(2), pg_temp.walls(2, 2), 40),     -- 2 moved
    ('m-c', 'job-3', '[]', pg_temp.walls(1), 10);                    -- 1 added
SELECT * FROM pg_temp.rollup ORDER BY drawing_id;
-- Counts equal a recount from changes and pairs; the processing sketch is
-- exactly the sketch of the raw processing times in milliseconds.
SELECT r.drawing_id,
       r.pairs = c.n AND r.added = c.added AND r.moved = c.moved AND r.removed = c.removed
           AND r.unchanged = c.unchanged AS counts_match,
       r.failed = (SELECT count(*) FROM buildtrace.pairs p
                   WHERE p.drawing_id = r.drawing_id AND p.status = 'failed') AS failed_match,
       r.processing_ms::text = c.sketch::text AS processing_sketch_identical
FROM buildtrace.hourly_rollups r
LEFT JOIN LATERAL (
    SELECT count(*) AS n, sum(added) AS added, sum(moved) AS moved, sum(removed) AS removed,
           sum(unchanged) AS unchanged,
           buildtrace.bt_sketch(processing_us / 1000.0::float8) AS sketch
    FROM buildtrace.changes WHERE drawing_id = r.drawing_id) c ON true
ORDER BY r.drawing_id;
-- rebuild_rollups() recomputes the same rows from changes and pairs.
CREATE TEMP TABLE maintained AS SELECT hour, drawing_id, pairs, failed, added, removed, moved,
    resized, retyped, modified, unchanged, processing_ms::text AS p, reported_latency_ms::text AS l
    FROM buildtrace.hourly_rollups;
SELECT buildtrace.rebuild_rollups() AS rebuilt_rows;
SELECT count(*) AS differences FROM (
    (SELECT hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped, modified,
            unchanged, processing_ms::text, reported_latency_ms::text FROM buildtrace.hourly_rollups
     EXCEPT SELECT * FROM maintained)
    UNION ALL
    (SELECT * FROM maintained
     EXCEPT SELECT hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped, modified,
            unchanged, processing_ms::text, reported_latency_ms::text FROM buildtrace.hourly_rollups)) d;

-- metrics() over the hour: counts, failed pairs and per-job figures.
SELECT k, jsonb_typeof(v) AS type FROM jsonb_each(buildtrace.metrics()) AS e(k, v) ORDER BY k;
SELECT m -> 'pairs' AS pairs, m -> 'data_quality_issues' AS data_quality_issues,
       (SELECT jsonb_agg(v) FROM jsonb_each(m -> 'hourly_stats') e(k, v)) AS hourly_stats,
       (SELECT bool_and(k = to_char(date_trunc('hour', now(), 'UTC'), 'YYYY-MM-DD"T"HH24:00:00"Z"'))
        FROM jsonb_object_keys(m -> 'hourly_stats') k) AS key_is_this_hour,
       m -> 'reported_latency_p95' AS reported_p95, m ->> 'latency_unit' AS unit
FROM buildtrace.metrics() m;
-- job-2's m-a pair reported no latency but counts in the job's totals.
SELECT jsonb_pretty((buildtrace.metrics() -> 'jobs' -> i) - 'processed_at') AS job
FROM generate_series(0, 2) i;
-- The estimates are the merged rollup sketch's quantiles, i.e. those of
-- bt_percentile over the raw processing times, and lie within their bounds.
SELECT (m ->> 'latency_p95')::float8 = p[1] AS p95_is_raw_percentile,
       (m ->> 'latency_p99')::float8 = p[2] AS p99_is_raw_percentile,
       (m #>> '{latency_p95_bounds,lower}')::float8 <= (m ->> 'latency_p95')::float8 AS p95_lower_ok,
       -- 6 values: no rank reaches 97.5 % above the 0.95-quantile, so no upper bound.
       m #> '{latency_p95_bounds,upper}' AS p95_upper
FROM buildtrace.metrics() m,
     (SELECT buildtrace.bt_percentile(processing_us / 1000.0::float8, ARRAY[0.95, 0.99]) AS p
      FROM buildtrace.changes) raw;
COMMIT;

-- Windows: hand-made rollup rows with fixed values 3 days, 1 day 3 hours
-- and 2 hours ago. metrics(since) takes the hours from the one containing
-- now() - since. The jobs list is read from changes, not from rollups, so it
-- still holds the 3 jobs processed this hour.
BEGIN;
TRUNCATE buildtrace.hourly_rollups;
INSERT INTO buildtrace.hourly_rollups (hour, drawing_id, pairs, failed, added, removed, moved,
                                       processing_ms, reported_latency_ms)
SELECT date_trunc('hour', now() - a.age, 'UTC'), 'w', 100, a.failed, 1, 2, 3,
       (SELECT buildtrace.bt_sketch(x * a.scale) FROM generate_series(1, 100) x), NULL
FROM (VALUES (interval '2 hours', 1, 1.0), (interval '1 day 3 hours', 2, 10.0),
             (interval '3 days', 4, 100.0)) a(age, failed, scale);
SELECT since, m -> 'pairs' AS pairs, m -> 'data_quality_issues' AS issues,
       (SELECT count(*) FROM jsonb_object_keys(m -> 'hourly_stats')) AS hours,
       m -> 'latency_p95' AS p95, m -> 'latency_p99' AS p99,
       m -> 'latency_p95_bounds' AS p95_bounds, jsonb_array_length(m -> 'jobs') AS jobs
FROM unnest(ARRAY[interval '0', '1 hour', '3 hours', '2 days', '7 days']) since,
     buildtrace.metrics(since) m;
SELECT period,
       since IS NOT DISTINCT FROM date_trunc('hour', now() - CASE period WHEN 'last hour' THEN interval '1 hour'
           WHEN 'last 24 hours' THEN interval '24 hours' WHEN 'last 7 days' THEN interval '7 days' END, 'UTC') AS since_ok,
       n,
       p50, p50_lower, p50_upper, p95, p95_lower, p95_upper, p99, p99_lower, p99_upper
FROM buildtrace.latency;
ROLLBACK;

-- Empty window: no pairs, no estimates, no jobs.
BEGIN;
TRUNCATE buildtrace.pairs, buildtrace.hourly_rollups CASCADE;
SELECT buildtrace.metrics('1 hour') - 'since' - 'until' AS empty_metrics;
SELECT period, n, p50, p95_lower, p99_upper FROM buildtrace.latency;
ROLLBACK;

-- Bad windows.
\set VERBOSITY default
SELECT buildtrace.metrics(NULL);
SELECT buildtrace.metrics('-1 hour');
SELECT buildtrace.metrics('1 month -40 days');
-- A span of mixed signs is counted in UTC whatever the session's zone: 16
-- years less their hours, plus 10 minutes, is 10 minutes in UTC, and also
-- in Caracas, whose clocks moved by half an hour in 2016 (counted there, it
-- was -20 minutes, and refused).
SET TimeZone = 'America/Caracas';
SELECT buildtrace.metrics('5844 days -140256 hours 10 minutes') ? 'pairs' AS accepted;
RESET TimeZone;
SELECT buildtrace.metrics('1000000 years');
-- health() checks its window the same way.
SELECT buildtrace.health(NULL);
SELECT buildtrace.health('-100 years');
SELECT buildtrace.health('300000 years');
\set VERBOSITY terse
