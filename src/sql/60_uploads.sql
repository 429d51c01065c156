
-- ---------------------------------------------------------------------------
-- Upload checks: upload expectations, check_uploads() and anomaly
-- resolution.
--
-- check_uploads(as_of) is the one place the time-based rules live; it is what
-- pg_cron runs, and tests call it at fixed as_of times. Everything it records
-- is idempotent: running it twice for the same as_of records nothing new.
-- ---------------------------------------------------------------------------

-- Whether an interval goes forward, whatever date it is added to (no part
-- of it negative: '1 month -29 days' goes back from February 1), and by at
-- most a century, so that the checks' sums of times and periods stay in
-- range.
CREATE FUNCTION buildtrace._is_period(i interval)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN i >= interval '0' AND i <= interval '100 years'
       AND extract(year FROM i) >= 0 AND extract(month FROM i) >= 0 AND extract(day FROM i) >= 0
       AND i - date_trunc('day', i) >= interval '0';

-- Which drawings should receive uploads, and how often.
CREATE TABLE buildtrace.upload_expectations (
    drawing_id     text PRIMARY KEY CHECK (drawing_id <> ''),
    every          interval NOT NULL CHECK (every > interval '0'),
    grace          interval NOT NULL DEFAULT interval '0' CHECK (grace >= interval '0'),
    -- The first upload is due at since + every.
    since          timestamptz NOT NULL DEFAULT now(),
    -- Uploads up to here have been checked for lateness (internal watermark).
    checked_until  timestamptz,
    -- Since 0.2.0: whose row this is (see 69_tenants.sql).
    tenant         text NOT NULL DEFAULT coalesce(current_setting('buildtrace.tenant', true), ''),
    -- Since 0.2.0: one row must not make the checks fail for every drawing.
    CONSTRAINT upload_expectations_period_check
        CHECK (buildtrace._is_period(every) AND buildtrace._is_period(grace)),
    CONSTRAINT upload_expectations_since_check
        CHECK (since > '-infinity' AND since < '10000-01-01'),
    -- Since 0.2.0: as in versions.
    CONSTRAINT upload_expectations_drawing_id_length CHECK (octet_length(drawing_id) <= 2000)
);
COMMENT ON TABLE buildtrace.upload_expectations IS
    'Drawings expected to receive an upload every "every", late after "grace" more.';

-- Every upload of a drawing: a row of versions, or a pair submitted directly
-- (pairs made from versions are not counted twice).
CREATE VIEW buildtrace.uploads WITH (security_invoker = true) AS
SELECT v.drawing_id, v.uploaded_at, v.version_id, NULL::bigint AS pair_id, v.tenant
FROM buildtrace.versions v
UNION ALL
SELECT p.drawing_id, p.submitted_at, NULL::bigint, p.pair_id, p.tenant
FROM buildtrace.pairs p
WHERE NOT p.made_from_versions AND p.retry_of IS NULL;
COMMENT ON VIEW buildtrace.uploads IS
    'Every upload of a drawing: versions rows and directly submitted pairs.';

CREATE INDEX pairs_drawing_submitted_idx
    ON buildtrace.pairs (drawing_id, submitted_at)
    WHERE NOT made_from_versions AND retry_of IS NULL;

