-- Properties of bt_diff's revision handling (matching of leftover objects by
-- content, geometry and nearest neighbour; whole-drawing shifts) over the
-- FZK-Haus and 30 seeded random revisions of it.  The revisions are built
-- from md5 hashes of (revision, purpose, object id), so every run sees the
-- same 30 drawings.
BEGIN;
SELECT plan(7);
SET LOCAL search_path = buildtrace, public, pg_catalog;

\set fzk `cat test/data/fzk-haus.json`

-- A number in [0, 1) from (revision, purpose, id): the seeded "random".
CREATE FUNCTION pg_temp.u(p int, k text, id text) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ('x' || substr(md5(p || '/' || k || '/' || id), 1, 8))::bit(32)::bigint / 4294967296.0 $$;
-- The elements of v in an order given by the seed s.
CREATE FUNCTION pg_temp.shuffle(v jsonb, s text) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(jsonb_agg(e ORDER BY md5(s || '/' || (e ->> 'id'))), '[]') FROM jsonb_array_elements(v) e $$;
-- v re-exported: every id replaced by the md5 of the old one, order shuffled.
CREATE FUNCTION pg_temp.reexport(v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(jsonb_agg(e || jsonb_build_object('id', md5(e ->> 'id')) ORDER BY md5('re/' || (e ->> 'id'))), '[]')
   FROM jsonb_array_elements(v) e $$;
-- v with every object moved by (dx, dy), and the object "extra" (if any)
-- moved by (ex, ey) more.
CREATE FUNCTION pg_temp.shifted(v jsonb, dx numeric, dy numeric, extra text DEFAULT NULL,
                                ex numeric DEFAULT 0, ey numeric DEFAULT 0) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(jsonb_agg(e || jsonb_build_object(
            'x', (e ->> 'x')::numeric + dx + CASE WHEN e ->> 'id' = extra THEN ex ELSE 0 END,
            'y', (e ->> 'y')::numeric + dy + CASE WHEN e ->> 'id' = extra THEN ey ELSE 0 END)), '[]')
   FROM jsonb_array_elements(v) e $$;
-- Two arrays hold the same elements (as multisets); false if one is NULL
-- (a missing key).
CREATE FUNCTION pg_temp.same_set(x jsonb, y jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT x IS NOT NULL AND y IS NOT NULL
      AND NOT EXISTS (SELECT e FROM jsonb_array_elements(x) e EXCEPT ALL SELECT e FROM jsonb_array_elements(y) e)
      AND NOT EXISTS (SELECT e FROM jsonb_array_elements(y) e EXCEPT ALL SELECT e FROM jsonb_array_elements(x) e) $$;
-- A list of a -> b seen through the re-export: ids mapped to md5(id).
CREATE FUNCTION pg_temp.mapped(x jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT coalesce(jsonb_agg(e || jsonb_build_object('id', md5(e ->> 'id'))), '[]') FROM jsonb_array_elements(x) e $$;
-- A list of a -> re-export of b without the previous_id of each entry.
CREATE FUNCTION pg_temp.unmapped(x jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT coalesce(jsonb_agg(e - 'previous_id'), '[]') FROM jsonb_array_elements(x) e $$;

CREATE TEMP TABLE fzk ON COMMIT DROP AS
SELECT e, e ->> 'id' AS id, e ->> 'type' AS type, (e ->> 'x')::numeric AS x, (e ->> 'y')::numeric AS y
FROM jsonb_array_elements(:'fzk'::jsonb) e;

-- The revisions.  Each object of the FZK-Haus draws a role per revision:
-- ~6 % removed, ~10 % moved by 0.2 to 0.5 in a random direction, ~6 %
-- widened by 0.05 to 0.30, ~4 % rotated by 90 degrees, ~4 % renamed; the
-- rest is unchanged.  Retypes are left out: matching never pairs objects of
-- different types, so a retyped object cannot survive a re-export (c).
--
-- Changed and removed objects are kept apart: a role is dropped when another
-- object of the same type with a role lies within 2.5 units.  So under a
-- re-export (c) the only leftover of that type within match_distance (1) of
-- a changed object is its own other version (moves are at most 0.5), and it
-- is found again instead of a neighbour.
CREATE TEMP TABLE drawn ON COMMIT DROP AS
SELECT g.p, f.*,
       CASE WHEN r < 0.06 THEN 'remove' WHEN r < 0.16 THEN 'move' WHEN r < 0.22 THEN 'resize'
            WHEN r < 0.26 THEN 'rotate' WHEN r < 0.30 THEN 'rename' END AS role
FROM generate_series(1, 30) g(p), fzk f, LATERAL (SELECT pg_temp.u(g.p, 'role', f.id) AS r) r;
CREATE TEMP TABLE roles ON COMMIT DROP AS
SELECT d.* FROM drawn d
WHERE role IS NOT NULL
  AND NOT EXISTS (SELECT FROM drawn o WHERE o.p = d.p AND o.role IS NOT NULL AND o.id <> d.id
                  AND o.type = d.type AND sqrt((o.x - d.x) ^ 2 + (o.y - d.y) ^ 2) <= 2.5);

-- Added objects: copies of ~4 % of the objects under a new id and name,
-- 3 to 7 units away from their source, and one more 20 units away (outside
-- the house) so that every revision adds something.  An added object is
-- dropped when it would lie within 2.5 units of a removed (or otherwise
-- changed) object of its type, so no added object is ever within
-- match_distance (1) of a removed one of the same type: with stable ids the
-- matcher has nothing to pair (a), and a re-export (c) pairs nothing but
-- objects that survived.
CREATE TEMP TABLE additions ON COMMIT DROP AS
SELECT g.p, n.id, n.type, n.x, n.y,
       f.e || jsonb_build_object('id', n.id, 'x', n.x, 'y', n.y, 'name', 'Neu ' || n.id) AS e
FROM generate_series(1, 30) g(p), fzk f,
     LATERAL (SELECT f.id = (SELECT id FROM fzk ORDER BY pg_temp.u(g.p, 'far', id) LIMIT 1) AS far) w,
     LATERAL (SELECT CASE WHEN w.far THEN 20 ELSE 3 + 4 * pg_temp.u(g.p, 'addlen', f.id) END AS len,
                     2 * pi() * pg_temp.u(g.p, 'adddir', f.id) AS dir) v,
     LATERAL (SELECT 'N' || g.p || '-' || f.id AS id, f.type,
                     f.x + round((v.len * cos(v.dir))::numeric, 3) AS x, f.y + round((v.len * sin(v.dir))::numeric, 3) AS y) n
WHERE (pg_temp.u(g.p, 'add', f.id) < 0.04 OR w.far)
  AND NOT EXISTS (SELECT FROM roles r WHERE r.p = g.p AND r.type = n.type
                                        AND sqrt((r.x - n.x) ^ 2 + (r.y - n.y) ^ 2) <= 2.5);

-- Pair 0 is the FZK-Haus with itself; pairs 1-30 are (FZK-Haus, revision),
-- version b in a shuffled order.
CREATE TEMP TABLE pairs ON COMMIT DROP AS
SELECT 0 AS p, :'fzk'::jsonb AS a, :'fzk'::jsonb AS b
UNION ALL
SELECT g.p, :'fzk'::jsonb,
       (SELECT jsonb_agg(s.e ORDER BY pg_temp.u(g.p, 'order', s.e ->> 'id'))
        FROM (SELECT CASE r.role
                       WHEN 'move' THEN f.e || jsonb_build_object(
                           'x', f.x + round((v.len * cos(v.dir))::numeric, 3),
                           'y', f.y + round((v.len * sin(v.dir))::numeric, 3))
                       WHEN 'resize' THEN f.e || jsonb_build_object(
                           'width', (f.e ->> 'width')::numeric + round((0.05 + 0.25 * pg_temp.u(g.p, 'size', f.id))::numeric, 2))
                       WHEN 'rotate' THEN f.e || jsonb_build_object('rotation', ((f.e ->> 'rotation')::numeric + 90) % 360)
                       WHEN 'rename' THEN f.e || jsonb_build_object('name', (f.e ->> 'name') || ' (rev ' || g.p || ')')
                       ELSE f.e END AS e
              FROM fzk f LEFT JOIN roles r ON r.p = g.p AND r.id = f.id,
                   LATERAL (SELECT 0.2 + 0.3 * pg_temp.u(g.p, 'len', f.id) AS len,
                                   2 * pi() * pg_temp.u(g.p, 'dir', f.id) AS dir) v
              WHERE r.role IS DISTINCT FROM 'remove'
              UNION ALL
              SELECT e FROM additions ad WHERE ad.p = g.p) s)
FROM generate_series(1, 30) g(p);

-- Every pair four ways: as built, reversed, with b re-exported (new ids,
-- new order), and with b shifted as a whole by (7.5, -3).
CREATE TEMP TABLE cases ON COMMIT DROP AS
SELECT p, kind, v.a, v.b, bt_diff(v.a, v.b) AS d
FROM pairs, LATERAL (VALUES ('stable', a, b), ('reverse', b, a), ('reexport', a, pg_temp.reexport(b)),
                            ('shifted', a, pg_temp.shifted(b, 7.5, -3))) v(kind, a, b);

-- The revisions are what the generator says they are, so the properties
-- below are checked over real removals, additions and changes.
SELECT is((SELECT count(*) FROM cases WHERE kind = 'stable' AND p > 0
           AND (d -> 'counts' ->> 'added')::int > 0 AND (d -> 'counts' ->> 'removed')::int > 0
           AND (d -> 'counts' ->> 'moved')::int + (d -> 'counts' ->> 'resized')::int
             + (d -> 'counts' ->> 'rotated')::int + (d -> 'counts' ->> 'modified')::int > 0), 30::bigint,
          'every revision adds, removes and changes objects');
SELECT is_empty($$
  SELECT p, k FROM cases c,
    (VALUES ('removed', 'remove'), ('moved', 'move'), ('resized', 'resize'), ('rotated', 'rotate'),
            ('modified', 'rename'), ('retyped', 'retype'), ('added', NULL)) v(k, role)
  WHERE kind = 'stable' AND p > 0
    AND ARRAY(SELECT e ->> 'id' FROM jsonb_array_elements(c.d -> k) e ORDER BY 1)
     IS DISTINCT FROM CASE WHEN role IS NULL THEN ARRAY(SELECT id FROM additions ad WHERE ad.p = c.p ORDER BY 1)
             ELSE ARRAY(SELECT id FROM roles r WHERE r.p = c.p AND r.role = v.role ORDER BY 1) END
  UNION ALL
  SELECT p, 'counts' FROM cases c
  WHERE kind = 'stable' AND p > 0
    AND (SELECT count(*) FROM roles r WHERE r.p = c.p) + (d -> 'counts' ->> 'unchanged')::int IS DISTINCT FROM 89
$$, 'bt_diff reports exactly the generated removals, additions, moves, resizes, rotations and renames');

-- (a) With stable ids the matcher has nothing to pair (additions are never
-- within match_distance of a removal of their type, see above): turning it
-- off changes nothing, and on, reidentified and ambiguous are empty.
SELECT is_empty($$
  SELECT p, kind FROM cases
  WHERE kind IS DISTINCT FROM 'reexport'
    AND (d - 'reidentified' - 'ambiguous' IS DISTINCT FROM
             bt_diff(a, b, match_geometry => false) - 'reidentified' - 'ambiguous'
         OR d -> 'reidentified' IS DISTINCT FROM '[]' OR d -> 'ambiguous' IS DISTINCT FROM '[]')
$$, '(a) stable ids: bt_diff equals bt_diff(match_geometry => false), reidentified and ambiguous empty');

-- (b) The order of the elements does not matter.
SELECT is_empty($$
  SELECT p, kind, s FROM cases, generate_series(1, 3) s
  WHERE bt_diff(pg_temp.shuffle(a, 'a' || s), pg_temp.shuffle(b, 'b' || s)) IS DISTINCT FROM d
$$, '(b) shuffling the elements of a and b (3 seeds) gives the identical jsonb');

-- (c) A re-export of b (new ids, new order) gives the changes of a -> b
-- under the new ids: every kind lists the same entries (ids mapped, and
-- previous_id dropped), the counts agree, and exactly the objects of b that
-- are in a are re-identified, each with its old id.
SELECT is_empty($$
  SELECT s.p, k FROM cases s JOIN cases r ON r.p = s.p AND r.kind = 'reexport',
       unnest(ARRAY['added', 'moved', 'resized', 'retyped', 'modified', 'rotated']) k
  WHERE s.kind = 'stable' AND NOT pg_temp.same_set(pg_temp.mapped(s.d -> k), pg_temp.unmapped(r.d -> k))
  UNION ALL
  SELECT s.p, 'removed' FROM cases s JOIN cases r ON r.p = s.p AND r.kind = 'reexport'
  WHERE s.kind = 'stable' AND NOT pg_temp.same_set(s.d -> 'removed', r.d -> 'removed')
  UNION ALL
  SELECT s.p, 'previous_id' FROM cases s JOIN cases r ON r.p = s.p AND r.kind = 'reexport',
       unnest(ARRAY['moved', 'resized', 'modified', 'rotated']) k, jsonb_array_elements(r.d -> k) e
  WHERE s.kind = 'stable' AND md5(e ->> 'previous_id') IS DISTINCT FROM e ->> 'id'
  UNION ALL
  SELECT s.p, 'counts' FROM cases s JOIN cases r ON r.p = s.p AND r.kind = 'reexport'
  WHERE s.kind = 'stable' AND (s.d -> 'counts') - 'reidentified' IS DISTINCT FROM (r.d -> 'counts') - 'reidentified'
  UNION ALL
  SELECT s.p, 'reidentified' FROM cases s JOIN cases r ON r.p = s.p AND r.kind = 'reexport'
  WHERE s.kind = 'stable'
    AND ((r.d -> 'counts' ->> 'reidentified')::int
           IS DISTINCT FROM (SELECT count(*) FROM jsonb_array_elements(s.b) eb JOIN jsonb_array_elements(s.a) ea ON ea -> 'id' = eb -> 'id')
         OR NOT pg_temp.same_set(
              (SELECT coalesce(jsonb_agg(jsonb_build_array(e ->> 'id', e ->> 'previous_id')), '[]') FROM jsonb_array_elements(r.d -> 'reidentified') e),
              (SELECT coalesce(jsonb_agg(jsonb_build_array(md5(eb ->> 'id'), eb ->> 'id')), '[]')
               FROM jsonb_array_elements(s.b) eb JOIN jsonb_array_elements(s.a) ea ON ea -> 'id' = eb -> 'id')))
$$, '(c) a re-export of b gives the changes of a -> b up to the id mapping, and re-identifies every object of b that is in a');

-- (d) A whole-drawing shift by (7.5, -3).  Of b alone: the shift is
-- reported and nothing else changed; with one object moved by (0.6, -0.4)
-- more, that object alone is moved, by (0.6, -0.4).  And a -> shifted b
-- reports the shift and otherwise the changes of a -> b: the same lists
-- (moves relative to the shift, only their "to" and the added objects'
-- places shifted) and counts, every object in both going with the shift
-- but the moved ones.
CREATE TEMP TABLE shifts ON COMMIT DROP AS
SELECT p, b, x, n,
       bt_diff(b, pg_temp.shifted(b, 7.5, -3)) AS whole,
       bt_diff(b, pg_temp.shifted(b, 7.5, -3, x ->> 'id', 0.6, -0.4)) AS one_more
FROM pairs, LATERAL (SELECT e AS x FROM jsonb_array_elements(b) e ORDER BY pg_temp.u(p, 'extra', e ->> 'id') LIMIT 1) x,
     LATERAL (SELECT jsonb_array_length(b) AS n) n;
SELECT is_empty($$
  SELECT p, 'whole' FROM shifts
  WHERE (whole -> 'shift' ->> 'dx')::numeric IS DISTINCT FROM 7.5 OR (whole -> 'shift' ->> 'dy')::numeric IS DISTINCT FROM -3
     OR (whole -> 'shift' ->> 'objects')::int IS DISTINCT FROM n
     OR whole -> 'counts' IS DISTINCT FROM jsonb_build_object('added', 0, 'moved', 0, 'removed', 0, 'resized', 0, 'retyped', 0,
                                                'rotated', 0, 'shifted', n, 'modified', 0, 'ambiguous', 0,
                                                'unchanged', n, 'reidentified', 0)
  UNION ALL
  SELECT p, 'one more' FROM shifts
  WHERE (one_more -> 'shift' ->> 'dx')::numeric IS DISTINCT FROM 7.5
     OR (one_more -> 'shift' ->> 'dy')::numeric IS DISTINCT FROM -3
     OR (one_more -> 'counts' ->> 'moved')::int IS DISTINCT FROM 1
     OR one_more -> 'moved' -> 0 ->> 'id' IS DISTINCT FROM x ->> 'id'
     OR (one_more -> 'moved' -> 0 ->> 'dx')::numeric IS DISTINCT FROM 0.6
     OR (one_more -> 'moved' -> 0 ->> 'dy')::numeric IS DISTINCT FROM -0.4
     OR one_more -> 'moved' -> 0 -> 'from' IS DISTINCT FROM jsonb_build_object('x', x -> 'x', 'y', x -> 'y')
     OR one_more -> 'moved' -> 0 -> 'to' IS DISTINCT FROM jsonb_build_object('x', (x ->> 'x')::numeric + 8.1, 'y', (x ->> 'y')::numeric - 3.4)
  UNION ALL
  SELECT s.p, 'revision' FROM cases s JOIN cases h ON h.p = s.p AND h.kind = 'shifted'
  WHERE s.kind = 'stable'
    AND ((h.d -> 'shift' ->> 'dx')::numeric IS DISTINCT FROM 7.5 OR (h.d -> 'shift' ->> 'dy')::numeric IS DISTINCT FROM -3
         OR (h.d -> 'counts') - 'shifted' IS DISTINCT FROM (s.d -> 'counts') - 'shifted'
         OR (h.d -> 'counts' ->> 'shifted')::int
              IS DISTINCT FROM (SELECT count(*) FROM jsonb_array_elements(s.b) eb JOIN jsonb_array_elements(s.a) ea ON ea -> 'id' = eb -> 'id')
                 - (s.d -> 'counts' ->> 'moved')::int
         OR h.d -> 'removed' IS DISTINCT FROM s.d -> 'removed' OR h.d -> 'resized' IS DISTINCT FROM s.d -> 'resized'
         OR h.d -> 'rotated' IS DISTINCT FROM s.d -> 'rotated' OR h.d -> 'modified' IS DISTINCT FROM s.d -> 'modified'
         OR h.d -> 'retyped' IS DISTINCT FROM s.d -> 'retyped'
         OR NOT pg_temp.same_set(h.d -> 'added', pg_temp.shifted(s.d -> 'added', 7.5, -3))
         OR NOT pg_temp.same_set(h.d -> 'moved',
              (SELECT coalesce(jsonb_agg(m || jsonb_build_object('to', jsonb_build_object(
                        'x', (m -> 'to' ->> 'x')::numeric + 7.5, 'y', (m -> 'to' ->> 'y')::numeric - 3))), '[]')
               FROM jsonb_array_elements(s.d -> 'moved') m)))
$$, '(d) a whole-drawing shift is reported as dx/dy with no moves; one object moved on top of it is moved relative to the shift');

-- (e) Determinism: the same call again gives the same jsonb.
SELECT is_empty($$
  SELECT p, kind FROM cases WHERE bt_diff(a, b) IS DISTINCT FROM d OR bt_diff(a, b) IS DISTINCT FROM bt_diff(a, b)
$$, '(e) calling bt_diff again gives an identical result');

SELECT * FROM finish();
ROLLBACK;
