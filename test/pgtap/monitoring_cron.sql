-- schedule()/unschedule() against the real pg_cron in this database, and one
-- job really run by pg_cron. Not wrapped in a transaction: pg_cron only sees
-- committed jobs. Leaves nothing scheduled behind.
\set ON_ERROR_STOP 1
SELECT plan(32);

SELECT buildtrace.unschedule();
SELECT is((SELECT count(*)::int FROM buildtrace.schedule('5 minutes')), 2,
          'schedule() registers the upload check and the purge');
SELECT is((SELECT count(*)::int FROM buildtrace.schedule('1 minute')), 2,
          'schedule() again replaces them instead of adding more');
SELECT is((SELECT string_agg(format('%s|%s|%s', jobname, schedule, command), ';' ORDER BY jobname)
           FROM cron.job WHERE jobname LIKE 'buildtrace-%'),
          'buildtrace-check-uploads|* * * * *|SELECT buildtrace.check_uploads();'
          'buildtrace-purge|* * * * *|CALL buildtrace.purge()',
          'two cron jobs, at the latest cadence');
SELECT is((SELECT string_agg(label || '=' || value, ',' ORDER BY label)
           FROM buildtrace.prometheus_samples('check_interval_seconds')),
          'buildtrace-check-uploads=60,buildtrace-purge=60',
          'Prometheus gets each job''s cadence, for the not-running rule');
-- A second role's schedule() is refused: its jobs would run beside these.
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_cron_admin2;
RESET client_min_messages;
CREATE ROLE bt_cron_admin2 SUPERUSER LOGIN;
SET ROLE bt_cron_admin2;
SELECT throws_ok($$SELECT buildtrace.schedule('1 hour')$$, '42710',
                 'buildtrace''s jobs in this database are scheduled by role ' || session_user,
                 'a second role cannot schedule the jobs again');
RESET ROLE;
DROP ROLE bt_cron_admin2;
SELECT throws_ok($$SELECT buildtrace.schedule('7 minutes')$$, '22023', NULL,
                 'an interval cron cannot express is refused');

-- schedule() registers its own jobs and commands only: a row someone who
-- may write scheduled_jobs added is dropped, its command never given to
-- pg_cron (to be run as the next caller of schedule()).
INSERT INTO buildtrace.scheduled_jobs (job_name, every, command)
VALUES ('buildtrace-extra', '1 minute', 'SELECT 1/0');
SELECT is((SELECT string_agg(job_name || '|' || command, ';' ORDER BY job_name)
           FROM buildtrace.schedule('1 minute')),
          'buildtrace-check-uploads|SELECT buildtrace.check_uploads();buildtrace-purge|CALL buildtrace.purge()',
          'schedule() registers its own jobs'' commands only');
SELECT is((SELECT count(*)::int FROM cron.job WHERE command LIKE '%1/0%'), 0,
          'the command of a row someone added never reaches pg_cron');
SELECT is((SELECT string_agg(job_name, ',' ORDER BY job_name) FROM buildtrace.scheduled_jobs),
          'buildtrace-check-uploads,buildtrace-purge', 'and the row is dropped');

-- health() and a job that never ran: fine right after scheduling, a warning
-- once two periods have passed (a job row whose cron job was removed by
-- hand); schedule() registers it again.
SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'buildtrace-purge';
SELECT ok(NOT (buildtrace.health() -> 'warnings')::text LIKE '%buildtrace-purge has not run%',
          'a job scheduled just now is not reported as not running');
UPDATE buildtrace.scheduled_jobs SET scheduled_at = now() - interval '1 hour'
WHERE job_name = 'buildtrace-purge';
SELECT ok((buildtrace.health() -> 'warnings')::text LIKE '%buildtrace-purge has not run%',
          'a job with no run for two periods is reported');
SELECT is((SELECT count(*)::int FROM buildtrace.schedule('1 minute')), 2, 'schedule() registers it again');

-- An expectation that is overdue, so the cron run has something to record.
DELETE FROM buildtrace.anomalies WHERE drawing_id = 'cron-test';
INSERT INTO buildtrace.upload_expectations (drawing_id, every, since)
VALUES ('cron-test', '1 hour', now() - interval '1 day')
ON CONFLICT (drawing_id) DO UPDATE SET since = excluded.since, checked_until = NULL;

