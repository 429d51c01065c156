-- Tenants: a reader or writer of tenant beta can neither read nor affect
-- tenant acme, through tables, views and every read function; the default
-- tenant of single-tenant use works as before.
BEGIN;
SELECT plan(64);
SET LOCAL search_path = buildtrace, public, pg_catalog;

CREATE ROLE bt_acme NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE bt_beta NOLOGIN IN ROLE buildtrace_tenant;
CREATE ROLE bt_acme_writer NOLOGIN IN ROLE bt_acme, buildtrace_writer;
CREATE ROLE bt_acme_reader NOLOGIN IN ROLE bt_acme, buildtrace_reader;
CREATE ROLE bt_beta_writer NOLOGIN IN ROLE bt_beta, buildtrace_writer;
CREATE ROLE bt_beta_reader NOLOGIN IN ROLE bt_beta, buildtrace_reader;
CREATE ROLE bt_plain_writer NOLOGIN IN ROLE buildtrace_writer;
CREATE ROLE bt_plain_reader NOLOGIN IN ROLE buildtrace_reader;
CREATE ROLE bt_monitor NOLOGIN IN ROLE buildtrace_monitor;

-- acme: a done pair, a failed one, and two versions (one more pair), of job-a.
SET LOCAL ROLE bt_acme_writer;
SET LOCAL buildtrace.tenant = 'bt_acme';
INSERT INTO pairs (drawing_id, job_id, version_a, version_b, latency_ms) VALUES
    ('A-1', 'job-a', '[]', '[{"id":"wall-a","type":"wall","x":0,"y":0,"width":4,"height":1}]', 10);
INSERT INTO pairs (drawing_id, job_id, version_a, version_b) VALUES ('A-2', 'job-a', '[]', '[{"id":"X"}]');
INSERT INTO versions (drawing_id, job_id, payload) VALUES
    ('A-3', 'job-a', '[]'), ('A-3', 'job-a', '[{"id":"door-a","type":"door","x":1,"y":1,"width":1,"height":2}]');
-- beta: one done pair and one failed, of job-b.
SET LOCAL ROLE bt_beta_writer;
SET LOCAL buildtrace.tenant = 'bt_beta';
INSERT INTO pairs (drawing_id, job_id, version_a, version_b, latency_ms) VALUES
    ('B-1', 'job-b', '[]', '[{"id":"wall-b","type":"wall","x":0,"y":0,"width":2,"height":1}]', 20);
INSERT INTO pairs (drawing_id, job_id, version_a, version_b) VALUES ('B-2', 'job-b', '[]', '[{"id":"Y"}]');
-- The default tenant: a role of no tenant, as in single-tenant use.
RESET ROLE;
SET LOCAL ROLE bt_plain_writer;
RESET buildtrace.tenant;
INSERT INTO pairs (drawing_id, job_id, version_a, version_b) VALUES ('D-1', 'job-d', '[]', '[]');
RESET ROLE;
-- An expectation of acme's that check_uploads() finds missed.
INSERT INTO upload_expectations (drawing_id, every, since, tenant)
VALUES ('A-9', '1 hour', now() - interval '1 day', 'bt_acme');
SELECT check_uploads();

SELECT is((SELECT array_agg(DISTINCT tenant ORDER BY tenant) FROM pairs), ARRAY['', 'bt_acme', 'bt_beta'],
          'rows are stored under the tenant of the session that wrote them');
SELECT is((SELECT array_agg(DISTINCT tenant ORDER BY tenant) FROM changes), ARRAY['', 'bt_acme', 'bt_beta'],
          'and so are the results the trigger wrote for them');
SELECT is((SELECT tenant FROM anomalies WHERE kind = 'missing_upload'), 'bt_acme',
          'a scheduled check writes an anomaly under its drawing''s tenant');

