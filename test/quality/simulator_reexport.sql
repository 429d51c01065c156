-- The simulator's re-export options against bt_diff: undo what the truth
-- says was done (map re-identified ids back, take the shift off) and compare
-- bt_diff's lists with the truth's.  Works with a bt_diff that knows
-- nothing of re-identification, rotation or shifts (rotations then show as
-- "modified") and with one that does.  Prints one row per case; every
-- mismatch column must be 0; the script ends in an error if one is not.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
-- With ids mapped back, nothing is left to re-identify: a bt_diff that pairs
-- left-over objects would only pair removed objects with added ones.
DO $$
BEGIN
    PERFORM set_config('buildtrace.match_geometry', 'off', false);
EXCEPTION WHEN undefined_object OR invalid_parameter_value THEN
    NULL;  -- a bt_diff without re-identification
END $$;

CREATE TEMP TABLE cases(name text, reid float8, jit float8, rot float8, dx float8, dy float8, rate float8);
INSERT INTO cases VALUES
    ('reidentify 30 %',                0.3, 0,    0,   0,    0,     0.1),
    ('reidentify 100 % + jitter',      1.0, 0.05, 0,   0,    0,     0.1),
    ('rotate 20 %',                    0,   0,    0.2, 0,    0,     0.1),
    ('shift (1.5, -0.25)',             0,   0,    0,   1.5,  -0.25, 0.1),
    ('shift 0.2, rate 0.45 (seldom seen)', 0, 0, 0,   0.2,  0,     0.45),
    ('everything',                     0.5, 0.07, 0.3, -2,   0.7,   0.1),
    ('everything, rate 0.3',           0.5, 0.07, 0.3, 0.15, 0.15,  0.3);

CREATE TEMP TABLE gp AS
SELECT c.name, p.*
FROM cases c,
     LATERAL buildtrace.generate_pairs(150, objects => 60, change_rate => c.rate, seed => 17,
                                       reidentify_rate => c.reid, reidentify_jitter => c.jit,
                                       rotate_rate => c.rot, shift_dx => c.dx, shift_dy => c.dy) p;