-- The newest upload of a drawing by a tenant in (after, until]: the newer of
-- its newest version and its newest pair sent directly (the uploads view's
-- two branches), each read backwards on its index, one entry each. A max()
-- over the view reads every upload the drawing ever had.
CREATE FUNCTION buildtrace._last_upload(drawing text, tenant text, after timestamptz,
                                        until timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN greatest((SELECT v.uploaded_at FROM buildtrace.versions v
                 WHERE v.drawing_id = drawing AND v.tenant = _last_upload.tenant
                   AND v.uploaded_at > after AND v.uploaded_at <= until
                 ORDER BY v.uploaded_at DESC LIMIT 1),
                (SELECT p.submitted_at FROM buildtrace.pairs p
                 WHERE p.drawing_id = drawing AND p.tenant = _last_upload.tenant
                   AND NOT p.made_from_versions AND p.retry_of IS NULL
                   AND p.submitted_at > after AND p.submitted_at <= until
                 ORDER BY p.submitted_at DESC LIMIT 1));

-- The tenant whose uploads an expectation of drawing counts, and under which
-- its anomalies are filed: the expectation's own, or, for an expectation of
-- the default tenant (the operator's, say), the drawing's owner once a pair
-- or version of it has been processed. An expectation that names a tenant
-- never counts, or tells, another tenant's uploads to a drawing of that id.
CREATE FUNCTION buildtrace._drawing_tenant(drawing text, expectation_tenant text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN expectation_tenant <> '' THEN expectation_tenant
            ELSE coalesce((SELECT s.tenant FROM buildtrace.drawing_state s
                           WHERE s.drawing_id = drawing),
                          expectation_tenant) END;

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
    -- once per expectation, not once per upload scanned (OFFSET 0 keeps it apart)
    CROSS JOIN LATERAL (SELECT buildtrace._drawing_tenant(e.drawing_id, e.tenant) AS tenant OFFSET 0) t
    -- (after '-infinity': a pair's submitted_at may be anything its owner wrote)
    CROSS JOIN LATERAL (SELECT buildtrace._last_upload(e.drawing_id, t.tenant, '-infinity'::timestamptz,
                                                       as_of) AS last_upload) l;
END;

-- Overdue drawings: record missing_upload once, escalate to high once a
-- second upload is also overdue, resolve when an upload arrives.
CREATE FUNCTION buildtrace._check_missing(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
    -- _upload_due(as_of), column by column: each statement below read it
    -- again, a drawing's last upload by two index probes per expectation
    -- each time (two thirds of a check's time with 10,000 expectations).
    drawing_ids  text[];
    last_uploads timestamptz[];
    due_times    timestamptz[];
    late_times   timestamptz[];
    periods      interval[];
BEGIN
    SELECT coalesce(array_agg(d.drawing_id), '{}'), array_agg(d.last_upload), array_agg(d.due_at),
           array_agg(d.late_at), array_agg(d.every)
    INTO drawing_ids, last_uploads, due_times, late_times, periods
    FROM buildtrace._upload_due(as_of) d;

    -- Resolve: an upload arrived after the one the anomaly was waiting on.
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, d.last_upload),
        details = a.details || jsonb_build_object('resolved_by_upload_at', d.last_upload)
    FROM unnest(drawing_ids, last_uploads) AS d(drawing_id, last_upload)
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND a.drawing_id = d.drawing_id
      AND d.last_upload IS NOT NULL
      AND d.last_upload > coalesce((a.details ->> 'last_upload_at')::timestamptz, '-infinity');
    GET DIAGNOSTICS resolved = ROW_COUNT;

    -- Resolve: the drawing is expected no more (its expectation deleted); no
    -- upload would ever resolve it.
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, as_of),
        details = a.details || jsonb_build_object('resolved_because', 'no longer expected')
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.upload_expectations e WHERE e.drawing_id = a.drawing_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    resolved := resolved + n;

    -- Escalate a still-open one once the drawing is a whole period later still.
    UPDATE buildtrace.anomalies a
    SET severity = 'high',
        details = a.details || jsonb_build_object('overdue_by', as_of - d.due_at)
    FROM unnest(drawing_ids, due_times, late_times, periods) AS d(drawing_id, due_at, late_at, every)
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.severity <> 'high'
      AND a.drawing_id = d.drawing_id AND as_of > d.late_at + d.every;

    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at, tenant)
    SELECT 'missing_upload',
           CASE WHEN as_of > d.late_at + d.every THEN 'high' ELSE 'medium' END,
           d.drawing_id,
           jsonb_build_object('last_upload_at', d.last_upload, 'due_at', d.due_at,
                              'late_at', d.late_at, 'overdue_by', as_of - d.due_at),
           as_of, buildtrace._drawing_tenant(d.drawing_id, e.tenant)
    FROM unnest(drawing_ids, last_uploads, due_times, late_times, periods)
         AS d(drawing_id, last_upload, due_at, late_at, every)
    JOIN buildtrace.upload_expectations e ON e.drawing_id = d.drawing_id
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
    -- Once per expectation (MATERIALIZED: inlined, the tenant was looked up
    -- once per upload), and from the last upload already checked, which the
    -- first new one is measured against: a check costs what arrived since
    -- the last one, not every upload since the expectation began.
    --
    -- "Since the last one" reaches an hour further back: an upload is
    -- stamped when its transaction starts and seen when it commits, so one
    -- still open while the last check ran is older than that check and was
    -- not seen by it. A late period is recorded once (the NOT EXISTS below):
    -- an upload checked twice, or one seen late that comes before an upload
    -- already recorded late for the same due time, adds nothing.
    WITH expected AS MATERIALIZED (
        SELECT t.*,
               coalesce(buildtrace._last_upload(t.drawing_id, t.tenant, t.since, t.checked_from),
                        t.since) AS scan_from
        FROM (SELECT e.drawing_id, e.every, e.grace, e.since,
                     buildtrace._drawing_tenant(e.drawing_id, e.tenant) AS tenant,
                     greatest(coalesce(e.checked_until, e.since) - interval '1 hour', e.since) AS checked_from
              FROM buildtrace.upload_expectations e
              WHERE coalesce(e.checked_until, e.since) < as_of) t
    ), ordered AS (
        SELECT u.drawing_id, u.uploaded_at, u.version_id, u.pair_id, x.every, x.grace,
               x.checked_from, x.tenant,
               coalesce(lag(u.uploaded_at) OVER w, x.since) AS previous_at
        FROM expected x
        -- each drawing's new uploads by its indexes (OFFSET 0: not a join
        -- with every upload of every drawing)
        CROSS JOIN LATERAL (
            SELECT u.* FROM buildtrace.uploads u
            WHERE u.drawing_id = x.drawing_id AND u.tenant = x.tenant
              AND u.uploaded_at > x.since AND u.uploaded_at >= x.scan_from
              AND u.uploaded_at <= as_of
            OFFSET 0) u
        WINDOW w AS (PARTITION BY u.drawing_id ORDER BY u.uploaded_at, u.version_id, u.pair_id)
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details,
                                      detected_at, resolved_at, tenant)
    SELECT 'delayed_upload', 'low', o.drawing_id, kept.pair_id,
           jsonb_build_object('upload_at', o.uploaded_at, 'due_at', o.previous_at + o.every,
                              'grace', o.grace, 'delay', o.uploaded_at - (o.previous_at + o.every),
                              'version_id', o.version_id),
           as_of, as_of, o.tenant
    FROM ordered o
    -- The upload's pair, locked against a purge() removing it meanwhile
    -- (its anomaly would fail the whole check on the foreign key): one
    -- removed is named by the anomaly's times and version only.
    LEFT JOIN LATERAL (SELECT p.pair_id FROM buildtrace.pairs p
                       WHERE p.pair_id = o.pair_id FOR KEY SHARE) kept ON true
    WHERE o.uploaded_at > o.checked_from
      AND o.uploaded_at > o.previous_at + o.every + o.grace
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'delayed_upload' AND a.drawing_id = o.drawing_id
                        AND ((a.details ->> 'upload_at')::timestamptz = o.uploaded_at
                             OR (a.details ->> 'due_at')::timestamptz = o.previous_at + o.every))
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

    -- The pairs are locked against a purge() removing them meanwhile (an
    -- anomaly would fail the whole check on the foreign key); one processed
    -- meanwhile is no longer pending when locked, and is passed over.
    WITH stale AS (
        SELECT p.pair_id, p.drawing_id, p.submitted_at, p.tenant
        FROM buildtrace.pairs p
        WHERE p.status = 'pending' AND p.submitted_at < as_of - max_age
          AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                          WHERE a.kind = 'stale_pending' AND a.pair_id = p.pair_id
                            AND a.resolved_at IS NULL)
        FOR KEY SHARE OF p
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, detected_at,
                                      tenant)
    SELECT 'stale_pending', 'high', s.drawing_id, s.pair_id,
           jsonb_build_object('submitted_at', s.submitted_at,
                              -- a time its owner wrote may be infinite: no age
                              'age', CASE WHEN isfinite(s.submitted_at) THEN as_of - s.submitted_at END,
                              'max_age', max_age),
           as_of, s.tenant
    FROM stale s
    ORDER BY s.pair_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

