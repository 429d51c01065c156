-- Invariants after a load run. Variables: expected_total (clients x
-- transactions, all committed), expected_pairs and expected_versions (pgbench's
-- per-script counts, shown for information). expected_total -1 skips the count
-- (after a crash no total is known: test/crash/run.sh matches rows to
-- acknowledged transactions one by one instead). One row per check; the last
-- statement fails when any check fails.
\set ON_ERROR_STOP 1
CREATE TEMP TABLE load_checks AS
WITH p AS (SELECT * FROM buildtrace.pairs),
     c AS (SELECT * FROM buildtrace.changes),
     -- Hourly rollups as maintained by concurrent statements, and recounted.
     r AS (SELECT hour, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
                  modified, unchanged, processing_ms::text AS p, reported_latency_ms::text AS l
           FROM buildtrace.hourly_rollups),
     rc AS (SELECT date_trunc('hour', p.processed_at, 'UTC') AS hour, p.drawing_id,
                   count(c.pair_id) AS pairs, count(*) FILTER (WHERE p.status = 'failed') AS failed,
                   coalesce(sum(c.added), 0) AS added, coalesce(sum(c.removed), 0) AS removed,
                   coalesce(sum(c.moved), 0) AS moved, coalesce(sum(c.resized), 0) AS resized,
                   coalesce(sum(c.retyped), 0) AS retyped, coalesce(sum(c.modified), 0) AS modified,
                   coalesce(sum(c.unchanged), 0) AS unchanged,
                   buildtrace.bt_sketch(c.processing_us / 1000.0::float8)::text AS p,
                   buildtrace.bt_sketch(p.latency_ms) FILTER (WHERE p.status = 'done')::text AS l
            FROM p LEFT JOIN c USING (pair_id)
            WHERE p.status <> 'pending'
            GROUP BY 1, 2)
SELECT * FROM (VALUES
 ('every submitted pair and version is stored',
  :expected_total < 0 OR
  (SELECT count(*) FROM p WHERE from_version IS NULL) + (SELECT count(*) FROM buildtrace.versions)
      = :expected_total,
  CASE WHEN :expected_total < 0
  THEN format('%s pairs + %s versions stored; total not checked here (expected_total -1)',
              (SELECT count(*) FROM p WHERE from_version IS NULL),
              (SELECT count(*) FROM buildtrace.versions))
  ELSE format('%s pairs + %s versions stored; pgbench committed %s (%s + %s by its per-script count)',
              (SELECT count(*) FROM p WHERE from_version IS NULL),
              (SELECT count(*) FROM buildtrace.versions),
              :expected_total, :expected_pairs, :expected_versions) END),
 ('no pair is left pending',
  NOT EXISTS (SELECT 1 FROM p WHERE status = 'pending'), ''),
 ('every done pair has exactly one change row',
  NOT EXISTS (SELECT 1 FROM p WHERE status = 'done' AND NOT EXISTS (SELECT 1 FROM c WHERE c.pair_id = p.pair_id))
  AND NOT EXISTS (SELECT 1 FROM c JOIN p USING (pair_id) WHERE p.status <> 'done'),
  format('%s done, %s change rows', (SELECT count(*) FROM p WHERE status = 'done'), (SELECT count(*) FROM c))),
 ('every failed pair keeps its problems and an invalid_input anomaly',
  NOT EXISTS (SELECT 1 FROM p WHERE status = 'failed'
              AND (jsonb_array_length(p.error) = 0
                   OR NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                                  WHERE a.pair_id = p.pair_id AND a.kind = 'invalid_input'))),
  format('%s failed', (SELECT count(*) FROM p WHERE status = 'failed'))),
 ('stored counts equal a recount from the stored diffs',
  NOT EXISTS (SELECT 1 FROM c WHERE
      (added, removed, moved, resized, retyped, modified, unchanged) IS DISTINCT FROM
      (jsonb_array_length(diff -> 'added'), jsonb_array_length(diff -> 'removed'),
       jsonb_array_length(diff -> 'moved'), jsonb_array_length(diff -> 'resized'),
       jsonb_array_length(diff -> 'retyped'), jsonb_array_length(diff -> 'modified'),
       (diff -> 'counts' ->> 'unchanged')::int)), ''),
 ('each version after a drawing''s first has exactly one pair, with its predecessor',
  NOT EXISTS (
      SELECT 1 FROM (
          SELECT v.version_id, lag(v.version_id) OVER w AS prev,
                 (SELECT count(*) FROM p WHERE p.to_version = v.version_id) AS n,
                 (SELECT min(p.from_version) FROM p WHERE p.to_version = v.version_id) AS from_v
          FROM buildtrace.versions v
          WINDOW w AS (PARTITION BY v.drawing_id ORDER BY v.uploaded_at, v.version_id)) x
      WHERE (x.prev IS NULL AND x.n <> 0) OR (x.prev IS NOT NULL AND (x.n <> 1 OR x.from_v <> x.prev))), ''),
 ('hourly rollups equal a recount from changes and pairs',
  NOT EXISTS (SELECT * FROM r EXCEPT SELECT * FROM rc) AND NOT EXISTS (SELECT * FROM rc EXCEPT SELECT * FROM r),
  format('%s rollup rows', (SELECT count(*) FROM r))),
 ('no duplicate anomaly per pair and kind',
  NOT EXISTS (SELECT 1 FROM buildtrace.anomalies WHERE pair_id IS NOT NULL
              GROUP BY pair_id, kind HAVING count(*) > 1), ''),
 ('no deadlocks',
  (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()) = 0,
  format('%s deadlocks', (SELECT deadlocks FROM pg_stat_database WHERE datname = current_database())))
) AS t(check_name, ok, detail);

SELECT check_name, CASE WHEN ok THEN 'ok' ELSE 'FAILED' END AS result, detail FROM load_checks;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM load_checks WHERE NOT ok) THEN
        RAISE EXCEPTION 'load test invariants failed';
    END IF;
END $$;
