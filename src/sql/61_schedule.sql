
-- ---------------------------------------------------------------------------
-- pg_cron. Jobs are named buildtrace-*; cron.schedule() with a job name
-- replaces a job of that name, which makes schedule() idempotent.
-- ---------------------------------------------------------------------------

CREATE TABLE buildtrace.scheduled_jobs (
    job_name  text PRIMARY KEY,
    every     interval NOT NULL,
    command   text NOT NULL,
    scheduled_at timestamptz NOT NULL DEFAULT now(),
    -- Since 0.2.0: the pg_cron job schedule() registered, whose runs
    -- health() reads (NULL for a job of 0.1.0 until schedule() runs again).
    jobid     bigint
);
COMMENT ON TABLE buildtrace.scheduled_jobs IS
    'The pg_cron jobs schedule() registered, with their cadence (health() uses it).';

-- Raises a clear error when pg_cron cannot be used from this database.
CREATE FUNCTION buildtrace._require_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    preloaded bool;
    cron_db   text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    -- Only superusers and pg_read_all_settings may read these settings, and
    -- a role granted schedule() or unschedule() may be neither: it is told
    -- what is missing without them.
    IF NOT pg_has_role('pg_read_all_settings', 'USAGE') THEN
        RAISE EXCEPTION 'pg_cron is not created in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A superuser can install pg_cron; until then, call buildtrace.check_uploads() from another scheduler.';
    END IF;
    preloaded := current_setting('shared_preload_libraries') ~ '(^|[ ,])pg_cron($|[ ,])';
    cron_db := current_setting('cron.database_name', true);
    IF NOT preloaded THEN
        RAISE EXCEPTION 'pg_cron is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'shared_preload_libraries does not include pg_cron.',
                  HINT = 'Install postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name, restart, and run CREATE EXTENSION pg_cron; or call buildtrace.check_uploads() from another scheduler.';
    ELSIF coalesce(cron_db, 'postgres') <> current_database() THEN
        RAISE EXCEPTION 'pg_cron lives in database "%", not in "%"', coalesce(cron_db, 'postgres'), current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron can only be managed from the database named by cron.database_name.',
                  -- a job name of this database's own: pg_cron keeps one job
                  -- per name and user, in the database it was first made for
                  HINT = format('In database %I run: SELECT cron.schedule_in_database(%L, %L, %L, %L); likewise a job %L for %L.',
                                coalesce(cron_db, 'postgres'), 'buildtrace-check-uploads-' || current_database(),
                                '*/5 * * * *', 'SELECT buildtrace.check_uploads()', current_database(),
                                'buildtrace-purge-' || current_database(), 'CALL buildtrace.purge()');
    ELSE
        RAISE EXCEPTION 'pg_cron is preloaded but the extension is not created in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron;';
    END IF;
END
$$;