-- What beta's reader sees.
SET LOCAL ROLE bt_beta_reader;
SET LOCAL buildtrace.tenant = 'bt_beta';
SELECT is(current_tenant(), 'bt_beta', 'current_tenant() is the checked setting');
SELECT is((SELECT array_agg(drawing_id ORDER BY drawing_id) FROM pairs), ARRAY['B-1', 'B-2'], 'pairs: beta''s only');
SELECT is((SELECT count(*) FROM versions), 0::bigint, 'versions: none of acme''s');
SELECT is((SELECT array_agg(drawing_id) FROM changes), ARRAY['B-1'], 'changes: beta''s only');
SELECT is((SELECT array_agg(DISTINCT drawing_id) FROM anomalies), ARRAY['B-2'], 'anomalies: beta''s only');
SELECT is((SELECT array_agg(drawing_id ORDER BY drawing_id) FROM hourly_rollups), ARRAY['B-1', 'B-2'],
          'hourly_rollups: beta''s only');
SELECT is((SELECT count(*) FROM upload_expectations), 0::bigint, 'upload_expectations: none of acme''s');
SELECT is((SELECT array_agg(drawing_id ORDER BY drawing_id) FROM drawing_state), ARRAY['B-1', 'B-2'],
          'drawing_state: beta''s only');
SELECT is((SELECT array_agg(drawing_id) FROM dead_letters), ARRAY['B-2'], 'view dead_letters');
SELECT is((SELECT array_agg(drawing_id) FROM open_anomalies), ARRAY['B-2'], 'view open_anomalies');
SELECT is((SELECT array_agg(drawing_id ORDER BY drawing_id) FROM drawing_history), ARRAY['B-1', 'B-2'],
          'view drawing_history');
SELECT is((SELECT sum(pairs) FROM hourly_changes), 1::numeric, 'view hourly_changes');
SELECT is((SELECT n FROM latency WHERE period = 'all'), 1::bigint, 'view latency');
SELECT is((SELECT array_agg(drawing_id ORDER BY drawing_id) FROM uploads), ARRAY['B-1', 'B-2'], 'view uploads');
SELECT is(metrics() -> 'pairs', '1'::jsonb, 'metrics(): beta''s pairs');
SELECT is((SELECT array_agg(j ->> 'job_id') FROM jsonb_array_elements(metrics() -> 'jobs') j), ARRAY['job-b'],
          'metrics(): beta''s jobs');
SELECT is((SELECT count(*) FROM jsonb_array_elements(health() -> 'anomalies') a
           WHERE a ->> 'drawing_id' LIKE 'A-%'), 0::bigint, 'health(): no anomaly of acme''s');
SELECT ok(health() -> 'warnings' ? '1 failed pair waiting in dead_letters.', 'health(): beta''s dead letter only');
SELECT throws_ok($$SELECT changes('A-1')$$, 'P0002', 'unknown drawing "A-1"',
                 'changes(drawing_id): acme''s drawing is unknown');
SELECT is((SELECT count(*) FROM history('A-1')), 0::bigint, 'history(): acme''s drawing has none');
SELECT throws_ok($$SELECT report('job-a')$$, 'P0002', 'unknown job "job-a"', 'report(): acme''s job is unknown');
SELECT ok(report('job-b') LIKE 'BuildTrace report for job job-b%', 'report(): beta''s job');
SELECT ok(position('A-' IN report_html()) = 0 AND position('B-1' IN report_html()) > 0,
          'report_html(): beta''s drawings, none of acme''s');
RESET ROLE;
CREATE TEMP TABLE acme_pairs AS SELECT pair_id, status FROM pairs WHERE tenant = 'bt_acme';
GRANT SELECT ON acme_pairs TO PUBLIC;
CREATE TEMP TABLE acme_versions AS
SELECT max(version_id) AS taken, max(version_id) + 1000000 AS free FROM versions WHERE drawing_id = 'A-3';
GRANT SELECT ON acme_versions TO PUBLIC;
-- The DETAIL of the error a statement raises.
CREATE FUNCTION pg_temp.error_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE detail text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN detail;
END $$;
SET LOCAL ROLE bt_beta_reader;
SELECT throws_ok(format('SELECT changes(%L, %s)', 'A-1', (SELECT min(pair_id) FROM acme_pairs)),
                 'P0002', NULL, 'changes(drawing_id, pair_id) of acme''s pair: no such change set');
