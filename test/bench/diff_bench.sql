-- Benchmark: bt_diff against a plain-SQL diff with the same added / removed
-- / moved rules, against the same pair diffed with itself (bt_diff(a, a):
-- what reading and matching cost when nothing changed), and against the
-- floor of detoasting both versions (jsonb_array_length(a) +
-- jsonb_array_length(b)).  Three mixes of changes: light (~11 % of objects
-- changed in every way), heavy (30 % moved, 2 % added, 2 % removed) and the
-- heavy mix with objects of twelve types instead of five, interleaved in id
-- order as in a real drawing ('heavy, 12 types').
-- Each pair is stored twice: compressed with pglz (the server's default) and,
-- where the server has lz4, with lz4, as buildtrace's own tables store
-- versions and pairs; every diff reads the same stored values.
-- Prints the median of several runs per mix, size and compression, each
-- query's runs back to back; and the two ratios the targets name timed again
-- with their two queries interleaved (see below).  Run by
-- test/bench/diff_bench.sh; test/bench/diff_smoke.sql runs it at a tiny size.
--
-- psql variables: sizes (comma-separated object counts), reps (runs per
-- query; the largest sizes use fewer, see below).
\if :{?sizes}
\else
\set sizes '100,1000,10000,100000'
\endif
\if :{?reps}
\else
\set reps 15
\endif
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
DROP TABLE IF EXISTS pg_temp.bench_pairs, pg_temp.bench_results;
RESET client_min_messages;

-- Pairs stored in a table, so every query pays the same detoasting
-- (decompression) the floor measures.  Light: 2 % added, 2 % removed, 3 %
-- moved, 2 % resized, 1 % retyped, 1 % with a changed attribute.  Heavy:
-- 30 % moved by (2.5, -1.25), 2 % added, 2 % removed; of five or twelve types.
\ir versions.sql
CREATE TEMP TABLE bench_pairs (pair int GENERATED ALWAYS AS IDENTITY, mix text, n int, stored text,
                               a jsonb COMPRESSION pglz, b jsonb COMPRESSION pglz);
INSERT INTO bench_pairs (mix, n, stored, a, b)
SELECT m AS mix, s AS n, 'pglz', pg_temp.bench_version(s, CASE m WHEN 'heavy, 12 types' THEN 12 ELSE 5 END) AS a,
       CASE m WHEN 'light' THEN
       (SELECT jsonb_agg(jsonb_build_object(
                 'id', 'E' || i,
                 'type', CASE WHEN i % 100 = 16 THEN 'opening' ELSE (ARRAY['wall','door','window','column','beam'])[1 + i % 5] END,
                 'x', (i % 317) * 0.5 + CASE WHEN i % 100 BETWEEN 10 AND 12 THEN 1.5 ELSE 0 END,
                 'y', (i / 317) * 0.5 + CASE WHEN i % 100 BETWEEN 10 AND 12 THEN -0.5 ELSE 0 END,
                 'width', 1 + i % 7 + CASE WHEN i % 100 BETWEEN 13 AND 14 THEN 0.5 ELSE 0 END, 'height', 0.25,
                 'layer', CASE WHEN i % 100 = 15 THEN 'X' ELSE 'L' || i % 12 END, 'rotation', (i % 4) * 90))
        FROM generate_series(1, s) i WHERE i % 50 <> 2)
       WHEN 'heavy' THEN pg_temp.bench_heavy_revision(s)
       ELSE pg_temp.bench_heavy_revision(s, 12)
       END AS b
FROM unnest(string_to_array(:'sizes', ',')::int[]) s, unnest(ARRAY['light', 'heavy', 'heavy, 12 types']) m;
-- The same values again, compressed with lz4: new values (parsed from their
-- text) are compressed by the column's method; stored ones would be copied
-- as they are.
SELECT EXISTS (SELECT FROM pg_settings WHERE name = 'default_toast_compression'
               AND 'lz4' = ANY (enumvals)) AS has_lz4 \gset
\if :has_lz4
ALTER TABLE bench_pairs ALTER COLUMN a SET COMPRESSION lz4, ALTER COLUMN b SET COMPRESSION lz4;
INSERT INTO bench_pairs (mix, n, stored, a, b)
SELECT mix, n, 'lz4', a::text::jsonb, b::text::jsonb FROM bench_pairs;
\endif
-- Every stored value is compressed as its row says (small ones are not
-- compressed at all).
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_temp.bench_pairs
             WHERE pg_column_compression(a) <> stored OR pg_column_compression(b) <> stored) THEN
    RAISE EXCEPTION 'diff_bench: a pair is not stored with the compression of its row';
  END IF;
