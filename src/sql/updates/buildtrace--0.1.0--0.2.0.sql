-- buildtrace 0.1.0 -> 0.2.0. Every schema change of 0.2.0 is here; the
-- result equals a fresh install of 0.2.0 (test/upgrade/run.sh compares them).

\echo Use "ALTER EXTENSION buildtrace UPDATE TO '0.2.0'" to load this file. \quit

-- 0.1.0 did not check who owned schema buildtrace when it was installed.
-- Whoever owns it, or may create in it, can plant overloads that the
-- SECURITY DEFINER functions below would run with their owner's rights:
-- refuse to go on until that is put right.
DO $$
DECLARE
    schema_owner name;
    owner_super  boolean;
    creators     text;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner), r.rolsuper,
           (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)), ', ')
            FROM pg_catalog.aclexplode(n.nspacl) a
            WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
              AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner)
    INTO schema_owner, owner_super, creators
    FROM pg_catalog.pg_namespace n
    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
    WHERE n.nspname OPERATOR(pg_catalog.=) 'buildtrace';
    IF schema_owner OPERATOR(pg_catalog.<>) current_user AND NOT owner_super THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.format('schema "buildtrace" is owned by role %I, not by the updating role %I',
                                        schema_owner, current_user),
            HINT = 'ALTER SCHEMA buildtrace OWNER TO the extension''s owner, check the schema for objects buildtrace did not create, then update again.';
    ELSIF creators IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'other roles may create objects in schema "buildtrace"',
            DETAIL = pg_catalog.format('CREATE on the schema is granted to %s.', creators),
            HINT = 'REVOKE CREATE ON SCHEMA buildtrace from them, check the schema for objects buildtrace did not create, then update again.';
    END IF;
END
$$;

-- A latency that is no duration fails its pair instead of the statement;
-- versions keep theirs as sent.
ALTER TABLE buildtrace.versions DROP CONSTRAINT versions_latency_ms_check;
ALTER TABLE buildtrace.pairs DROP CONSTRAINT pairs_latency_ms_check;
ALTER TABLE buildtrace.pairs ADD CONSTRAINT pairs_latency_ms_check
    CHECK (status = 'failed' OR (latency_ms >= 0 AND latency_ms < 'Infinity'));

-- from_version and to_version must be versions of the pair's drawing. A
-- link to another drawing's version could only have been written by hand
-- to mislead; it is cleared, and counted.
ALTER TABLE buildtrace.versions
    ADD CONSTRAINT versions_version_drawing_key UNIQUE (version_id, drawing_id);
ALTER TABLE buildtrace.pairs DROP CONSTRAINT pairs_from_version_fkey,
                             DROP CONSTRAINT pairs_to_version_fkey;
DO $$
DECLARE
    n_from bigint;
    n_to   bigint;
BEGIN
    UPDATE buildtrace.pairs p SET from_version = NULL
    WHERE p.from_version IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.versions v
                      WHERE v.version_id = p.from_version AND v.drawing_id = p.drawing_id);
    GET DIAGNOSTICS n_from = ROW_COUNT;
    UPDATE buildtrace.pairs p SET to_version = NULL
    WHERE p.to_version IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.versions v
                      WHERE v.version_id = p.to_version AND v.drawing_id = p.drawing_id);
    GET DIAGNOSTICS n_to = ROW_COUNT;
    IF n_from + n_to > 0 THEN
        RAISE NOTICE 'cleared % from_version and % to_version links to versions of other drawings',
            n_from, n_to;
    END IF;
END
$$;
ALTER TABLE buildtrace.pairs
    ADD CONSTRAINT pairs_from_version_fkey FOREIGN KEY (from_version, drawing_id)
        REFERENCES buildtrace.versions (version_id, drawing_id) ON DELETE SET NULL (from_version),
    ADD CONSTRAINT pairs_to_version_fkey FOREIGN KEY (to_version, drawing_id)
        REFERENCES buildtrace.versions (version_id, drawing_id) ON DELETE SET NULL (to_version);

-- New kinds of change: rotations, objects found again under new ids, and
-- whole-drawing shifts. Rows of 0.1.0 count 0 of each; total now counts
-- rotations too, and no longer anything a re-export or a shift did.
ALTER TABLE buildtrace.changes
    ADD COLUMN rotated integer NOT NULL DEFAULT 0 CHECK (rotated >= 0),
    ADD COLUMN reidentified integer NOT NULL DEFAULT 0 CHECK (reidentified >= 0),
    ADD COLUMN shifted integer NOT NULL DEFAULT 0 CHECK (shifted >= 0);
ALTER TABLE buildtrace.changes DROP COLUMN total;
ALTER TABLE buildtrace.changes ADD COLUMN total integer GENERATED ALWAYS AS
    (added + removed + moved + resized + retyped + modified + rotated) STORED;
ALTER TABLE buildtrace.hourly_rollups
    ADD COLUMN rotated bigint NOT NULL DEFAULT 0 CHECK (rotated >= 0),
    ADD COLUMN reidentified bigint NOT NULL DEFAULT 0 CHECK (reidentified >= 0);

CREATE OR REPLACE VIEW buildtrace.hourly_changes AS
SELECT date_trunc('hour', c.computed_at) AS hour,
       count(*) AS pairs,
       count(DISTINCT c.drawing_id) AS drawings,
       sum(c.added)::bigint AS added,
       sum(c.removed)::bigint AS removed,
       sum(c.moved)::bigint AS moved,
       sum(c.resized)::bigint AS resized,
       sum(c.retyped)::bigint AS retyped,
       sum(c.modified)::bigint AS modified,
       sum(c.rotated)::bigint AS rotated,
       sum(c.reidentified)::bigint AS reidentified
FROM buildtrace.changes c
GROUP BY 1;