SELECT throws_ok(format('SELECT dead_letter_payloads(%s)', (SELECT pair_id FROM acme_pairs WHERE status = 'failed')),
                 'P0002', NULL, 'dead_letter_payloads(): acme''s failed pair is not there');
SELECT is(pg_temp.error_detail(format('SELECT dead_letter_payloads(%s)', (SELECT pair_id FROM acme_pairs WHERE status = 'failed'))),
          format('There is no pair %s that you can see: never made, purged, or of another tenant.',
                 (SELECT pair_id FROM acme_pairs WHERE status = 'failed')),
          'dead_letter_payloads(): the detail tells nothing of acme''s pair');
SELECT throws_ok(format('SELECT bt_svg(%s::bigint)', (SELECT min(pair_id) FROM acme_pairs)),
                 'P0002', NULL, 'bt_svg(pair_id): acme''s pair does not exist');
SELECT throws_ok($$SELECT prometheus_samples('pending_pairs')$$, '42501', NULL,
                 'a reader has no Prometheus samples, which sum over every tenant');

-- What beta's writer can do to acme.
SET LOCAL ROLE bt_beta_writer;
SELECT throws_ok($$INSERT INTO pairs (drawing_id, version_a, version_b, tenant) VALUES ('B-9', '[]', '[]', 'bt_acme')$$,
                 '42501', 'new row violates row-level security policy for table "pairs"',
                 'a row of another tenant is refused');
SELECT throws_ok($$INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('A-1', '[]', '[]')$$,
                 '42501', 'drawing "A-1" belongs to another tenant', 'a pair of another tenant''s drawing is refused');
SELECT throws_ok($$INSERT INTO versions (drawing_id, payload) VALUES ('A-3', '[]')$$,
                 '42501', 'drawing "A-3" belongs to another tenant', 'so is a version of it');
SELECT throws_ok($$SELECT process('{"version_pairs": [{"drawing_id": "A-1", "version_a": [], "version_b": []}]}')$$,
                 '42501', 'drawing "A-1" belongs to another tenant', 'and so through process()');
-- Job states that name no drawing would all go to "default", which would be
-- the first tenant's to send one: a tenant's must name theirs.
SELECT throws_ok($$SELECT process('[{"job_id": "j-1", "objects": []}, {"job_id": "j-2", "objects": []}]')$$,
                 '22023', 'job state must name its drawing when acting for a tenant',
                 'a tenant''s job states without a drawing are refused, not stored in "default"');
SELECT is(pg_temp.error_detail($$SELECT process('{"jobs": [{"job_id": "j-1", "drawing_id": "B-7", "objects": []}, {"job_id": "j-2", "objects": []}]}')$$),
          'Element 1 of the job list (job_id j-2) has no drawing_id, nor has the request: the drawing "default" would belong to the first tenant that sent one.',
          'the detail names the first job state without one');
SELECT throws_ok($$SELECT process('{"drawing_id": "A-1", "jobs": [{"job_id": "j-1", "objects": []}]}')$$,
                 '42501', 'drawing "A-1" belongs to another tenant',
                 'a drawing named by the request passes that check (and meets the next)');
SELECT is((SELECT count(*) FROM retry_failed((SELECT array_agg(pair_id) FROM acme_pairs))), 0::bigint,
          'retry_failed() does not retry acme''s dead letters');
SELECT throws_ok(format('INSERT INTO pairs (drawing_id, version_a, version_b, retry_of) VALUES (%L, %L, %L, %s)',
                        'B-2', '[]', '[]', (SELECT pair_id FROM acme_pairs WHERE status = 'failed')),
                 '23503', NULL, 'a pair cannot claim to retry acme''s failed pair');
