-- health()'s latency and failure-rate thresholds, and metrics()' per-drawing
-- data-quality score; when a scheduled check counts as not running, which
-- anomalies health() lists, and Prometheus' last-hour, open-anomaly and
-- status samples.
BEGIN;
SELECT plan(22);
SET LOCAL search_path = buildtrace, public, pg_catalog;

-- 20 pairs in this hour, 6 of them failing (30 %).
INSERT INTO pairs (drawing_id, version_a, version_b)
SELECT 'thr-' || i % 4, '[]',
       CASE WHEN i <= 6 THEN '[{"id": "X"}]' ELSE '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]' END::jsonb
FROM generate_series(1, 20) i;

CREATE FUNCTION pg_temp.warned(pattern text) RETURNS boolean LANGUAGE sql AS
$$ SELECT EXISTS (SELECT 1 FROM jsonb_array_elements_text(buildtrace.health() -> 'warnings') w WHERE w ~ pattern) $$;

SELECT ok(pg_temp.warned('^6 of 20 pairs failed in the last hour \(30\.0 %\), over buildtrace\.health_failure_rate \(20\.0 %\)\.$'),
          'a failure share over the threshold is a warning');
SET LOCAL buildtrace.health_failure_rate = 0.5;
SELECT ok(NOT pg_temp.warned('pairs failed in the last hour'), 'under the threshold it is not');
-- 6 of 20 is 30 %: at the threshold, not over it.
SET LOCAL buildtrace.health_failure_rate = 0.3;
SELECT ok(NOT pg_temp.warned('pairs failed in the last hour'), 'a share exactly at the threshold is not over it');
SET LOCAL buildtrace.health_failure_rate = 1;
SELECT ok(NOT pg_temp.warned('pairs failed in the last hour'), '1 turns the check off');
SET LOCAL buildtrace.health_p99_ms = 0.000001;
SELECT ok(pg_temp.warned('^Processing latency P99 of the last hour is [0-9.]+ ms, over buildtrace\.health_p99_ms \(1e-06 ms\)\.$'),
          'a P99 over the threshold is a warning');
SELECT isnt(health() ->> 'status', 'healthy', 'and health() is not healthy');
SET LOCAL buildtrace.health_p99_ms = 0;
SELECT ok(NOT pg_temp.warned('P99'), '0 turns the latency check off');
-- A P99 exactly at the threshold is not over it: an hour whose every done
-- pair took 5 ms has a P99 of exactly 5 (a sketch's estimate stays within
-- its minimum and maximum).
SAVEPOINT p99_at_threshold;
UPDATE hourly_rollups SET processing_ms = (SELECT bt_sketch(5.0::float8) FROM generate_series(1, 14));
SET LOCAL buildtrace.health_p99_ms = 5;
SELECT ok(NOT pg_temp.warned('P99'), 'a P99 exactly at the threshold is not over it');
SET LOCAL buildtrace.health_p99_ms = 4.99;
SELECT ok(pg_temp.warned('^Processing latency P99 of the last hour is 5\.0 ms, over buildtrace\.health_p99_ms \(4\.99 ms\)\.$'),
          'just under it, the P99 is over');
ROLLBACK TO SAVEPOINT p99_at_threshold;

-- Data quality: thr-1 has 5 pairs, 2 failed (i = 1 and 5), and a missing
-- upload; thr-2 2 failed, thr-0 and thr-3 one each.
INSERT INTO anomalies (kind, severity, drawing_id) VALUES ('missing_upload', 'medium', 'thr-1');
SELECT is((SELECT q FROM jsonb_array_elements(metrics() -> 'data_quality') q WHERE q ->> 'drawing_id' = 'thr-1'),
          jsonb_build_object('drawing_id', 'thr-1', 'pairs', 5, 'failed', 2, 'late_uploads', 1,
                             'score', round(3 / 6.0, 4)),
          'score = valid pairs / (pairs + late or missing uploads)');
SELECT is((SELECT array_agg(q ->> 'drawing_id') FROM jsonb_array_elements(metrics() -> 'data_quality') q),
          ARRAY['thr-1', 'thr-2', 'thr-0', 'thr-3'],
          'drawings from the lowest score up');

