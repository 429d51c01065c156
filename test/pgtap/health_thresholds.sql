-- health()'s latency and failure-rate thresholds, and metrics()' per-drawing
-- data-quality score.
BEGIN;
SELECT plan(8);
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
SET LOCAL buildtrace.health_failure_rate = 1;
SELECT ok(NOT pg_temp.warned('pairs failed in the last hour'), '1 turns the check off');
SET LOCAL buildtrace.health_p99_ms = 0.000001;
SELECT ok(pg_temp.warned('^Processing latency P99 of the last hour is [0-9.]+ ms, over buildtrace\.health_p99_ms \(1e-06 ms\)\.$'),
          'a P99 over the threshold is a warning');
SELECT isnt(health() ->> 'status', 'healthy', 'and health() is not healthy');
SET LOCAL buildtrace.health_p99_ms = 0;
SELECT ok(NOT pg_temp.warned('P99'), '0 turns the latency check off');

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

SELECT * FROM finish();
ROLLBACK;
