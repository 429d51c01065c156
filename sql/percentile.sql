-- bt_percentile / bt_sketch: results, accuracy bound, merge = union, bounds.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = public, buildtrace;
SET extra_float_digits = 0;

-- Basics: scalar and array forms, NULL values ignored, NULL quantiles give
-- NULL, empty input gives NULL.
SELECT bt_percentile(x, 0.5) AS p50,
       bt_percentile(x, ARRAY[0, 0.5, NULL, 1]) AS ps,
       bt_percentile(x, 0.5, 0.001) AS p50_fine
FROM (SELECT g::float8 AS x FROM generate_series(1, 100) g UNION ALL SELECT NULL) t;
SELECT bt_percentile(x, 0.5) IS NULL AS empty_scalar,
       bt_percentile(x, ARRAY[0.5]) IS NULL AS empty_array,
       bt_sketch(x) IS NULL AS empty_sketch
FROM (SELECT NULL::float8 AS x) t;
SELECT bt_percentile(x, 0.5) FROM (SELECT 1.0::float8 AS x WHERE false) t;
SELECT bt_percentile(x, NULL::float8) AS null_q, bt_percentile(x, NULL::float8[]) AS null_qs,
       bt_percentile(x, '{}'::float8[]) AS no_qs
FROM generate_series(1, 10) x;

-- Zero and negative values: zeros are exact, negatives mirror positives.
SELECT bt_percentile(x, ARRAY[0, 0.25, 0.5, 0.75, 1]) FROM unnest(ARRAY[-8, -2, 0, 0, 0, 3, 1000]::float8[]) x;
SELECT bt_sketch(x) FROM unnest(ARRAY[-8, -2, 0, 0, 0, 3, 1000, 1000, 1100]::float8[]) x;
-- Extremes (the min and max are kept exactly) and tiny magnitudes.
SELECT bt_percentile(x, ARRAY[0, 1]) FROM unnest(ARRAY[1e-300, 5e-324, -1.7e308, 1.7e308]::float8[]) x;

-- Accuracy.  "True" is the order statistic DDSketch's guarantee is about:
-- the value of 0-based rank floor(q (n - 1)) (percentile_disc uses
-- ceil(q n) instead and percentile_cont interpolates, so neither is that).
-- Data: 100,000 deterministic values per distribution.
CREATE TABLE bt_acc AS
WITH u AS (
    SELECT g, (hashint4(g)::float8 + 2147483649) / 4294967298 AS u1,
              (hashint4(g + 1000000)::float8 + 2147483649) / 4294967298 AS u2
    FROM generate_series(1, 100000) g),
z AS (SELECT g, u1, u2, sqrt(-2 * ln(u1)) * cos(2 * pi() * u2) AS z FROM u)
SELECT 'uniform' AS dist, u1 * 1000 AS x FROM z
UNION ALL SELECT 'lognormal', exp(3 + 1.5 * z) FROM z
UNION ALL SELECT 'bimodal', CASE WHEN g % 10 < 7 THEN 100 + 10 * z ELSE 5000 + 500 * z END FROM z
UNION ALL SELECT 'negative', -exp(1 + 2 * z) FROM z;

CREATE FUNCTION bt_true_quantile(d text, q float8) RETURNS float8
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
    SELECT x FROM public.bt_acc WHERE dist = d ORDER BY x
    OFFSET (SELECT floor(q * (count(*) - 1)) FROM public.bt_acc WHERE dist = d) LIMIT 1
$$;

WITH est AS (
    SELECT dist, bt_percentile(x, ARRAY[0.5, 0.95, 0.99, 0.999]) AS e,
           bt_percentile(x, ARRAY[0.5, 0.95, 0.99, 0.999], 0.001) AS e_fine,
           percentile_cont(ARRAY[0.5, 0.95, 0.99, 0.999]) WITHIN GROUP (ORDER BY x) AS cont
    FROM bt_acc GROUP BY dist)
SELECT dist, q,
       abs(e[i] - bt_true_quantile(dist, q)) <= 0.01 * abs(bt_true_quantile(dist, q)) AS within_1pct,
       abs(e_fine[i] - bt_true_quantile(dist, q)) <= 0.001 * abs(bt_true_quantile(dist, q)) AS within_01pct,
       -- the error is a real one, not zero: the sketch does approximate
       e[i] <> bt_true_quantile(dist, q) AS approximate,
       abs(e[i] - cont[i]) <= 0.01 * abs(cont[i]) AS near_percentile_cont
FROM est, unnest(ARRAY[0.5, 0.95, 0.99, 0.999]) WITH ORDINALITY AS qs(q, i)
ORDER BY dist, q;

