
-- ---------------------------------------------------------------------------
-- Latency and change metrics: hourly rollups kept current
-- by the pipeline trigger, the latency view and metrics().
--
-- Every figure over a window of hours is read from hourly_rollups, never from
-- the raw rows: the rollup keeps a bt_sketch per hour and drawing, and
-- sketches merge exactly (bt_sketch_merge of the hours is bit for bit the
-- sketch of all their values), so P95 over 7 days reads at most 168 rows per
-- drawing. Only metrics()'s per-job list reads changes/pairs, through the
-- computed_at index.
-- ---------------------------------------------------------------------------

-- One row per (hour, drawing) with processed pairs. There is no "overall"
-- row: the overall figure of an hour is the merge of its drawings' rows,
-- which is exact, and having a single writer per row keeps the per-drawing
-- lock of the trigger the only serialisation point.
--
-- hour: the UTC hour (date_trunc('hour', t, 'UTC')) in which the pair was
-- processed (changes.computed_at / pairs.processed_at, i.e. the processing
-- transaction's now()); UTC so that the stored key does not depend on the
-- session time zone.
CREATE TABLE buildtrace.hourly_rollups (
    hour          timestamptz NOT NULL,
    drawing_id    text NOT NULL,
    -- Pairs processed successfully (one changes row each) and failed pairs.
    pairs         bigint NOT NULL DEFAULT 0 CHECK (pairs >= 0),
    failed        bigint NOT NULL DEFAULT 0 CHECK (failed >= 0),
    added         bigint NOT NULL DEFAULT 0 CHECK (added >= 0),
    removed       bigint NOT NULL DEFAULT 0 CHECK (removed >= 0),
    moved         bigint NOT NULL DEFAULT 0 CHECK (moved >= 0),
    resized       bigint NOT NULL DEFAULT 0 CHECK (resized >= 0),
    retyped       bigint NOT NULL DEFAULT 0 CHECK (retyped >= 0),
    modified      bigint NOT NULL DEFAULT 0 CHECK (modified >= 0),
    unchanged     bigint NOT NULL DEFAULT 0 CHECK (unchanged >= 0),
    -- Sketch of changes.processing_us / 1000 (milliseconds) of the done
    -- pairs; NULL when there are none (an hour of failures only).
    processing_ms        buildtrace.bt_sketch,
    -- Sketch of pairs.latency_ms (the client-reported job latency) of the
    -- done pairs that gave one; NULL when none did.
    reported_latency_ms  buildtrace.bt_sketch,
    -- Since 0.2.0: rotated objects, and objects found again under new ids.
    rotated       bigint NOT NULL DEFAULT 0 CHECK (rotated >= 0),
    reidentified  bigint NOT NULL DEFAULT 0 CHECK (reidentified >= 0),
    -- Since 0.2.0: whose row this is (see 69_tenants.sql).
    tenant        text NOT NULL DEFAULT coalesce(current_setting('buildtrace.tenant', true), ''),
    PRIMARY KEY (hour, drawing_id),
    CHECK (hour = date_trunc('hour', hour, 'UTC'))
);
COMMENT ON TABLE buildtrace.hourly_rollups IS
    'Per UTC hour and drawing: processed and failed pairs, change counts, processing-time and reported-latency sketches (ms). Maintained by the pairs trigger; rebuild_rollups() recomputes it.';

-- The hourly rollups' one rule, the _rollup aggregate (src/rollup.c): the
-- totals of a set of processed pairs, as a rollup row holds them. A failed
-- pair counts in "failed" only; the change counts and both sketches are of
-- done pairs, the latency sketch of those that reported a latency (NULL
-- where there is none). The pipeline trigger and rebuild_rollups() both
-- aggregate with it, so they cannot disagree.
CREATE TYPE buildtrace._rollup_totals AS (
    pairs               bigint,
    failed              bigint,
    added               bigint,
    removed             bigint,
    moved               bigint,
    resized             bigint,
    retyped             bigint,
    modified            bigint,
    unchanged           bigint,
    rotated             bigint,
    reidentified        bigint,
    processing_ms       buildtrace.bt_sketch,
    reported_latency_ms buildtrace.bt_sketch
);

CREATE FUNCTION buildtrace._rollup_trans(internal, ok boolean, added integer, removed integer,
                                         moved integer, resized integer, retyped integer,
                                         modified integer, unchanged integer, rotated integer,
                                         reidentified integer, processing_ms float8,
                                         latency_ms float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'bt_rollup_trans'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION buildtrace._rollup_final(internal)
RETURNS buildtrace._rollup_totals
AS 'MODULE_PATHNAME', 'bt_rollup_final'
LANGUAGE C PARALLEL SAFE;

CREATE AGGREGATE buildtrace._rollup(ok boolean, added integer, removed integer, moved integer,
                                    resized integer, retyped integer, modified integer,
                                    unchanged integer, rotated integer, reidentified integer,
                                    processing_ms float8, latency_ms float8) (
    SFUNC = buildtrace._rollup_trans,
    STYPE = internal,
    FINALFUNC = buildtrace._rollup_final,
    PARALLEL = SAFE
);

-- Adds per-drawing totals (of the _rollup aggregate) to the hourly rollups
-- of the current hour: the rollups' one merge rule, for both store
-- functions. A row is only written under its drawing's lock, so concurrent
-- statements add up in turn.
CREATE FUNCTION buildtrace._add_rollups(tenant text, drawing_ids text[],
                                        totals buildtrace._rollup_totals[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO buildtrace.hourly_rollups AS r
        (hour, tenant, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
         modified, unchanged, rotated, reidentified, processing_ms, reported_latency_ms)
    SELECT date_trunc('hour', now(), 'UTC'), _add_rollups.tenant, t.*
    FROM unnest(drawing_ids, totals) AS t
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
        reidentified = r.reidentified + excluded.reidentified;
END
$$;

-- rebuild_rollups(since): recomputes the rows of the hour of since and later
-- (NULL: every hour) from changes (done pairs) and pairs (failed pairs), by
-- the trigger's rule (_rollup). The trigger is the only thing that
-- maintains the table; use this after restoring changes/pairs from
-- elsewhere or to check it. The table lock waits for every transaction that
-- is processing pairs (they hold ROW EXCLUSIVE on the table from the start
-- of the trigger's statement) and keeps new ones out until commit, so a
-- window keeps that short: its pairs and changes are read by their times'
-- indexes. Run it in READ COMMITTED (the default): under REPEATABLE READ the
-- snapshot predates the lock. The hours up to that of the newest pair
-- purge() removed keep their rows: their pairs are no longer there to count.
CREATE FUNCTION buildtrace.rebuild_rollups(since timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n          bigint;
    first_hour timestamptz;
BEGIN
    LOCK TABLE buildtrace.hourly_rollups IN SHARE ROW EXCLUSIVE MODE;
    -- and waits for purge() batches in progress, keeping new ones out, so
    -- that no pair goes between reading the horizon and counting.
    LOCK TABLE buildtrace.purge_horizon IN SHARE MODE;
    first_hour := greatest(coalesce((SELECT date_trunc('hour', h.pairs_processed_until, 'UTC') + interval '1 hour'
                                     FROM buildtrace.purge_horizon h),
                                    '-infinity'),
                           coalesce(date_trunc('hour', since, 'UTC'), '-infinity'));
    DELETE FROM buildtrace.hourly_rollups r WHERE r.hour >= first_hour;
    -- (first_hour is a UTC hour: a time's hour is first_hour or later
    -- exactly when the time is, which the indexes on the times serve)
    INSERT INTO buildtrace.hourly_rollups
        (hour, drawing_id, tenant, pairs, failed, added, removed, moved, resized, retyped,
         modified, unchanged, rotated, reidentified, processing_ms, reported_latency_ms)
    SELECT g.hour, g.drawing_id, g.tenant, (g.totals).*
    FROM (SELECT x.hour, x.drawing_id, x.tenant,
                 buildtrace._rollup(x.ok, x.added, x.removed, x.moved, x.resized, x.retyped,
                                    x.modified, x.unchanged, x.rotated, x.reidentified,
                                    x.processing_ms, x.latency_ms) AS totals
          FROM (SELECT date_trunc('hour', c.computed_at, 'UTC') AS hour, c.drawing_id, c.tenant,
                       true AS ok, c.added, c.removed, c.moved, c.resized, c.retyped, c.modified,
                       c.unchanged, c.rotated, c.reidentified,
                       c.processing_us / 1000.0::float8 AS processing_ms, p.latency_ms
                FROM buildtrace.changes c
                JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
                WHERE c.computed_at >= first_hour
                UNION ALL
                SELECT date_trunc('hour', p.processed_at, 'UTC'), p.drawing_id, p.tenant, false,
                       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
                FROM buildtrace.pairs p
                -- as the trigger counts them: failed in the store step, with
                -- an anomaly; not given up by work() (another tenant's
                -- drawing, out of attempts), which the rollups never see
                WHERE p.status = 'failed' AND p.processed_at >= first_hour
                  AND EXISTS (SELECT FROM buildtrace.anomalies a
                              WHERE a.pair_id = p.pair_id AND a.kind = 'invalid_input')) x
          GROUP BY x.hour, x.drawing_id, x.tenant) g;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.rebuild_rollups(timestamptz) IS
    'Recompute hourly_rollups from changes and pairs, from the hour of since on (NULL: all); returns the number of rows.';

-- Every hour: the signature of 0.1.0, kept so that what a site granted on
-- it stays.
CREATE FUNCTION buildtrace.rebuild_rollups()
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN buildtrace.rebuild_rollups(NULL::timestamptz);
COMMENT ON FUNCTION buildtrace.rebuild_rollups() IS
    'Recompute hourly_rollups from changes and pairs; returns the number of rows.';

-- now() - span, counted back in UTC (TimeZone below), as the rollups'
-- hours are: a day is 24 hours also across a change of the session zone's
-- clocks. The windows' starts and purge()'s cutoffs; executable by
-- everyone, as _window_start is.
CREATE FUNCTION buildtrace._utc_ago(span interval)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
RETURN now() - span;

-- Start of the rollup window for "the last <span>": the UTC hour containing
-- now() - span (counted in UTC, _utc_ago), so the window always covers at
-- least span (up to one hour more, as rollups have hour granularity). NULL
-- span: everything.
CREATE FUNCTION buildtrace._window_start(span interval)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN span IS NULL THEN '-infinity'::timestamptz
            ELSE date_trunc('hour', buildtrace._utc_ago(span), 'UTC') END;

-- The start of the window "the last <since>" of metrics(), report_html() or
-- health() (what names which, argument names its argument), or a clear error
-- for a window that is NULL, negative or beyond the timestamp range.
CREATE FUNCTION buildtrace._checked_window_start(since interval, what text, argument text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start timestamptz;
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION '% window must not be NULL', what USING ERRCODE = '22023',
            DETAIL = format('Argument "%s" is NULL.', argument);
    END IF;
    BEGIN
        start := buildtrace._window_start(since);
    EXCEPTION WHEN datetime_field_overflow THEN
        RAISE EXCEPTION '% window is out of range', what USING ERRCODE = '22023',
            DETAIL = format('Argument "%s" is %s, which reaches beyond the timestamp range.', argument, since);
    END;
    -- (counted in UTC, as the window is: a span of mixed signs is one sign)
    IF buildtrace._utc_ago(since) > now() THEN
        RAISE EXCEPTION '% window must not be negative', what USING ERRCODE = '22023',
            DETAIL = format('Argument "%s" is %s.', argument, since);
    END IF;
    RETURN start;
END
$$;

-- Processed pairs and changes per kind, per UTC hour of processing: the
-- rollups summed over drawings, so a filter on the hour is a range of the
-- rollups' key, not a scan of every change kept. An hour that holds failed
-- pairs only is left out, as it holds no change.
CREATE VIEW buildtrace.hourly_changes WITH (security_invoker = true) AS
SELECT r.hour,
       sum(r.pairs)::bigint AS pairs,
       count(*) FILTER (WHERE r.pairs > 0) AS drawings,
       sum(r.added)::bigint AS added,
       sum(r.removed)::bigint AS removed,
       sum(r.moved)::bigint AS moved,
       sum(r.resized)::bigint AS resized,
       sum(r.retyped)::bigint AS retyped,
       sum(r.modified)::bigint AS modified,
       sum(r.rotated)::bigint AS rotated,
       sum(r.reidentified)::bigint AS reidentified
FROM buildtrace.hourly_rollups r
GROUP BY r.hour
HAVING sum(r.pairs) > 0;
COMMENT ON VIEW buildtrace.hourly_changes IS
    'Processed pairs and changes per kind, per UTC hour of processing, from hourly_rollups.';

-- Processing latency (ms) over fixed windows, from rollups only. Each
-- percentile comes with the bounds of bt_sketch_quantile_bounds at 95 %
-- confidence (sketch error plus order-statistic interval); a bound is NULL
-- where the sample is too small to reach 95 % on that side.
-- The column is "period" because WINDOW is a reserved word.
CREATE VIEW buildtrace.latency WITH (security_invoker = true) AS
SELECT w.period, w.since, coalesce(buildtrace.bt_sketch_count(m.sketch), 0) AS n,
       q50.estimate AS p50, q50.lower AS p50_lower, q50.upper AS p50_upper,
       q95.estimate AS p95, q95.lower AS p95_lower, q95.upper AS p95_upper,
       q99.estimate AS p99, q99.lower AS p99_lower, q99.upper AS p99_upper
FROM (VALUES (1, 'last hour', interval '1 hour'), (2, 'last 24 hours', interval '24 hours'),
             (3, 'last 7 days', interval '7 days'), (4, 'all', NULL::interval)) v(ord, period, span)
CROSS JOIN LATERAL (SELECT v.ord, v.period,
                           CASE WHEN v.span IS NOT NULL THEN buildtrace._window_start(v.span) END AS since) w
CROSS JOIN LATERAL (SELECT buildtrace.bt_sketch_merge(r.processing_ms) AS sketch
                    FROM buildtrace.hourly_rollups r
                    WHERE r.hour >= coalesce(w.since, '-infinity')) m
LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, 0.5) q50 ON true
LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, 0.95) q95 ON true
LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, 0.99) q99 ON true
ORDER BY w.ord;
COMMENT ON VIEW buildtrace.latency IS
    'Processing latency (ms) P50/P95/P99 with 95 % bounds over the last hour, 24 hours, 7 days and all time, from hourly_rollups.';

-- Objects of a diff that changed in place (moved, resized, retyped or
-- modified), each counted once: a job's total_modified ("hash changed").
CREATE FUNCTION buildtrace._changed_objects(diff jsonb)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT count(DISTINCT e ->> 'id')
        FROM unnest(ARRAY['moved', 'resized', 'retyped', 'modified']) k,
             jsonb_array_elements(diff -> k) e);

-- The functions that read a window from its start are PL/pgSQL planned with
-- the start's value (force_custom_plan): a SQL function's queries are planned
-- without it, as if a third of every table were in the window, and read all
-- of the rollups, pairs and anomalies whatever the window.
--
-- metrics()' data quality: per drawing with pairs since start, its pairs,
-- failed pairs and late or missing uploads, and a score: valid pairs over
-- pairs plus late or missing uploads (1 is perfect). The 50 lowest scores.
CREATE FUNCTION buildtrace._metrics_data_quality(start timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object('drawing_id', q.drawing_id, 'pairs', q.pairs,
                                                     'failed', q.failed, 'late_uploads', q.late,
                                                     'score', q.score)
                                  ORDER BY q.score, q.drawing_id), '[]')
        FROM (SELECT r.drawing_id, r.done + r.failed AS pairs, r.failed, coalesce(a.late, 0) AS late,
                     round(r.done::numeric / (r.done + r.failed + coalesce(a.late, 0)), 4) AS score
              FROM (SELECT h.drawing_id, sum(h.pairs) AS done, sum(h.failed) AS failed
                    FROM buildtrace.hourly_rollups h WHERE h.hour >= start GROUP BY h.drawing_id) r
              LEFT JOIN (SELECT n.drawing_id, count(*) AS late FROM buildtrace.anomalies n
                         WHERE n.kind IN ('missing_upload', 'delayed_upload') AND n.detected_at >= start
                         GROUP BY n.drawing_id) a USING (drawing_id)
              ORDER BY 5, 1 LIMIT 50) q);
END
$$;

-- metrics()' jobs: each job with pairs processed since start, oldest first,
-- with the largest latency a pair of it reported (null when none did: such a
-- job still counts) and totals over its done pairs in the window.
CREATE FUNCTION buildtrace._metrics_jobs(start timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'job_id', j.job_id, 'latency_ms', j.latency_ms, 'pairs', j.pairs,
                   'total_added', j.total_added, 'total_removed', j.total_removed,
                   'total_modified', j.total_modified, 'total_unchanged', j.total_unchanged,
                   'processed_at', j.processed_at)
               ORDER BY j.processed_at, j.job_id), '[]')
        FROM (SELECT c.job_id, max(p.latency_ms) AS latency_ms, count(*) AS pairs,
                     sum(c.added) AS total_added, sum(c.removed) AS total_removed,
                     sum(buildtrace._changed_objects(c.diff)) AS total_modified,
                     sum(c.unchanged) AS total_unchanged, max(c.computed_at) AS processed_at
              FROM buildtrace.changes c
              JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
              WHERE c.computed_at >= start AND c.job_id IS NOT NULL
              GROUP BY c.job_id) j);