-- b with the re-identified ids put back and the shift taken off
CREATE TEMP TABLE undone AS
SELECT g.name, g.pair_no, g.version_a, g.truth,
       (SELECT coalesce(jsonb_agg(o || jsonb_build_object(
                    'id', coalesce(m.prev, o ->> 'id'),
                    'x', (o ->> 'x')::numeric - coalesce((g.truth #>> '{shift,dx}')::numeric, 0),
                    'y', (o ->> 'y')::numeric - coalesce((g.truth #>> '{shift,dy}')::numeric, 0))
                    ORDER BY n), '[]')
        FROM jsonb_array_elements(g.version_b) WITH ORDINALITY e(o, n)
        LEFT JOIN (SELECT r ->> 'id' AS id, r ->> 'previous_id' AS prev
                   FROM jsonb_array_elements(g.truth -> 'reidentified') r) m ON m.id = o ->> 'id') AS b_undone
FROM gp g;

CREATE TEMP TABLE cmp AS
WITH d AS (SELECT name, pair_no, truth, buildtrace.bt_diff(version_a, b_undone) AS diff FROM undone),
back AS (SELECT name, pair_no, r ->> 'id' AS id, r ->> 'previous_id' AS prev
         FROM d, jsonb_array_elements(truth -> 'reidentified') r),
kinds(kind, parts) AS (VALUES ('added', '{added}'::text[]), ('removed', '{removed}'), ('moved', '{moved}'),
                              ('resized', '{resized}'), ('retyped', '{retyped}'),
                              ('modified or rotated', '{modified,rotated}')),
found AS (SELECT DISTINCT name, pair_no, kind, e ->> 'id' AS id
          FROM d, kinds, unnest(parts) p, jsonb_array_elements(coalesce(diff -> p, '[]')) e),
truth AS (SELECT DISTINCT d.name, d.pair_no, kind, coalesce(back.prev, t) AS id
          FROM d CROSS JOIN kinds CROSS JOIN LATERAL unnest(parts) p
          CROSS JOIN LATERAL jsonb_array_elements_text(coalesce(truth -> p, '[]')) t
          LEFT JOIN back ON back.name = d.name AND back.pair_no = d.pair_no AND back.id = t
                            AND kind NOT IN ('added', 'removed'))
SELECT name, kind, count(t.id) AS true_n, count(f.id) AS found_n,
       count(*) FILTER (WHERE f.id IS NULL OR t.id IS NULL) AS mismatches
FROM found f FULL JOIN truth t USING (name, pair_no, kind, id)
GROUP BY name, kind;

CREATE TEMP TABLE problems(what text, n bigint);
INSERT INTO problems SELECT 'bt_diff against the truth, ' || name, sum(mismatches) FROM cmp GROUP BY name;

\pset footer off
\echo 'bt_diff(a, b with ids mapped back and the shift taken off) against the truth:'
SELECT c.name AS "case",
       sum(true_n) FILTER (WHERE kind = 'moved') AS moved,
       sum(true_n) FILTER (WHERE kind = 'modified or rotated') AS "modified+rotated",
       sum(true_n) AS changes, sum(mismatches) AS mismatches
FROM cases c JOIN cmp USING (name) GROUP BY c.name ORDER BY min(c.ctid);

-- What the truth says, checked against the versions themselves.
CREATE TEMP TABLE versions_check AS
SELECT c.name AS "case",
       sum(jsonb_array_length(truth -> 'reidentified')) AS reidentified,
       sum(jsonb_array_length(truth -> 'rotated')) AS rotated,
       count(*) FILTER (WHERE truth -> 'shift' <> 'null') AS shifted_pairs,
       -- ids unique in b; a re-identified object's new id is in b and not
       -- in a, its previous one in a; an added object's id is not in a
       count(*) FILTER (WHERE (SELECT count(DISTINCT o ->> 'id') <> count(*) FROM jsonb_array_elements(version_b) o)
                           OR EXISTS (SELECT FROM jsonb_array_elements(truth -> 'reidentified') r
                                      WHERE version_a @> jsonb_build_array(jsonb_build_object('id', r -> 'id'))
                                         OR NOT version_a @> jsonb_build_array(jsonb_build_object('id', r -> 'previous_id'))
                                         OR NOT version_b @> jsonb_build_array(jsonb_build_object('id', r -> 'id')))
                           OR EXISTS (SELECT FROM jsonb_array_elements(truth -> 'added') x
                                      WHERE version_a @> jsonb_build_array(jsonb_build_object('id', x))))
           AS bad_ids,
       -- every rotation change is 5 to 175 degrees modulo 360
       count(*) FILTER (WHERE EXISTS (
           SELECT FROM jsonb_array_elements_text(truth -> 'rotated') rid,
                  LATERAL (SELECT coalesce((SELECT x ->> 'previous_id' FROM jsonb_array_elements(truth -> 'reidentified') x
                                            WHERE x ->> 'id' = rid), rid) AS aid) m,
                  LATERAL (SELECT (SELECT coalesce((o ->> 'rotation')::numeric, 0) FROM jsonb_array_elements(version_a) o
                                   WHERE o ->> 'id' = m.aid) AS ra,
                                  (SELECT (o ->> 'rotation')::numeric FROM jsonb_array_elements(version_b) o
                                   WHERE o ->> 'id' = rid) AS rb) v
           WHERE NOT least(mod(rb - ra + 720, 360), 360 - mod(rb - ra + 720, 360)) BETWEEN 5 AND 175))
           AS bad_rotations
FROM cases c JOIN gp USING (name) GROUP BY c.name ORDER BY min(c.ctid);
INSERT INTO problems SELECT 'ids, ' || "case", bad_ids FROM versions_check
UNION ALL SELECT 'rotations, ' || "case", bad_rotations FROM versions_check;
\echo 'the truth against the versions:'
SELECT * FROM versions_check;

-- Pairs over a few drawings are the consecutive versions of those drawings,
-- with the options too.
CREATE TEMP TABLE consecutive AS
SELECT count(*) AS pairs,
       bool_and(p.version_a = a.payload AND p.version_b = b.payload AND p.truth = b.truth) AS all_equal
FROM buildtrace.generate_pairs(12, objects => 30, drawings => 4, seed => 2, reidentify_rate => 0.5,
                               reidentify_jitter => 0.03, rotate_rate => 0.2, shift_dx => 0.5) p
JOIN buildtrace.generate_versions(4, 4, objects => 30, seed => 2, reidentify_rate => 0.5,
                                  reidentify_jitter => 0.03, rotate_rate => 0.2, shift_dx => 0.5) a
  ON a.drawing_id = p.drawing_id AND a.version_no = (p.pair_no - 1) / 4 + 1
JOIN buildtrace.generate_versions(4, 4, objects => 30, seed => 2, reidentify_rate => 0.5,
                                  reidentify_jitter => 0.03, rotate_rate => 0.2, shift_dx => 0.5) b
  ON b.drawing_id = p.drawing_id AND b.version_no = (p.pair_no - 1) / 4 + 2;
INSERT INTO problems SELECT 'pairs = consecutive versions', CASE WHEN pairs = 12 AND all_equal THEN 0 ELSE 1 END
FROM consecutive;
\echo 'pairs = consecutive versions, with every option on:'
SELECT * FROM consecutive;

-- Version chains: each version against the one before.
CREATE TEMP TABLE gv AS
SELECT * FROM buildtrace.generate_versions(10, 12, objects => 60, change_rate => 0.05, seed => 7,
                                           reidentify_rate => 0.3, reidentify_jitter => 0.05,
                                           rotate_rate => 0.1, shift_dx => -0.3, shift_dy => 0.4);
CREATE TEMP TABLE chains AS
WITH pr AS (SELECT b.drawing_id, b.version_no, a.payload AS va, b.payload AS vb, b.truth
            FROM gv b JOIN gv a ON a.drawing_id = b.drawing_id AND a.version_no = b.version_no - 1),
u AS (SELECT pr.*, (SELECT jsonb_agg(o || jsonb_build_object(
                        'id', coalesce((SELECT r ->> 'previous_id' FROM jsonb_array_elements(truth -> 'reidentified') r
                                        WHERE r ->> 'id' = o ->> 'id'), o ->> 'id'),
                        'x', (o ->> 'x')::numeric - coalesce((truth #>> '{shift,dx}')::numeric, 0),
                        'y', (o ->> 'y')::numeric - coalesce((truth #>> '{shift,dy}')::numeric, 0)))
                    FROM jsonb_array_elements(vb) o) AS vu
      FROM pr),
d AS (SELECT u.*, buildtrace.bt_diff(va, vu) AS diff FROM u)
SELECT count(*) AS steps,
       count(*) FILTER (WHERE truth -> 'shift' <> 'null') AS shifted,
       sum(jsonb_array_length(truth -> 'reidentified')) AS reidentified,
       count(*) FILTER (WHERE
           (SELECT coalesce(jsonb_agg(e -> 'id' ORDER BY e ->> 'id' COLLATE "C"), '[]') FROM jsonb_array_elements(diff -> 'added') e)
               <> truth -> 'added'
           OR (SELECT coalesce(jsonb_agg(e -> 'id' ORDER BY e ->> 'id' COLLATE "C"), '[]') FROM jsonb_array_elements(diff -> 'removed') e)
               <> truth -> 'removed'
           OR (SELECT count(*) FROM jsonb_array_elements(diff -> 'moved')) <> jsonb_array_length(truth -> 'moved')
           OR (SELECT count(*) FROM jsonb_array_elements(diff -> 'resized')) <> jsonb_array_length(truth -> 'resized'))
           AS mismatched_steps
FROM d;
INSERT INTO problems SELECT 'version chains', mismatched_steps + CASE WHEN steps = 110 THEN 0 ELSE 1 END FROM chains;
\echo 'version chains (10 drawings x 12 versions), each version against the one before:'
SELECT * FROM chains;

-- For information (not a check of the simulator): bt_diff directly against
-- the truth, with nothing changed but by the re-export options (change rate
-- 0), so no removed object can be taken for a re-identified one.
DO $$
BEGIN
    PERFORM set_config('buildtrace.match_geometry', 'on', false);
EXCEPTION WHEN undefined_object OR invalid_parameter_value THEN
    NULL;
END $$;
CREATE TEMP TABLE direct AS
SELECT c.name, p.*, buildtrace.bt_diff(p.version_a, p.version_b) AS diff
FROM (VALUES ('reidentify 100 % + jitter', 1.0, 0.05, 0, 0, 0), ('rotate 30 %', 0, 0, 0.3, 0, 0),
             ('shift (1.5, -0.25)', 0, 0, 0, 1.5, -0.25),
             ('reidentify 50 % + jitter, rotate 30 %, shift (-2, 0.7)', 0.5, 0.05, 0.3, -2, 0.7))
         c(name, reid, jit, rot, dx, dy),
     LATERAL buildtrace.generate_pairs(100, objects => 60, change_rate => 0, seed => 17,
                                       reidentify_rate => c.reid, reidentify_jitter => c.jit,
                                       rotate_rate => c.rot, shift_dx => c.dx, shift_dy => c.dy) p;
\echo 'for information: bt_diff against the truth directly, change rate 0 (found / in the truth / in both):'
WITH kinds(k) AS (VALUES ('moved'), ('rotated'), ('modified')),
f AS (SELECT name, pair_no, k, e ->> 'id' AS id FROM direct, kinds, jsonb_array_elements(coalesce(diff -> k, '[]')) e
      UNION ALL
      SELECT name, pair_no, 'reidentified', (e ->> 'previous_id') || ' ' || (e ->> 'id')
      FROM direct, jsonb_array_elements(coalesce(diff -> 'reidentified', '[]')) e
      UNION ALL
      SELECT name, pair_no, 'shift', (diff #>> '{shift,dx}') || ' ' || (diff #>> '{shift,dy}')
      FROM direct WHERE coalesce(diff -> 'shift', 'null') <> 'null'),
t AS (SELECT name, pair_no, k, x AS id FROM direct, kinds, jsonb_array_elements_text(truth -> k) x
      UNION ALL
      SELECT name, pair_no, 'reidentified', (e ->> 'previous_id') || ' ' || (e ->> 'id')
      FROM direct, jsonb_array_elements(truth -> 'reidentified') e
      UNION ALL
      SELECT name, pair_no, 'shift', (truth #>> '{shift,dx}') || ' ' || (truth #>> '{shift,dy}')
      FROM direct WHERE truth -> 'shift' <> 'null')
SELECT name AS "case",
       string_agg(k || ' ' || found_n || ' / ' || true_n || ' / ' || both_n, ', ' ORDER BY k) AS lists
FROM (SELECT name, k, count(f.id) AS found_n, count(t.id) AS true_n,
             count(*) FILTER (WHERE f.id IS NOT NULL AND t.id IS NOT NULL) AS both_n
      FROM f FULL JOIN t USING (name, pair_no, k, id) GROUP BY name, k) x
GROUP BY name ORDER BY name;

DO $$
DECLARE bad text;
BEGIN
    SELECT string_agg(what || ': ' || n, '; ') INTO bad FROM problems WHERE n <> 0;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'the simulator''s re-export truth is wrong: %', bad;
    END IF;
    RAISE NOTICE 'the simulator''s re-export truth holds in every check';
END $$;