-- The largest relative error over every percentile 0.1 % .. 99.9 % stays
-- within the bound (read from the stored sketch with bt_sketch_quantile).
WITH s AS (SELECT dist, bt_sketch(x) AS sk, count(*) AS n FROM bt_acc GROUP BY dist),
r AS (SELECT dist, array_agg(x ORDER BY x) AS xs FROM bt_acc GROUP BY dist),
e AS (SELECT s.dist, q, bt_sketch_quantile(sk, q) AS est,
             xs[floor(q * (s.n - 1))::int + 1] AS tru
      FROM s JOIN r USING (dist), generate_series(1, 999) k, LATERAL (SELECT k / 1000.0 AS q) qq)
SELECT dist, max(abs(est - tru) / abs(tru)) <= 0.01 AS max_rel_err_ok,
       max(abs(est - tru) / abs(tru)) > 0.001 AS not_trivially_exact
FROM e GROUP BY dist ORDER BY dist;

-- Merge equals union, bit for bit, in any grouping and order.
WITH whole AS (SELECT dist, bt_sketch(x)::text AS t FROM bt_acc GROUP BY dist),
parts AS (SELECT dist, hashfloat8(x) % 7 AS part, bt_sketch(x) AS s FROM bt_acc GROUP BY 1, 2),
merged AS (SELECT dist, bt_sketch_merge(s ORDER BY part)::text AS fwd,
                  bt_sketch_merge(s ORDER BY part DESC)::text AS rev
           FROM parts GROUP BY dist)
SELECT dist, fwd = t AS merge_equals_union, rev = t AS order_independent
FROM whole JOIN merged USING (dist) ORDER BY dist;
SELECT bt_sketch_add(a, b)::text = (SELECT bt_sketch(x)::text FROM generate_series(1, 200) x) AS add_equals_union,
       bt_sketch_add(a, NULL)::text = a::text AS add_null_right,
       bt_sketch_add(NULL, b)::text = b::text AS add_null_left,
       bt_sketch_add(NULL, NULL) IS NULL AS add_null_both
FROM (SELECT bt_sketch(x) FILTER (WHERE x <= 50) AS a, bt_sketch(x) FILTER (WHERE x > 50) AS b
      FROM generate_series(1, 200) x) t;
SELECT bt_sketch_count(bt_sketch_merge(s)), bt_sketch_merge(s) IS NULL AS all_null
FROM (VALUES (NULL::bt_sketch)) v(s);

-- Bounded memory: 2048 buckets per sign.  Values spanning e^-300 .. e^300
-- need 30,000 buckets at 1 %, so the sketch collapses uniformly (gamma ->
-- gamma^2 per level) and reports the bound that now holds; that bound holds.
CREATE TABLE bt_wide AS SELECT g, exp(g / 100.0) AS x FROM generate_series(-30000, 30000, 7) g;
SELECT bt_sketch_relative_accuracy(s) > 0.01 AS collapsed,
       round(bt_sketch_relative_accuracy(s)::numeric, 4) AS alpha_now,
       bt_sketch_count(s) AS n
FROM (SELECT bt_sketch(x) AS s FROM bt_wide) t;
WITH s AS (SELECT bt_sketch(x) AS sk, array_agg(x ORDER BY x) AS xs, count(*) AS n FROM bt_wide)
SELECT bool_and(abs(bt_sketch_quantile(sk, q) - xs[floor(q * (n - 1))::int + 1])
                <= bt_sketch_relative_accuracy(sk) * xs[floor(q * (n - 1))::int + 1]) AS bound_holds
FROM s, (SELECT k / 100.0 AS q FROM generate_series(0, 100) k) qs;
-- Collapsed and uncollapsed parts still merge to exactly the union.
SELECT bt_sketch_merge(s ORDER BY k)::text =
       (SELECT bt_sketch(x)::text FROM (SELECT x FROM bt_wide UNION ALL
                                        SELECT x FROM bt_wide WHERE g BETWEEN 0 AND 1000) u)
       AS collapsed_merge_equals_union,
       array_agg(round(bt_sketch_relative_accuracy(s)::numeric, 4) ORDER BY k) AS part_alphas
FROM (SELECT g > 0 AS k, bt_sketch(x) AS s FROM bt_wide GROUP BY 1
      UNION ALL SELECT NULL, bt_sketch(x) FROM bt_wide WHERE g BETWEEN 0 AND 1000) p;

-- Text round trip is lossless.
SELECT dist, bt_sketch(x)::text::bt_sketch::text = bt_sketch(x)::text AS text_round_trip
FROM bt_acc GROUP BY dist ORDER BY dist;
SELECT 'alpha=0.01 level=0 count=7 zero=1 min=0 max=140 pos=1:2,0,3;250:1 neg=' ::bt_sketch;
SELECT bt_sketch_quantiles('alpha=0.01 level=0 count=7 zero=1 min=0 max=140 pos=1:2,0,3;250:1 neg=', ARRAY[0, 0.5, 1]);

