-- The drawing simulator: a small exact example, shapes, determinism, the
-- link between pairs and version chains, spikes, argument errors.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;

-- A small exact example: one pair of an 8-object drawing, with a high change rate.
SELECT pair_no, drawing_id, jsonb_array_length(version_a) AS n_a,
       jsonb_array_length(version_b) AS n_b, jsonb_pretty(truth) AS truth
FROM buildtrace.generate_pairs(1, objects => 8, change_rate => 0.3, seed => 5);
SELECT v, o ->> 'id' AS id, o ->> 'type' AS type, o -> 'x' AS x, o -> 'y' AS y,
       o -> 'width' AS width, o -> 'height' AS height, o -> 'rotation' AS rot,
       o ->> 'material' AS material, o ->> 'fire_rating' AS fire_rating, o ->> 'finish' AS finish
FROM buildtrace.generate_pairs(1, objects => 8, change_rate => 0.3, seed => 5),
     LATERAL (VALUES ('a', version_a), ('b', version_b)) p(v, ver),
     jsonb_array_elements(ver) o
ORDER BY o ->> 'id', v;

-- Shapes: 200 pairs of 100 objects; every object well formed, ids unique.
CREATE TEMP TABLE gp AS SELECT * FROM buildtrace.generate_pairs(200);
SELECT count(*) AS pairs, count(DISTINCT drawing_id) AS drawings,
       min(jsonb_array_length(version_a)) AS min_a, max(jsonb_array_length(version_a)) AS max_a,
       bool_and(jsonb_typeof(version_b) = 'array') AS b_arrays,
       bool_and(NOT (truth ->> 'malformed')::bool) AS none_malformed
FROM gp;
SELECT o ->> 'type' AS type, count(*) > 0 AS present,
       bool_and(jsonb_typeof(o -> 'id') = 'string' AND jsonb_typeof(o -> 'x') = 'number'
                AND jsonb_typeof(o -> 'y') = 'number' AND (o ->> 'width')::numeric > 0
                AND (o ->> 'height')::numeric > 0 AND o ? 'layer' AND (o ? 'material' OR o ? 'use'))
           AS well_formed
FROM gp, jsonb_array_elements(version_a) o
GROUP BY 1 ORDER BY 1;
SELECT count(*) AS duplicate_ids
FROM (SELECT pair_no, o ->> 'id' FROM gp, jsonb_array_elements(version_b) o
      GROUP BY 1, 2 HAVING count(*) > 1) d;
-- each kind is about a tenth of the objects (change_rate 0.1)
SELECT k, round(avg(jsonb_array_length(truth -> k)), 0) AS per_pair
FROM gp, unnest(ARRAY['added', 'removed', 'moved', 'resized', 'retyped', 'modified']) k
GROUP BY k ORDER BY k;

-- Determinism: same arguments, same output; another seed, another output.
SELECT (SELECT md5(string_agg(version_a::text || version_b::text || truth::text, '|' ORDER BY pair_no))
        FROM buildtrace.generate_pairs(100, seed => 9, malformed_rate => 0.1))
     = (SELECT md5(string_agg(version_a::text || version_b::text || truth::text, '|' ORDER BY pair_no))
        FROM buildtrace.generate_pairs(100, seed => 9, malformed_rate => 0.1)) AS same_seed_same_pairs,
       (SELECT md5(string_agg(version_a::text || version_b::text, '|' ORDER BY pair_no))
        FROM buildtrace.generate_pairs(100, seed => 9))
     = (SELECT md5(string_agg(version_a::text || version_b::text, '|' ORDER BY pair_no))
        FROM buildtrace.generate_pairs(100, seed => 10)) AS other_seed_same_pairs;

-- Pairs over a few drawings are the consecutive versions of those drawings.
SELECT count(*) AS pairs,
       bool_and(p.version_a = a.payload AND p.version_b = b.payload AND p.truth = b.truth) AS all_equal