END $$;
ANALYZE bench_pairs;

\ir median_pair.sql

\set q_bt 'SELECT buildtrace.bt_diff(a, b) IS NOT NULL FROM pg_temp.bench_pairs WHERE pair = $1'
\set q_same 'SELECT buildtrace.bt_diff(a, a) IS NOT NULL FROM pg_temp.bench_pairs WHERE pair = $1'
\set q_floor 'SELECT (jsonb_array_length(a) + jsonb_array_length(b)) IS NOT NULL FROM pg_temp.bench_pairs WHERE pair = $1'
-- The plain-SQL diff: same rules for added, removed and moved (distance >
-- 0.1), results ordered by id like bt_diff's.  Both diffs build their jsonb
-- result; neither is converted to text ("IS NOT NULL" keeps it evaluated).
\set q_sql 'SELECT jsonb_build_object(''added'', coalesce(jsonb_agg(eb ORDER BY eb->>''id'' COLLATE "C") FILTER (WHERE ea IS NULL), ''[]''), ''removed'', coalesce(jsonb_agg(ea ORDER BY ea->>''id'' COLLATE "C") FILTER (WHERE eb IS NULL), ''[]''), ''moved'', coalesce(jsonb_agg(jsonb_build_object(''id'', eb->''id'', ''from'', jsonb_build_object(''x'', ea->''x'', ''y'', ea->''y''), ''to'', jsonb_build_object(''x'', eb->''x'', ''y'', eb->''y''), ''dx'', (eb->>''x'')::numeric - (ea->>''x'')::numeric, ''dy'', (eb->>''y'')::numeric - (ea->>''y'')::numeric)) FILTER (WHERE sqrt(((eb->>''x'')::numeric - (ea->>''x'')::numeric) ^ 2 + ((eb->>''y'')::numeric - (ea->>''y'')::numeric) ^ 2) > 0.1), ''[]'')) IS NOT NULL FROM pg_temp.bench_pairs, LATERAL (SELECT ea, eb FROM jsonb_array_elements(a) ea FULL JOIN jsonb_array_elements(b) eb ON ea->>''id'' = eb->>''id'') j WHERE pair = $1'

-- The two diffs agree on what both report (the plain-SQL moved list is
-- unordered, so compare its ids as a sorted array).
CREATE FUNCTION pg_temp.agree(q text, bench_pair int) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE s jsonb; d jsonb;
BEGIN
  EXECUTE replace(q, ' IS NOT NULL FROM', ' FROM') INTO s USING bench_pair;
  SELECT buildtrace.bt_diff(a, b) INTO d FROM pg_temp.bench_pairs WHERE pair = bench_pair;
  RETURN s->'added' = d->'added' AND s->'removed' = d->'removed'
     AND ARRAY(SELECT e->>'id' FROM jsonb_array_elements(s->'moved') e ORDER BY e->>'id' COLLATE "C")
       = ARRAY(SELECT e->>'id' FROM jsonb_array_elements(d->'moved') e);
END $$;
CREATE TEMP TABLE bench_checks AS
SELECT mix, n, stored, pg_temp.agree(:'q_sql', pair) AS diffs_agree, (d->'counts'->>'added')::int AS added, (d->'counts'->>'removed')::int AS removed,
       (d->'counts'->>'moved')::int AS moved, (d->'counts'->>'resized')::int AS resized,
       (d->'counts'->>'retyped')::int AS retyped, (d->'counts'->>'modified')::int AS modified, (d->'counts'->>'unchanged')::int AS unchanged
FROM (SELECT pair, mix, n, stored, buildtrace.bt_diff(a, b) AS d FROM bench_pairs) s;
SELECT * FROM bench_checks ORDER BY mix DESC, n, stored DESC;
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_temp.bench_checks WHERE NOT diffs_agree) THEN
    RAISE EXCEPTION 'diff_bench: bt_diff and the plain-SQL diff disagree';
  END IF;
