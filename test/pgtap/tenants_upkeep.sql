-- Upkeep across tenants. An expectation the operator wrote for a tenant's
-- drawing counts that tenant's uploads and files its anomalies under it. A
-- pair one tenant sent into another's drawing while processing was deferred
-- fails in work(), and counts neither as the other tenant's upload nor in
-- the rollups, which rebuild_rollups() recomputes as they were.
BEGIN;
SELECT plan(5);
SET LOCAL search_path = buildtrace, public, pg_catalog;

CREATE ROLE bt_up_acme NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE bt_up_beta NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE bt_up_acme_writer NOLOGIN IN ROLE bt_up_acme, buildtrace_writer;
CREATE ROLE bt_up_beta_writer NOLOGIN IN ROLE bt_up_beta, buildtrace_writer;

-- acme's drawing UP-A, its last upload three hours ago, expected hourly.
SET LOCAL ROLE bt_up_acme_writer;
SET LOCAL buildtrace.tenant = 'bt_up_acme';
INSERT INTO pairs (drawing_id, version_a, version_b, latency_ms) VALUES ('UP-A', '[]', '[]', 5);
RESET ROLE;
RESET buildtrace.tenant;
UPDATE pairs SET submitted_at = now() - interval '3 hours' WHERE drawing_id = 'UP-A';
INSERT INTO upload_expectations (drawing_id, every, since)
VALUES ('UP-A', '1 hour', now() - interval '4 hours');
SELECT check_uploads();
SELECT is((SELECT array_agg(tenant) FROM anomalies WHERE kind = 'missing_upload' AND drawing_id = 'UP-A'),
          ARRAY['bt_up_acme'], 'the operator''s expectation files its anomaly under the drawing''s tenant');

-- beta sends a pair into UP-A while processing is deferred; work() fails it.
SET LOCAL buildtrace.processing = 'deferred';
SET LOCAL ROLE bt_up_beta_writer;
SET LOCAL buildtrace.tenant = 'bt_up_beta';
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-A', '[]', '[]');
RESET ROLE;
RESET buildtrace.tenant;
SELECT _work_process(ARRAY(SELECT pair_id FROM pairs WHERE tenant = 'bt_up_beta'));
SELECT is((SELECT status || ' ' || (error -> 0 ->> 'sqlstate') FROM pairs WHERE tenant = 'bt_up_beta'),
          'failed 42501', 'work() fails beta''s pair in acme''s drawing');

SELECT check_uploads();
SELECT is((SELECT count(*) FROM anomalies
           WHERE kind = 'missing_upload' AND drawing_id = 'UP-A' AND resolved_at IS NULL), 1::bigint,
          'beta''s pair does not resolve acme''s missing upload');

CREATE TEMP TABLE rollups_before AS SELECT * FROM hourly_rollups;
SELECT lives_ok('SELECT rebuild_rollups()', 'rebuild_rollups() ignores the pair work() failed');
SELECT set_eq('SELECT hour, drawing_id, tenant, pairs, failed, added, bt_sketch_count(processing_ms) FROM hourly_rollups',
              'SELECT hour, drawing_id, tenant, pairs, failed, added, bt_sketch_count(processing_ms) FROM rollups_before',
              'and recomputes the rollups as the pipeline kept them');

SELECT * FROM finish();
ROLLBACK;