-- The version links' foreign keys are checked without row-level security:
-- a version of acme's drawing and no version at all are refused alike.
SELECT throws_ok(format('INSERT INTO pairs (drawing_id, version_a, version_b, from_version) VALUES (%L, %L, %L, %s)',
                        'A-3', '[]', '[]', (SELECT taken FROM acme_versions)),
                 '23503', 'from_version must name a version of the pair''s drawing',
                 'a link to a version of acme''s drawing is refused');
SELECT throws_ok(format('INSERT INTO pairs (drawing_id, version_a, version_b, to_version) VALUES (%L, %L, %L, %s)',
                        'A-3', '[]', '[]', (SELECT free FROM acme_versions)),
                 '23503', 'to_version must name a version of the pair''s drawing',
                 'as a link to no version at all is: nothing is learnt of acme''s versions');
SET LOCAL buildtrace.tenant = 'bt_acme';
SELECT throws_ok($$SELECT count(*) FROM pairs$$, '42501', 'permission denied for tenant "bt_acme"',
                 'a role cannot act for a tenant it is not a member of');
RESET buildtrace.tenant;
SELECT throws_ok($$SELECT count(*) FROM pairs$$, '42501', 'buildtrace.tenant is not set',
                 'a tenant''s role must name its tenant, not fall back to the default one');
SET LOCAL buildtrace.tenant = 'buildtrace_writer';
SELECT throws_ok($$SELECT count(*) FROM pairs$$, '42704', 'tenant "buildtrace_writer" does not exist',
                 'only members of buildtrace_tenant are tenants');
SET LOCAL buildtrace.tenant = 'bt_beta_writer';
SELECT throws_ok($$SELECT count(*) FROM pairs$$, '42704', 'tenant "bt_beta_writer" does not exist',
                 'a tenant''s user, a member of buildtrace_tenant through it, is no tenant of its own');

-- acme's rows are as they were, and acme's reader sees them.
SET LOCAL ROLE bt_acme_reader;
SET LOCAL buildtrace.tenant = 'bt_acme';
SELECT is((SELECT count(*) FROM pairs), 3::bigint, 'acme''s reader sees acme''s three pairs, none added');
SELECT is(metrics() -> 'pairs', '2'::jsonb, 'and acme''s metrics');
SELECT is((SELECT count(*) FROM open_anomalies WHERE kind IN ('invalid_input', 'missing_upload')), 2::bigint,
          'and acme''s anomalies, none resolved by beta');

-- The default tenant: single-tenant use sees its own rows, as before.
SET LOCAL ROLE bt_plain_reader;
RESET buildtrace.tenant;
SELECT is(current_tenant(), '', 'a role of no tenant acts for the default tenant');
SELECT is((SELECT array_agg(drawing_id) FROM pairs), ARRAY['D-1'], 'and sees the default tenant''s rows only');

-- The monitoring role sums over every tenant.
SET LOCAL ROLE bt_monitor;
SELECT is((SELECT value FROM prometheus_samples('pairs_last_hour') WHERE label = 'done'), 4::float8,
          'prometheus_samples() counts every tenant''s pairs');

-- Writes of several tenants in one statement (possible for a superuser only).
RESET ROLE;
SELECT throws_ok($$INSERT INTO pairs (drawing_id, version_a, version_b, tenant)
                   VALUES ('S-1', '[]', '[]', 'bt_acme'), ('S-2', '[]', '[]', 'bt_beta')$$,
                 '0A000', 'pairs of one statement must be of one tenant',
                 'one statement''s pairs are of one tenant');
-- Two INSERTs of one query are stored together, under one tenant: they too
-- must be of one.
SELECT throws_ok($$WITH a AS (INSERT INTO pairs (drawing_id, version_a, version_b, tenant)
                              VALUES ('S-3', '[]', '[]', 'bt_acme'))
                   INSERT INTO pairs (drawing_id, version_a, version_b, tenant)
                   VALUES ('S-4', '[]', '[]', 'bt_beta')$$,
                 '0A000', 'pairs of one statement must be of one tenant',
                 'and so are the pairs of two INSERTs of one query');