-- bt_diff and bt_try_diff take match_geometry.
DROP FUNCTION buildtrace.bt_diff(jsonb, jsonb, float8, float8);
DROP FUNCTION buildtrace.bt_try_diff(jsonb, jsonb, float8, float8);
CREATE FUNCTION buildtrace.bt_diff(a jsonb, b jsonb,
                                   move_tolerance float8 DEFAULT NULL,
                                   size_tolerance float8 DEFAULT NULL,
                                   match_geometry boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_diff'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_diff(jsonb, jsonb, float8, float8, boolean) IS
'Changes from drawing version a to version b: added, removed, moved, resized, retyped, modified, rotated, re-identified and ambiguous objects, a whole-drawing shift, counts and a summary. Raises an error for invalid input.';

CREATE FUNCTION buildtrace.bt_try_diff(a jsonb, b jsonb,
                                       move_tolerance float8 DEFAULT NULL,
                                       size_tolerance float8 DEFAULT NULL,
                                       match_geometry boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_try_diff'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_try_diff(jsonb, jsonb, float8, float8, boolean) IS
'bt_diff, or {"problems": [...]} listing every problem of both versions instead of raising an error.';

-- The statement trigger on pairs is C; it hands the statement's results to
-- _pairs_store_results, which replaces the PL/pgSQL trigger function. The
-- results carry the new counts.
DROP TRIGGER pairs_process ON buildtrace.pairs;
DROP FUNCTION buildtrace._pairs_after_insert();
DROP FUNCTION buildtrace._pairs_take_results();

CREATE FUNCTION buildtrace._pairs_take_results(
    OUT pair_id bigint, OUT drawing_id text, OUT job_id text, OUT latency_ms float8,
    OUT retry_of bigint, OUT ok boolean, OUT result jsonb, OUT processing_us bigint,
    OUT added integer, OUT removed integer, OUT moved integer, OUT resized integer,
    OUT retyped integer, OUT modified integer, OUT unchanged integer,
    OUT rotated integer, OUT reidentified integer, OUT shifted integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'bt_pairs_take_results'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10000;

CREATE FUNCTION buildtrace._pairs_after_statement()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_after_statement'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION buildtrace._pairs_store_results()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'
AS $$
DECLARE
    factor      float8 := buildtrace.setting('buildtrace.spike_factor'::text)::float8;
    min_changes integer := buildtrace.setting('buildtrace.spike_min_changes'::text)::integer;
    n_processed bigint;
BEGIN
    PERFORM buildtrace._lock_drawings(
        ARRAY(SELECT DISTINCT d FROM buildtrace._pairs_pending_drawings() d));

    -- One statement does every write, over one materialised set of processed
    -- rows ("processed"), so a further consumer (such as rollups) is one
    -- more CTE over the same rows. result is the diff of a processed pair
    -- and the problems of a failed one, whose counts are NULL. total is
    -- computed here so that the spike rule's window sort below carries
    -- narrow rows.
    WITH processed AS MATERIALIZED (
        SELECT r.*,
               r.added + r.removed + r.moved + r.resized + r.retyped + r.modified + r.rotated
                   AS total
        FROM buildtrace._pairs_take_results() r
    ),
    -- Narrow rows for the spike rule; the diff itself is read from
    -- "processed" only, so it is materialised once.
    counted AS (
        SELECT pr.pair_id, pr.drawing_id, pr.total
        FROM processed pr
        WHERE pr.ok
    ),
    -- The previous processed pair of each done pair: the one before it in
    -- this statement (pair_id order), else the drawing's last processed pair.
    -- Only narrow columns go through the window's sort.
    sequenced AS (
        SELECT c.pair_id, c.drawing_id, c.total,
               lag(c.pair_id) OVER w AS batch_prev_pair,
               lag(c.total) OVER w AS batch_prev_total,
               lead(c.pair_id) OVER w IS NULL AS is_last
        FROM counted c
        WINDOW w AS (PARTITION BY c.drawing_id ORDER BY c.pair_id)
    ),
    done AS (
        SELECT q.*,
               coalesce(q.batch_prev_pair, s.last_pair_id) AS prev_pair_id,
               CASE WHEN q.batch_prev_pair IS NULL THEN s.last_total
                    ELSE q.batch_prev_total END AS prev_total
        FROM sequenced q
        JOIN buildtrace.drawing_state s ON s.drawing_id = q.drawing_id
    ),
    ins_changes AS (
        INSERT INTO buildtrace.changes
            (pair_id, drawing_id, job_id, diff, summary, added, removed, moved,
             resized, retyped, modified, unchanged, processing_us, rotated, reidentified,
             shifted)
        SELECT pr.pair_id, pr.drawing_id, pr.job_id, pr.result, pr.result ->> 'summary',
               pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
               pr.unchanged, pr.processing_us, pr.rotated, pr.reidentified, pr.shifted
        FROM processed pr
        WHERE pr.ok
    ),
    ins_anomalies AS (
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details)
        SELECT 'invalid_input', 'high', pr.drawing_id, pr.pair_id,
               jsonb_build_object('problems', pr.result)
        FROM processed pr
        WHERE NOT pr.ok
        UNION ALL
        SELECT 'change_spike',
               CASE WHEN d.total >= 2 * factor * d.prev_total THEN 'high' ELSE 'medium' END,
               d.drawing_id, d.pair_id,
               jsonb_build_object('previous_changes', d.prev_total, 'changes', d.total,
                                  'factor', factor, 'previous_pair_id', d.prev_pair_id)
        FROM done d
        WHERE d.prev_total >= min_changes
          AND d.prev_total > 0
          AND d.total >= factor * d.prev_total
    ),
    -- A retry that was processed (done or failed again) supersedes the failed
    -- pair: that pair's open invalid_input anomaly is resolved, kept as history.
    resolve_retried AS (
        UPDATE buildtrace.anomalies a
        SET resolved_at = now()
        FROM processed pr
        WHERE pr.retry_of IS NOT NULL
          AND a.pair_id = pr.retry_of
          AND a.kind = 'invalid_input'
          AND a.resolved_at IS NULL
    ),
    -- Hourly rollups (40_metrics.sql): one upsert per drawing of this
    -- statement. Its (hour, drawing) row is only written under that
    -- drawing's lock taken above, so concurrent statements add up in turn.
    -- Keep in step with rebuild_rollups().
    upd_rollups AS (
        INSERT INTO buildtrace.hourly_rollups AS r
            (hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
             modified, unchanged, processing_ms, reported_latency_ms, rotated, reidentified)
        SELECT date_trunc('hour', now(), 'UTC'), pr.drawing_id,
               count(*) FILTER (WHERE pr.ok), count(*) FILTER (WHERE NOT pr.ok),
               coalesce(sum(pr.added) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.removed) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.moved) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.resized) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.retyped) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.modified) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.unchanged) FILTER (WHERE pr.ok), 0),
               buildtrace.bt_sketch(pr.processing_us / 1000.0::float8) FILTER (WHERE pr.ok),
               buildtrace.bt_sketch(pr.latency_ms) FILTER (WHERE pr.ok),
               coalesce(sum(pr.rotated) FILTER (WHERE pr.ok), 0),
               coalesce(sum(pr.reidentified) FILTER (WHERE pr.ok), 0)
        FROM processed pr
        GROUP BY pr.drawing_id
        ON CONFLICT (hour, drawing_id) DO UPDATE
        SET pairs = r.pairs + excluded.pairs, failed = r.failed + excluded.failed,
            added = r.added + excluded.added, removed = r.removed + excluded.removed,
            moved = r.moved + excluded.moved, resized = r.resized + excluded.resized,
            retyped = r.retyped + excluded.retyped, modified = r.modified + excluded.modified,
            unchanged = r.unchanged + excluded.unchanged,
            processing_ms = buildtrace.bt_sketch_add(r.processing_ms, excluded.processing_ms),
            reported_latency_ms = buildtrace.bt_sketch_add(r.reported_latency_ms,
                                                           excluded.reported_latency_ms),
            rotated = r.rotated + excluded.rotated,
            reidentified = r.reidentified + excluded.reidentified
    ),
    upd_state AS (
        UPDATE buildtrace.drawing_state s
        SET last_pair_id = d.pair_id, last_total = d.total, updated_at = now()
        FROM done d
        WHERE d.is_last AND s.drawing_id = d.drawing_id
    )
    SELECT count(*) INTO n_processed FROM processed;
    RETURN n_processed;
