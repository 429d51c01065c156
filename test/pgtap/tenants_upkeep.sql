-- Upkeep across tenants. An expectation the operator wrote for a tenant's
-- drawing counts that tenant's uploads and files its anomalies under it. A
-- pair one tenant sends into another's drawing while processing is deferred
-- is refused when inserted, and a deferred pair claims a new drawing for its
-- tenant. One that work() cannot process (its drawing given to another
-- tenant since) fails there, and counts neither as the other tenant's
-- upload nor in the rollups, which rebuild_rollups() recomputes as they
-- were. Retrying dead letters refuses such a pair alone, and retries keep
-- their tenant. An expectation that names its tenant counts that tenant's
-- uploads only, and no upload time is infinite.
BEGIN;
SELECT plan(17);
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

-- beta sends a pair into UP-A while processing is deferred: refused when
-- inserted, as inline. A deferred pair claims a new drawing for its tenant
-- then, so beta's deferred pair in UP-D keeps acme out of it, before work()
-- has run, even for a tenant name that sorts first.
SET LOCAL buildtrace.processing = 'deferred';
SET LOCAL ROLE bt_up_beta_writer;
SET LOCAL buildtrace.tenant = 'bt_up_beta';
SELECT throws_ok($$INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-A', '[]', '[]')$$,
                 '42501', 'drawing "UP-A" belongs to another tenant',
                 'a deferred pair into another tenant''s drawing is refused when inserted');
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-D', '[]', '[]');
SET LOCAL ROLE bt_up_acme_writer;
SET LOCAL buildtrace.tenant = 'bt_up_acme';
SELECT throws_ok($$INSERT INTO versions (drawing_id, payload) VALUES ('UP-D', '[]')$$,
                 '42501', 'drawing "UP-D" belongs to another tenant',
                 'a drawing a deferred pair named first is its tenant''s');
RESET ROLE;
RESET buildtrace.tenant;
-- The owner may write tenant: one statement of deferred pairs of a new
-- drawing for two tenants. The first row claims the drawing; the second,
-- though of the same drawing as the row before, must still be refused.
SELECT throws_ok($$INSERT INTO pairs (drawing_id, version_a, version_b, tenant)
                   VALUES ('UP-G', '[]', '[]', 'bt_up_gamma'), ('UP-G', '[]', '[]', 'bt_up_delta')$$,
                 '42501', 'drawing "UP-G" belongs to another tenant',
                 'a deferred pair of the drawing the row before claimed is refused for another tenant');
-- A pair work() cannot process: the owner gave its drawing to acme after it
-- was inserted.
UPDATE drawing_state SET tenant = 'bt_up_acme' WHERE drawing_id = 'UP-D';
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

-- beta's own dead letter: retrying beta's dead letters retries it and
-- refuses the one in acme's drawing, instead of failing both.
SET LOCAL buildtrace.processing = 'inline';
SET LOCAL ROLE bt_up_beta_writer;
SET LOCAL buildtrace.tenant = 'bt_up_beta';
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-B', '[]', '[{"id":"broken"}]');
CREATE TEMP TABLE beta_retries AS SELECT * FROM retry_failed();
RESET ROLE;
RESET buildtrace.tenant;
SELECT set_eq('SELECT p.drawing_id, r.retry_pair_id IS NOT NULL, r.status
               FROM beta_retries r JOIN pairs p ON p.pair_id = r.failed_pair_id',
              $$VALUES ('UP-D', false, 'refused'), ('UP-B', true, 'failed')$$,
              'retry_failed() retries beta''s dead letter and refuses the one in acme''s drawing');
CREATE TEMP TABLE operator_retries AS SELECT * FROM retry_failed(drawing => 'UP-B');
SELECT is((SELECT array_agg(tenant) FROM operator_retries r JOIN pairs p ON p.pair_id = r.retry_pair_id),
          ARRAY['bt_up_beta'], 'a superuser''s retry keeps the dead letter''s tenant');
