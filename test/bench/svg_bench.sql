-- Benchmark: bt_svg(a, b) against bt_diff(a, b) on the same stored pair, on
-- two mixes: the bt_diff benchmark's (~11 % of objects changed) and a heavy
-- revision (30 % moved by (2.5, -1.25), 2 % removed, 2 % added).  Both
-- detoast the pair and diff it; bt_svg then draws every object.  Checks
-- first that each picture holds one element per object.  Run by
-- test/bench/svg_bench.sh; test/bench/svg_smoke.sql runs it at a tiny size.
--
-- psql variables: sizes (comma-separated object counts), reps, check_only.
\if :{?sizes}
\else
\set sizes '10000,100000'
\endif
\if :{?reps}
\else
\set reps 5
\endif
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
DROP TABLE IF EXISTS pg_temp.svg_pairs;
RESET client_min_messages;

CREATE TEMP TABLE svg_pairs AS
SELECT s AS n, mix,
       (SELECT jsonb_agg(jsonb_build_object(
                 'id', 'E' || i, 'type', (ARRAY['wall','door','window','column','beam'])[1 + i % 5],
                 'x', (i % 317) * 0.5, 'y', (i / 317) * 0.5, 'width', 1 + i % 7, 'height', 0.25,
                 'layer', 'L' || i % 12, 'rotation', (i % 4) * 90))
        FROM generate_series(1, s) i WHERE i % 50 <> 1) AS a,
       CASE mix
       WHEN 'bench' THEN
       (SELECT jsonb_agg(jsonb_build_object(
                 'id', 'E' || i,
                 'type', CASE WHEN i % 100 = 16 THEN 'opening' ELSE (ARRAY['wall','door','window','column','beam'])[1 + i % 5] END,
                 'x', (i % 317) * 0.5 + CASE WHEN i % 100 BETWEEN 10 AND 12 THEN 1.5 ELSE 0 END,
                 'y', (i / 317) * 0.5 + CASE WHEN i % 100 BETWEEN 10 AND 12 THEN -0.5 ELSE 0 END,
                 'width', 1 + i % 7 + CASE WHEN i % 100 BETWEEN 13 AND 14 THEN 0.5 ELSE 0 END, 'height', 0.25,
                 'layer', CASE WHEN i % 100 = 15 THEN 'X' ELSE 'L' || i % 12 END, 'rotation', (i % 4) * 90))
        FROM generate_series(1, s) i WHERE i % 50 <> 2)
       ELSE
       (SELECT jsonb_agg(jsonb_build_object(
                 'id', 'E' || i, 'type', (ARRAY['wall','door','window','column','beam'])[1 + i % 5],
                 'x', (i % 317) * 0.5 + CASE WHEN i % 10 < 3 THEN 2.5 ELSE 0 END,
                 'y', (i / 317) * 0.5 + CASE WHEN i % 10 < 3 THEN -1.25 ELSE 0 END,
                 'width', 1 + i % 7, 'height', 0.25,
                 'layer', 'L' || i % 12, 'rotation', (i % 4) * 90))
        FROM generate_series(1, s) i WHERE i % 50 <> 2)
       END AS b
FROM unnest(string_to_array(:'sizes', ',')::int[]) s, (VALUES ('bench'), ('heavy')) m(mix);

-- One object element per object of b and per removed object of a.
SELECT n, mix, d -> 'counts' ->> 'moved' AS moved,
       (SELECT count(*) FROM regexp_matches(svg, '<rect class="obj ', 'g'))
         = jsonb_array_length(b) + (d -> 'counts' ->> 'removed')::int AS one_element_per_object
FROM (SELECT n, mix, b, buildtrace.bt_diff(a, b) AS d, buildtrace.bt_svg(a, b) AS svg FROM svg_pairs) s
ORDER BY n, mix;

\if :{?check_only}
\else
\ir median_pair.sql
\set q_svg 'SELECT octet_length(buildtrace.bt_svg(a, b)) > 0 FROM pg_temp.svg_pairs WHERE n = $1 AND mix = '
\set q_diff 'SELECT buildtrace.bt_diff(a, b) IS NOT NULL FROM pg_temp.svg_pairs WHERE n = $1 AND mix = '
SELECT n AS objects, mix,
       round(t.ms1::numeric, 1) AS bt_svg_ms, round(t.ms2::numeric, 1) AS bt_diff_ms,
       round((t.ms1 / t.ms2)::numeric, 2) AS svg_over_diff, 3 AS target
FROM svg_pairs,
     pg_temp.median_pair_ms(:'q_svg' || quote_literal(mix), :'q_diff' || quote_literal(mix), n, :reps) t
ORDER BY n, mix;
\endif
