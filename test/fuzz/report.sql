-- Checks and prints what a test/fuzz/run.sh run recorded in schema fz: the
-- outcome of every call by target and SQLSTATE, the pipeline statements and
-- the accounting of the pairs they stored. Raises an error (psql exits
-- non-zero) on any disallowed outcome or accounting failure.
\pset footer off
\pset null ''
SET client_min_messages = warning;

SELECT string_agg(replace(sqlstate_like, '%', 'xxx'), ', ' ORDER BY sqlstate_like) AS allowed
FROM fz.allow \gset
\echo
\echo 'Outcomes by target (allowed errors: SQLSTATE' :allowed'):'
SELECT target,
       sum(n) AS calls,
       coalesce(sum(n) FILTER (WHERE sqlstate = 'ok'), 0) AS ok,
       coalesce(string_agg(sqlstate || ' x' || n, ', ' ORDER BY sqlstate)
                FILTER (WHERE sqlstate <> 'ok'), '') AS "errors by SQLSTATE"
FROM fz.outcome
GROUP BY target
ORDER BY min(seq);

-- Each pipeline statement with the number of rows it left in pairs.
CREATE TEMP VIEW fz_stmt AS
SELECT s.*, (SELECT count(*) FROM buildtrace.pairs p WHERE p.job_id = s.job_id) AS stored
FROM fz.stmt s;

\echo 'Pipeline statements (a failed statement must store nothing, a successful one every row):'
SELECT kind,
       sum(n) AS statements,
       coalesce(sum(n) FILTER (WHERE st IS NULL), 0) AS succeeded,
       coalesce(string_agg(st || ' x' || n, ', ' ORDER BY st) FILTER (WHERE st IS NOT NULL), '')
           AS "failed by SQLSTATE",
       sum(submitted) AS "rows of successful statements",
       sum(stored) AS "rows stored"
FROM (SELECT kind, sqlstate AS st, count(*) AS n,
             coalesce(sum(nrows) FILTER (WHERE sqlstate IS NULL), 0) AS submitted, sum(stored) AS stored
      FROM fz_stmt GROUP BY kind, sqlstate) t
GROUP BY kind
ORDER BY kind DESC;

\echo 'Why pipeline statements failed (one message per SQLSTATE):'
SELECT sqlstate, count(*) AS statements, left(min(message), 100) AS "a message"
FROM fz.stmt WHERE sqlstate IS NOT NULL
GROUP BY sqlstate ORDER BY sqlstate;

\echo 'Stored pairs by status (failed: by the SQLSTATE of the first problem):'
SELECT status, error -> 0 ->> 'sqlstate' AS sqlstate, count(*) AS pairs
FROM buildtrace.pairs
GROUP BY 1, 2 ORDER BY 1, 2;

-- Every way the pipeline's bookkeeping can be wrong, one row each.
CREATE TEMP VIEW fz_accounting AS
SELECT format('statement %s succeeded with %s rows but %s are stored', job_id, nrows, stored) AS failure
FROM fz_stmt WHERE sqlstate IS NULL AND stored <> nrows
UNION ALL
SELECT format('statement %s failed (%s) but %s rows are stored', job_id, sqlstate, stored)
FROM fz_stmt WHERE sqlstate IS NOT NULL AND stored <> 0
UNION ALL
SELECT format('pair %s (job %s) has no statement of the run', p.pair_id, p.job_id)
FROM buildtrace.pairs p WHERE NOT EXISTS (SELECT 1 FROM fz.stmt s WHERE s.job_id = p.job_id)
UNION ALL
SELECT format('pair %s (job %s) is %s: %s', p.pair_id, p.job_id, p.status, w.what)
FROM buildtrace.pairs p
CROSS JOIN LATERAL (
    SELECT EXISTS (SELECT 1 FROM buildtrace.changes c WHERE c.pair_id = p.pair_id) AS has_changes,
           EXISTS (SELECT 1 FROM buildtrace.anomalies a
                   WHERE a.pair_id = p.pair_id AND a.kind = 'invalid_input') AS has_anomaly) x
CROSS JOIN LATERAL (
    SELECT CASE
        WHEN p.status NOT IN ('done', 'failed') THEN 'neither done nor failed'
        WHEN p.status = 'done' AND NOT x.has_changes THEN 'done without a changes row'
        WHEN p.status = 'done' AND x.has_anomaly THEN 'done with an invalid_input anomaly'
        WHEN p.status = 'failed' AND p.error IS NULL THEN 'failed without an error'
        WHEN p.status = 'failed' AND NOT x.has_anomaly THEN 'failed without an invalid_input anomaly'
        WHEN p.status = 'failed' AND x.has_changes THEN 'failed with a changes row'
    END AS what) w
WHERE w.what IS NOT NULL
UNION ALL
SELECT format('hourly_rollups count %s done and %s failed pairs, pairs has %s and %s',
              r.done, r.failed, p.done, p.failed)
FROM (SELECT coalesce(sum(pairs), 0) AS done, coalesce(sum(failed), 0) AS failed
      FROM buildtrace.hourly_rollups) r,
     (SELECT count(*) FILTER (WHERE status = 'done') AS done,
             count(*) FILTER (WHERE status = 'failed') AS failed
      FROM buildtrace.pairs) p
WHERE (r.done, r.failed) <> (p.done, p.failed);

\if :{?verbose}
\echo 'A message for each target and SQLSTATE (BT_FUZZ_VERBOSE):'
SELECT target, sqlstate, n, left(sample, 110) AS "a message" FROM fz.outcome ORDER BY target, sqlstate;
\echo 'Time of the drawing cases by shape (BT_FUZZ_VERBOSE):'
SELECT split_part(shape, ' ', 1) || ' ' || split_part(shape, ' ', 2) AS shape, count(*) AS cases,
       round(sum(ms)::numeric) AS total_ms, round(max(ms)::numeric) AS max_ms
FROM fz.case_time GROUP BY 1 ORDER BY 3 DESC;
\endif

\echo 'Disallowed outcomes (first 20):'
SELECT target, case_no AS "case", shape, sqlstate, left(message, 120) AS message,
       input_len, left(input, 100) AS input
FROM fz.violation ORDER BY id LIMIT 20;

\echo 'Pipeline accounting failures (first 20):'
SELECT failure FROM fz_accounting LIMIT 20;

DO $$
DECLARE
    nv bigint := (SELECT count(*) FROM fz.violation);
    na bigint := (SELECT count(*) FROM fz_accounting);
BEGIN
    IF nv + na > 0 THEN
        RAISE EXCEPTION 'fuzz: % disallowed outcomes, % pipeline accounting failures (listed above)', nv, na;
    END IF;
END
$$;
