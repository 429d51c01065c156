-- Properties of bt_diff's revision handling (matching of leftover objects by
-- content, geometry and nearest neighbour; whole-drawing shifts) over the
-- FZK-Haus and 30 seeded random revisions of it.  The revisions are built
-- from md5 hashes of (revision, purpose, object id), so every run sees the
-- same 30 drawings.
BEGIN;
SELECT plan(8);
SET LOCAL search_path = buildtrace, public, pg_catalog;

\set fzk `cat test/data/fzk-haus.json`

-- A number in [0, 1) from (revision, purpose, id): the seeded "random".
CREATE FUNCTION pg_temp.u(p int, k text, id text) RETURNS float8 LANGUAGE sql IMMUTABLE AS
$$ SELECT ('x' || substr(md5(p || '/' || k || '/' || id), 1, 8))::bit(32)::bigint / 4294967296.0 $$;
-- The elements of v in an order given by seed s (never the original one).
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
-- Two arrays hold the same elements (as multisets).
CREATE FUNCTION pg_temp.same_set(x jsonb, y jsonb) RETURNS boolean LANGUAGE sql IMMUTABLE AS
$$ SELECT NOT EXISTS (SELECT e FROM jsonb_array_elements(x) e EXCEPT ALL SELECT e FROM jsonb_array_elements(y) e)
      AND NOT EXISTS (SELECT e FROM jsonb_array_elements(y) e EXCEPT ALL SELECT e FROM jsonb_array_elements(x) e) $$;
-- A list of a -> b seen through the re-export: ids mapped to md5(id).
CREATE FUNCTION pg_temp.mapped(x jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(jsonb_agg(e || jsonb_build_object('id', md5(e ->> 'id'))), '[]') FROM jsonb_array_elements(x) e $$;
-- A list of a -> re-export of b without the previous_id of each entry.
CREATE FUNCTION pg_temp.unmapped(x jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
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
-- 3 to 7 units away from their source.  An added object is dropped when it
-- would lie within 2.5 units of a removed (or otherwise changed) object of
-- its type, so no added object is ever within match_distance of a removed
-- one of the same type: with stable ids the matcher has nothing to pair (a),
-- and a re-export (c) pairs nothing but objects that survived.
CREATE TEMP TABLE additions ON COMMIT DROP AS
SELECT g.p, n.id, n.type, n.x, n.y,
       f.e || jsonb_build_object('id', n.id, 'x', n.x, 'y', n.y, 'name', 'Neu ' || n.id) AS e
FROM generate_series(1, 30) g(p), fzk f,
     LATERAL (SELECT 3 + 4 * pg_temp.u(g.p, 'addlen', f.id) AS len, 2 * pi() * pg_temp.u(g.p, 'adddir', f.id) AS dir) v,
     LATERAL (SELECT 'N' || g.p || '-' || f.id AS id, f.type,
                     f.x + round((v.len * cos(v.dir))::numeric, 3) AS x, f.y + round((v.len * sin(v.dir))::numeric, 3) AS y) n
WHERE pg_temp.u(g.p, 'add', f.id) < 0.04
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