-- pg_cron starts jobs on the minute: wait at most 75 s for a run of both.
DO $$
DECLARE deadline timestamptz := clock_timestamp() + interval '75 seconds';
BEGIN
    WHILE clock_timestamp() < deadline LOOP
        EXIT WHEN (SELECT count(DISTINCT j.jobname) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
                   WHERE j.jobname IN ('buildtrace-check-uploads', 'buildtrace-purge')
                     AND d.status IN ('succeeded', 'failed')) = 2;
        PERFORM pg_sleep(1);
    END LOOP;
END $$;

SELECT is((SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
           WHERE j.jobname = 'buildtrace-check-uploads' ORDER BY d.start_time LIMIT 1),
          'succeeded', 'pg_cron ran check_uploads() and it succeeded');
SELECT is((SELECT count(*)::int FROM buildtrace.anomalies
           WHERE kind = 'missing_upload' AND drawing_id = 'cron-test' AND resolved_at IS NULL),
          1, 'the cron run recorded the overdue drawing');
SELECT is((SELECT d.status FROM cron.job_run_details d JOIN cron.job j USING (jobid)
           WHERE j.jobname = 'buildtrace-purge' ORDER BY d.start_time LIMIT 1),
          'succeeded', 'pg_cron ran purge(), a procedure that commits, and it succeeded');
SELECT ok(NOT (buildtrace.health() -> 'warnings')::text LIKE '%has not run%',
          'health() sees the scheduled jobs have run');

-- Another role's job of such a name, which pg_cron allows, is not
-- buildtrace's: health() does not report its runs.
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_cron_twin;
RESET client_min_messages;
CREATE ROLE bt_cron_twin LOGIN;
SELECT cron.schedule_in_database('buildtrace-check-uploads', '0 0 1 1 *', 'SELECT 1', current_database(),
                                 'bt_cron_twin');
INSERT INTO cron.job_run_details (jobid, command, status, return_message, start_time, end_time)
SELECT j.jobid, j.command, 'failed', 'twin', now() + interval '1 minute', now() + interval '1 minute'
FROM cron.job j WHERE j.username = 'bt_cron_twin';
SELECT is((SELECT c.last_status FROM buildtrace._cron_runs() c WHERE c.job_name = 'buildtrace-check-uploads'),
          'succeeded', 'health() reads the runs of the job schedule() registered, not another role''s of its name');
DELETE FROM cron.job_run_details WHERE return_message = 'twin';
SELECT cron.unschedule(jobid) FROM cron.job WHERE username = 'bt_cron_twin';
DROP ROLE bt_cron_twin;

-- purge() removes the week-old runs of its own and the checks' jobs.
INSERT INTO cron.job_run_details (jobid, command, status, return_message, start_time, end_time)
SELECT j.jobid, j.command, 'succeeded', 'old', now() - interval '8 days', now() - interval '8 days'
FROM cron.job j WHERE j.jobname IN ('buildtrace-check-uploads', 'buildtrace-purge');
CALL buildtrace.purge();
SELECT is((SELECT count(*)::int FROM cron.job_run_details d JOIN cron.job j USING (jobid)
           WHERE j.jobname LIKE 'buildtrace-%' AND d.return_message = 'old'), 0,
          'purge() removes the runs of buildtrace''s jobs that ended more than a week ago');

-- Jobs that are not schedule()'s: a deferred worker's, named as the README
-- advises, and another user's job of the same name for another database.
SELECT cron.schedule('buildtrace-work-1', '0 0 1 1 *', 'CALL buildtrace.work()');
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_cron_other;
RESET client_min_messages;
CREATE ROLE bt_cron_other LOGIN;
SELECT cron.schedule_in_database('buildtrace-purge', '0 0 1 1 *', 'SELECT 1', 'postgres', 'bt_cron_other');
SELECT is((SELECT string_agg(coalesce(c.last_status, 'no run'), ',') FROM buildtrace._cron_runs() c
           WHERE c.job_name = 'buildtrace-purge'), 'succeeded',
          'health() reads the purge job of this database once, with its run');

