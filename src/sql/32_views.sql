
-- ---------------------------------------------------------------------------
-- The change pipeline, part 3: views for the reader role (hourly_changes
-- and latency are the rollups', in 40_metrics.sql). Like every view of
-- buildtrace they run with the caller's rights (security_invoker), so
-- row-level security shows each role its own tenant's rows.
-- ---------------------------------------------------------------------------

-- A failed pair stops being a dead letter once it has been retried (the retry
-- is a new pair with retry_of set, and is a dead letter itself if it fails).
-- The payloads are left out, so that a row prints on a screen: their sizes
-- say how large they are, dead_letter_payloads(pair_id) returns them.
CREATE VIEW buildtrace.dead_letters WITH (security_invoker = true) AS
SELECT p.pair_id, p.drawing_id, p.job_id, p.submitted_at, p.processed_at,
       p.error AS problems, jsonb_array_length(p.error) AS problem_count,
       p.retry_of, pg_column_size(p.version_a) AS version_a_bytes,
       pg_column_size(p.version_b) AS version_b_bytes
FROM buildtrace.pairs p
WHERE p.status = 'failed'
  AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs r WHERE r.retry_of = p.pair_id);
COMMENT ON VIEW buildtrace.dead_letters IS
    'Failed pairs not yet retried, with their problems and the stored sizes of their versions.';

CREATE VIEW buildtrace.open_anomalies WITH (security_invoker = true) AS
SELECT a.anomaly_id, a.kind, a.severity, a.drawing_id, a.pair_id, a.details,
       a.detected_at, now() - a.detected_at AS age
FROM buildtrace.anomalies a
WHERE a.resolved_at IS NULL;
COMMENT ON VIEW buildtrace.open_anomalies IS 'Anomalies not yet resolved.';

GRANT SELECT ON buildtrace.dead_letters, buildtrace.open_anomalies TO buildtrace_reader;