END
$$;

CREATE TRIGGER pairs_process
    AFTER INSERT ON buildtrace.pairs
    FOR EACH STATEMENT
    EXECUTE FUNCTION buildtrace._pairs_after_statement();

REVOKE ALL ON FUNCTION buildtrace._pairs_take_results() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_after_statement() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_store_results() FROM PUBLIC;

-- Rollups and metrics with the new counts; calls in functions that run
-- with their owner's rights name their argument types, so that no overload
-- added later is a better match.
CREATE OR REPLACE FUNCTION buildtrace.rebuild_rollups()
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    LOCK TABLE buildtrace.hourly_rollups IN SHARE ROW EXCLUSIVE MODE;
    DELETE FROM buildtrace.hourly_rollups;
    INSERT INTO buildtrace.hourly_rollups AS r
        (hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
         modified, unchanged, processing_ms, reported_latency_ms, rotated, reidentified)
    SELECT x.hour, x.drawing_id,
           count(*) FILTER (WHERE x.ok), count(*) FILTER (WHERE NOT x.ok),
           coalesce(sum(x.added), 0), coalesce(sum(x.removed), 0), coalesce(sum(x.moved), 0),
           coalesce(sum(x.resized), 0), coalesce(sum(x.retyped), 0),
           coalesce(sum(x.modified), 0), coalesce(sum(x.unchanged), 0),
           buildtrace.bt_sketch(x.processing_us / 1000.0::float8),
           buildtrace.bt_sketch(x.latency_ms),
           coalesce(sum(x.rotated), 0), coalesce(sum(x.reidentified), 0)
    FROM (SELECT date_trunc('hour', c.computed_at, 'UTC') AS hour, c.drawing_id, true AS ok,
                 c.added, c.removed, c.moved, c.resized, c.retyped, c.modified, c.unchanged,
                 c.processing_us, p.latency_ms, c.rotated, c.reidentified
          FROM buildtrace.changes c
          JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
          UNION ALL
          SELECT date_trunc('hour', p.processed_at, 'UTC'), p.drawing_id, false,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
          FROM buildtrace.pairs p
          WHERE p.status = 'failed') x
    GROUP BY x.hour, x.drawing_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE OR REPLACE FUNCTION buildtrace.metrics(since interval DEFAULT interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start     timestamptz;
    proc      buildtrace.bt_sketch;
    reported  buildtrace.bt_sketch;
    hourly    jsonb;
    n_failed  bigint;
    p95       record;
    p99       record;
    jobs      jsonb;
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION 'metrics window must not be NULL' USING ERRCODE = '22023',
            DETAIL = 'Argument "since" is NULL.';
    END IF;
    BEGIN
        start := buildtrace._window_start(since);
    EXCEPTION WHEN datetime_field_overflow THEN
        RAISE EXCEPTION 'metrics window is out of range' USING ERRCODE = '22023',
            DETAIL = format('Argument "since" is %s, which reaches beyond the timestamp range.', since);
    END;
    IF now() - since > now() THEN
        RAISE EXCEPTION 'metrics window must not be negative' USING ERRCODE = '22023',
            DETAIL = format('Argument "since" is %s.', since);
    END IF;

    SELECT jsonb_object_agg(to_char(h.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                            jsonb_build_object('pairs', h.pairs, 'failed', h.failed,
                                               'added', h.added, 'removed', h.removed,
                                               'moved', h.moved, 'resized', h.resized,
                                               'retyped', h.retyped, 'modified', h.modified,
                                               'rotated', h.rotated, 'reidentified', h.reidentified,
                                               'unchanged', h.unchanged)),
           sum(h.failed)
    INTO hourly, n_failed
    FROM (SELECT r.hour, sum(r.pairs) AS pairs, sum(r.failed) AS failed,
                 sum(r.added) AS added, sum(r.removed) AS removed, sum(r.moved) AS moved,
                 sum(r.resized) AS resized, sum(r.retyped) AS retyped,
                 sum(r.modified) AS modified, sum(r.unchanged) AS unchanged,
                 sum(r.rotated) AS rotated, sum(r.reidentified) AS reidentified
          FROM buildtrace.hourly_rollups r
          WHERE r.hour >= start
          GROUP BY r.hour) h;

    SELECT buildtrace.bt_sketch_merge(r.processing_ms), buildtrace.bt_sketch_merge(r.reported_latency_ms)
    INTO proc, reported
    FROM buildtrace.hourly_rollups r
    WHERE r.hour >= start;
    SELECT * INTO p95 FROM buildtrace.bt_sketch_quantile_bounds(proc, 0.95::float8);
    SELECT * INTO p99 FROM buildtrace.bt_sketch_quantile_bounds(proc, 0.99::float8);

    -- Jobs with pairs processed in the window, where a pair of the job
    -- reported a latency (the largest is the job's), oldest first. Totals are
    -- over the job's done pairs in the window.
    SELECT jsonb_agg(jsonb_build_object(
               'job_id', j.job_id, 'latency_ms', j.latency_ms, 'pairs', j.pairs,
               'total_added', j.total_added, 'total_removed', j.total_removed,
               'total_modified', j.total_modified, 'total_unchanged', j.total_unchanged,
               'processed_at', j.processed_at)
           ORDER BY j.processed_at, j.job_id)
    INTO jobs
    FROM (SELECT c.job_id, max(p.latency_ms) AS latency_ms, count(*) AS pairs,
                 sum(c.added) AS total_added, sum(c.removed) AS total_removed,
                 sum(buildtrace._changed_objects(c.diff)) AS total_modified,
                 sum(c.unchanged) AS total_unchanged, max(c.computed_at) AS processed_at
          FROM buildtrace.changes c
          JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
          WHERE c.computed_at >= start AND c.job_id IS NOT NULL
          GROUP BY c.job_id
          HAVING max(p.latency_ms) IS NOT NULL) j;

    RETURN jsonb_build_object(
        'since', start,
        'until', now(),
        'pairs', coalesce(buildtrace.bt_sketch_count(proc), 0),
        'hourly_stats', coalesce(hourly, '{}'),
        'latency_unit', 'ms',
        'latency_p95', p95.estimate,
        'latency_p99', p99.estimate,
        'latency_p95_bounds', jsonb_build_object('lower', p95.lower, 'upper', p95.upper),
        'latency_p99_bounds', jsonb_build_object('lower', p99.lower, 'upper', p99.upper),
        'latency_confidence', 0.95,
        'latency_relative_accuracy', buildtrace.bt_sketch_relative_accuracy(proc),
        'reported_latency_p95', buildtrace.bt_sketch_quantile(reported, 0.95::float8),
        'reported_latency_p99', buildtrace.bt_sketch_quantile(reported, 0.99::float8),
        'data_quality_issues', coalesce(n_failed, 0),
        'jobs', coalesce(jobs, '[]'));
END
$$;

CREATE OR REPLACE FUNCTION buildtrace._check_pending(as_of timestamptz, OUT recorded int, OUT resolved int)
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

CREATE OR REPLACE FUNCTION buildtrace._check_volume(as_of timestamptz)
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

CREATE OR REPLACE FUNCTION buildtrace.health(recent interval DEFAULT interval '1 hour')
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

CREATE OR REPLACE FUNCTION buildtrace.process(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job      text;
    items    jsonb;
    item     jsonb;
    i        integer := 0;
    ids      bigint[];
    n_pairs  integer;
BEGIN
    IF jsonb_typeof(request) = 'object' AND request ? 'storage_path' THEN
        RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
            MESSAGE = 'process request key "storage_path" is not supported',
            DETAIL = 'Versions are read from the request, not from a storage bucket.',
            HINT = 'Send "version_pairs", a list of job states, or insert into buildtrace.versions.';
    END IF;
    IF jsonb_typeof(request) = 'object' AND jsonb_typeof(request -> 'job_id') NOT IN ('string', 'number') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request key "job_id" must be a string or a number',
            DETAIL = format('Got a JSON %s.', jsonb_typeof(request -> 'job_id'));
    END IF;
    job := coalesce(request ->> 'job_id', gen_random_uuid()::text);

    IF jsonb_typeof(request -> 'version_pairs') = 'array' THEN
        items := request -> 'version_pairs';
        FOR item IN SELECT e FROM jsonb_array_elements(items) e LOOP
            IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = 'version pair must be a JSON object',
                    DETAIL = format('Element %s of "version_pairs" is a JSON %s.', i, jsonb_typeof(item));
            ELSIF coalesce(jsonb_typeof(item -> 'drawing_id') NOT IN ('string', 'number'), true)
                  OR item ->> 'drawing_id' = '' THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = 'version pair has no drawing_id',
                    DETAIL = format('Element %s of "version_pairs" needs a non-empty "drawing_id".', i);
            ELSIF NOT (item ? 'version_a' AND item ? 'version_b') THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                    MESSAGE = 'version pair needs version_a and version_b',
                    DETAIL = format('Element %s of "version_pairs" (drawing_id %s) lacks "%s".', i,
                                    item ->> 'drawing_id',
                                    CASE WHEN item ? 'version_a' THEN 'version_b' ELSE 'version_a' END);
            END IF;
            i := i + 1;
        END LOOP;

        WITH ins AS (
            INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
            SELECT e ->> 'drawing_id', coalesce(e ->> 'job_id', job),
                   buildtrace._json_value(e -> 'version_a'), buildtrace._json_value(e -> 'version_b'),
                   (e ->> 'latency_ms')::double precision
            FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
            ORDER BY x.ord
            RETURNING pair_id)
        SELECT array_agg(pair_id) INTO ids FROM ins;

        n_pairs := coalesce(cardinality(ids), 0);
        RETURN jsonb_build_object(
            'job_id', job,
            'message', format('Processed %s pair%s: %s', n_pairs,
                              CASE WHEN n_pairs = 1 THEN '' ELSE 's' END, buildtrace._outcome(ids)),
            'tasks_created', n_pairs);
    END IF;

    IF jsonb_typeof(request) = 'array' THEN
        items := request;
    ELSIF jsonb_typeof(request -> 'jobs') = 'array' THEN
        items := request -> 'jobs';
    ELSE
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request needs "version_pairs" or a list of job states',
            DETAIL = format('Got a JSON %s%s.', coalesce(jsonb_typeof(request), 'null'),
                            CASE WHEN jsonb_typeof(request) = 'object'
                                 THEN format(' with keys %s', (SELECT string_agg(k, ', ' ORDER BY k)
                                                               FROM jsonb_object_keys(request) k))
                                 ELSE '' END),
            HINT = 'Send {"version_pairs": [{"drawing_id", "version_a", "version_b"}]} or [{"job_id", "timestamp", "latency_ms", "objects"}].';
    END IF;

    -- Job states: each is a version of its drawing (default "default", the
    -- single build stream of a job list); its objects are under "objects",
    -- "files" or "state", or are all its keys other than the metadata keys.
    FOR item IN SELECT e FROM jsonb_array_elements(items) e LOOP
        IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'job state must be a JSON object',
                DETAIL = format('Element %s of the job list is a JSON %s.', i, jsonb_typeof(item));
        END IF;
        IF item ? 'timestamp' THEN
            BEGIN
                PERFORM (item ->> 'timestamp')::timestamptz;
            EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_datetime_format',
                    MESSAGE = 'job state has an invalid timestamp',
                    DETAIL = format('Element %s of the job list (job_id %s) has timestamp %s.', i,
                                    coalesce(item ->> 'job_id', 'none'), item -> 'timestamp');
            END;
        END IF;
        i := i + 1;
    END LOOP;

    WITH ins AS (
        INSERT INTO buildtrace.versions (drawing_id, job_id, payload, latency_ms, uploaded_at)
        SELECT coalesce(e ->> 'drawing_id', request ->> 'drawing_id', 'default'),
               coalesce(e ->> 'job_id', job),
               coalesce(e -> 'objects', e -> 'files', e -> 'state',
                        e - ARRAY['job_id', 'drawing_id', 'timestamp', 'latency_ms']),
               (e ->> 'latency_ms')::double precision,
               coalesce((e ->> 'timestamp')::timestamptz, now())
        FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
        ORDER BY x.ord
        RETURNING version_id)
    SELECT array_agg(version_id) INTO ids FROM ins;

    SELECT array_agg(p.pair_id) INTO ids FROM buildtrace.pairs p WHERE p.to_version = ANY (ids);
    n_pairs := coalesce(cardinality(ids), 0);
    RETURN jsonb_build_object(
        'job_id', job,
        'message', format('Stored %s job state%s; processed %s pair%s: %s', i,
                          CASE WHEN i = 1 THEN '' ELSE 's' END, n_pairs,
                          CASE WHEN n_pairs = 1 THEN '' ELSE 's' END, buildtrace._outcome(ids)),
        'tasks_created', i);
END
$$;

COMMENT ON FUNCTION buildtrace.metrics(interval) IS
    'GET /metrics body with latency bounds and per-job metrics, from hourly_rollups.';

-- The simulator regenerates ids, jitters them, rotates objects and shifts
-- drawings: generate_pairs and generate_versions gain five trailing
-- parameters, all off by default, and four internal functions.
DROP FUNCTION buildtrace.generate_pairs(int, int, float8, int, float8, int, int, float8, text);
DROP FUNCTION buildtrace.generate_versions(int, int, int, float8, int, float8, int, int, float8, text);

CREATE FUNCTION buildtrace._reexport_objects(a jsonb, b jsonb, moved jsonb, state jsonb, step int,
                                             h int8, reidentify_rate float8, rotate_rate float8,
                                             shift_x int8, shift_y int8, jitter int8)
RETURNS TABLE(i int8, orig text, in_a bool, mv bool, id_a text, id_b text, rotated bool,
              elem jsonb, st jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT ob.i, ob.orig, ob.in_a, ob.mv, ob.prev ->> 0, ev.id_b, ev.rotated,
       ob.e || jsonb_build_object(
                   'id', ev.id_b,
                   'x', trim_scale(((ob.e ->> 'x')::numeric * 1000 + nw.ox + (step - 1) * shift_x) / 1000),
                   'y', trim_scale(((ob.e ->> 'y')::numeric * 1000 + nw.oy + (step - 1) * shift_y) / 1000))
            || CASE WHEN nw.rot % 360000 = 0 THEN '{}'
                    ELSE jsonb_build_object('rotation', trim_scale(
                             ((coalesce((ob.e ->> 'rotation')::numeric, 0) * 1000 + nw.rot) % 360000 + 360000)
                             % 360000 / 1000)) END,
       jsonb_build_array(ev.id_b, nw.rot, nw.ox, nw.oy)
FROM (SELECT bo.e, bo.i, bo.e ->> 'id' AS orig, pa.e AS pe, pa.e IS NOT NULL AS in_a,
             mvd.t IS NOT NULL AS mv,
             coalesce(state -> (bo.e ->> 'id'), jsonb_build_array(bo.e ->> 'id', 0, 0, 0)) AS prev,
             pg_catalog.hashtextextended(bo.e ->> 'id', h) AS ho
      FROM jsonb_array_elements(b) WITH ORDINALITY bo(e, i)
      LEFT JOIN jsonb_array_elements(a) pa(e) ON pa.e ->> 'id' = bo.e ->> 'id'
      LEFT JOIN jsonb_array_elements_text(moved) mvd(t) ON mvd.t = bo.e ->> 'id') ob,
LATERAL (SELECT ((pg_catalog.hashint8extended(1, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                ((pg_catalog.hashint8extended(2, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                ((pg_catalog.hashint8extended(3, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u3,
                ((pg_catalog.hashint8extended(4, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u4,
                ((pg_catalog.hashint8extended(5, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u5,
                ((pg_catalog.hashint8extended(6, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u6) u,
LATERAL (SELECT step > 1 AND u.u1 < reidentify_rate AS reid,
                ob.in_a AND u.u2 < rotate_rate AS rotated,
                -- the move in the chain, in mm
                CASE WHEN ob.in_a THEN ((ob.e ->> 'x')::numeric - (ob.pe ->> 'x')::numeric) * 1000 END AS mx,
                CASE WHEN ob.in_a THEN ((ob.e ->> 'y')::numeric - (ob.pe ->> 'y')::numeric) * 1000 END AS my) m,
LATERAL (SELECT CASE WHEN m.reid
                     THEN translate(left(encode(decode(md5(h::text || '/' || ob.orig), 'hex'), 'base64'), 22),
                                    '+/', '_$')
                     ELSE ob.prev ->> 0 END AS id_b,
                m.rotated,
                CASE WHEN m.reid AND ob.in_a THEN round((2 * u.u5 - 1) * jitter)::int8 ELSE 0 END AS jx,
                CASE WHEN m.reid AND ob.in_a THEN round((2 * u.u6 - 1) * jitter)::int8 ELSE 0 END AS jy,
                ob.mv AND (shift_x <> 0 OR shift_y <> 0)
                AND (m.mx + shift_x) ^ 2 + (m.my + shift_y) ^ 2 < 40000 AS turn) ev,
LATERAL (SELECT (ob.prev ->> 1)::int8
                + CASE WHEN ev.rotated
                       THEN (5000 + floor(170001 * u.u3)::int8) * CASE WHEN u.u4 < 0.5 THEN -1 ELSE 1 END
                       ELSE 0 END AS rot,
                (ob.prev ->> 2)::int8 + ev.jx + CASE WHEN ev.turn THEN -2 * m.mx::int8 ELSE 0 END AS ox,
                (ob.prev ->> 3)::int8 + ev.jy + CASE WHEN ev.turn THEN -2 * m.my::int8 ELSE 0 END AS oy) nw
$fn$;

CREATE FUNCTION buildtrace._reexport_step(a jsonb, b jsonb, truth jsonb, state jsonb, step int,
                                          h int8, reidentify_rate float8, rotate_rate float8,
                                          shift_x int8, shift_y int8, jitter int8)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH o AS MATERIALIZED (
    SELECT o.*, o.in_a AND o.id_a <> o.id_b AND rt.t IS NOT NULL AS fresh,
           o.in_a AND NOT (o.id_a <> o.id_b AND rt.t IS NOT NULL) AS matched
    FROM buildtrace._reexport_objects(a, b, truth -> 'moved', state, step, h, reidentify_rate,
                                      rotate_rate, shift_x, shift_y, jitter) o
    LEFT JOIN jsonb_array_elements_text(truth -> 'retyped') rt(t) ON rt.t = o.orig
),
sh AS (
    SELECT shift_x <> 0 OR shift_y <> 0 AS shifted,
           count(*) FILTER (WHERE matched AND NOT mv) >= 3
           AND 2 * count(*) FILTER (WHERE matched AND NOT mv) >= count(*) FILTER (WHERE matched) AS seen
    FROM o
),
lists AS (
    SELECT t.k, CASE WHEN t.k = 'removed' THEN coalesce(state -> t.id ->> 0, t.id) ELSE o.id_b END AS id
    FROM unnest(ARRAY['added', 'removed', 'moved', 'resized', 'retyped', 'modified']) k(k)
    CROSS JOIN LATERAL (SELECT k.k, x FROM jsonb_array_elements_text(truth -> k.k) x) t(k, id)
    LEFT JOIN o ON o.orig = t.id AND t.k <> 'removed'
    WHERE t.k IN ('added', 'removed') OR o.matched
    UNION ALL SELECT 'removed', id_a FROM o WHERE fresh
    UNION ALL SELECT 'added', id_b FROM o WHERE fresh
    UNION ALL SELECT 'moved', id_b FROM o, sh WHERE sh.shifted AND NOT sh.seen AND matched AND NOT mv
    UNION ALL SELECT 'rotated', id_b FROM o WHERE matched AND rotated
)
SELECT jsonb_build_object(
    'payload', (SELECT coalesce(jsonb_agg(elem ORDER BY i), '[]') FROM o),
    'state', (SELECT coalesce(jsonb_object_agg(orig, st), '{}') FROM o),
    'ids_ok', (SELECT count(DISTINCT id_b) = count(*) FROM o)
              AND NOT EXISTS (SELECT FROM o JOIN jsonb_each(state) s ON s.value ->> 0 = o.id_b
                              WHERE s.key <> o.orig),
    'truth', truth
             || '{"added": [], "removed": [], "moved": [], "resized": [], "retyped": [],
                  "modified": [], "rotated": []}'::jsonb
             || (SELECT coalesce(jsonb_object_agg(k, ids), '{}')
                 FROM (SELECT k, jsonb_agg(id ORDER BY id COLLATE "C") AS ids FROM lists GROUP BY k) l)
             || jsonb_build_object(
                    'reidentified', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id_b, 'previous_id', id_a)
                                                               ORDER BY id_b COLLATE "C"), '[]')
                                     FROM o WHERE matched AND id_a <> id_b),
                    'shift', (SELECT CASE WHEN shifted AND seen
                                          THEN jsonb_build_object('dx', trim_scale(shift_x / 1000.0),
                                                                  'dy', trim_scale(shift_y / 1000.0)) END
                              FROM sh)))
$fn$;

CREATE FUNCTION buildtrace._reexport_chain(p_drawings int, p_versions int, p_objects int,
                                           p_rate float8, p_seed int, p_spike_drawing int,
                                           p_spike_step int, p_spike_factor float8,
                                           p_reidentify float8, p_jitter float8, p_rotate float8,
                                           p_shift_dx float8, p_shift_dy float8)
RETURNS TABLE(drawing_no int, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    sx int8 := round(p_shift_dx * 1000);
    sy int8 := round(p_shift_dy * 1000);
    jit int8 := round(p_jitter * 1000);
    hr int8 := hashint8extended(-3, p_seed);
    c record;
    prev jsonb;
    state jsonb;
    r jsonb;
BEGIN
    IF p_reidentify = 0 AND p_jitter = 0 AND p_rotate = 0 AND p_shift_dx = 0 AND p_shift_dy = 0 THEN
        RETURN QUERY SELECT * FROM buildtrace._sim_chain(p_drawings, p_versions, p_objects, p_rate, p_seed,
                                                          p_spike_drawing, p_spike_step, p_spike_factor);
        RETURN;
    END IF;
    FOR c IN SELECT * FROM buildtrace._sim_chain(p_drawings, p_versions, p_objects, p_rate, p_seed,
                                                 p_spike_drawing, p_spike_step, p_spike_factor) x
             ORDER BY x.drawing_no, x.version_no LOOP
        drawing_no := c.drawing_no;
        version_no := c.version_no;
        IF c.version_no = 1 THEN
            -- the base: nothing re-exported yet
            state := '{}';
            payload := c.payload;
            truth := c.truth || '{"reidentified": [], "rotated": [], "shift": null}';
        ELSE
            r := buildtrace._reexport_step(prev, c.payload, c.truth, state, c.version_no,
                                           hashint8extended(c.version_no, hashint8extended(c.drawing_no, hr)),
                                           p_reidentify, p_rotate, sx, sy, jit);
            IF NOT (r ->> 'ids_ok')::bool THEN
                RAISE EXCEPTION 'a regenerated id clashes with another id of drawing % version %',
                                c.drawing_no, c.version_no
                    USING ERRCODE = 'internal_error';
            END IF;
            state := r -> 'state';
            payload := r -> 'payload';
            truth := r -> 'truth';
        END IF;
        prev := c.payload;
        RETURN NEXT;
    END LOOP;
END
$fn$;

CREATE FUNCTION buildtrace._reexport_check_args(reidentify_rate float8, reidentify_jitter float8,
                                                rotate_rate float8, shift_dx float8, shift_dy float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF reidentify_rate IS NULL OR NOT reidentify_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'reidentify_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for reidentify_rate was %s.',
                                  coalesce(reidentify_rate::text, 'null'));
    END IF;
    IF reidentify_jitter IS NULL OR NOT reidentify_jitter BETWEEN 0 AND 0.07 THEN
        RAISE EXCEPTION 'reidentify_jitter must be between 0 and 0.07'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for reidentify_jitter was %s.',
                                  coalesce(reidentify_jitter::text, 'null')),
                  HINT = 'A re-identified object moves by at most the jitter on each axis; it must stay within the move tolerance (0.1), diagonally too.';
    END IF;
    IF rotate_rate IS NULL OR NOT rotate_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'rotate_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for rotate_rate was %s.', coalesce(rotate_rate::text, 'null'));
    END IF;
    IF shift_dx IS NULL OR NOT shift_dx BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'shift_dx must be between -1000000 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for shift_dx was %s.', coalesce(shift_dx::text, 'null'));
    END IF;
    IF shift_dy IS NULL OR NOT shift_dy BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'shift_dy must be between -1000000 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for shift_dy was %s.', coalesce(shift_dy::text, 'null'));
    END IF;
    -- in millimetres, as applied
    IF round(shift_dx * 1000) ^ 2 + round(shift_dy * 1000) ^ 2 BETWEEN 1 AND 39999 THEN
        RAISE EXCEPTION 'shift must be zero or at least 0.2 units long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were shift_dx %s, shift_dy %s.', shift_dx, shift_dy),
                  HINT = 'Moves are 0.2 to 3 units; a shorter shift is within or too near the move tolerance (0.1) to tell from them.';
    END IF;
END
$fn$;

CREATE FUNCTION buildtrace.generate_pairs(pairs int, objects int DEFAULT 100,
                                          change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                          malformed_rate float8 DEFAULT 0,
                                          drawings int DEFAULT NULL, spike_at int DEFAULT NULL,
                                          spike_factor float8 DEFAULT 10,
                                          drawing_prefix text DEFAULT 'DWG-',
                                          reidentify_rate float8 DEFAULT 0,
                                          reidentify_jitter float8 DEFAULT 0,
                                          rotate_rate float8 DEFAULT 0,
                                          shift_dx float8 DEFAULT 0, shift_dy float8 DEFAULT 0)
RETURNS TABLE(pair_no int, drawing_id text, version_a jsonb, version_b jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    np int := generate_pairs.pairs;
    nd int := coalesce(generate_pairs.drawings, greatest(generate_pairs.pairs, 1));
    sd int8 := coalesce(generate_pairs.seed, 0);
    mr float8 := generate_pairs.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('pairs', np, generate_pairs.objects,
                                       generate_pairs.change_rate, mr, generate_pairs.spike_factor);
    PERFORM buildtrace._reexport_check_args(generate_pairs.reidentify_rate, generate_pairs.reidentify_jitter,
                                            generate_pairs.rotate_rate, generate_pairs.shift_dx,
                                            generate_pairs.shift_dy);
    IF nd < 1 THEN
        RAISE EXCEPTION 'drawings must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', nd);
    END IF;
    IF generate_pairs.spike_at IS NOT NULL AND NOT generate_pairs.spike_at BETWEEN 1 AND np THEN
        RAISE EXCEPTION 'spike_at must be a pair number between 1 and %', np
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', generate_pairs.spike_at);
    END IF;
    RETURN QUERY
    WITH c AS MATERIALIZED (
        SELECT * FROM buildtrace._reexport_chain(nd, (np + nd - 1) / nd + 1, generate_pairs.objects,
                                                 generate_pairs.change_rate, sd::int,
                                                 (generate_pairs.spike_at - 1) % nd + 1,
                                                 (generate_pairs.spike_at - 1) / nd + 2,
                                                 generate_pairs.spike_factor,
                                                 generate_pairs.reidentify_rate, generate_pairs.reidentify_jitter,
                                                 generate_pairs.rotate_rate, generate_pairs.shift_dx,
                                                 generate_pairs.shift_dy)
    ),
    p AS (
        SELECT g.p, (g.p - 1) % nd + 1 AS d, (g.p - 1) / nd + 2 AS s, hm,
               ((hashint8extended(1, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad,
               ((hashint8extended(2, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < 0.5 AS bad_a
        FROM generate_series(1, np) g(p),
             LATERAL (SELECT hashint8extended(g.p, hashint8extended(-1, sd)) AS hm) h
    )
    SELECT p.p, buildtrace._sim_drawing_id(generate_pairs.drawing_prefix, p.d),
           CASE WHEN p.bad AND p.bad_a THEN x.broken -> 'payload' ELSE a.payload END,
           CASE WHEN p.bad AND NOT p.bad_a THEN x.broken -> 'payload' ELSE b.payload END,
           CASE WHEN p.bad
                THEN b.truth || jsonb_build_object('malformed', true,
                                                   'defect', jsonb_build_object('version', CASE WHEN p.bad_a THEN 'a' ELSE 'b' END)
                                                             || (x.broken -> 'defect'))
                ELSE b.truth END
    FROM p
    JOIN c a ON a.drawing_no = p.d AND a.version_no = p.s - 1
    JOIN c b ON b.drawing_no = p.d AND b.version_no = p.s
    LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(CASE WHEN p.bad_a THEN a.payload ELSE b.payload END,
                                                      hashint8extended(3, p.hm)) AS broken
                       WHERE p.bad) x ON true
    ORDER BY p.p;
END
$fn$;

CREATE FUNCTION buildtrace.generate_versions(drawings int, versions int, objects int DEFAULT 100,
                                             change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                             malformed_rate float8 DEFAULT 0,
                                             spike_at int DEFAULT NULL, spike_drawing int DEFAULT 1,
                                             spike_factor float8 DEFAULT 10,
                                             drawing_prefix text DEFAULT 'DWG-',
                                             reidentify_rate float8 DEFAULT 0,
                                             reidentify_jitter float8 DEFAULT 0,
                                             rotate_rate float8 DEFAULT 0,
                                             shift_dx float8 DEFAULT 0, shift_dy float8 DEFAULT 0)
RETURNS TABLE(drawing_id text, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    nd int := generate_versions.drawings;
    nv int := generate_versions.versions;
    sd int8 := coalesce(generate_versions.seed, 0);
    mr float8 := generate_versions.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('drawings', nd, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._sim_check_args('versions', nv, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._reexport_check_args(generate_versions.reidentify_rate,
                                            generate_versions.reidentify_jitter,
                                            generate_versions.rotate_rate, generate_versions.shift_dx,
                                            generate_versions.shift_dy);
    IF generate_versions.spike_at IS NOT NULL
       AND (NOT generate_versions.spike_at BETWEEN 2 AND nv
            OR generate_versions.spike_drawing IS NULL
            OR NOT generate_versions.spike_drawing BETWEEN 1 AND nd) THEN
        RAISE EXCEPTION 'spike must be at a version between 2 and % of a drawing between 1 and %', nv, nd
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were spike_at %s, spike_drawing %s.',
                                  generate_versions.spike_at,
                                  coalesce(generate_versions.spike_drawing::text, 'null'));
    END IF;
    IF nd = 0 OR nv = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT buildtrace._sim_drawing_id(generate_versions.drawing_prefix, c.drawing_no), c.version_no,
           CASE WHEN bad THEN x.broken -> 'payload' ELSE c.payload END,
           CASE WHEN bad THEN c.truth || jsonb_build_object('malformed', true,
                                                            'defect', x.broken -> 'defect')
                ELSE c.truth END
    FROM buildtrace._reexport_chain(nd, nv, generate_versions.objects, generate_versions.change_rate,
                                    sd::int, generate_versions.spike_drawing,
                                    generate_versions.spike_at, generate_versions.spike_factor,
                                    generate_versions.reidentify_rate, generate_versions.reidentify_jitter,
                                    generate_versions.rotate_rate, generate_versions.shift_dx,
                                    generate_versions.shift_dy) c,
         LATERAL (SELECT hashint8extended(c.version_no,
                                          hashint8extended(c.drawing_no, hashint8extended(-2, sd))) AS hm) h,
         LATERAL (SELECT ((hashint8extended(1, h.hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad) m
         LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(c.payload, hashint8extended(3, h.hm)) AS broken
                            WHERE m.bad) x ON true
    ORDER BY c.drawing_no, c.version_no;
END
$fn$;

-- Pictures: bt_svg of two versions and of a stored pair.
CREATE FUNCTION buildtrace.bt_svg(a jsonb, b jsonb, options jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'bt_svg'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_svg(jsonb, jsonb, jsonb) IS
'A standalone SVG picture of bt_diff(a, b): unchanged objects grey, added green, removed red, moved purple with an arrow from the old place, resized, retyped, modified and rotated orange, re-identified blue; revision clouds, a legend, a scale bar and a north arrow. Options: width (pixels), labels, clouds, kinds.';

-- The picture of a stored pair. SECURITY DEFINER so that the reader role can
-- draw a pair without any privilege on the tables: it only reads, its
-- search_path is pinned, names are qualified.
CREATE FUNCTION buildtrace.bt_svg(pair_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    SELECT buildtrace.bt_svg(p.version_a, p.version_b, '{}'::jsonb)
    INTO result
    FROM buildtrace.pairs p
    WHERE p.pair_id = bt_svg.pair_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pair % does not exist', bt_svg.pair_id
            USING ERRCODE = 'no_data_found',
                  HINT = 'Pairs are numbered by pair_id in buildtrace.pairs.';
    END IF;
    RETURN result;
END
$$;

COMMENT ON FUNCTION buildtrace.bt_svg(bigint) IS
'The bt_svg picture of a stored pair, by pair_id.';

REVOKE ALL ON FUNCTION buildtrace.bt_svg(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.bt_svg(bigint) TO buildtrace_reader;