-- A superuser's call meets several tenants' dead letters: it retries them
-- in a statement per tenant, and reports every tenant's retries.
SET LOCAL buildtrace.tenant = 'bt_up_acme';
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-RA', '[]', '7');
SET LOCAL buildtrace.tenant = 'bt_up_beta';
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-RB', '[]', '7');
RESET buildtrace.tenant;
CREATE TEMP TABLE tenants_retries AS
SELECT * FROM retry_failed((SELECT array_agg(pair_id) FROM pairs WHERE drawing_id IN ('UP-RA', 'UP-RB')));
SELECT results_eq($$SELECT d.drawing_id, p.tenant FROM tenants_retries r
                    JOIN pairs d ON d.pair_id = r.failed_pair_id JOIN pairs p ON p.pair_id = r.retry_pair_id
                    ORDER BY 1$$,
                  $$VALUES ('UP-RA'::text, 'bt_up_acme'::text), ('UP-RB', 'bt_up_beta')$$,
                  'a superuser''s retry_failed() retries and reports each tenant''s dead letters, under their tenants');

-- An expectation of acme's that beta's upload to a drawing of that id
-- neither meets nor tells beta about.
SET LOCAL ROLE bt_up_beta_writer;
SET LOCAL buildtrace.tenant = 'bt_up_beta';
INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('UP-C', '[]', '[]');
RESET ROLE;
RESET buildtrace.tenant;
INSERT INTO upload_expectations (drawing_id, every, since, tenant)
VALUES ('UP-C', '1 hour', now() - interval '4 hours', 'bt_up_acme');
SELECT check_uploads();
SELECT is((SELECT array_agg(tenant || ' ' || (details ->> 'last_upload_at' IS NULL)) FROM anomalies
           WHERE drawing_id = 'UP-C' AND kind IN ('missing_upload', 'delayed_upload')),
          ARRAY['bt_up_acme true'], 'acme''s expectation counts acme''s uploads only, and files under acme');

-- Upload times are finite; a pair its owner dated at -infinity stalls no check.
SET LOCAL ROLE bt_up_beta_writer;
SET LOCAL buildtrace.tenant = 'bt_up_beta';
SELECT throws_ok($$INSERT INTO versions (drawing_id, payload, uploaded_at) VALUES ('UP-B', '[]', '-infinity')$$,
                 '23514', NULL, 'a version uploaded at -infinity is refused');
SELECT throws_ok($$SELECT process('[{"drawing_id": "UP-B", "timestamp": "infinity", "objects": []}]')$$,
                 '22007', 'job state has an invalid timestamp', 'process() refuses an infinite timestamp');
RESET ROLE;
RESET buildtrace.tenant;
UPDATE pairs SET submitted_at = '-infinity' WHERE drawing_id = 'UP-A' AND tenant = 'bt_up_acme';
SELECT lives_ok('SELECT check_uploads(now() + interval ''1 day'')', 'check_uploads() passes over it');
-- So does a pending pair its owner dated at -infinity: it has no age.
SET LOCAL buildtrace.processing = 'deferred';
INSERT INTO pairs (drawing_id, version_a, version_b, submitted_at) VALUES ('UP-E', '[]', '[]', '-infinity');
SELECT lives_ok($$SELECT check_uploads(), health(), prometheus_samples('pending_oldest_age_seconds'),
                         prometheus_samples('health_status')$$,
                'a pending pair dated -infinity stalls no check, health() or sample');
RESET buildtrace.processing;

-- A check reads what arrived since the last one: the tenant of each
-- expected drawing is looked up once per expectation, not once per upload.
INSERT INTO upload_expectations (drawing_id, every, since) VALUES ('UP-F', '1 minute', now() - interval '1 day');
INSERT INTO versions (drawing_id, payload, uploaded_at)
SELECT 'UP-F', '[]', now() - interval '1 day' + i * interval '20 seconds' FROM generate_series(1, 2000) i;
SET LOCAL track_functions = 'all';
CREATE TEMP TABLE tenant_calls AS
SELECT coalesce((SELECT calls FROM pg_stat_xact_user_functions
                 WHERE schemaname = 'buildtrace' AND funcname = '_drawing_tenant'), 0) AS before;
SELECT check_uploads();
SELECT cmp_ok((SELECT calls FROM pg_stat_xact_user_functions
               WHERE schemaname = 'buildtrace' AND funcname = '_drawing_tenant') - (SELECT before FROM tenant_calls),
              '<', 100::bigint, 'a check looks up each expected drawing''s tenant a few times, not once per upload');

SELECT * FROM finish();
ROLLBACK;