END $$;

-- The two compressions of a pair are timed one after the other.
CREATE TEMP TABLE bench_results AS
SELECT mix, n, stored,
       pg_temp.median_ms(:'q_bt', pair, r) AS bt_diff_ms,
       pg_temp.median_ms(:'q_same', pair, r) AS same_pair_ms,
       pg_temp.median_ms(:'q_sql', pair, r) AS plain_sql_ms,
       pg_temp.median_ms(:'q_floor', pair, r) AS floor_ms,
       i.ms1 / i.ms2 AS over_same_interleaved
FROM (SELECT * FROM bench_pairs ORDER BY mix DESC, n, stored DESC OFFSET 0) p,
     LATERAL (SELECT CASE WHEN n >= 100000 THEN least(:reps, 5)
                          WHEN n >= 10000 THEN least(:reps, 9) ELSE :reps END AS r) r,
     LATERAL pg_temp.median_pair_ms(:'q_bt', :'q_same', pair, r) i;

-- Timed interleaved, a round of each query at a time, a slow spell of the
-- machine slows both sides of a ratio alike; but each query then runs just
-- after the other, not after itself, which changes what it finds in the
-- caches: a small pair run after a large one finds its memory evicted (as
-- when a server diffs different pairs in turn).  The interleaved figures
-- have come out lower than those of runs back to back, so the targets are
-- judged by the latter.  The growth from one size to the next, interleaved:
-- bt_diff of the smaller pair alternating with the larger.
CREATE TEMP TABLE bench_steps AS
SELECT row_number() OVER ()::int AS step, mix, stored, n, smaller, pair AS larger, n_smaller
FROM (SELECT mix, stored, n, pair, lag(pair) OVER w AS smaller, lag(n) OVER w AS n_smaller
      FROM bench_pairs WINDOW w AS (PARTITION BY mix, stored ORDER BY n)) s
WHERE smaller IS NOT NULL;
\set q_smaller 'SELECT buildtrace.bt_diff(a, b) IS NOT NULL FROM pg_temp.bench_pairs WHERE pair = (SELECT smaller FROM pg_temp.bench_steps WHERE step = $1)'
\set q_larger 'SELECT buildtrace.bt_diff(a, b) IS NOT NULL FROM pg_temp.bench_pairs WHERE pair = (SELECT larger FROM pg_temp.bench_steps WHERE step = $1)'
CREATE TEMP TABLE bench_growth AS
SELECT mix, stored, n, g.ms2 / g.ms1 AS growth
FROM (SELECT * FROM bench_steps ORDER BY mix DESC, n, stored DESC OFFSET 0) st,
     LATERAL (SELECT CASE WHEN n_smaller >= 100000 THEN least(:reps, 5)
                          WHEN n_smaller >= 10000 THEN least(:reps, 9) ELSE :reps END AS r) r,
     LATERAL pg_temp.median_pair_ms(:'q_smaller', :'q_larger', step, r.r) g;

SELECT mix, n AS objects, stored,
       round(bt_diff_ms::numeric, 2) AS bt_diff_ms,
       round(same_pair_ms::numeric, 2) AS same_pair_ms,
       round(plain_sql_ms::numeric, 2) AS plain_sql_ms,
       round(floor_ms::numeric, 2) AS floor_ms,
       round((bt_diff_ms / same_pair_ms)::numeric, 2) AS bt_diff_over_same,
       round(over_same_interleaved::numeric, 2) AS over_same_interleaved,
       round((plain_sql_ms / bt_diff_ms)::numeric, 1) AS sql_over_bt_diff,
       round((bt_diff_ms / floor_ms)::numeric, 2) AS bt_diff_over_floor,
       round((bt_diff_ms / lag(bt_diff_ms) OVER (PARTITION BY mix, stored ORDER BY n))::numeric, 1) AS growth_vs_previous,
       round(growth::numeric, 1) AS growth_interleaved
FROM bench_results LEFT JOIN bench_growth USING (mix, stored, n)
ORDER BY mix DESC, stored DESC, n;
