
-- ---------------------------------------------------------------------------
-- Samples for Prometheus, scraped by prometheus-postgres-exporter with the
-- queries of monitoring/postgres-exporter-queries.yaml (alerting rules in
-- monitoring/buildtrace-alerts.yml).
-- ---------------------------------------------------------------------------

-- The samples of one family: (label, value) rows, label NULL for a family
-- of one sample. Windows are the rollups' "last hour" (the latency view's),
-- so a scrape's cost does not grow with history. Every tenant's rows count:
-- SECURITY DEFINER so that the exporter's login, given buildtrace_monitor,
-- sees all of them without a table privilege or BYPASSRLS. It returns sums
-- only (no drawing, job or tenant names), its search_path is pinned, names
-- are qualified.
CREATE FUNCTION buildtrace.prometheus_samples(family text)
RETURNS TABLE (label text, value float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent timestamptz := buildtrace._window_start(interval '1 hour');
    -- every kind has a sample, 0 when there is none
    anomaly_kinds text[] := ARRAY['change_spike', 'invalid_input', 'missing_upload', 'delayed_upload',
                                  'stale_pending', 'volume_spike', 'processing_failed'];
BEGIN
    CASE family
    WHEN 'pairs_last_hour' THEN           -- by outcome
        RETURN QUERY
        SELECT s.outcome, coalesce(sum(CASE s.outcome WHEN 'done' THEN r.pairs ELSE r.failed END), 0)::float8
        FROM (VALUES ('done'), ('failed')) s(outcome)
        LEFT JOIN buildtrace.hourly_rollups r ON r.hour >= recent
        GROUP BY s.outcome;
    WHEN 'objects_changed_last_hour' THEN -- by kind
        RETURN QUERY
        SELECT k.kind, coalesce(sum(CASE k.kind WHEN 'added' THEN r.added WHEN 'removed' THEN r.removed
                                                WHEN 'moved' THEN r.moved WHEN 'resized' THEN r.resized
                                                WHEN 'retyped' THEN r.retyped WHEN 'modified' THEN r.modified
                                                WHEN 'rotated' THEN r.rotated
                                                ELSE r.reidentified END), 0)::float8
        FROM buildtrace._chart_kinds() k
        LEFT JOIN buildtrace.hourly_rollups r ON r.hour >= recent
        GROUP BY k.kind;
    WHEN 'pending_pairs' THEN
        RETURN QUERY SELECT NULL::text, count(*)::float8 FROM buildtrace.pairs p WHERE p.status = 'pending';
    WHEN 'pending_oldest_age_seconds' THEN
        -- a time its owner wrote may be infinite: no age
        RETURN QUERY SELECT NULL::text, coalesce(extract(epoch FROM now() - min(p.submitted_at)), 0)::float8
                     FROM buildtrace.pairs p WHERE p.status = 'pending' AND isfinite(p.submitted_at);
    WHEN 'dead_letters' THEN
        RETURN QUERY SELECT NULL::text, count(*)::float8 FROM buildtrace.dead_letters;
    WHEN 'open_anomalies' THEN            -- by kind, every kind present
        RETURN QUERY
        SELECT k.kind, count(a.anomaly_id)::float8
        FROM unnest(anomaly_kinds) k(kind)
        LEFT JOIN buildtrace.anomalies a ON a.kind = k.kind AND a.resolved_at IS NULL
        GROUP BY k.kind;
    WHEN 'anomalies_last_hour' THEN       -- by kind, every kind present
        -- detected in the window, open or not: a delayed upload is recorded
        -- resolved (the upload did come), and alerts only through this
        RETURN QUERY
        SELECT k.kind, count(a.anomaly_id)::float8
        FROM unnest(anomaly_kinds) k(kind)
        LEFT JOIN buildtrace.anomalies a ON a.kind = k.kind AND a.detected_at >= recent
        GROUP BY k.kind;
    WHEN 'processing_latency_ms', 'processing_latency_ms_lower', 'processing_latency_ms_upper' THEN
        RETURN QUERY                      -- by quantile
        SELECT q.q::text, CASE family WHEN 'processing_latency_ms' THEN b.estimate
                                      WHEN 'processing_latency_ms_lower' THEN b.lower
                                      ELSE b.upper END
        FROM (SELECT buildtrace.bt_sketch_merge(r.processing_ms) AS sketch
              FROM buildtrace.hourly_rollups r WHERE r.hour >= recent) m,
             unnest(ARRAY[0.5, 0.95, 0.99]::float8[]) q(q),
             LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, q.q) b;
    WHEN 'check_last_run_age_seconds' THEN -- by scheduled job
        RETURN QUERY SELECT c.job_name, extract(epoch FROM now() - greatest(c.last_start, c.scheduled_at))::float8
                     FROM buildtrace._cron_runs() c;
    WHEN 'check_interval_seconds' THEN    -- by scheduled job: its cadence
        RETURN QUERY SELECT c.job_name, extract(epoch FROM c.every)::float8
                     FROM buildtrace._cron_runs() c;
    WHEN 'health_status' THEN             -- 0 healthy, 1 degraded, 2 unhealthy
        RETURN QUERY SELECT NULL::text, CASE buildtrace.health() ->> 'status' WHEN 'healthy' THEN 0
                                                                         WHEN 'degraded' THEN 1 ELSE 2 END::float8;
    ELSE
        RAISE EXCEPTION 'unknown Prometheus sample family %', coalesce('"' || family || '"', 'NULL') USING ERRCODE = '22023',
            DETAIL = 'A family is the name of a buildtrace series without "buildtrace_", such as "pending_pairs".',
            HINT = 'The families are the queries of monitoring/postgres-exporter-queries.yaml.';
    END CASE;
END
$$;
COMMENT ON FUNCTION buildtrace.prometheus_samples(text) IS
    'The samples of one metric family for prometheus-postgres-exporter (monitoring/postgres-exporter-queries.yaml).';

REVOKE ALL ON FUNCTION buildtrace.prometheus_samples(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.prometheus_samples(text) TO buildtrace_monitor;
