
-- ---------------------------------------------------------------------------
-- Monitoring: upload expectations, check_uploads(), anomaly
-- resolution, pg_cron scheduling and health().
--
-- check_uploads(as_of) is the one place the time-based rules live; it is what
-- pg_cron runs, and tests call it at fixed as_of times. Everything it records
-- is idempotent: running it twice for the same as_of records nothing new.
-- ---------------------------------------------------------------------------

-- Which drawings should receive uploads, and how often.
CREATE TABLE buildtrace.upload_expectations (
    drawing_id     text PRIMARY KEY CHECK (drawing_id <> ''),
    every          interval NOT NULL CHECK (every > interval '0'),
    grace          interval NOT NULL DEFAULT interval '0' CHECK (grace >= interval '0'),
    -- The first upload is due at since + every.
    since          timestamptz NOT NULL DEFAULT now(),
    -- Uploads up to here have been checked for lateness (internal watermark).
    checked_until  timestamptz
);
COMMENT ON TABLE buildtrace.upload_expectations IS
    'Drawings expected to receive an upload every "every", late after "grace" more.';

-- Every upload of a drawing: a row of versions, or a pair submitted directly
-- (pairs made from versions are not counted twice).
CREATE VIEW buildtrace.uploads AS
SELECT v.drawing_id, v.uploaded_at, v.version_id, NULL::bigint AS pair_id
FROM buildtrace.versions v
UNION ALL
SELECT p.drawing_id, p.submitted_at, NULL::bigint, p.pair_id
FROM buildtrace.pairs p
WHERE p.from_version IS NULL AND p.to_version IS NULL AND p.retry_of IS NULL;
COMMENT ON VIEW buildtrace.uploads IS
    'Every upload of a drawing: versions rows and directly submitted pairs.';

CREATE INDEX pairs_drawing_submitted_idx
    ON buildtrace.pairs (drawing_id, submitted_at)
    WHERE from_version IS NULL AND to_version IS NULL AND retry_of IS NULL;

-- Each expected drawing's last upload at as_of and when the next is due and late.
CREATE FUNCTION buildtrace._upload_due(as_of timestamptz)
RETURNS TABLE (drawing_id text, last_upload timestamptz, due_at timestamptz,
               late_at timestamptz, every interval)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT e.drawing_id, l.last_upload,
           coalesce(l.last_upload, e.since) + e.every,
           coalesce(l.last_upload, e.since) + e.every + e.grace,
           e.every
    FROM buildtrace.upload_expectations e
    LEFT JOIN LATERAL (
        SELECT max(u.uploaded_at) AS last_upload
        FROM buildtrace.uploads u
        WHERE u.drawing_id = e.drawing_id AND u.uploaded_at <= as_of) l ON true;
END;

-- Overdue drawings: record missing_upload once, escalate to high once a
-- second upload is also overdue, resolve when an upload arrives.
CREATE FUNCTION buildtrace._check_missing(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Resolve: an upload arrived after the one the anomaly was waiting on.
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, d.last_upload),
        details = a.details || jsonb_build_object('resolved_by_upload_at', d.last_upload)
    FROM buildtrace._upload_due(as_of) d
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND a.drawing_id = d.drawing_id
      AND d.last_upload IS NOT NULL
      AND d.last_upload > coalesce((a.details ->> 'last_upload_at')::timestamptz, '-infinity');
    GET DIAGNOSTICS resolved = ROW_COUNT;

    -- Escalate a still-open one once the drawing is a whole period later still.
    UPDATE buildtrace.anomalies a
    SET severity = 'high',
        details = a.details || jsonb_build_object('overdue_by', as_of - d.due_at)
    FROM buildtrace._upload_due(as_of) d
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.severity <> 'high'
      AND a.drawing_id = d.drawing_id AND as_of > d.late_at + d.every;

    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at)
    SELECT 'missing_upload',
           CASE WHEN as_of > d.late_at + d.every THEN 'high' ELSE 'medium' END,
           d.drawing_id,
           jsonb_build_object('last_upload_at', d.last_upload, 'due_at', d.due_at,
                              'late_at', d.late_at, 'overdue_by', as_of - d.due_at),
           as_of
    FROM buildtrace._upload_due(as_of) d
    WHERE as_of > d.late_at
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
                        AND a.drawing_id = d.drawing_id)
    ORDER BY d.drawing_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