FROM buildtrace.generate_pairs(12, objects => 30, drawings => 4, seed => 2) p
JOIN buildtrace.generate_versions(4, 4, objects => 30, seed => 2) a
  ON a.drawing_id = p.drawing_id AND a.version_no = (p.pair_no - 1) / 4 + 1
JOIN buildtrace.generate_versions(4, 4, objects => 30, seed => 2) b
  ON b.drawing_id = p.drawing_id AND b.version_no = (p.pair_no - 1) / 4 + 2;

-- Version chains: version 1 adds everything, later ones change a share.
SELECT drawing_id, version_no, jsonb_array_length(payload) AS objects,
       jsonb_array_length(truth -> 'added') AS added, jsonb_array_length(truth -> 'removed') AS removed,
       jsonb_array_length(truth -> 'moved') AS moved, truth ? 'spike' AS spike
FROM buildtrace.generate_versions(2, 4, objects => 40, change_rate => 0.05, seed => 11,
                                  spike_at => 3, spike_drawing => 2, drawing_prefix => 'PLAN-')
ORDER BY 1, 2;

-- Malformed versions say how they are broken.
SELECT pair_no, truth -> 'defect' AS defect
FROM buildtrace.generate_pairs(40, objects => 20, seed => 4, malformed_rate => 0.25)
WHERE (truth ->> 'malformed')::bool ORDER BY pair_no;

-- Declared deterministic, parallel safe, search_path pinned.
SELECT p.proname, p.provolatile, p.proparallel, p.proconfig
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'buildtrace' AND (p.proname LIKE 'generate_%' OR p.proname LIKE '\_sim%')
ORDER BY 1;

-- Bad arguments.
\set SHOW_CONTEXT never
SELECT * FROM buildtrace.generate_pairs(-1);
SELECT * FROM buildtrace.generate_pairs(10, objects => 0);
SELECT * FROM buildtrace.generate_pairs(10, change_rate => 0.6);
SELECT * FROM buildtrace.generate_pairs(10, malformed_rate => 2);
SELECT * FROM buildtrace.generate_pairs(10, spike_at => 11);
SELECT * FROM buildtrace.generate_pairs(10, spike_factor => 0.5);
SELECT * FROM buildtrace.generate_pairs(10, spike_factor => 'NaN');
-- a spike that would add more objects than a drawing may have (it once
-- overflowed an integer); without a spike the same factor is fine
SELECT count(*) FROM buildtrace.generate_pairs(2, spike_at => 2, spike_factor => 1e8);
SELECT count(*) FROM buildtrace.generate_versions(1, 2, spike_at => 2, spike_factor => 1e8);
SELECT count(*) FROM buildtrace.generate_pairs(2, spike_factor => 1e8);
SELECT count(*) FROM buildtrace.generate_pairs(2, spike_at => 2, spike_factor => 1e308);
-- just past the limit: the detail counts as the plan would
SELECT count(*) FROM buildtrace.generate_pairs(2, spike_at => 2, spike_factor => 16667);
-- a spike of no changes adds nothing, however large its factor
SELECT count(*) FROM buildtrace.generate_pairs(2, spike_at => 2, spike_factor => 1e308, change_rate => 0);
SELECT * FROM buildtrace.generate_pairs(10, drawings => 0);
SELECT * FROM buildtrace.generate_versions(3, 5, spike_at => 1);
SELECT * FROM buildtrace.generate_versions(3, 5, spike_at => 2, spike_drawing => 4);
SELECT count(*) FROM buildtrace.generate_pairs(0);
SELECT count(*) FROM buildtrace.generate_versions(0, 5);
-- A NULL drawing_prefix is no prefix.
SELECT DISTINCT drawing_id FROM buildtrace.generate_pairs(1, drawing_prefix => NULL);
-- Drawings beyond those the pairs use are not built (2^31 - 1 of them took
-- as long as building them all).
SET statement_timeout = '20s';
SELECT count(*) FROM buildtrace.generate_pairs(0, drawings => 2147483647);
SELECT count(DISTINCT drawing_id) FROM buildtrace.generate_pairs(3, objects => 10, drawings => 2147483647);
RESET statement_timeout;