-- Hourly volume spike: changes in the hour before as_of at least spike_factor
-- times the hour before that, per drawing and for the whole system (drawing
-- NULL, of the default tenant), with the same small-baseline floor as change
-- spikes. One per drawing per hour window.
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
    -- per drawing, and per tenant with no drawing: a tenant's readers see
    -- the whole of their own uploads, never a sum over other tenants'
    WITH hours AS (
        SELECT c.drawing_id,
               CASE WHEN GROUPING(c.tenant) = 0 THEN c.tenant ELSE min(c.tenant) END AS tenant,
               sum(c.total) FILTER (WHERE c.computed_at >= as_of - interval '1 hour') AS last_hour,
               sum(c.total) FILTER (WHERE c.computed_at < as_of - interval '1 hour') AS hour_before
        FROM buildtrace.changes c
        WHERE c.computed_at >= as_of - interval '2 hours' AND c.computed_at < as_of
        GROUP BY GROUPING SETS ((c.drawing_id), (c.tenant))
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at, tenant)
    SELECT 'volume_spike', 'medium', h.drawing_id,
           jsonb_build_object('changes_last_hour', h.last_hour,
                              'changes_hour_before', h.hour_before,
                              'factor', round((h.last_hour::numeric / h.hour_before), 2),
                              'window_end', as_of),
           as_of, h.tenant
    FROM hours h
    WHERE h.hour_before >= greatest(min_base, 1)
      AND h.last_hour::float8 / h.hour_before >= factor
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'volume_spike'
                        AND a.drawing_id IS NOT DISTINCT FROM h.drawing_id
                        AND a.tenant = h.tenant
                        AND a.detected_at > as_of - interval '1 hour')
    ORDER BY h.drawing_id NULLS FIRST, h.tenant;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Periods are counted in UTC (TimeZone below): a day is 24 hours and a
