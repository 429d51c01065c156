-- Benchmark: what matching costs bt_diff on real revisions.
--
--   (i)   stable ids, 2 % of the objects moved: match_geometry on vs off
--         (target: on / off <= 1.1).  With nothing added or removed the
--         matcher has no leftovers to look at, so also (i'): the same with
--         1 % removed and 1 % added besides, which it has to rule out;
--   (ii)  a full re-export (every id regenerated, order shuffled) vs the
--         same pair with stable ids in the same shuffled order, so that
--         only the ids differ (target: <= 3x; the stable pair with b in
--         generation order, like a, is (i)'s "off" time).  For reference,
--         ('[]', b_full) against the same baseline: a diff that does no
--         matching but writes out as many objects (all added) as the
--         re-export re-identifies;
--   (iii) a half re-export (every other id regenerated, order shuffled) vs
--         the same baseline (no target; reported).
--
-- Before timing, the diffs are checked (pg_temp.check_revisions raises on
-- a wrong result), so the benchmark times correct work.  Prints the median
-- of several runs per query; the two queries of a ratio run interleaved, so
-- load from other work on the machine hits both alike.  Run by
-- test/bench/revisions_bench.sh; test/bench/revisions_smoke.sql runs only
-- the checks, at 1,000 objects.
--
-- psql variables: sizes (comma-separated object counts), reps (runs per
-- query), check_only (set: build and check, no timings).
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
DROP TABLE IF EXISTS pg_temp.rev_pairs, pg_temp.rev_results;
RESET client_min_messages;

-- Drawings: object i of type i % 10 (ten types) at (3 * (i % 316),
-- 3 * (i / 316)): a grid 3 units apart, so every object's nearest
-- neighbour of its type is unambiguous and more than match_distance (1)
-- away.  The revision b moves every 50th object by 0.5 (one of four
-- directions: more than the move tolerance 0.1, within match_distance) and
-- changes nothing else.  b_churn is b without every 100th object and with
-- as many new objects (new ids) of the same types at the centres of grid
-- squares, 2.1 units from the nearest object: none of them is paired.
-- Variants of b, all in the same shuffled order:
--   b_shuf  stable ids;
--   b_full  every id regenerated (md5 of the old one);
--   b_half  the ids of even i regenerated.
CREATE TEMP TABLE rev_pairs AS
WITH o AS (
  SELECT s AS n, i, 'E' || i AS id, md5('E' || i) AS new_id,
         jsonb_build_object(
           'type', (ARRAY['wall','door','window','column','beam','slab','stair','space','railing','member'])[1 + i % 10],
           'x', 3 * (i % 316), 'y', 3 * (i / 316), 'width', 1 + i % 7, 'height', 0.25,
           'layer', 'L' || i % 12, 'rotation', (i % 4) * 90) AS body,
         CASE WHEN i % 50 = 7 THEN (ARRAY[0.4, -0.3, -0.4, 0.3])[1 + i / 50 % 4] ELSE 0 END AS dx,
         CASE WHEN i % 50 = 7 THEN (ARRAY[0.3, 0.4, -0.3, -0.4])[1 + i / 50 % 4] ELSE 0 END AS dy
  FROM unnest(string_to_array(:'sizes', ',')::int[]) s, generate_series(1, s) i),
     m AS (
  SELECT *, jsonb_build_object('id', id) || body AS ea,
         body || jsonb_build_object('x', (body ->> 'x')::numeric + dx, 'y', (body ->> 'y')::numeric + dy) AS mb
  FROM o)
SELECT n,
       jsonb_agg(ea ORDER BY i) AS a,
       jsonb_agg(mb || jsonb_build_object('id', id) ORDER BY i) AS b,
       jsonb_agg(mb || jsonb_build_object('id', id) ORDER BY i) FILTER (WHERE i % 100 <> 3)
         || jsonb_agg(body || jsonb_build_object('id', 'A' || i, 'x', 3 * (i % 316) + 1.5, 'y', 3 * (i / 316) + 1.5) ORDER BY i)
              FILTER (WHERE i % 100 = 3) AS b_churn,
       jsonb_agg(mb || jsonb_build_object('id', id) ORDER BY new_id) AS b_shuf,
       jsonb_agg(mb || jsonb_build_object('id', new_id) ORDER BY new_id) AS b_full,
       jsonb_agg(mb || jsonb_build_object('id', CASE WHEN i % 2 = 0 THEN new_id ELSE id END) ORDER BY new_id) AS b_half,
       count(*) FILTER (WHERE dx <> 0 OR dy <> 0) AS moved,
       count(*) FILTER (WHERE i % 2 = 0) AS half,
       count(*) FILTER (WHERE i % 100 = 3) AS churn
FROM m GROUP BY n;
ANALYZE rev_pairs;

-- The diffs are right: raises an error naming the first wrong one.
CREATE FUNCTION pg_temp.check_revisions(size int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  r record;
  s jsonb; off jsonb; shuf jsonb; f jsonb; h jsonb; c jsonb;
  bad bigint;
BEGIN
  SELECT * INTO r FROM pg_temp.rev_pairs WHERE n = size;
  s := buildtrace.bt_diff(r.a, r.b, match_geometry => true);
  off := buildtrace.bt_diff(r.a, r.b, match_geometry => false);
  shuf := buildtrace.bt_diff(r.a, r.b_shuf);
  f := buildtrace.bt_diff(r.a, r.b_full);
  h := buildtrace.bt_diff(r.a, r.b_half);
  IF (s -> 'counts' ->> 'moved')::int <> r.moved OR (s -> 'counts' ->> 'unchanged')::int <> size - r.moved
     OR (s -> 'counts' ->> 'added')::int <> 0 OR (s -> 'counts' ->> 'removed')::int <> 0
     OR (s -> 'counts' ->> 'reidentified')::int <> 0 OR s -> 'shift' <> 'null' THEN
    RAISE EXCEPTION 'revisions bench, % objects: stable ids: counts % (expected % moved, nothing else)',
      size, s -> 'counts', r.moved;
  END IF;
  IF s <> off THEN
    RAISE EXCEPTION 'revisions bench, % objects: stable ids: match_geometry on and off disagree', size;
  END IF;
  c := buildtrace.bt_diff(r.a, r.b_churn, match_geometry => true);
  IF (c -> 'counts' ->> 'added')::int <> r.churn OR (c -> 'counts' ->> 'removed')::int <> r.churn
     OR (c -> 'counts' ->> 'moved')::int <> r.moved OR (c -> 'counts' ->> 'reidentified')::int <> 0
     OR (c -> 'counts' ->> 'ambiguous')::int <> 0 THEN
    RAISE EXCEPTION 'revisions bench, % objects: stable ids with additions and removals: counts % (expected % added and removed, % moved)',
      size, c -> 'counts', r.churn, r.moved;
  END IF;
  IF c <> buildtrace.bt_diff(r.a, r.b_churn, match_geometry => false) THEN
    RAISE EXCEPTION 'revisions bench, % objects: stable ids with additions and removals: match_geometry on and off disagree', size;
  END IF;
  IF shuf <> s THEN
    RAISE EXCEPTION 'revisions bench, % objects: stable ids: the shuffled b gives another diff', size;
  END IF;
  IF (f -> 'counts' ->> 'reidentified')::int <> size OR (f -> 'counts') - 'reidentified' <> (s -> 'counts') - 'reidentified' THEN
    RAISE EXCEPTION 'revisions bench, % objects: full re-export: counts % (expected % re-identified, otherwise %)',
      size, f -> 'counts', size, s -> 'counts';
  END IF;
  IF (h -> 'counts' ->> 'reidentified')::int <> r.half OR (h -> 'counts') - 'reidentified' <> (s -> 'counts') - 'reidentified' THEN
    RAISE EXCEPTION 'revisions bench, % objects: half re-export: counts % (expected % re-identified, otherwise %)',
      size, h -> 'counts', r.half, s -> 'counts';
  END IF;
  SELECT count(*) INTO bad
  FROM (SELECT e FROM jsonb_array_elements(f -> 'reidentified') e UNION ALL
        SELECT e FROM jsonb_array_elements(h -> 'reidentified') e) x
  WHERE md5(e ->> 'previous_id') <> e ->> 'id';
  IF bad > 0 THEN
    RAISE EXCEPTION 'revisions bench, % objects: % objects re-identified with the wrong previous id', size, bad;
  END IF;
  SELECT count(*) INTO bad
  FROM jsonb_array_elements(f -> 'moved') m
  WHERE md5(m ->> 'previous_id') <> m ->> 'id'
     OR NOT EXISTS (SELECT FROM jsonb_array_elements(s -> 'moved') sm
                    WHERE sm ->> 'id' = m ->> 'previous_id' AND sm -> 'dx' = m -> 'dx' AND sm -> 'dy' = m -> 'dy');
  IF bad > 0 THEN
    RAISE EXCEPTION 'revisions bench, % objects: full re-export: % moves differ from the stable-id diff', size, bad;
  END IF;
  RETURN format('%s objects: ok (%s moved; with churn %s added, %s removed; full re-export %s re-identified, half %s)',
                size, r.moved, c -> 'counts' ->> 'added', c -> 'counts' ->> 'removed',
                f -> 'counts' ->> 'reidentified', h -> 'counts' ->> 'reidentified');
END $$;
SELECT pg_temp.check_revisions(n) AS checks FROM rev_pairs ORDER BY n;

\if :{?check_only}
\else
\ir median_pair.sql

-- Every query detoasts its pair from the table, as the pipeline does.
\set q_on 'SELECT buildtrace.bt_diff(a, b, match_geometry => true) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_off 'SELECT buildtrace.bt_diff(a, b, match_geometry => false) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_churn_on 'SELECT buildtrace.bt_diff(a, b_churn, match_geometry => true) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_churn_off 'SELECT buildtrace.bt_diff(a, b_churn, match_geometry => false) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_shuf 'SELECT buildtrace.bt_diff(a, b_shuf) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_full 'SELECT buildtrace.bt_diff(a, b_full) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_out 'SELECT buildtrace.bt_diff(''[]'', b_full) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'
\set q_half 'SELECT buildtrace.bt_diff(a, b_half) IS NOT NULL FROM pg_temp.rev_pairs WHERE n = $1'

CREATE TEMP TABLE rev_results AS
SELECT 0 AS k, '(i) stable ids, 2 % moved: match on / off' AS "case", n, t.ms1, t.ms2, 1.1 AS target
FROM rev_pairs, pg_temp.median_pair_ms(:'q_on', :'q_off', n, :reps) t
UNION ALL
SELECT 1, '(i'') same, 1 % removed, 1 % added: on / off', n, t.ms1, t.ms2, 1.1
FROM rev_pairs, pg_temp.median_pair_ms(:'q_churn_on', :'q_churn_off', n, :reps) t
UNION ALL
SELECT 2, '(ii) full re-export / stable ids', n, t.ms1, t.ms2, 3
FROM rev_pairs, pg_temp.median_pair_ms(:'q_full', :'q_shuf', n, :reps) t
UNION ALL
SELECT 2, '(ii) ref: [] -> b_full (all added) / stable', n, t.ms1, t.ms2, NULL
FROM rev_pairs, pg_temp.median_pair_ms(:'q_out', :'q_shuf', n, :reps) t
UNION ALL
SELECT 3, '(iii) 50 % re-export / stable ids', n, t.ms1, t.ms2, NULL
FROM rev_pairs, pg_temp.median_pair_ms(:'q_half', :'q_shuf', n, :reps) t;

SELECT "case", n AS objects, round(ms1::numeric, 1) AS ms, round(ms2::numeric, 1) AS baseline_ms,
       round((ms1 / ms2)::numeric, 2) AS ratio,
       CASE WHEN target IS NULL THEN '-' ELSE '<= ' || target END AS target,
       CASE WHEN target IS NULL THEN '-' WHEN ms1 / ms2 <= target THEN 'met' ELSE 'NOT met' END AS verdict
FROM rev_results ORDER BY k, rev_results.target NULLS LAST, n;
\endif