SELECT is(buildtrace.unschedule(), 2, 'unschedule() removes the jobs');
SELECT is(buildtrace.unschedule(), 0, 'unschedule() again is a no-op');
SELECT is((SELECT string_agg(format('%s|%s|%s', jobname, username, database), ';' ORDER BY jobname)
           FROM cron.job WHERE jobname LIKE 'buildtrace-%'),
          'buildtrace-purge|bt_cron_other|postgres;buildtrace-work-1|' || current_user || '|' || current_database(),
          'unschedule() leaves the jobs schedule() did not register');
SELECT is((SELECT count(*)::int FROM buildtrace.scheduled_jobs), 0,
          'unschedule() forgets the jobs it removed');
SELECT cron.unschedule('buildtrace-work-1');
SELECT cron.unschedule(jobid) FROM cron.job WHERE username = 'bt_cron_other';
DROP ROLE bt_cron_other;

-- Jobs another role scheduled, the role since dropped, stop schedule(); a
-- superuser's unschedule() removes them.
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_cron_gone;
RESET client_min_messages;
CREATE ROLE bt_cron_gone SUPERUSER LOGIN;
SET ROLE bt_cron_gone;
SELECT is((SELECT count(*)::int FROM buildtrace.schedule('1 hour')), 2, 'another role schedules the jobs');
RESET ROLE;
DROP ROLE bt_cron_gone;
SELECT throws_ok($$SELECT buildtrace.schedule('5 minutes')$$, '42710',
                 'buildtrace''s jobs in this database are scheduled by role bt_cron_gone',
                 'a dropped role''s jobs stop schedule(), which names the role');
SELECT is(buildtrace.unschedule(), 2, 'a superuser''s unschedule() removes a dropped role''s jobs');
SELECT is((SELECT count(*)::int FROM cron.job
           WHERE jobname IN ('buildtrace-check-uploads', 'buildtrace-purge')), 0,
          'no job of these names is left');
-- So does a job of such a name that another role made by hand, before any
-- schedule(); a superuser's unschedule() removes it.
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_cron_hand;
RESET client_min_messages;
CREATE ROLE bt_cron_hand LOGIN;
SELECT cron.schedule_in_database('buildtrace-purge', '0 0 1 1 *', 'SELECT 1', current_database(), 'bt_cron_hand');
SELECT throws_ok($$SELECT buildtrace.schedule('5 minutes')$$, '42710',
                 'buildtrace''s jobs in this database are scheduled by role bt_cron_hand',
                 'a hand-made job of these names stops schedule()');
SELECT is(buildtrace.unschedule(), 1, 'a superuser''s unschedule() removes it, though schedule() never ran');
DROP ROLE bt_cron_hand;

-- A role that may not remove another role's jobs leaves them running, and
-- scheduled_jobs keeps describing them, for health() to watch. The role
-- cannot read the server's settings, which unschedule() then does not need.
SET client_min_messages = warning;
DROP ROLE IF EXISTS bt_cron_owner;
DROP ROLE IF EXISTS bt_cron_plain;
RESET client_min_messages;
CREATE ROLE bt_cron_owner SUPERUSER LOGIN;
CREATE ROLE bt_cron_plain LOGIN;
GRANT USAGE ON SCHEMA buildtrace, cron TO bt_cron_plain;
GRANT EXECUTE ON FUNCTION buildtrace.unschedule(), buildtrace._require_cron(), buildtrace._cron_jobs()
    TO bt_cron_plain;
GRANT SELECT, DELETE ON buildtrace.scheduled_jobs TO bt_cron_plain;
SET ROLE bt_cron_owner;
SELECT count(*) AS scheduled FROM buildtrace.schedule('1 hour');
RESET ROLE;
SET ROLE bt_cron_plain;
SELECT is(buildtrace.unschedule(), 0, 'a plain role''s unschedule() leaves another role''s jobs');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM buildtrace.scheduled_jobs), 2,
          'scheduled_jobs still describes the jobs left running');
SELECT is(buildtrace.unschedule(), 2, 'a superuser''s unschedule() then removes them');
DROP OWNED BY bt_cron_plain;
DROP ROLE bt_cron_plain;
DROP ROLE bt_cron_owner;

DELETE FROM buildtrace.anomalies WHERE drawing_id = 'cron-test';
DELETE FROM buildtrace.upload_expectations WHERE drawing_id = 'cron-test';
SELECT * FROM finish();