-- Uploads that arrived after their due time plus grace: one delayed_upload
-- each (low severity, recorded resolved: the upload did come).
CREATE FUNCTION buildtrace._check_delayed(as_of timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    WITH expected AS (
        SELECT e.drawing_id, e.every, e.grace, e.since,
               coalesce(e.checked_until, e.since) AS checked_from
        FROM buildtrace.upload_expectations e
        WHERE coalesce(e.checked_until, e.since) < as_of
    ), ordered AS (
        SELECT u.drawing_id, u.uploaded_at, u.version_id, u.pair_id, x.every, x.grace,
               x.checked_from,
               coalesce(lag(u.uploaded_at) OVER w, x.since) AS previous_at
        FROM expected x
        JOIN buildtrace.uploads u
          ON u.drawing_id = x.drawing_id AND u.uploaded_at > x.since AND u.uploaded_at <= as_of
        WINDOW w AS (PARTITION BY u.drawing_id ORDER BY u.uploaded_at, u.version_id, u.pair_id)
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details,
                                      detected_at, resolved_at)
    SELECT 'delayed_upload', 'low', o.drawing_id, o.pair_id,
           jsonb_build_object('upload_at', o.uploaded_at, 'due_at', o.previous_at + o.every,
                              'grace', o.grace, 'delay', o.uploaded_at - (o.previous_at + o.every),
                              'version_id', o.version_id),
           as_of, as_of
    FROM ordered o
    WHERE o.uploaded_at > o.checked_from
      AND o.uploaded_at > o.previous_at + o.every + o.grace
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'delayed_upload' AND a.drawing_id = o.drawing_id
                        AND (a.details ->> 'upload_at')::timestamptz = o.uploaded_at)
    ORDER BY o.drawing_id, o.uploaded_at;
    GET DIAGNOSTICS n = ROW_COUNT;

    UPDATE buildtrace.upload_expectations e
    SET checked_until = as_of
    WHERE coalesce(e.checked_until, e.since) < as_of;
    RETURN n;
END
$$;

-- Pairs still pending after buildtrace.pending_max_age: one stale_pending
-- each, resolved once the pair is no longer pending.
CREATE FUNCTION buildtrace._check_pending(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age interval := buildtrace.setting('buildtrace.pending_max_age'::text)::interval;
BEGIN
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, coalesce(p.processed_at, as_of))
    FROM buildtrace.pairs p
    WHERE a.kind = 'stale_pending' AND a.resolved_at IS NULL
      AND p.pair_id = a.pair_id AND p.status <> 'pending';
    GET DIAGNOSTICS resolved = ROW_COUNT;

    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, detected_at)
    SELECT 'stale_pending', 'high', p.drawing_id, p.pair_id,
           jsonb_build_object('submitted_at', p.submitted_at, 'age', as_of - p.submitted_at,
                              'max_age', max_age),
           as_of
    FROM buildtrace.pairs p
    WHERE p.status = 'pending' AND p.submitted_at < as_of - max_age
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'stale_pending' AND a.pair_id = p.pair_id
                        AND a.resolved_at IS NULL)
    ORDER BY p.pair_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

