-- bt_percentile benchmark body; run by test/bench/percentile_bench.sh inside a
-- throwaway cluster.  psql variables: rows, runs.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
CREATE EXTENSION IF NOT EXISTS tdigest;
RESET client_min_messages;

-- Latency-like data: lognormal, median ~ 50 ms, deterministic.
DROP TABLE IF EXISTS bench_x;
CREATE UNLOGGED TABLE bench_x AS
SELECT exp(3.9 + 0.8 * sqrt(-2 * ln((hashint4(g)::float8 + 2147483649) / 4294967298))
                 * cos(2 * pi() * (hashint4(g + 1000000007)::float8 + 2147483649) / 4294967298)) AS x
FROM generate_series(1, :rows) g;
VACUUM ANALYZE bench_x;

-- Median wall time of `runs` executions of a one-row query, and its result.
CREATE OR REPLACE FUNCTION pg_temp.bench(q text, runs int, OUT median_ms float8, OUT result float8[])
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz;
    times float8[] := '{}';
BEGIN
    FOR i IN 1 .. runs LOOP
        t0 := clock_timestamp();
        EXECUTE q INTO result;
        times := times || extract(epoch FROM clock_timestamp() - t0) * 1000;
    END LOOP;
    SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY t) INTO median_ms FROM unnest(times) t;
END
$$;

CREATE TEMP TABLE bench_result (method text, workers int, median_ms float8, result float8[]);
CREATE TEMP TABLE bench_query (ord int, method text, q text, runs int);
INSERT INTO bench_query VALUES
 (1, 'sum(x)', 'SELECT ARRAY[sum(x)] FROM bench_x', :runs),
 (2, 'bt_percentile', 'SELECT buildtrace.bt_percentile(x, ARRAY[0.95, 0.99]) FROM bench_x', :runs),
 (3, 'tdigest_percentile', 'SELECT tdigest_percentile(x, 100, ARRAY[0.95, 0.99]) FROM bench_x', :runs),
 (4, 'percentile_cont', 'SELECT percentile_cont(ARRAY[0.95, 0.99]) WITHIN GROUP (ORDER BY x) FROM bench_x',
  greatest(1, least(:runs, 3)));

-- Warm the cache.
SELECT count(*) AS rows FROM bench_x;

SET max_parallel_workers_per_gather = 0;
INSERT INTO bench_result SELECT method, 0, b.* FROM bench_query, pg_temp.bench(q, runs) b ORDER BY ord;
SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
INSERT INTO bench_result SELECT method, 2, b.* FROM bench_query, pg_temp.bench(q, runs) b ORDER BY ord;
EXPLAIN (COSTS OFF) SELECT buildtrace.bt_percentile(x, ARRAY[0.95, 0.99]) FROM bench_x;
RESET max_parallel_workers_per_gather;

-- Exact p95/p99: the order statistics of rank floor(q (n - 1)) (DDSketch's
-- definition; percentile_cont interpolates next to them, difference < 1e-6 here).
CREATE TEMP TABLE bench_exact AS
SELECT percentile_disc(ARRAY[0.95, 0.99]) WITHIN GROUP (ORDER BY x) AS disc,
       percentile_cont(ARRAY[0.95, 0.99]) WITHIN GROUP (ORDER BY x) AS cont
FROM bench_x;

\echo
\echo bt_percentile benchmark (:rows rows, median of :runs runs; percentile_cont at most 3)
SELECT r.method, r.workers,
       round(r.median_ms::numeric, 1) AS median_ms,
       round((r.median_ms / s.median_ms)::numeric, 2) AS x_sum,
       round((r.median_ms / bt.median_ms)::numeric, 2) AS x_bt_percentile,
       CASE WHEN r.method = 'sum(x)' THEN NULL
            ELSE round((abs(r.result[1] - e.cont[1]) / e.cont[1])::numeric, 5) END AS p95_rel_err,
       CASE WHEN r.method = 'sum(x)' THEN NULL
            ELSE round((abs(r.result[2] - e.cont[2]) / e.cont[2])::numeric, 5) END AS p99_rel_err
FROM bench_result r
JOIN bench_result s ON s.method = 'sum(x)' AND s.workers = r.workers
JOIN bench_result bt ON bt.method = 'bt_percentile' AND bt.workers = r.workers
CROSS JOIN bench_exact e
ORDER BY r.workers, r.median_ms;

SELECT round((bt1.median_ms / bt0.median_ms)::numeric, 2) AS bt_2_workers_vs_single,
       round((td.median_ms / bt0.median_ms)::numeric, 2) AS tdigest_vs_bt_single,
       round((pc.median_ms / bt0.median_ms)::numeric, 2) AS percentile_cont_vs_bt_single
FROM bench_result bt0, bench_result bt1, bench_result td, bench_result pc
WHERE bt0.method = 'bt_percentile' AND bt0.workers = 0 AND bt1.method = 'bt_percentile' AND bt1.workers = 2
  AND td.method = 'tdigest_percentile' AND td.workers = 0 AND pc.method = 'percentile_cont' AND pc.workers = 0;
DROP TABLE bench_x;