SELECT throws_ok($$INSERT INTO versions (drawing_id, payload, tenant)
                   VALUES ('S-1', '[]', 'bt_acme'), ('S-2', '[]', 'bt_beta')$$,
                 '0A000', 'versions of one statement must be of one tenant',
                 'and so are its versions');

-- A tenant's login that SETs ROLE to the group role it writes or reads
-- through, which belongs to no tenant, must still name its tenant, and can
-- act for none as that role: no way to the default tenant's rows.
SET LOCAL SESSION AUTHORIZATION bt_acme_writer;
SET LOCAL ROLE buildtrace_writer;
RESET buildtrace.tenant;
SELECT throws_ok($$SELECT count(*) FROM pairs$$, '42501', 'buildtrace.tenant is not set',
                 'a tenant''s login cannot fall back to the default tenant through SET ROLE');
SELECT throws_ok($$INSERT INTO pairs (drawing_id, version_a, version_b) VALUES ('D-1', '[]', '[]')$$,
                 '42501', 'buildtrace.tenant is not set',
                 'nor write into a drawing of the default tenant');
SET LOCAL buildtrace.tenant = 'bt_acme';
SELECT throws_ok($$SELECT count(*) FROM pairs$$, '42501', 'permission denied for tenant "bt_acme"',
                 'nor act for its tenant as the group role');
SET LOCAL SESSION AUTHORIZATION bt_acme_reader;
SET LOCAL ROLE buildtrace_reader;
RESET buildtrace.tenant;
SELECT throws_ok($$SELECT count(*) FROM changes$$, '42501', 'buildtrace.tenant is not set',
                 'nor can a tenant''s reader login');
RESET ROLE;
SET LOCAL buildtrace.tenant = 'bt_acme';
SELECT is((SELECT count(*) FROM pairs WHERE tenant = ''), 0::bigint,
          'as itself, for its tenant, it sees none of the default tenant''s rows');
RESET SESSION AUTHORIZATION;

-- A failed run of a scheduled job, which every tenant shares: its message can
-- quote any tenant's rows, so a session bound to a tenant learns that it
-- failed and not what it said; a superuser's session reads the message.
SELECT cron.schedule('buildtrace-check-uploads', '0 0 1 1 *', 'SELECT 1') AS probe_job \gset
INSERT INTO scheduled_jobs (job_name, every, command, jobid)
VALUES ('buildtrace-check-uploads', '1 day', 'SELECT 1', :probe_job);
INSERT INTO cron.job_run_details (jobid, command, status, return_message, start_time, end_time)
VALUES (:probe_job, 'SELECT 1', 'failed', 'Key (drawing_id)=(A-1) already exists.', now(), now());
SET LOCAL SESSION AUTHORIZATION bt_beta_reader;
SET LOCAL buildtrace.tenant = 'bt_beta';
SELECT ok((health() -> 'warnings')::text LIKE '%Scheduled check buildtrace-check-uploads failed at %',
          'a tenant''s session sees that a shared job failed');
SELECT ok(position('A-1' IN (health() -> 'warnings')::text) = 0
          AND position('A-1' IN (SELECT string_agg(last_message, ' ') FROM _cron_runs())) = 0,
          'but not its message, through health() or _cron_runs()');
SET LOCAL SESSION AUTHORIZATION bt_plain_reader;
RESET buildtrace.tenant;
SELECT ok(position('A-1' IN (health() -> 'warnings')::text) = 0,
          'nor does the default tenant''s session, once tenants exist');
RESET SESSION AUTHORIZATION;
SELECT ok((health() -> 'warnings')::text LIKE '%buildtrace-check-uploads failed at %: Key (drawing_id)=(A-1) already exists.%',
          'a superuser''s session reads the message');

SELECT * FROM finish();
ROLLBACK;
