-- The main job (test/demo.sh): a real drawing diffed, simulated uploads
-- through the pipeline, the scheduled checks, and a report.
\set ON_ERROR_STOP 1
\pset pager off
\pset format wrapped
\pset columns 110
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;

\echo
\echo '=== 1. bt_diff on a real drawing: the FZK-Haus (KIT IFC sample house), 89 elements'
\i test/data/fzk-revision.sql
SELECT buildtrace.bt_diff(v1, v2) ->> 'summary' AS "FZK-Haus v1 → v2" FROM fzk;
SELECT jsonb_pretty(buildtrace.bt_diff(v1, v2) -> 'counts') AS counts,
       jsonb_pretty(buildtrace.bt_diff(v1, v2) -> 'moved' -> 0) AS first_move
FROM fzk;

\echo
\echo '=== 1b. The same house re-exported (every id regenerated, order shuffled), and moved 10 m east'
SET buildtrace.units = 'm';
WITH reexport AS (SELECT jsonb_agg(el || jsonb_build_object('id', md5(el ->> 'id')) ORDER BY md5(el ->> 'name')) AS v
                  FROM fzk f, jsonb_array_elements(f.v2) el),
     moved AS (SELECT jsonb_agg(jsonb_set(el, '{x}', to_jsonb((el ->> 'x')::numeric + 10))) AS v
               FROM fzk f, jsonb_array_elements(f.v1) el)
SELECT 're-export of v2' AS "compared with v1", buildtrace.bt_diff(f.v1, r.v) ->> 'summary' AS summary,
       buildtrace.bt_diff(f.v1, r.v) -> 'counts' ->> 'reidentified' AS reidentified
FROM fzk f, reexport r
UNION ALL
SELECT 'v1 moved 10 m east', buildtrace.bt_diff(f.v1, m.v) ->> 'summary',
       buildtrace.bt_diff(f.v1, m.v) -> 'counts' ->> 'reidentified'
FROM fzk f, moved m;
RESET buildtrace.units;

\echo
\echo '=== 2. Simulated uploads flowing through the pipeline'
-- Expected upload cadence: the plan drawings hourly with 15 minutes grace,
-- and one drawing that has gone quiet for three hours.
INSERT INTO buildtrace.upload_expectations (drawing_id, every, grace, since)
SELECT format('PLAN-%s', lpad(d::text, 4, '0')), interval '1 hour', interval '15 minutes',
       now() - interval '10 hours'
FROM generate_series(1, 20) d
UNION ALL
SELECT 'SITE-OVERDUE', '1 hour', '15 minutes', now() - interval '3 hours';

\timing on
-- 1,000 pairs of 100-object floor plans over 50 drawings in one statement,
-- 1 % with a broken version; jobs report their own build latency.
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT drawing_id, 'job-' || (pair_no % 10), version_a, version_b, 40 + (pair_no * 37) % 90
FROM buildtrace.generate_pairs(1000, 100, 0.05, 42, malformed_rate => 0.01, drawings => 50);

-- Version chains: 20 drawings x 10 hourly uploads; drawing 3 gets a spike at
-- version 6, drawing 5 uploads version 7 forty minutes late, 1 % malformed.
INSERT INTO buildtrace.versions (drawing_id, job_id, payload, uploaded_at)
SELECT drawing_id, 'chain-' || version_no, payload,
       now() - interval '10 hours' + version_no * interval '1 hour'
           + CASE WHEN drawing_id = 'PLAN-0005' AND version_no = 7 THEN interval '40 minutes'
                  ELSE interval '0' END
FROM buildtrace.generate_versions(20, 10, 100, 0.02, 7, malformed_rate => 0.01,
                                  spike_at => 6, spike_drawing => 3, drawing_prefix => 'PLAN-')
ORDER BY version_no, drawing_id;
\timing off

SELECT status, count(*) AS pairs FROM buildtrace.pairs GROUP BY status ORDER BY status;

\echo
\echo '=== 3. The scheduled checks (pg_cron) and one run now'
SELECT job_name, cron_schedule, command FROM buildtrace.schedule('1 minute');
SELECT jsonb_pretty(buildtrace.check_uploads()) AS check_uploads;

\echo
\echo '=================================== REPORT ==================================='
\echo
\echo '--- Changes per hour (hourly_changes)'
SELECT to_char(hour, 'YYYY-MM-DD HH24:00') AS hour, pairs, drawings, added, removed, moved,
       resized, retyped, modified
FROM buildtrace.hourly_changes ORDER BY hour;

\echo '--- Processing time per pair, from the hourly rollups (ms, 95 % bounds)'
SELECT period, n, round(p50::numeric, 3) AS p50, round(p95_lower::numeric, 3) AS p95_lower,
       round(p95::numeric, 3) AS p95, round(p95_upper::numeric, 3) AS p95_upper,
       round(p99_lower::numeric, 3) AS p99_lower, round(p99::numeric, 3) AS p99,
       round(p99_upper::numeric, 3) AS p99_upper
FROM buildtrace.latency;

\echo '--- metrics() (the /metrics shape), without the per-hour and per-job detail'
SELECT jsonb_pretty(m - 'hourly_stats' - 'jobs') AS metrics,
       jsonb_array_length(m -> 'jobs') AS jobs_reported
FROM buildtrace.metrics('24 hours') m;

\echo '--- Open anomalies by kind'
SELECT kind, severity, count(*) AS open FROM buildtrace.open_anomalies
GROUP BY kind, severity ORDER BY kind, severity;

\echo '--- Change spikes and upload problems'
SELECT kind, drawing_id, pair_id, details
FROM buildtrace.anomalies
WHERE kind IN ('change_spike', 'missing_upload', 'delayed_upload', 'volume_spike')
ORDER BY kind, drawing_id NULLS FIRST;

\echo '--- Dead letters (failed pairs kept with their problems)'
SELECT pair_id, drawing_id, problem_count,
       problems -> 0 ->> 'message' AS first_problem, problems -> 0 ->> 'detail' AS detail
FROM buildtrace.dead_letters ORDER BY pair_id LIMIT 10;

\echo '--- health()'
SELECT jsonb_pretty(h - 'anomalies') AS health, jsonb_array_length(h -> 'anomalies') AS anomalies_listed
FROM buildtrace.health() h;

\echo '--- Two change summaries'
SELECT 'PLAN-0003 (the spike)' AS drawing, c.summary
FROM buildtrace.changes c
JOIN buildtrace.anomalies a ON a.pair_id = c.pair_id AND a.kind = 'change_spike'
WHERE c.drawing_id = 'PLAN-0003'
UNION ALL
SELECT 'DWG-0007 (latest)', buildtrace.changes('DWG-0007') ->> 'summary';