-- Hourly volume spike: changes in the hour before as_of at least spike_factor
-- times the hour before that, per drawing and for the whole system (drawing
-- NULL), with the same small-baseline floor as change spikes. One per drawing
-- per hour window.
CREATE FUNCTION buildtrace._check_volume(as_of timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    factor   float8 := buildtrace.setting('buildtrace.spike_factor'::text)::float8;
    min_base int := buildtrace.setting('buildtrace.spike_min_changes'::text)::int;
    n        int;
BEGIN
    WITH hours AS (
        SELECT c.drawing_id,
               sum(c.total) FILTER (WHERE c.computed_at >= as_of - interval '1 hour') AS last_hour,
               sum(c.total) FILTER (WHERE c.computed_at < as_of - interval '1 hour') AS hour_before
        FROM buildtrace.changes c
        WHERE c.computed_at >= as_of - interval '2 hours' AND c.computed_at < as_of
        GROUP BY GROUPING SETS ((c.drawing_id), ())
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at)
    SELECT 'volume_spike', 'medium', h.drawing_id,
           jsonb_build_object('changes_last_hour', h.last_hour,
                              'changes_hour_before', h.hour_before,
                              'factor', round((h.last_hour::numeric / h.hour_before), 2),
                              'window_end', as_of),
           as_of
    FROM hours h
    WHERE h.hour_before >= greatest(min_base, 1)
      AND h.last_hour >= factor * h.hour_before
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'volume_spike'
                        AND a.drawing_id IS NOT DISTINCT FROM h.drawing_id
                        AND a.detected_at > as_of - interval '1 hour')
    ORDER BY h.drawing_id NULLS FIRST;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION buildtrace.check_uploads(as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    missing record;
    pending record;
    delayed int;
    volume  int;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('check_uploads() was called with as_of %s.', coalesce(as_of::text, 'NULL'));
    END IF;
    -- Two checks at once would both see "no open anomaly" and record it twice.
    PERFORM pg_advisory_xact_lock(hashtext('buildtrace.check_uploads'));
    missing := buildtrace._check_missing(as_of);
    delayed := buildtrace._check_delayed(as_of);
    pending := buildtrace._check_pending(as_of);
    volume  := buildtrace._check_volume(as_of);
    RETURN jsonb_build_object('as_of', as_of,
                              'missing_upload', missing.recorded,
                              'missing_upload_resolved', missing.resolved,
                              'delayed_upload', delayed,
                              'stale_pending', pending.recorded,
                              'stale_pending_resolved', pending.resolved,
                              'volume_spike', volume);
END
$$;
COMMENT ON FUNCTION buildtrace.check_uploads(timestamptz) IS
    'Records missing, delayed and stale uploads and volume spikes as of a time; idempotent.';

-- Operators close anomalies they have dealt with (spikes stay open until then).
CREATE FUNCTION buildtrace.resolve_anomalies(anomaly_ids bigint[], note text DEFAULT NULL)
RETURNS int
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH done AS (
        UPDATE buildtrace.anomalies a
        SET resolved_at = greatest(now(), a.detected_at),
            details = CASE WHEN note IS NULL THEN a.details
                           ELSE a.details || jsonb_build_object('resolution_note', note) END
        WHERE a.anomaly_id = ANY (anomaly_ids) AND a.resolved_at IS NULL
        RETURNING 1)
    SELECT count(*)::int FROM done;
END;

-- ---------------------------------------------------------------------------
-- pg_cron. Jobs are named buildtrace-*; cron.schedule() with a job name
-- replaces a job of that name, which makes schedule() idempotent.
-- ---------------------------------------------------------------------------

CREATE TABLE buildtrace.scheduled_jobs (
    job_name  text PRIMARY KEY,
    every     interval NOT NULL,
    command   text NOT NULL,
    scheduled_at timestamptz NOT NULL DEFAULT now()
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
    preloaded bool := current_setting('shared_preload_libraries') ~ '(^|[ ,])pg_cron($|[ ,])';
    cron_db   text := current_setting('cron.database_name', true);
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    IF NOT preloaded THEN
        RAISE EXCEPTION 'pg_cron is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'shared_preload_libraries does not include pg_cron.',
                  HINT = 'Install postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name, restart, and run CREATE EXTENSION pg_cron; or call buildtrace.check_uploads() from another scheduler.';
    ELSIF coalesce(cron_db, 'postgres') <> current_database() THEN
        RAISE EXCEPTION 'pg_cron lives in database "%", not in "%"', coalesce(cron_db, 'postgres'), current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron can only be managed from the database named by cron.database_name.',
                  HINT = format('In database %I run: SELECT cron.schedule_in_database(%L, %L, %L, %L);',
                                coalesce(cron_db, 'postgres'), 'buildtrace-check-uploads', '*/5 * * * *',
                                'SELECT buildtrace.check_uploads()', current_database());
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
    s bigint := extract(epoch FROM every)::bigint;
BEGIN
    IF s = 60 THEN RETURN '* * * * *';
    ELSIF s > 0 AND s % 60 = 0 AND s < 3600 AND 60 % (s / 60) = 0 THEN
        RETURN format('*/%s * * * *', s / 60);
    ELSIF s = 3600 THEN RETURN '0 * * * *';
    ELSIF s > 0 AND s % 3600 = 0 AND s < 86400 AND 24 % (s / 3600) = 0 THEN
        RETURN format('0 */%s * * *', s / 3600);
    ELSIF s = 86400 THEN RETURN '0 0 * * *';
    END IF;
    RAISE EXCEPTION 'unsupported schedule interval %', every
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'The interval must be whole minutes dividing an hour, whole hours dividing a day, or one day.',
              HINT = 'Use for example ''1 minute'', ''5 minutes'', ''1 hour'' or ''1 day''.';
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
BEGIN
    PERFORM buildtrace._require_cron();
    INSERT INTO buildtrace.scheduled_jobs AS s (job_name, every, command)
    VALUES ('buildtrace-check-uploads', every, 'SELECT buildtrace.check_uploads()'),
           ('buildtrace-purge', every, 'CALL buildtrace.purge()')
    ON CONFLICT ON CONSTRAINT scheduled_jobs_pkey
    DO UPDATE SET every = excluded.every, command = excluded.command,
                  scheduled_at = excluded.scheduled_at;

    FOR j IN SELECT s.job_name, s.command FROM buildtrace.scheduled_jobs s ORDER BY s.job_name LOOP
        job_name := j.job_name;
        cron_schedule := expr;
        command := j.command;
        -- pg_cron is optional, so it is called by name at run time only.
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING j.job_name, expr, j.command;
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
    name text;
BEGIN
    PERFORM buildtrace._require_cron();
    FOR name IN EXECUTE 'SELECT jobname FROM cron.job WHERE jobname LIKE ''buildtrace-%'' ORDER BY jobname' LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING name;
        n := n + 1;
    END LOOP;
    DELETE FROM buildtrace.scheduled_jobs;
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.unschedule() IS
    'Removes the pg_cron jobs schedule() registered; returns how many; idempotent.';

-- ---------------------------------------------------------------------------
-- health(): the /health shape {"status","warnings","anomalies"}.
--
--   unhealthy  a scheduled check failed on its last run; pairs pending longer
--              than buildtrace.pending_max_age; or an open high-severity
--              anomaly detected within the window.
--   degraded   any other open medium/high anomaly; dead letters; pairs
--              pending at all; a scheduled check with no run for twice its
--              cadence (and at least 2 minutes).
--   healthy    otherwise (open low-severity anomalies are only warnings).
-- ---------------------------------------------------------------------------

-- The last run of each scheduled buildtrace job, or nothing without pg_cron.
CREATE FUNCTION buildtrace._cron_runs()
RETURNS TABLE (job_name text, every interval, scheduled_at timestamptz, last_status text,
               last_start timestamptz, last_message text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT s.job_name, s.every, s.scheduled_at, r.status, r.start_time, r.return_message
        FROM buildtrace.scheduled_jobs s
        LEFT JOIN cron.job j ON j.jobname = s.job_name
        LEFT JOIN LATERAL (
            SELECT d.status, d.start_time, d.return_message
            FROM cron.job_run_details d
            WHERE d.jobid = j.jobid AND d.status IN ('succeeded', 'failed')
            ORDER BY d.start_time DESC LIMIT 1) r ON true
        ORDER BY s.job_name $q$;
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

-- SECURITY DEFINER: the reader role sees views only, yet health() must read
-- pairs, anomalies and pg_cron's tables; it returns only this summary.
CREATE FUNCTION buildtrace.health(recent interval DEFAULT interval '1 hour')
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age   interval := buildtrace.setting('buildtrace.pending_max_age'::text)::interval;
    unhealthy bool := false;
    degraded  bool := false;
    warnings  text[] := '{}';
    n         bigint;
    oldest    timestamptz;
    r         record;
    over      text[];
BEGIN
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

    SELECT count(*), min(submitted_at) INTO n, oldest FROM buildtrace.pairs WHERE status = 'pending';
    IF n > 0 THEN
        IF oldest < now() - max_age THEN
            unhealthy := true;
        ELSE
            degraded := true;
        END IF;
        warnings := warnings || format('%s pair%s pending, the oldest since %s.', n,
                                       CASE WHEN n = 1 THEN '' ELSE 's' END, oldest);
    END IF;

    SELECT count(*) INTO n FROM buildtrace.dead_letters;
    IF n > 0 THEN
        degraded := true;
        warnings := warnings || format('%s failed pair%s waiting in dead_letters.', n,
                                       CASE WHEN n = 1 THEN '' ELSE 's' END);
    END IF;

    FOR r IN SELECT a.kind, a.severity, count(*) AS n,
                    count(*) FILTER (WHERE a.detected_at >= now() - recent) AS n_recent
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
        'anomalies', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'anomaly_id', a.anomaly_id, 'type', a.kind, 'severity', a.severity,
                       'drawing_id', a.drawing_id, 'pair_id', a.pair_id, 'details', a.details,
                       'detected_at', a.detected_at, 'resolved_at', a.resolved_at)
                   ORDER BY a.detected_at DESC, a.anomaly_id DESC)
            FROM (SELECT * FROM buildtrace.anomalies a
                  WHERE a.resolved_at IS NULL OR a.detected_at >= now() - recent
                  ORDER BY a.detected_at DESC, a.anomaly_id DESC LIMIT 50) a), '[]'),
        'checked_at', now());
END
$$;
COMMENT ON FUNCTION buildtrace.health(interval) IS
    'Service health in the original /health shape: status, warnings, recent anomalies.';

REVOKE ALL ON FUNCTION buildtrace._upload_due(timestamptz), buildtrace._check_missing(timestamptz), buildtrace._check_delayed(timestamptz),
    buildtrace._check_pending(timestamptz), buildtrace._check_volume(timestamptz),
    buildtrace.check_uploads(timestamptz), buildtrace.resolve_anomalies(bigint[], text),
    buildtrace._require_cron(), buildtrace.schedule(interval), buildtrace.unschedule(),
    buildtrace._cron_runs(), buildtrace.health(interval) FROM PUBLIC;
GRANT SELECT ON buildtrace.uploads TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.health(interval) TO buildtrace_reader;
