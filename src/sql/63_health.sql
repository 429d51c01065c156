
-- ---------------------------------------------------------------------------
-- health(): the /health shape {"status","warnings","anomalies"}, with the
-- backlog of pending pairs.
--
--   unhealthy  a scheduled check failed on its last run; pairs pending longer
--              than buildtrace.pending_max_age; or an open high-severity
--              anomaly detected within the window.
--   degraded   any other open medium/high anomaly; dead letters; a
--              scheduled check with no run for twice its cadence (and at
--              least 2 minutes); the last hour's processing P99 or share
--              of failed pairs over buildtrace.health_p99_ms or
--              buildtrace.health_failure_rate.
--   healthy    otherwise (open low-severity anomalies are only warnings).
--
-- Pairs pending for less than buildtrace.pending_max_age are a warning
-- only: whether a backlog is expected depends on the writers' processing
-- setting (a role's, say), not on the caller's.
-- ---------------------------------------------------------------------------

-- The last run of each scheduled buildtrace job, or nothing without pg_cron.
-- SECURITY DEFINER: pg_cron shows a job's runs to the role that scheduled it
-- only, and health() runs with its caller's rights; this returns the status
-- of buildtrace's own jobs, which every tenant shares, and nothing else. A
-- failed run's message may quote any tenant's rows (a key in a DETAIL), so
-- once tenants exist it goes only to sessions that see every row anyway:
-- session_user, because current_user here is the function's owner.
CREATE FUNCTION buildtrace._cron_runs()
RETURNS TABLE (job_name text, every interval, scheduled_at timestamptz, last_status text,
               last_start timestamptz, last_message text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    show_message bool;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    show_message := NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles t ON t.oid = m.roleid
                                WHERE t.rolname = 'buildtrace_tenant')
                    OR EXISTS (SELECT 1 FROM pg_roles r
                               WHERE r.rolname = session_user AND (r.rolsuper OR r.rolbypassrls));
    RETURN QUERY EXECUTE $q$
        SELECT s.job_name, s.every, s.scheduled_at, r.status, r.start_time,
               CASE WHEN $1 THEN r.return_message
                    ELSE 'withheld: a shared job''s message is shown only to roles that see every tenant' END
        FROM buildtrace.scheduled_jobs s
        -- the latest run of the job schedule() registered under that name
        -- (another role's job of the name, which pg_cron allows, is not
        -- buildtrace's to report); by name alone for a job registered before
        -- schedule() kept its id
        LEFT JOIN LATERAL (
            SELECT d.status, d.start_time, d.return_message
            FROM buildtrace._cron_jobs() j JOIN cron.job_run_details d ON d.jobid = j.jobid
            WHERE j.job_name = s.job_name AND (s.jobid IS NULL OR j.jobid = s.jobid)
              AND d.status IN ('succeeded', 'failed')
            ORDER BY d.start_time DESC LIMIT 1) r ON true
        WHERE s.job_name IN (SELECT c.job_name FROM buildtrace._cron_job_specs() c)
        ORDER BY s.job_name $q$ USING show_message;
END
$$;

-- The last hour against health()'s thresholds (buildtrace.health_p99_ms,
-- buildtrace.health_failure_rate, the latter judged from 20 pairs on): a
-- warning for each one crossed.
CREATE FUNCTION buildtrace._health_thresholds()
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_remove(ARRAY[
               CASE WHEN s.max_p99 > 0 AND h.p99 > s.max_p99 THEN
                   format('Processing latency P99 of the last hour is %s ms, over buildtrace.health_p99_ms (%s ms).',
                          round(h.p99::numeric, 1), s.max_p99) END,
               CASE WHEN s.max_rate < 1 AND h.done + h.failed >= 20 AND h.failed > s.max_rate * (h.done + h.failed) THEN
                   format('%s of %s pairs failed in the last hour (%s %%), over buildtrace.health_failure_rate (%s %%).',
                          h.failed, h.done + h.failed, round(100.0 * h.failed / (h.done + h.failed), 1),
                          round(100 * s.max_rate::numeric, 1)) END], NULL)
    FROM (SELECT coalesce(sum(r.pairs), 0) AS done, coalesce(sum(r.failed), 0) AS failed,
                 buildtrace.bt_sketch_quantile(buildtrace.bt_sketch_merge(r.processing_ms), 0.99::float8) AS p99
          FROM buildtrace.hourly_rollups r
          WHERE r.hour >= buildtrace._window_start(interval '1 hour')) h,
         (SELECT buildtrace.setting('buildtrace.health_p99_ms'::text)::float8 AS max_p99,
                 buildtrace.setting('buildtrace.health_failure_rate'::text)::float8 AS max_rate) s
$$;

-- The caller's tenant's health: it runs with the caller's rights.
CREATE FUNCTION buildtrace.health(recent interval DEFAULT interval '1 hour')
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age   interval := buildtrace.setting('buildtrace.pending_max_age'::text)::interval;
    unhealthy bool := false;
    degraded  bool := false;
    warnings  text[] := '{}';
    n         bigint;
    n_pending bigint;
    oldest    timestamptz;
    r         record;
    over      text[];
    -- "within recent", counted back in UTC as every window is
    recent_start timestamptz;
BEGIN
    PERFORM buildtrace._checked_window_start(recent, 'health'::text, 'recent'::text);
    recent_start := buildtrace._utc_ago(recent);
    FOR r IN SELECT * FROM buildtrace._cron_runs() LOOP
        IF r.last_status = 'failed' THEN
            unhealthy := true;
            warnings := warnings || format('Scheduled check %s failed at %s: %s',
                                           r.job_name, r.last_start, r.last_message);
        ELSIF greatest(r.last_start, r.scheduled_at) < now() - greatest(2 * r.every, interval '2 minutes') THEN
            degraded := true;
            warnings := warnings || format('Scheduled check %s has not run since %s (every %s).',
                                           r.job_name, coalesce(r.last_start::text, 'it was scheduled'), r.every);
        END IF;
    END LOOP;

    SELECT count(*), min(submitted_at) INTO n_pending, oldest
    FROM buildtrace.pairs WHERE status = 'pending';
    IF n_pending > 0 THEN
        IF oldest < now() - max_age THEN
            unhealthy := true;
        END IF;
        warnings := warnings || format('%s pair%s pending, the oldest since %s.', n_pending,
                                       CASE WHEN n_pending = 1 THEN '' ELSE 's' END, oldest);
    END IF;

    SELECT count(*) INTO n FROM buildtrace.dead_letters;
    IF n > 0 THEN
        degraded := true;
        warnings := warnings || format('%s failed pair%s waiting in dead_letters.', n,
                                       CASE WHEN n = 1 THEN '' ELSE 's' END);
    END IF;

    FOR r IN SELECT a.kind, a.severity, count(*) AS n,
                    count(*) FILTER (WHERE a.detected_at >= recent_start) AS n_recent
             FROM buildtrace.anomalies a WHERE a.resolved_at IS NULL
             GROUP BY a.kind, a.severity ORDER BY a.kind, a.severity LOOP
        IF r.severity = 'high' AND r.n_recent > 0 THEN
            unhealthy := true;
        ELSIF r.severity IN ('medium', 'high') THEN
            degraded := true;
        END IF;
        warnings := warnings || format('%s open %s anomal%s (%s severity).', r.n,
                                       replace(r.kind, '_', ' '),
                                       CASE WHEN r.n = 1 THEN 'y' ELSE 'ies' END, r.severity);
    END LOOP;

    over := buildtrace._health_thresholds();
    IF cardinality(over) > 0 THEN
        degraded := true;
        warnings := warnings || over;
    END IF;

    RETURN jsonb_build_object(
        'status', CASE WHEN unhealthy THEN 'unhealthy' WHEN degraded THEN 'degraded' ELSE 'healthy' END,
        'warnings', to_jsonb(warnings),
        -- the queue of deferred processing (and any pair not processed yet)
        'backlog', jsonb_build_object('pending', n_pending,
                                      'oldest_age_seconds', CASE WHEN isfinite(oldest)
                                                                     THEN round(extract(epoch FROM now() - oldest), 3) END),
        'anomalies', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'anomaly_id', a.anomaly_id, 'type', a.kind, 'severity', a.severity,
                       'drawing_id', a.drawing_id, 'pair_id', a.pair_id, 'details', a.details,
                       'detected_at', a.detected_at, 'resolved_at', a.resolved_at)
                   ORDER BY a.detected_at DESC, a.anomaly_id DESC)
            FROM (SELECT * FROM buildtrace.anomalies a
                  WHERE a.resolved_at IS NULL OR a.detected_at >= recent_start
                  ORDER BY a.detected_at DESC, a.anomaly_id DESC LIMIT 50) a), '[]'),
        'checked_at', now());
END
$$;
COMMENT ON FUNCTION buildtrace.health(interval) IS
    'Service health in the original /health shape: status, warnings, recent anomalies.';

REVOKE ALL ON FUNCTION buildtrace._cron_runs(), buildtrace.health(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._cron_runs(), buildtrace.health(interval) TO buildtrace_reader;
