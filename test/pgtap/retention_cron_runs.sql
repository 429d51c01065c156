-- purge() removes the pg_cron runs of buildtrace's jobs that ended more than
-- a week ago, which pg_cron keeps for ever and health() and Prometheus
-- search on every call; runs still going and other jobs' runs stay.
BEGIN;
SELECT plan(6);

SELECT cron.schedule('buildtrace-purge', '0 0 1 1 *', 'SELECT 1') AS purge_job \gset
INSERT INTO buildtrace.scheduled_jobs (job_name, every, command)
VALUES ('buildtrace-purge', '1 day', 'SELECT 1')
ON CONFLICT (job_name) DO NOTHING;
SELECT cron.schedule('not-buildtrace', '0 0 1 1 *', 'SELECT 1') AS other_job \gset
INSERT INTO cron.job_run_details (jobid, command, status, return_message, start_time, end_time)
VALUES (:purge_job, 'SELECT 1', 'succeeded', '1 row', now() - interval '8 days', now() - interval '8 days'),
       (:purge_job, 'SELECT 1', 'failed', 'boom', now() - interval '6 days', now() - interval '6 days'),
       (:purge_job, 'SELECT 1', 'running', NULL, now() - interval '9 days', NULL),
       (:other_job, 'SELECT 1', 'succeeded', '1 row', now() - interval '30 days', now() - interval '30 days');

SELECT is(buildtrace._purge_cron_runs(), 1::bigint, 'the run of a buildtrace job that ended 8 days ago goes');
SELECT is((SELECT array_agg(status ORDER BY start_time) FROM cron.job_run_details WHERE jobid = :purge_job),
          ARRAY['running', 'failed'], 'a run still going and one 6 days old stay');
SELECT is((SELECT count(*) FROM cron.job_run_details WHERE jobid = :other_job), 1::bigint,
          'another job''s runs are its owner''s');
SELECT is(buildtrace._purge_cron_runs(), 0::bigint, 'a second purge removes nothing more');

-- A role that may not delete pg_cron's runs gets a warning and removes
-- nothing: purge(), whose batches are committed by then, does not fail.
INSERT INTO cron.job_run_details (jobid, command, status, return_message, start_time, end_time)
VALUES (:purge_job, 'SELECT 1', 'succeeded', '1 row', now() - interval '8 days', now() - interval '8 days');
CREATE ROLE bt_cron_runs_probe;
GRANT USAGE ON SCHEMA buildtrace, cron TO bt_cron_runs_probe;
GRANT EXECUTE ON FUNCTION buildtrace._purge_cron_runs(), buildtrace._cron_jobs() TO bt_cron_runs_probe;
REVOKE DELETE ON cron.job_run_details FROM PUBLIC;
SET LOCAL ROLE bt_cron_runs_probe;
SELECT is(buildtrace._purge_cron_runs(), 0::bigint, 'without pg_cron''s DELETE privilege: no error, nothing removed');
RESET ROLE;
SELECT is((SELECT count(*) FROM cron.job_run_details WHERE jobid = :purge_job AND status = 'succeeded'), 1::bigint,
          'and the old run is still there');

SELECT * FROM finish();
ROLLBACK;