-- Error bounds: the order-statistic ranks for n = 10,000, p = 0.99 at 95 %
-- are 9,880 .. 9,920, and the interval contains the sample quantile.
SELECT lower_rank, upper_rank, lower <= estimate AND estimate <= upper AS ordered,
       lower <= 9900 AND 9900 <= upper AS covers_sample_p99
FROM bt_sketch_quantile_bounds((SELECT bt_sketch(x) FROM generate_series(1, 10000) x), 0.99);
SELECT q, conf, lower_rank, upper_rank
FROM (SELECT bt_sketch(x) AS s FROM generate_series(1, 10000) x) t,
     (VALUES (0.5, 0.95), (0.5, 0.99), (0.95, 0.95), (0.999, 0.9), (0.0, 0.95), (1.0, 0.95)) v(q, conf),
     LATERAL bt_sketch_quantile_bounds(s, q, conf)
ORDER BY q, conf;
-- Small samples: ranks are exact binomial; a side no rank can reach is NULL.
SELECT n, q, lower_rank, upper_rank, lower, upper
FROM (VALUES (10, 0.5), (20, 0.9), (100, 0.99), (5, 0.5)) v(n, q),
     LATERAL bt_sketch_quantile_bounds((SELECT bt_sketch(x) FROM generate_series(1, n) x), q)
ORDER BY n, q;
-- Coverage: over 200 samples of 200 uniform values, the 95 % interval for the
-- median (true value 500) covers it at least 90 % of the time.
SELECT count(*) FILTER (WHERE b.lower <= 500 AND 500 <= b.upper) >= 180 AS coverage_ok
FROM (SELECT k, bt_sketch((hashint4(k * 1000 + g)::float8 + 2147483649) / 4294967298 * 1000) AS s
      FROM generate_series(1, 200) k, generate_series(1, 200) g GROUP BY k) t,
     LATERAL bt_sketch_quantile_bounds(s, 0.5) b;

-- Ranks for a count of 2^53 stay about the mean (900.7) +- 1.96 sd (30).
SELECT lower_rank, upper_rank
FROM bt_sketch_quantile_bounds('alpha=0.01 level=0 count=9007199254740992 zero=9007199254740992 min=0 max=0 pos= neg=', 1e-13);
-- -0 is kept as 0, so the sketch does not depend on the order of 0 and -0.
SELECT bt_sketch(y ORDER BY y::text)::text AS zero_first, bt_sketch(y ORDER BY y::text DESC)::text AS minus_zero_first
FROM (VALUES ('0'::float8), ('-0')) w(y);
-- A collapsed sketch reads back as it was written.
SELECT (s::text)::bt_sketch::text = s::text AS read_back, bt_sketch_relative_accuracy(s) > 0.0001 AS collapsed
FROM (SELECT bt_sketch(exp(x / 100.0), 0.0001) AS s FROM generate_series(-60000, 60000, 7) x) t;

DROP FUNCTION bt_true_quantile(text, float8);
DROP TABLE bt_acc, bt_wide;

-- A bucket at the bottom of the normal range: its representative is within
-- the accuracy of the value (the reciprocals of its bounds overflowed, and
-- the estimate was 0), with zeros, negatives and a collapsed sketch.
SELECT v AS value, abs(est - v) / abs(v) <= acc AS within_accuracy, acc > 0.29 AS collapsed
FROM (SELECT v, bt_percentile(x, 0.5, 0.29) AS est,
             bt_sketch_relative_accuracy(bt_sketch(x, 0.29)) AS acc
      FROM (VALUES (2.2250738585072014e-308::float8), (-2.2250738585072014e-308)) m(v),
           LATERAL (VALUES (0::float8), (v), (sign(v) * 1e308)) z(x)
      GROUP BY v) s
ORDER BY v;
-- A quantile given as a decimal takes the rank the decimal reaches: 0.29 of
-- 1..101 is rank 1 + 0.29 * 100 = 30, though the double 0.29 times 100 is
-- 28.999999999999996; and 0.57, 0.58 likewise.
SELECT q, round(buildtrace.bt_percentile(x, q, 0.0001)::numeric, 2) AS estimate,
       percentile_disc(q) WITHIN GROUP (ORDER BY x) AS exact
FROM generate_series(1, 101) x, unnest(ARRAY[0.29, 0.57, 0.58, 0.5]::float8[]) q
GROUP BY q ORDER BY q;
-- The bounds of a bucket hold every value in it, also one an ulp from its
-- end: the median of 200 copies of 1.674119545522757 lies in its interval.
SELECT b.lower <= 1.674119545522757 AS lower_holds, b.upper >= 1.674119545522757 AS upper_holds
FROM (SELECT buildtrace.bt_sketch(x) s
      FROM (SELECT 1.0::float8 x UNION ALL SELECT 10.0
            UNION ALL SELECT 1.674119545522757 FROM generate_series(1, 200)) t) sk,
     LATERAL buildtrace.bt_sketch_quantile_bounds(sk.s, 0.5) b;
