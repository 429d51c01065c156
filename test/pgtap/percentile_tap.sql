-- bt_percentile / bt_sketch: SQLSTATEs of every error, catalogue properties,
-- and the accuracy guarantee on a fresh data set.
BEGIN;
SELECT plan(26);
SET LOCAL search_path = public, buildtrace;

-- Errors carry the documented SQLSTATEs.
SELECT throws_ok($$SELECT buildtrace.bt_percentile(x, 0.5) FROM unnest(ARRAY[1, 'NaN']::float8[]) x$$,
                 '22023', NULL, 'NaN value: 22023');
SELECT throws_ok($$SELECT buildtrace.bt_sketch(x) FROM unnest(ARRAY['Infinity']::float8[]) x$$,
                 '22023', NULL, 'Infinity value: 22023');
SELECT throws_ok($$SELECT buildtrace.bt_percentile(x, ARRAY['-Infinity']::float8[]) FROM unnest(ARRAY['-Infinity']::float8[]) x$$,
                 '22003', NULL, 'quantile -Infinity: 22003');
SELECT throws_ok($$SELECT buildtrace.bt_percentile(x, 1.01) FROM generate_series(1, 3) x$$,
                 '22003', NULL, 'quantile above 1: 22003');
SELECT throws_ok($$SELECT buildtrace.bt_percentile(x, ARRAY[[0.1],[0.2]]) FROM generate_series(1, 3) x$$,
                 '2202E', NULL, '2-D quantile array: 2202E');
SELECT throws_ok($$SELECT buildtrace.bt_percentile(x, 0.5, 0.00001) FROM generate_series(1, 3) x$$,
                 '22023', NULL, 'relative accuracy too small: 22023');
SELECT throws_ok($$SELECT buildtrace.bt_sketch(x, NULL) FROM generate_series(1, 3) x$$,
                 '22004', NULL, 'NULL relative accuracy: 22004');
SELECT throws_ok($$SELECT buildtrace.bt_sketch_quantile_bounds(buildtrace.bt_sketch(1), 0.5, 1.5)$$,
                 '22023', NULL, 'confidence out of range: 22023');
SELECT throws_ok($$SELECT buildtrace.bt_sketch_add(buildtrace.bt_sketch(1, 0.01), buildtrace.bt_sketch(1, 0.02))$$,
                 '22023', NULL, 'merging different accuracies: 22023');
SELECT throws_ok($$SELECT 'alpha=0.01 level=0'::buildtrace.bt_sketch$$,
                 '22P02', NULL, 'text syntax error: 22P02');
SELECT throws_ok($$SELECT 'alpha=0.01 level=0 count=5 zero=0 min=1 max=1 pos=0:1 neg='::buildtrace.bt_sketch$$,
                 '22P02', NULL, 'inconsistent text: 22P02');

-- Catalogue: everything parallel safe and immutable; aggregates have the
-- full parallel support.
SELECT is_empty($$
    SELECT p.oid::regprocedure::text FROM pg_proc p
    WHERE p.pronamespace = 'buildtrace'::regnamespace
      AND (p.proname LIKE 'bt\_sketch%' OR p.proname LIKE 'bt\_percentile%' OR p.proname LIKE 'bt\_agg\_%')
      AND (p.proparallel <> 's' OR p.provolatile <> 'i')
$$, 'every sketch function is IMMUTABLE PARALLEL SAFE');
SELECT is((SELECT count(*)::int FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
           WHERE p.pronamespace = 'buildtrace'::regnamespace
             AND p.proname IN ('bt_percentile', 'bt_sketch', 'bt_sketch_merge')
             AND a.aggcombinefn <> 0 AND a.aggserialfn <> 0 AND a.aggdeserialfn <> 0),
          7, 'all seven aggregates have combine, serialize and deserialize');
SELECT has_type('buildtrace', 'bt_sketch', 'type bt_sketch exists');
SELECT isnt((SELECT typsend FROM pg_type WHERE oid = 'buildtrace.bt_sketch'::regtype), 0::regproc,
            'bt_sketch has binary send/receive');

-- Accuracy on a fresh distribution (Pareto-like heavy tail, setseed-driven).
SELECT setseed(0.42);
CREATE TEMP TABLE t AS SELECT 1 / (1 - random()) ^ 1.5 AS x FROM generate_series(1, 50000);
CREATE TEMP TABLE truth AS
SELECT q, (SELECT x FROM t ORDER BY x OFFSET floor(q * ((SELECT count(*) FROM t) - 1)) LIMIT 1) AS tru
FROM unnest(ARRAY[0.5, 0.95, 0.99, 0.999]) q;
SELECT ok(abs(bt_percentile(x, q) - tru) <= 0.01 * tru, format('p%s within 1 %% of the true order statistic', q * 100))
FROM t, truth GROUP BY q, tru ORDER BY q;
SELECT ok(abs(bt_percentile(x, q, 0.05) - tru) <= 0.05 * tru, format('p%s within 5 %% at relative_accuracy 0.05', q * 100))
FROM t, truth GROUP BY q, tru ORDER BY q;
SELECT ok((SELECT bt_sketch_count(bt_sketch(x)) FROM t) = 50000, 'bt_sketch_count counts the values');
SELECT ok((SELECT bt_sketch_relative_accuracy(bt_sketch(x, 0.02)) FROM t) = 0.02,
          'bt_sketch_relative_accuracy reports the accuracy asked for when not collapsed');
SELECT is((SELECT bt_sketch_merge(s)::text FROM (SELECT bt_sketch(x) AS s FROM t GROUP BY x > 10) p),
          (SELECT bt_sketch(x)::text FROM t), 'merge of two halves equals the sketch of all');

SELECT * FROM finish();
ROLLBACK;