-- month ends at UTC midnight, whatever zone pg_cron's or a caller's session
-- has, so the same as_of records the same anomalies from any session.
CREATE FUNCTION buildtrace.check_uploads(as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
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
    -- the windows reach hours before as_of: far from timestamptz's ends
    IF as_of < '0001-01-01 00:00:00+00' OR as_of >= '10000-01-01 00:00:00+00' THEN
        RAISE EXCEPTION 'as_of must be a time in the years 1 to 9999 (UTC)'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('check_uploads() was called with as_of %s UTC.', as_of AT TIME ZONE 'UTC');
    END IF;
    -- Two checks at once would both see "no open anomaly" and record it twice.
    -- A lock no reader or writer can take (an advisory lock, any role could
    -- hold and so stall every check), which conflicts with itself. It orders
    -- checks that read after taking it: a REPEATABLE READ snapshot, taken
    -- before, would not see the anomalies of the check it waited for
    -- (SERIALIZABLE sees the conflict and fails with 40001).
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'check_uploads() cannot run in a REPEATABLE READ transaction'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Its snapshot would not see the anomalies of a check that ran meanwhile, and it would record them again.',
                  HINT = 'Run it in READ COMMITTED, the default, or SERIALIZABLE.';
    END IF;
    LOCK TABLE buildtrace.upload_expectations IN SHARE UPDATE EXCLUSIVE MODE;
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
COMMENT ON FUNCTION buildtrace.resolve_anomalies(bigint[], text) IS
    'Closes the listed open anomalies, with an optional note; returns how many were closed.';

REVOKE ALL ON FUNCTION buildtrace._last_upload(text, text, timestamptz, timestamptz),
    buildtrace._upload_due(timestamptz), buildtrace._check_missing(timestamptz),
    buildtrace._check_delayed(timestamptz), buildtrace._check_pending(timestamptz),
    buildtrace._check_volume(timestamptz), buildtrace.check_uploads(timestamptz),
    buildtrace.resolve_anomalies(bigint[], text) FROM PUBLIC;
GRANT SELECT ON buildtrace.uploads TO buildtrace_reader;