-- A cadence as a cron expression: whole minutes dividing an hour, whole
-- hours dividing a day, or whole days.
CREATE FUNCTION buildtrace._cron_expression(every interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- whole seconds only: 59.5 seconds must not round to a minute
    s bigint := CASE WHEN extract(epoch FROM every) % 1 = 0 THEN extract(epoch FROM every) END;
BEGIN
    IF s = 60 THEN RETURN '* * * * *';
    ELSIF s > 0 AND s % 60 = 0 AND s < 3600 AND 60 % (s / 60) = 0 THEN
        RETURN format('*/%s * * * *', s / 60);
    ELSIF s = 3600 THEN RETURN '0 * * * *';
    ELSIF s > 0 AND s % 3600 = 0 AND s < 86400 AND 24 % (s / 3600) = 0 THEN
        RETURN format('0 */%s * * *', s / 3600);
    ELSIF s = 86400 THEN RETURN '0 0 * * *';
    END IF;
    RAISE EXCEPTION 'unsupported schedule interval %', coalesce(quote_literal(every), 'NULL')
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'The interval must be whole minutes dividing an hour, whole hours dividing a day, or one day.',
              HINT = 'Use for example ''1 minute'', ''5 minutes'', ''1 hour'' or ''1 day''.';
END
$$;

-- The jobs schedule() registers, named and commanded in this one place.
CREATE FUNCTION buildtrace._cron_job_specs()
RETURNS TABLE (job_name text, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('buildtrace-check-uploads', 'SELECT buildtrace.check_uploads()'),
           ('buildtrace-purge', 'CALL buildtrace.purge()')
$$;

-- The pg_cron jobs in this database that bear the names of schedule()'s
-- jobs, whichever role's: the one place that says which jobs are
-- buildtrace's (health() reads the runs of those schedule() registered
-- only, scheduled_jobs.jobid). SECURITY DEFINER: pg_cron shows a role its
-- own jobs only, and schedule(), unschedule() and health() must see every
-- role's jobs of these names, to refuse a second set, to remove a dropped
-- role's and to read their runs. It returns ids, job names and role names,
-- nothing else; search_path is pinned.
CREATE FUNCTION buildtrace._cron_jobs()
RETURNS TABLE (jobid bigint, job_name text, username text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT j.jobid, j.jobname::text, j.username::text FROM cron.job j
         WHERE j.jobname IN (SELECT c.job_name FROM buildtrace._cron_job_specs() c)
           AND j.database = current_database()';
END
$$;

CREATE FUNCTION buildtrace.schedule(every interval DEFAULT interval '5 minutes')
RETURNS TABLE (job_name text, cron_schedule text, command text, jobid bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expr text := buildtrace._cron_expression(every);
    j record;
    other_roles text;
BEGIN
    PERFORM buildtrace._require_cron();
    INSERT INTO buildtrace.scheduled_jobs AS s (job_name, every, command)
    SELECT c.job_name, schedule.every, c.command FROM buildtrace._cron_job_specs() c
    ON CONFLICT ON CONSTRAINT scheduled_jobs_pkey
    DO UPDATE SET every = excluded.every, command = excluded.command,
                  scheduled_at = excluded.scheduled_at;
    -- pg_cron keeps a job per name and user: scheduled by a second role, the
    -- checks and purge would run twice, at two cadences, and health() could
    -- not tell which one scheduled_jobs describes.
    SELECT string_agg(DISTINCT c.username, ', ' ORDER BY c.username) INTO other_roles
    FROM buildtrace._cron_jobs() c WHERE c.username <> current_user;
    IF other_roles IS NOT NULL THEN
        RAISE EXCEPTION 'buildtrace''s jobs in this database are scheduled by role %', other_roles
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'pg_cron keeps one job per name and user; a second role''s jobs would run the checks and the purge twice.',
                  HINT = format('Call buildtrace.unschedule() as a superuser (it removes every role''s) or as %s first, or call schedule() as %s.',
                                other_roles, other_roles);
    END IF;

    -- What is scheduled, and as whom, is _cron_job_specs()'s alone: a role
    -- that may write scheduled_jobs (one granted schedule() must) could
    -- otherwise have the next caller's cron run a command of its choosing
    -- as that caller. A row it added is dropped.
    DELETE FROM buildtrace.scheduled_jobs s
    WHERE s.job_name NOT IN (SELECT c.job_name FROM buildtrace._cron_job_specs() c);
    FOR j IN SELECT c.job_name, c.command FROM buildtrace._cron_job_specs() c ORDER BY c.job_name LOOP
        job_name := j.job_name;
        cron_schedule := expr;
        command := j.command;
        -- pg_cron is optional, so it is called by name at run time only.
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING j.job_name, expr, j.command;
        UPDATE buildtrace.scheduled_jobs s SET jobid = schedule.jobid WHERE s.job_name = j.job_name;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION buildtrace.schedule(interval) IS
    'Registers buildtrace''s periodic upload checks and purge with pg_cron at the given cadence; idempotent.';

CREATE FUNCTION buildtrace.unschedule()
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int := 0;
    job bigint;
BEGIN
    PERFORM buildtrace._require_cron();
    -- The jobs schedule() registered, and no other: a deferred worker's job
    -- is named buildtrace-work-N by the README's advice. Removed by id, as
    -- the caller may: a superuser every role's (a dropped role's too), any
    -- other role its own.
    FOR job IN SELECT c.jobid FROM buildtrace._cron_jobs() c
               WHERE c.username = current_user
                  OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
               ORDER BY c.jobid LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING job;
        n := n + 1;
    END LOOP;
    -- A job another role registered runs on, and health() keeps watching it.
    DELETE FROM buildtrace.scheduled_jobs s
    WHERE s.job_name NOT IN (SELECT c.job_name FROM buildtrace._cron_jobs() c);
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.unschedule() IS
    'Removes the pg_cron jobs schedule() registered; returns how many; idempotent.';

REVOKE ALL ON FUNCTION buildtrace._require_cron(), buildtrace._cron_job_specs(), buildtrace._cron_jobs(),
    buildtrace.schedule(interval),
    buildtrace.unschedule() FROM PUBLIC;