END
$$;

-- metrics()' latency keys from the merged sketches of processing time and
-- reported latency: P95/P99 with 95 % bounds, the sketch's relative
-- accuracy, the reported P95/P99. Also the PL/Proxy front's (sharding/).
CREATE FUNCTION buildtrace._latency_fields(processing buildtrace.bt_sketch,
                                           reported buildtrace.bt_sketch)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'latency_unit', 'ms',
        'latency_p95', p95.estimate,
        'latency_p99', p99.estimate,
        'latency_p95_bounds', jsonb_build_object('lower', p95.lower, 'upper', p95.upper),
        'latency_p99_bounds', jsonb_build_object('lower', p99.lower, 'upper', p99.upper),
        'latency_confidence', 0.95,
        'latency_relative_accuracy', buildtrace.bt_sketch_relative_accuracy(processing),
        'reported_latency_p95', buildtrace.bt_sketch_quantile(reported, 0.95::float8),
        'reported_latency_p99', buildtrace.bt_sketch_quantile(reported, 0.99::float8))
    -- a window without pairs has no sketch: its fields are null
    FROM (SELECT) one
    LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(processing, 0.95::float8) p95 ON true
    LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(processing, 0.99::float8) p99 ON true
$$;

-- metrics(since): the GET /metrics body plus bounds and the
-- per-job metrics, over the rollup hours from _window_start(since): the
-- caller's tenant's, as it runs with the caller's rights.
CREATE FUNCTION buildtrace.metrics(since interval DEFAULT interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    start     timestamptz;
    proc      buildtrace.bt_sketch;
    reported  buildtrace.bt_sketch;
    hourly    jsonb;
    n_failed  bigint;
    jobs      jsonb;
BEGIN
    start := buildtrace._checked_window_start(since, 'metrics'::text, 'since'::text);

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
    jobs := buildtrace._metrics_jobs(start);

    RETURN jsonb_build_object(
        'since', start,
        'until', now(),
        'pairs', coalesce(buildtrace.bt_sketch_count(proc), 0),
        'hourly_stats', coalesce(hourly, '{}'),
        'data_quality_issues', coalesce(n_failed, 0),
        'jobs', coalesce(jobs, '[]'),
        'data_quality', buildtrace._metrics_data_quality(start))
        || buildtrace._latency_fields(proc, reported);
END
$$;
COMMENT ON FUNCTION buildtrace.metrics(interval) IS
    'GET /metrics body with latency bounds and per-job metrics, from hourly_rollups.';

-- _window_start and _utc_ago stay executable by everyone: the latency view
-- calls them, and a view's functions are called with the querying user's
-- privileges.
REVOKE ALL ON FUNCTION buildtrace._add_rollups(text, text[], buildtrace._rollup_totals[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._rollup(boolean, integer, integer, integer, integer, integer, integer,
                                          integer, integer, integer, float8, float8),
    buildtrace.rebuild_rollups(timestamptz), buildtrace.rebuild_rollups(), buildtrace._changed_objects(jsonb),
    buildtrace._metrics_jobs(timestamptz), buildtrace._metrics_data_quality(timestamptz),
    buildtrace.metrics(interval) FROM PUBLIC;
GRANT SELECT ON buildtrace.hourly_changes, buildtrace.latency TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.metrics(interval), buildtrace._changed_objects(jsonb),
    buildtrace._metrics_jobs(timestamptz), buildtrace._metrics_data_quality(timestamptz)
    TO buildtrace_reader;