-- A scheduled check counts as not running after twice its cadence, and
-- never before 2 minutes: a job every 30 seconds that starts a minute late
-- raises no alarm, nor one every 10 minutes a quarter of an hour after it
-- was scheduled.
-- (schedule()'s two jobs, as if registered with no cron job behind them)
INSERT INTO scheduled_jobs (job_name, every, command, scheduled_at) VALUES
    ('buildtrace-check-uploads', '30 seconds', 'SELECT 1', now() - interval '90 seconds'),
    ('buildtrace-purge', '10 minutes', 'SELECT 1', now() - interval '15 minutes');
SELECT ok(NOT pg_temp.warned('buildtrace-check-uploads') AND NOT pg_temp.warned('buildtrace-purge'),
          'a job within twice its cadence, or within 2 minutes, is not reported');
UPDATE scheduled_jobs SET scheduled_at = now() - interval '25 minutes' WHERE job_name = 'buildtrace-purge';
SELECT ok(pg_temp.warned('^Scheduled check buildtrace-purge has not run since it was scheduled'),
          'a job with no run for over twice its cadence is');
DELETE FROM scheduled_jobs WHERE job_name IN ('buildtrace-check-uploads', 'buildtrace-purge');

-- health() lists the 50 newest anomalies, newest first, so that its answer
-- stays small whatever piles up: here the 7 recorded above, at this
-- transaction's start, and the 43 newest of the 60 below.
INSERT INTO anomalies (kind, severity, drawing_id, detected_at)
SELECT 'delayed_upload', 'low', 'lst-' || i, now() - i * interval '1 minute' FROM generate_series(1, 60) i;
SELECT is(jsonb_array_length(health() -> 'anomalies'), 50, 'health() lists 50 anomalies');
SELECT is(health() -> 'anomalies' -> 49 ->> 'drawing_id', 'lst-43', 'the newest ones');
-- An anomaly of the window is listed though resolved: a delayed upload is
-- recorded resolved (the upload came), and this is where it shows.
INSERT INTO anomalies (kind, severity, drawing_id, detected_at, resolved_at)
VALUES ('delayed_upload', 'low', 'lst-resolved', now(), now());
SELECT is(health() -> 'anomalies' -> 0 ->> 'drawing_id', 'lst-resolved',
          'a resolved anomaly of the window is listed');

-- Prometheus' last-hour samples are of the last hour's rollups and
-- anomalies (the latency view's window): not of a rollup three hours old,
-- nor of an anomaly detected five hours ago.
INSERT INTO hourly_rollups (hour, drawing_id, pairs, failed)
VALUES (date_trunc('hour', now() - interval '3 hours', 'UTC'), 'thr-old', 100, 10);
INSERT INTO anomalies (kind, severity, drawing_id, detected_at)
VALUES ('volume_spike', 'medium', 'thr-old', now() - interval '5 hours');
SELECT is((SELECT string_agg(label || '=' || value, ',' ORDER BY label) FROM prometheus_samples('pairs_last_hour')),
          'done=14,failed=6', 'pairs_last_hour counts the last hour''s pairs only');
SELECT is((SELECT value FROM prometheus_samples('anomalies_last_hour') WHERE label = 'volume_spike'), 0::float8,
          'anomalies_last_hour counts the last hour''s anomalies only');
-- Every kind the table takes has a sample, 0 when there is none, so that
-- an alert on a kind never waits for its first anomaly.
SELECT set_eq($$SELECT label FROM prometheus_samples('anomalies_last_hour')$$,
              $$SELECT unnest(regexp_matches(pg_get_constraintdef(c.oid), '''(\w+)''', 'g'))
                FROM pg_constraint c WHERE c.conname = 'anomalies_kind_check'$$,
              'anomalies_last_hour has a sample of every kind of anomaly');
SELECT is((SELECT value FROM prometheus_samples('open_anomalies') WHERE label = 'delayed_upload'), 60::float8,
          'open_anomalies counts the 60 open delayed uploads, not the resolved one');
-- Recent failed pairs (high-severity anomalies of this hour): unhealthy,
-- which the exporter's alerting rules read as 2.
SELECT is(health() ->> 'status' || ' ' || (SELECT value FROM prometheus_samples('health_status')),
          'unhealthy 2', 'health_status is 2 when health() is unhealthy');

-- "Within recent" is counted back in UTC whatever the session's zone: an
-- open high anomaly of 20 minutes ago is within 16 years less their hours
-- plus 30 minutes, in UTC and in Caracas, whose clocks moved by half an
-- hour in 2016 (counted there, the span was 0).
DELETE FROM anomalies;
INSERT INTO anomalies (kind, severity, drawing_id, detected_at)
VALUES ('invalid_input', 'high', 'thr-tz', now() - interval '20 minutes');
SET LOCAL TimeZone = 'America/Caracas';
SELECT is(health('5844 days -140256 hours 30 minutes') -> 'status', health('30 minutes') -> 'status',
          'recent is counted back in UTC in any time zone');

SELECT * FROM finish();
ROLLBACK;
