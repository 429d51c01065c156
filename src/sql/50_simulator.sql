-- The drawing simulator: realistic floor-plan versions with known changes.
--
-- Everything here is deterministic in its arguments.  Pseudo-random numbers
-- never come from random()/setseed() (session state) but from hashing:
--   hd = hashint8extended(drawing, seed), hs = hashint8extended(step, hd),
--   ho = hashint8extended(object, hs),    u  = hashint8extended(purpose, ho)
-- with the top 53 bits of u mapped to [0, 1).  The mapping is written out in
-- place rather than in a helper function: SQL functions must pin
-- search_path, and a pinned function is never inlined, so a helper would cost
-- a full function call per draw.
--
-- Geometry is kept in integer millimetres and printed in units (metres) with
-- at most three decimals, so every coordinate and size in the output is exact.
--
-- Change model (per step, i.e. per new version of a drawing), with
-- r = change_rate (or min(r * spike_factor, 0.5) on the spike step):
--   removed   each existing object with probability r;
--   moved, resized, retyped, modified: each surviving object independently
--             with probability r / (1 - r), so each kind is a share r of the
--             objects overall; combinations (moved and resized ...) follow;
--   added     each of `objects` new-object slots with probability r.
-- Moves are 0.2 to 3 units in any direction (tolerance 0.1); a resize
-- changes width and/or height by at least a fifth of the object's base size
-- (>= 0.03 units; tolerance 0.01) and never moves the object; a retype swaps
-- the type within its family (door <-> window, wall <-> curtain_wall,
-- column <-> pier, space <-> zone); an attribute edit sets one attribute
-- (material, fire_rating, ...) to a different value.  So buildtrace.bt_diff
-- with the default tolerances reports exactly the truth.

-- The arguments of a version chain (see _sim_chain), passed whole to each
-- of its stages.
CREATE TYPE buildtrace._sim_args AS (
    drawings      int,
    versions      int,
    objects       int,
    rate          float8,
    seed          int,
    spike_drawing int,
    spike_step    int,
    spike_factor  float8
);

-- The smallest grid (by cells) whose floor-plan template has at least
-- `objects` objects.
CREATE FUNCTION buildtrace._sim_grid(objects int)
RETURNS TABLE(nx int, ny int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT c.nx, c.ny
    FROM generate_series(1, 4000) k,
         LATERAL (SELECT k / 2 + 1 AS nx, (k + 1) / 2 AS ny) c
    -- template size: columns, walls, doors, windows, spaces
    WHERE (c.nx + 1) * (c.ny + 1) + c.nx * (c.ny + 1) + (c.nx + 1) * c.ny
          + c.nx * (c.ny - 1) + (c.nx - 1) * c.ny + 1
          + 2 * c.nx + 2 * c.ny - 1
          + c.nx * c.ny >= objects
    ORDER BY k LIMIT 1
$fn$;

-- The floor-plan template for an nx x ny grid: columns at intersections,
-- walls between them (outer walls thicker), a door in every interior wall
-- and one entrance, a window in every other outer wall, a space per cell.
-- Tier 0 (structure) is kept first when a drawing has fewer objects.
CREATE FUNCTION buildtrace._sim_template(nx int, ny int)
RETURNS TABLE(t bigint, tier int, kind text, orient text, i int, j int, outer_wall boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT row_number() OVER (ORDER BY tier, kind, orient, i, j) AS t, *
    FROM (
        SELECT 0 AS tier, 'column' AS kind, '-' AS orient, i, j, false AS outer_wall
        FROM generate_series(0, nx) i, generate_series(0, ny) j
        UNION ALL
        SELECT 0, 'wall', 'h', i, j, j IN (0, ny)
        FROM generate_series(0, nx - 1) i, generate_series(0, ny) j
        UNION ALL
        SELECT 0, 'wall', 'v', i, j, i IN (0, nx)
        FROM generate_series(0, nx) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'door', 'h', i, j, j = 0
        FROM generate_series(0, nx - 1) i, generate_series(0, ny) j
        WHERE (j > 0 AND j < ny) OR (i = 0 AND j = 0)
        UNION ALL
        SELECT 1, 'door', 'v', i, j, false
        FROM generate_series(1, nx - 1) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'window', 'h', i, j, true
        FROM generate_series(0, nx - 1) i, unnest(ARRAY[0, ny]) j
        WHERE NOT (i = 0 AND j = 0)
        UNION ALL
        SELECT 1, 'window', 'v', i, j, true
        FROM unnest(ARRAY[0, nx]) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'space', '-', i, j, false
        FROM generate_series(0, nx - 1) i, generate_series(0, ny - 1) j
    ) x
$fn$;

-- The object kinds: family, type index in it, id prefix, layer; and each
-- family's two types, attribute names and the three attributes' values.
CREATE FUNCTION buildtrace._sim_kinds()
RETURNS TABLE(kind text, family text, t0 int, prefix text, layer text,
              types text[], an text[], d1 text[], d2 text[], d3 text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT f.kind, f.family, f.t0, f.prefix, f.layer, dm.types, dm.an, dm.d1, dm.d2, dm.d3
    FROM (VALUES
        ('wall', 'wall', 0, 'W', 'A-WALL'),
        ('column', 'column', 0, 'C', 'S-COLS'),
        ('door', 'opening', 0, 'D', 'A-OPNG'),
        ('window', 'opening', 1, 'WN', 'A-OPNG'),
        ('space', 'space', 0, 'SP', 'A-AREA')) f(kind, family, t0, prefix, layer)
    JOIN (VALUES
        ('wall', '{wall,curtain_wall}'::text[], '{material,fire_rating,finish}'::text[],
         '{concrete,masonry,timber frame,drywall,steel stud}'::text[],
         '{none,REI30,REI60,REI90}'::text[], '{plaster,paint,tile,exposed}'::text[]),
        ('opening', '{door,window}', '{material,fire_rating,glazing}',
         '{timber,steel,aluminium,pvc}', '{none,EI30,EI60}', '{none,single,double,triple}'),
        ('column', '{column,pier}', '{material,fire_rating,finish}',
         '{concrete,steel,timber,masonry}', '{R30,R60,R90,R120}', '{exposed,painted,clad,intumescent}'),
        ('space', '{space,zone}', '{use,floor_finish,ceiling}',
         '{office,meeting,storage,corridor,kitchen,wc,lobby}', '{carpet,tile,vinyl,screed,timber}',
         '{suspended,exposed,plaster}')) dm(family, types, an, d1, d2, d3) USING (family)
$fn$;

-- How many objects the spike step adds: enough to reach spike_factor times
-- the expected change count of a normal step (6 kinds, each a share r of
-- the objects); none at a rate of 0, and infinitely many past a factor of
-- 1e300, where the product would overflow a double. The one rule for
-- _reexport_chain's check and _sim_plan's count.
CREATE FUNCTION buildtrace._sim_spike_objects(spike_factor float8, rate float8, objects int)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN rate = 0 THEN 0
            WHEN spike_factor > 1e300 THEN 'Infinity'::float8
            ELSE ceil(spike_factor * 6 * rate * objects) END;

-- What every drawing of a chain shares: the grid, the objects the spike
-- step adds, and the added-object slots per step.
CREATE FUNCTION buildtrace._sim_plan(a buildtrace._sim_args)
RETURNS TABLE(nx int, ny int, n_spike int, b int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT g.nx, g.ny, ns.n_spike, greatest((a).objects, ns.n_spike)
    FROM buildtrace._sim_grid((a).objects) g,
         -- the objects the spike step adds on its own
         LATERAL (SELECT CASE WHEN (a).spike_step IS NULL THEN 0
                              ELSE buildtrace._sim_spike_objects((a).spike_factor, (a).rate, (a).objects)::int
                         END AS n_spike) ns
$fn$;

-- Per drawing: its hash, grid spacing, column size, wall thicknesses (mm).
CREATE FUNCTION buildtrace._sim_drawings(a buildtrace._sim_args)
RETURNS TABLE(d int, hd int8, sx int8, sy int8, col int8, tw_out int8, tw_in int8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT d, hd,
           4000 + 500 * floor(8 * ((pg_catalog.hashint8extended(1, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           4000 + 500 * floor(8 * ((pg_catalog.hashint8extended(2, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           300 + 100 * floor(3 * ((pg_catalog.hashint8extended(3, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           250 + 50 * floor(4 * ((pg_catalog.hashint8extended(4, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           150 + 25 * floor(3 * ((pg_catalog.hashint8extended(5, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8
    FROM generate_series(1, (a).drawings) d,
         LATERAL (SELECT pg_catalog.hashint8extended(d, (a).seed::int8) AS hd) h
$fn$;

-- The steps (versions) of every drawing: their hash, change rate and
-- whether it is the spike.
CREATE FUNCTION buildtrace._sim_steps(a buildtrace._sim_args)
RETURNS TABLE(d int, s int, hs int8, rs float8, spike boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT dr.d, s, pg_catalog.hashint8extended(s, dr.hd),
           CASE WHEN sp.spike THEN least((a).rate * coalesce((a).spike_factor, 1), 0.5) ELSE (a).rate END,
           sp.spike
    FROM buildtrace._sim_drawings(a) dr, generate_series(1, (a).versions) s,
         LATERAL (SELECT coalesce(dr.d = (a).spike_drawing AND s = (a).spike_step AND s > 1, false) AS spike) sp
$fn$;

-- Every object a drawing ever has, with the step it appears in: the base
-- objects (the first n template entries, structure first, the rest in a
-- per-drawing random order) and the objects added later (slot j of step s
-- becomes object key n + (s - 2) * b + j). key = object number within the
-- drawing.
CREATE FUNCTION buildtrace._sim_births(a buildtrace._sim_args)
RETURNS TABLE(d int, key bigint, birth int, kind text, orient text, i int, j int,
              outer_wall boolean, mid boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT d, key, 1, kind, orient, i, j, outer_wall, false
    FROM (SELECT dr.d, tpl.*,
                 row_number() OVER (PARTITION BY dr.d
                                    ORDER BY tier, CASE WHEN tier = 0 THEN t
                                                        ELSE pg_catalog.hashint8extended(t, hd) END) AS key
          FROM buildtrace._sim_plan(a) pl, buildtrace._sim_drawings(a) dr,
               buildtrace._sim_template(pl.nx, pl.ny) tpl) x
    WHERE key <= (a).objects
    UNION ALL
    SELECT st.d, k.key, st.s,
           CASE WHEN u1 < 0.30 THEN 'door' WHEN u1 < 0.50 THEN 'window'
                WHEN u1 < 0.65 THEN 'column' WHEN u1 < 0.85 THEN 'wall' ELSE 'space' END,
           CASE WHEN u1 >= 0.85 OR (u1 >= 0.50 AND u1 < 0.65) THEN '-'
                WHEN u2 < 0.5 THEN 'h' ELSE 'v' END,
           -- windows go on an outer wall; other kinds anywhere in the grid
           CASE WHEN u1 >= 0.30 AND u1 < 0.50 AND u2 >= 0.5 THEN CASE WHEN u3 < 0.5 THEN 0 ELSE pl.nx END
                ELSE floor(u3 * pl.nx)::int END,
           CASE WHEN u1 >= 0.30 AND u1 < 0.50 AND u2 < 0.5 THEN CASE WHEN u4 < 0.5 THEN 0 ELSE pl.ny END
                WHEN u1 < 0.30 AND u2 < 0.5 THEN floor(u4 * (pl.ny + 1))::int
                ELSE floor(u4 * pl.ny)::int END,
           u1 >= 0.30 AND u1 < 0.50,
           -- added columns stand mid-span, added walls are partitions
           u1 >= 0.50 AND u1 < 0.85
    FROM buildtrace._sim_plan(a) pl, buildtrace._sim_steps(a) st,
         LATERAL (SELECT (a).objects + (st.s - 2) * pl.b + jj AS key, jj
                  FROM generate_series(1, CASE WHEN st.spike THEN pl.b ELSE (a).objects END) jj) k,
         LATERAL (SELECT pg_catalog.hashint8extended(k.key, st.hs) AS ho) h,
         LATERAL (SELECT ((pg_catalog.hashint8extended(1, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u0,
                         ((pg_catalog.hashint8extended(21, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                         ((pg_catalog.hashint8extended(22, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                         ((pg_catalog.hashint8extended(23, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u3,
                         ((pg_catalog.hashint8extended(24, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u4) u
    WHERE st.s > 1
      AND CASE WHEN st.spike THEN k.jj <= greatest(pl.n_spike, 0) OR (k.jj <= (a).objects AND u0 < st.rs)
               ELSE u0 < st.rs END
$fn$;

-- Every object of every drawing with its id, base geometry (mm) and
-- attribute indices.
CREATE FUNCTION buildtrace._sim_objects(a buildtrace._sim_args)
RETURNS TABLE(d int, key bigint, birth int, family text, t0 int, layer text, id text, orient text,
              x0 int8, y0 int8, w0 int8, h0 int8, rot int, a10 int, a20 int, a30 int,
              types text[], an text[], d1 text[], d2 text[], d3 text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT o.d, o.key, o.birth, f.family, f.t0, f.layer,
           f.prefix || '-' || CASE WHEN num < 10000 THEN lpad(num::text, 4, '0') ELSE num::text END,
           o.orient, x0, y0, w0, h0,
           CASE WHEN o.orient = 'v' THEN 90 ELSE 0 END,
           floor(a1 * cardinality(f.d1))::int,
           floor(a2 * cardinality(f.d2))::int,
           floor(a3 * cardinality(f.d3))::int,
           f.types, f.an, f.d1, f.d2, f.d3
    FROM (SELECT *, CASE WHEN birth = 1
                         THEN row_number() OVER (PARTITION BY d, birth = 1, kind ORDER BY key)
                         ELSE key END AS num
          FROM buildtrace._sim_births(a)) o
    JOIN buildtrace._sim_kinds() f USING (kind)
    JOIN buildtrace._sim_drawings(a) dr ON dr.d = o.d
    JOIN buildtrace._sim_steps(a) st ON st.d = o.d AND st.s = o.birth,
    LATERAL (SELECT pg_catalog.hashint8extended(o.key, st.hs) AS ho) h,
    LATERAL (SELECT ((pg_catalog.hashint8extended(31, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS g1,
                    ((pg_catalog.hashint8extended(32, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS g2,
                    ((pg_catalog.hashint8extended(33, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a1,
                    ((pg_catalog.hashint8extended(34, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a2,
                    ((pg_catalog.hashint8extended(35, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a3) u,
    LATERAL (SELECT CASE WHEN o.orient = 'v' THEN dr.sy ELSE dr.sx END - dr.col AS len,
                    CASE WHEN o.outer_wall THEN dr.tw_out ELSE dr.tw_in END AS thick,
                    CASE WHEN o.kind = 'door' THEN 900 + 100 * floor(4 * g1)::int8
                         ELSE 1200 + 200 * floor(6 * g1)::int8 END AS opening) gg,
    LATERAL (SELECT -- insertion point: centre of the host (grid point, wall, cell)
                    o.i * dr.sx + CASE WHEN o.kind = 'space' OR o.orient = 'h' OR o.mid
                                         THEN dr.sx / 2 ELSE 0 END AS cx,
                    o.j * dr.sy + CASE WHEN o.kind = 'space' OR o.orient = 'v'
                                              OR (o.mid AND o.kind = 'wall')
                                         THEN dr.sy / 2 ELSE 0 END AS cy,
                    -- doors and windows sit somewhere along their wall
                    CASE WHEN o.kind IN ('door', 'window')
                         THEN round((g2 - 0.5) * greatest(len - opening - 200, 0))::int8
                         ELSE 0 END AS off) c,
    LATERAL (SELECT cx + CASE WHEN o.orient = 'h' THEN off ELSE 0 END AS x0,
                    cy + CASE WHEN o.orient = 'v' THEN off ELSE 0 END AS y0,
                    CASE o.kind WHEN 'column' THEN dr.col WHEN 'wall' THEN len
                                WHEN 'space' THEN dr.sx - dr.tw_in ELSE opening END AS w0,
                    CASE o.kind WHEN 'column' THEN dr.col WHEN 'space' THEN dr.sy - dr.tw_in
                                ELSE thick END AS h0) gm
$fn$;

-- Every object in every step from its birth on, with that step's events and
-- the events up to it accumulated; an object is gone from the step of its
-- first removal on. The birth rows, the bulk when there are few versions,
-- have no events and skip the hashing and the window.
CREATE FUNCTION buildtrace._sim_states(a buildtrace._sim_args)
RETURNS TABLE(d int, key bigint, birth int, t0 int, layer text, id text, x0 int8, y0 int8,
              w0 int8, h0 int8, rot int, a10 int, a20 int, a30 int,
              types text[], an text[], d1 text[], d2 text[], d3 text[],
              s int, rm boolean, mv boolean, rsz boolean, rt boolean, md boolean,
              nrm int8, sdx int8, sdy int8, sdw int8, sdh int8, nrt int8, s1 int8, s2 int8, s3 int8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH objects AS MATERIALIZED (SELECT * FROM buildtrace._sim_objects(a)),
    ev AS (
        SELECT o.*, st.s,
               st.s > o.birth AND e1 < st.rs AS rm,
               st.s > o.birth AND e2 < st.rs / (1 - st.rs) AS mv,
               st.s > o.birth AND e3 < st.rs / (1 - st.rs) AS rsz,
               st.s > o.birth AND e4 < st.rs / (1 - st.rs) AS rt,
               st.s > o.birth AND e5 < st.rs / (1 - st.rs) AS md,
               -- move: 0.2 to 3 units in any direction
               round((200 + 2800 * e6) * cos(2 * pi() * e7))::int8 AS mdx,
               round((200 + 2800 * e6) * sin(2 * pi() * e7))::int8 AS mdy,
               -- resize: width, height or both, by 20 % to 80 % of the base size,
               -- wrapping within [base / 2, base * 3 / 2)
               CASE WHEN e8 < 0.7 THEN round(o.w0 * (0.2 + 0.6 * e9))::int8 ELSE 0 END AS dw,
               CASE WHEN e8 >= 0.4 THEN round(o.h0 * (0.2 + 0.6 * e10))::int8 ELSE 0 END AS dh,
               floor(3 * e11)::int AS mattr,
               e12 AS minc
        FROM objects o
        JOIN buildtrace._sim_steps(a) st ON st.d = o.d AND st.s > o.birth,
        LATERAL (SELECT pg_catalog.hashint8extended(o.key, st.hs) AS ho) h,
        LATERAL (SELECT ((pg_catalog.hashint8extended(2, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e1,
                        ((pg_catalog.hashint8extended(3, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e2,
                        ((pg_catalog.hashint8extended(4, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e3,
                        ((pg_catalog.hashint8extended(5, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e4,
                        ((pg_catalog.hashint8extended(6, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e5,
                        ((pg_catalog.hashint8extended(7, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e6,
                        ((pg_catalog.hashint8extended(8, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e7,
                        ((pg_catalog.hashint8extended(9, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e8,
                        ((pg_catalog.hashint8extended(10, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e9,
                        ((pg_catalog.hashint8extended(11, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e10,
                        ((pg_catalog.hashint8extended(12, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e11,
                        ((pg_catalog.hashint8extended(13, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e12) u
    )
    SELECT o.d, o.key, o.birth, o.t0, o.layer, o.id, o.x0, o.y0, o.w0, o.h0, o.rot, o.a10, o.a20, o.a30,
           o.types, o.an, o.d1, o.d2, o.d3,
           o.birth, false, false, false, false, false,
           0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8
    FROM objects o
    UNION ALL
    SELECT e.d, e.key, e.birth, e.t0, e.layer, e.id, e.x0, e.y0, e.w0, e.h0, e.rot, e.a10, e.a20, e.a30,
           e.types, e.an, e.d1, e.d2, e.d3,
           e.s, e.rm, e.mv, e.rsz, e.rt, e.md,
           count(*) FILTER (WHERE rm) OVER w,
           sum(CASE WHEN mv AND NOT rm THEN mdx::int4 ELSE 0 END) OVER w,
           sum(CASE WHEN mv AND NOT rm THEN mdy::int4 ELSE 0 END) OVER w,
           sum(CASE WHEN rsz AND NOT rm THEN dw::int4 ELSE 0 END) OVER w,
           sum(CASE WHEN rsz AND NOT rm THEN dh::int4 ELSE 0 END) OVER w,
           count(*) FILTER (WHERE rt AND NOT rm) OVER w,
           -- an edit moves the chosen attribute 1 .. size-1 places round its
           -- domain, so the value always differs from the one before
           sum(CASE WHEN md AND NOT rm AND mattr = 0
                    THEN 1 + floor(minc * (cardinality(e.d1) - 1))::int ELSE 0 END) OVER w,
           sum(CASE WHEN md AND NOT rm AND mattr = 1
                    THEN 1 + floor(minc * (cardinality(e.d2) - 1))::int ELSE 0 END) OVER w,
           sum(CASE WHEN md AND NOT rm AND mattr = 2
                    THEN 1 + floor(minc * (cardinality(e.d3) - 1))::int ELSE 0 END) OVER w
    FROM ev e
    WINDOW w AS (PARTITION BY e.d, e.key ORDER BY e.s)
$fn$;

-- The version chains all public functions are built from: `drawings`
-- drawings with `versions` versions each; version 1 is the base floor plan,
-- each later one the previous changed.  truth is relative to the previous
-- version (version 1: everything added). Payloads come from the live
-- objects, truth from the rows with an event only (a version's first
-- removal counts, the object is gone from then on).
CREATE FUNCTION buildtrace._sim_chain(p_drawings int, p_versions int, p_objects int,
                                      p_rate float8, p_seed int, p_spike_drawing int,
                                      p_spike_step int, p_spike_factor float8)
RETURNS TABLE(drawing_no int, version_no int, payload jsonb, truth jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
-- The planner cannot estimate the generate_series joins and guesses costs in
-- the trillions; JIT compiling for those guesses takes seconds, the work
-- itself milliseconds.
SET jit = off
AS $fn$
    WITH args AS (
        SELECT ROW(p_drawings, p_versions, p_objects, p_rate, p_seed, p_spike_drawing,
                   p_spike_step, p_spike_factor)::buildtrace._sim_args AS a
    ),
    states AS MATERIALIZED (SELECT st.* FROM args, LATERAL buildtrace._sim_states(args.a) st),
    live AS (
        -- Built as JSON text and parsed once per version: about twice as fast as
        -- jsonb_build_object per object.  Every string here comes from the fixed
        -- vocabularies above or from generated ids, none needing JSON escapes.
        SELECT d, s,
               ('[' || string_agg(
                    '{"id":"' || id || '","type":"' || types[1 + (t0 + nrt) % 2]
                    || '","x":' || trim_scale((x0 + sdx) * 0.001)
                    || ',"y":' || trim_scale((y0 + sdy) * 0.001)
                    || ',"width":' || trim_scale((w0 / 2 + (w0 - w0 / 2 + sdw) % w0) * 0.001)
                    || ',"height":' || trim_scale((h0 / 2 + (h0 - h0 / 2 + sdh) % h0) * 0.001)
                    || ',"rotation":' || rot
                    || ',"layer":"' || layer || '","level":"L00","'
                    || an[1] || '":"' || d1[1 + (a10 + s1) % cardinality(d1)] || '","'
                    || an[2] || '":"' || d2[1 + (a20 + s2) % cardinality(d2)] || '","'
                    || an[3] || '":"' || d3[1 + (a30 + s3) % cardinality(d3)] || '"}',
                    ',' ORDER BY key) || ']')::jsonb AS payload
        FROM states
        WHERE nrm = 0
        GROUP BY d, s
    ),
    changed AS (
        -- json_object_agg, then jsonb: PostgreSQL 15's jsonb_object_agg copies
        -- each string of a value with a scan to the end of the value's text,
        -- quadratic in a list of a million ids (a minute that no cancel stops)
        SELECT d, s, json_object_agg(kind, ids)::jsonb AS truth
        FROM (SELECT d, s, kind, jsonb_agg(id ORDER BY id COLLATE "C") AS ids
              FROM states,
                   LATERAL (VALUES ('added', birth = s), ('removed', rm AND nrm = 1),
                                   ('moved', mv AND nrm = 0), ('resized', rsz AND nrm = 0),
                                   ('retyped', rt AND nrm = 0), ('modified', md AND nrm = 0)) k(kind, hit)
              WHERE nrm <= 1 AND (birth = s OR rm OR mv OR rsz OR rt OR md) AND hit
              GROUP BY d, s, kind) k
        GROUP BY d, s
    )
    SELECT st.d, st.s, coalesce(l.payload, '[]'),
           '{"added": [], "removed": [], "moved": [], "resized": [], "retyped": [], "modified": [],
             "malformed": false}'::jsonb
           || coalesce(c.truth, '{}')
           || CASE WHEN st.spike THEN '{"spike": true}'::jsonb ELSE '{}' END
    FROM args, LATERAL buildtrace._sim_steps(args.a) st
    LEFT JOIN live l ON l.d = st.d AND l.s = st.s
    LEFT JOIN changed c ON c.d = st.d AND c.s = st.s
    ORDER BY st.d, st.s
$fn$;

-- Breaks one element of a version in one realistic way, chosen by hash h:
-- a string coordinate, a duplicated id, a missing id, a null width, an
-- element that is not an object, a negative size, a missing coordinate.
-- Returns {"payload": broken version, "defect": {"kind", "index", "id"}}.
CREATE FUNCTION buildtrace._sim_corrupt(v jsonb, h int8)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    kinds CONSTANT text[] := ARRAY['string_coordinate', 'duplicate_id', 'missing_id',
                                   'null_width', 'not_an_object', 'negative_size',
                                   'missing_coordinate'];
    u1 float8 := ((hashint8extended(1, h) >> 11) & 9007199254740991)::float8 / 9007199254740992;
    u2 float8 := ((hashint8extended(2, h) >> 11) & 9007199254740991)::float8 / 9007199254740992;
    len int := jsonb_array_length(v);
    k text := kinds[1 + floor(u1 * cardinality(kinds))::int];
    e int := floor(u2 * len)::int;
    elem jsonb := v -> e;
    path text[] := ARRAY[e::text];
    bad jsonb;
BEGIN
    IF len = 0 THEN
        k := 'not_an_object';
        e := 0;
        bad := '["?"]';
    ELSIF k = 'string_coordinate' THEN
        bad := jsonb_set(v, path || 'x'::text, to_jsonb((elem -> 'x')::text));
    ELSIF k = 'duplicate_id' THEN
        -- a second object with the same id, a unit further east, at the end
        bad := v || jsonb_build_array(elem || jsonb_build_object('x', (elem ->> 'x')::numeric + 1));
        e := len;
    ELSIF k = 'missing_id' THEN
        bad := jsonb_set(v, path, elem - 'id');
    ELSIF k = 'null_width' THEN
        bad := jsonb_set(v, path || 'width'::text, 'null');
    ELSIF k = 'not_an_object' THEN
        bad := jsonb_set(v, path, elem -> 'id');
    ELSIF k = 'negative_size' THEN
        bad := jsonb_set(v, path || 'height'::text, to_jsonb(-(elem ->> 'height')::numeric));
    ELSE
        bad := jsonb_set(v, path, elem - 'y');
    END IF;
    RETURN jsonb_build_object('payload', bad,
                              'defect', jsonb_build_object('kind', k, 'index', e,
                                                           'id', elem -> 'id'));
END
$fn$;

-- Argument checks shared by generate_pairs and generate_versions.
CREATE FUNCTION buildtrace._sim_check_args(what text, n int, objects int, change_rate float8,
                                           malformed_rate float8, spike_factor float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF n IS NULL OR n < 0 THEN
        RAISE EXCEPTION '% must be zero or more', what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(n::text, 'null'));
    END IF;
    IF objects IS NULL OR objects < 1 OR objects > 1000000 THEN
        RAISE EXCEPTION 'objects must be between 1 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(objects::text, 'null'));
    END IF;
    IF change_rate IS NULL OR NOT change_rate BETWEEN 0 AND 0.5 THEN
        RAISE EXCEPTION 'change_rate must be between 0 and 0.5'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(change_rate::text, 'null')),
                  HINT = 'change_rate is the share of objects each change kind affects; removals cannot exceed half and leave objects to move, resize, retype and edit.';
    END IF;
    IF malformed_rate IS NULL OR NOT malformed_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'malformed_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(malformed_rate::text, 'null'));
    END IF;
    IF spike_factor IS NULL OR spike_factor < 1 OR spike_factor = 'infinity' OR spike_factor = 'NaN' THEN
        RAISE EXCEPTION 'spike_factor must be a finite number of at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(spike_factor::text, 'null'));
    END IF;
END
$fn$;

-- A drawing id: prefix (none if NULL) and a number of at least four digits.
CREATE FUNCTION buildtrace._sim_drawing_id(prefix text, d int)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(prefix, '') || CASE WHEN d < 10000 THEN lpad(d::text, 4, '0') ELSE d::text END;

-- Re-exports and rework on top of the chains: regenerated ids (as a CAD/IFC
-- re-export makes them), position jitter of the re-identified objects, edited
-- rotations and a whole-drawing shift.  All off by default, and then the
-- chains pass through untouched.  Their draws come from a stream of their
-- own, so switching them on changes no other draw:
--   hr = hashint8extended(step, hashint8extended(drawing, hashint8extended(-3, seed))),
--   ho = hashtextextended(id in the chain, hr),  u = hashint8extended(purpose, ho).
-- The state carried from version to version, per object (keyed by its id in
-- the chain, never reused within a drawing): [current id, rotation offset in
-- millidegrees, x and y offsets in mm].  Every step shifts the whole drawing
-- by (shift_x, shift_y) mm, so version v is shifted by (v - 1) times that.
--
-- Step `step` for the objects of version b (a: the version before, both as
-- the chain made them): the new state and the object as uploaded.
--   re-identified  each object of b (added ones too) with probability
--                  reidentify_rate: a new 22-character id in the IFC
--                  GlobalId alphabet (no "-", so never a chain id), moved by
--                  up to `jitter` mm on each axis if it was in a;
--   rotated        each object of both with probability rotate_rate: the
--                  rotation turns by 5 to 175 degrees either way (an object
--                  without one starts from 0), so the change is never within
--                  0.5 degrees modulo 360.
-- A move that the shift would (nearly) cancel, leaving the object within
-- 0.2 units of where it was, is turned round, so a moved object moves at least
-- 0.2 units both absolutely and against the shift.
CREATE FUNCTION buildtrace._reexport_objects(a jsonb, b jsonb, moved jsonb, state jsonb, step int,
                                             h int8, reidentify_rate float8, rotate_rate float8,
                                             shift_x int8, shift_y int8, jitter int8)
RETURNS TABLE(i int8, orig text, in_a bool, mv bool, id_a text, id_b text, rotated bool,
              elem jsonb, st jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT ob.i, ob.orig, ob.in_a, ob.mv, ob.prev ->> 0, ev.id_b, ev.rotated,
       ob.e || jsonb_build_object(
                   'id', ev.id_b,
                   'x', trim_scale(((ob.e ->> 'x')::numeric * 1000 + nw.ox + (step - 1) * shift_x) / 1000),
                   'y', trim_scale(((ob.e ->> 'y')::numeric * 1000 + nw.oy + (step - 1) * shift_y) / 1000))
            || CASE WHEN nw.rot % 360000 = 0 THEN '{}'
                    ELSE jsonb_build_object('rotation', trim_scale(
                             ((coalesce((ob.e ->> 'rotation')::numeric, 0) * 1000 + nw.rot) % 360000 + 360000)
                             % 360000 / 1000)) END,
       jsonb_build_array(ev.id_b, nw.rot, nw.ox, nw.oy)
FROM (SELECT bo.e, bo.i, bo.e ->> 'id' AS orig, pa.e AS pe, pa.e IS NOT NULL AS in_a,
             mvd.t IS NOT NULL AS mv,
             coalesce(state -> (bo.e ->> 'id'), jsonb_build_array(bo.e ->> 'id', 0, 0, 0)) AS prev,
             pg_catalog.hashtextextended(bo.e ->> 'id', h) AS ho
      FROM jsonb_array_elements(b) WITH ORDINALITY bo(e, i)
      LEFT JOIN jsonb_array_elements(a) pa(e) ON pa.e ->> 'id' = bo.e ->> 'id'
      LEFT JOIN jsonb_array_elements_text(moved) mvd(t) ON mvd.t = bo.e ->> 'id') ob,
LATERAL (SELECT ((pg_catalog.hashint8extended(1, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                ((pg_catalog.hashint8extended(2, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                ((pg_catalog.hashint8extended(3, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u3,
                ((pg_catalog.hashint8extended(4, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u4,
                ((pg_catalog.hashint8extended(5, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u5,
                ((pg_catalog.hashint8extended(6, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u6) u,
LATERAL (SELECT step > 1 AND u.u1 < reidentify_rate AS reid,
                ob.in_a AND u.u2 < rotate_rate AS rotated,
                -- the move in the chain, in mm
                CASE WHEN ob.in_a THEN ((ob.e ->> 'x')::numeric - (ob.pe ->> 'x')::numeric) * 1000 END AS mx,
                CASE WHEN ob.in_a THEN ((ob.e ->> 'y')::numeric - (ob.pe ->> 'y')::numeric) * 1000 END AS my) m,
LATERAL (SELECT CASE WHEN m.reid
                     THEN translate(left(encode(decode(md5(h::text || '/' || ob.orig), 'hex'), 'base64'), 22),
                                    '+/', '_$')
                     ELSE ob.prev ->> 0 END AS id_b,
                m.rotated,
                CASE WHEN m.reid AND ob.in_a THEN round((2 * u.u5 - 1) * jitter)::int8 ELSE 0 END AS jx,
                CASE WHEN m.reid AND ob.in_a THEN round((2 * u.u6 - 1) * jitter)::int8 ELSE 0 END AS jy,
                ob.mv AND (shift_x <> 0 OR shift_y <> 0)
                AND (m.mx + shift_x) ^ 2 + (m.my + shift_y) ^ 2 < 40000 AS turn) ev,
LATERAL (SELECT (ob.prev ->> 1)::int8
                + CASE WHEN ev.rotated
                       THEN (5000 + floor(170001 * u.u3)::int8) * CASE WHEN u.u4 < 0.5 THEN -1 ELSE 1 END
                       ELSE 0 END AS rot,
                (ob.prev ->> 2)::int8 + ev.jx + CASE WHEN ev.turn THEN -2 * m.mx::int8 ELSE 0 END AS ox,
                (ob.prev ->> 3)::int8 + ev.jy + CASE WHEN ev.turn THEN -2 * m.my::int8 ELSE 0 END AS oy) nw
$fn$;

-- One step of a chain, re-exported: {"payload", "truth", "state", "ids_ok"}.
-- The truth speaks of the uploaded ids: removed objects by their id in a,
-- the rest by their id in b.  A re-identified object that is also retyped
-- is nothing bt_diff can link (it re-identifies within a type): it is
-- removed and added.  The shift is in the truth when at least half (and at
-- least 3) of the objects in both versions moved by just it (jitter within
-- the move tolerance aside); otherwise every object in both versions moved.
-- ids_ok: no new id equals another id of a or b (128 bits of md5 make a
-- clash all but impossible; the caller stops if one happens).
CREATE FUNCTION buildtrace._reexport_step(a jsonb, b jsonb, truth jsonb, state jsonb, step int,
                                          h int8, reidentify_rate float8, rotate_rate float8,
                                          shift_x int8, shift_y int8, jitter int8)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH o AS MATERIALIZED (
    SELECT o.*, o.in_a AND o.id_a <> o.id_b AND rt.t IS NOT NULL AS fresh,
           o.in_a AND NOT (o.id_a <> o.id_b AND rt.t IS NOT NULL) AS matched
    FROM buildtrace._reexport_objects(a, b, truth -> 'moved', state, step, h, reidentify_rate,
                                      rotate_rate, shift_x, shift_y, jitter) o
    LEFT JOIN jsonb_array_elements_text(truth -> 'retyped') rt(t) ON rt.t = o.orig
),
sh AS (
    SELECT shift_x <> 0 OR shift_y <> 0 AS shifted,
           count(*) FILTER (WHERE matched AND NOT mv) >= 3
           AND 2 * count(*) FILTER (WHERE matched AND NOT mv) >= count(*) FILTER (WHERE matched) AS seen
    FROM o
),
lists AS (
    SELECT t.k, CASE WHEN t.k = 'removed' THEN coalesce(state -> t.id ->> 0, t.id) ELSE o.id_b END AS id
    FROM unnest(ARRAY['added', 'removed', 'moved', 'resized', 'retyped', 'modified']) k(k)
    CROSS JOIN LATERAL (SELECT k.k, x FROM jsonb_array_elements_text(truth -> k.k) x) t(k, id)
    LEFT JOIN o ON o.orig = t.id AND t.k <> 'removed'
    WHERE t.k IN ('added', 'removed') OR o.matched
    UNION ALL SELECT 'removed', id_a FROM o WHERE fresh
    UNION ALL SELECT 'added', id_b FROM o WHERE fresh
    UNION ALL SELECT 'moved', id_b FROM o, sh WHERE sh.shifted AND NOT sh.seen AND matched AND NOT mv
    UNION ALL SELECT 'rotated', id_b FROM o WHERE matched AND rotated
)
SELECT jsonb_build_object(
    'payload', (SELECT coalesce(jsonb_agg(elem ORDER BY i), '[]') FROM o),
    'state', (SELECT coalesce(jsonb_object_agg(orig, st), '{}') FROM o),
    'ids_ok', (SELECT count(DISTINCT id_b) = count(*) FROM o)
              AND NOT EXISTS (SELECT FROM o JOIN jsonb_each(state) s ON s.value ->> 0 = o.id_b
                              WHERE s.key <> o.orig),
    'truth', truth
             || '{"added": [], "removed": [], "moved": [], "resized": [], "retyped": [],
                  "modified": [], "rotated": []}'::jsonb
             -- (json_object_agg: see _sim_chain's truth)
             || (SELECT coalesce(json_object_agg(k, ids)::jsonb, '{}')
                 FROM (SELECT k, jsonb_agg(id ORDER BY id COLLATE "C") AS ids FROM lists GROUP BY k) l)
             || jsonb_build_object(
                    'reidentified', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id_b, 'previous_id', id_a)
                                                               ORDER BY id_b COLLATE "C"), '[]')
                                     FROM o WHERE matched AND id_a <> id_b),
                    'shift', (SELECT CASE WHEN shifted AND seen
                                          THEN jsonb_build_object('dx', trim_scale(shift_x / 1000.0),
                                                                  'dy', trim_scale(shift_y / 1000.0)) END
                              FROM sh)))
$fn$;

-- The version chains with the re-export options applied (see above); with
-- them all off, _sim_chain's rows as they are.  Version 1 is the base as the
-- chain made it.
CREATE FUNCTION buildtrace._reexport_chain(p_drawings int, p_versions int, p_objects int,
                                           p_rate float8, p_seed int, p_spike_drawing int,
                                           p_spike_step int, p_spike_factor float8,
                                           p_reidentify float8, p_jitter float8, p_rotate float8,
                                           p_shift_dx float8, p_shift_dy float8)
RETURNS TABLE(drawing_no int, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    sx int8 := round(p_shift_dx * 1000);
    sy int8 := round(p_shift_dy * 1000);
    jit int8 := round(p_jitter * 1000);
    hr int8 := hashint8extended(-3, p_seed);
    c record;
    prev jsonb;
    state jsonb;
    r jsonb;
BEGIN
    -- The spike step adds its changes as new objects: no more than a
    -- drawing may have.
    IF p_spike_step IS NOT NULL
       AND buildtrace._sim_spike_objects(p_spike_factor, p_rate, p_objects) > 1000000 THEN
        RAISE EXCEPTION 'spike_factor is too large for this drawing size'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The spike would add %s objects (spike_factor %s × 6 change kinds × change_rate %s × objects %s), more than 1000000.',
                                  CASE WHEN p_spike_factor > 1e300
                                       THEN trim(to_char(p_spike_factor::numeric * 6 * p_rate::numeric * p_objects, '9.9EEEE'))
                                       ELSE buildtrace._sim_spike_objects(p_spike_factor, p_rate, p_objects)::text END,
                                  p_spike_factor, p_rate, p_objects),
                  HINT = 'Lower spike_factor, change_rate or objects.';
    END IF;
    IF p_reidentify = 0 AND p_jitter = 0 AND p_rotate = 0 AND p_shift_dx = 0 AND p_shift_dy = 0 THEN
        RETURN QUERY SELECT * FROM buildtrace._sim_chain(p_drawings, p_versions, p_objects, p_rate, p_seed,
                                                          p_spike_drawing, p_spike_step, p_spike_factor);
        RETURN;
    END IF;
    FOR c IN SELECT * FROM buildtrace._sim_chain(p_drawings, p_versions, p_objects, p_rate, p_seed,
                                                 p_spike_drawing, p_spike_step, p_spike_factor) x
             ORDER BY x.drawing_no, x.version_no LOOP
        drawing_no := c.drawing_no;
        version_no := c.version_no;
        IF c.version_no = 1 THEN
            -- the base: nothing re-exported yet
            state := '{}';
            payload := c.payload;
            truth := c.truth || '{"reidentified": [], "rotated": [], "shift": null}';
        ELSE
            r := buildtrace._reexport_step(prev, c.payload, c.truth, state, c.version_no,
                                           hashint8extended(c.version_no, hashint8extended(c.drawing_no, hr)),
                                           p_reidentify, p_rotate, sx, sy, jit);
            IF NOT (r ->> 'ids_ok')::bool THEN
                RAISE EXCEPTION 'a regenerated id clashes with another id of drawing % version %',
                                c.drawing_no, c.version_no
                    USING ERRCODE = 'internal_error';
            END IF;
            state := r -> 'state';
            payload := r -> 'payload';
            truth := r -> 'truth';
        END IF;
        prev := c.payload;
        RETURN NEXT;
    END LOOP;
END
$fn$;

-- Argument checks of the re-export options (generate_pairs, generate_versions).
CREATE FUNCTION buildtrace._reexport_check_args(reidentify_rate float8, reidentify_jitter float8,
                                                rotate_rate float8, shift_dx float8, shift_dy float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF reidentify_rate IS NULL OR NOT reidentify_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'reidentify_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for reidentify_rate was %s.',
                                  coalesce(reidentify_rate::text, 'null'));
    END IF;
    IF reidentify_jitter IS NULL OR NOT reidentify_jitter BETWEEN 0 AND 0.07 THEN
        RAISE EXCEPTION 'reidentify_jitter must be between 0 and 0.07'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for reidentify_jitter was %s.',
                                  coalesce(reidentify_jitter::text, 'null')),
                  HINT = 'A re-identified object moves by at most the jitter on each axis; it must stay within the move tolerance (0.1), diagonally too.';
    END IF;
    IF rotate_rate IS NULL OR NOT rotate_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'rotate_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for rotate_rate was %s.', coalesce(rotate_rate::text, 'null'));
    END IF;
    IF shift_dx IS NULL OR NOT shift_dx BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'shift_dx must be between -1000000 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for shift_dx was %s.', coalesce(shift_dx::text, 'null'));
    END IF;
    IF shift_dy IS NULL OR NOT shift_dy BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'shift_dy must be between -1000000 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for shift_dy was %s.', coalesce(shift_dy::text, 'null'));
    END IF;
    -- in millimetres, as applied
    IF round(shift_dx * 1000) ^ 2 + round(shift_dy * 1000) ^ 2 BETWEEN 1 AND 39999 THEN
        RAISE EXCEPTION 'shift must be zero or at least 0.2 units long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were shift_dx %s, shift_dy %s.', shift_dx, shift_dy),
                  HINT = 'Moves are 0.2 to 3 units; a shorter shift is within or too near the move tolerance (0.1) to tell from them.';
    END IF;
END
$fn$;

-- Simulated drawing pairs with ground truth.  Pair p belongs to drawing
-- ((p - 1) % drawings) + 1; the pairs of one drawing are its consecutive
-- versions, so with `drawings` set they are exactly the consecutive pairs of
-- generate_versions(drawings, ...) with the same seed.  NULL drawings: one
-- drawing per pair.  spike_at: the pair that changes far more objects.
-- reidentify_rate, reidentify_jitter, rotate_rate, shift_dx, shift_dy: the
-- re-export options of _reexport_chain (each version b against a).
CREATE FUNCTION buildtrace.generate_pairs(pairs int, objects int DEFAULT 100,
                                          change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                          malformed_rate float8 DEFAULT 0,
                                          drawings int DEFAULT NULL, spike_at int DEFAULT NULL,
                                          spike_factor float8 DEFAULT 10,
                                          drawing_prefix text DEFAULT 'DWG-',
                                          reidentify_rate float8 DEFAULT 0,
                                          reidentify_jitter float8 DEFAULT 0,
                                          rotate_rate float8 DEFAULT 0,
                                          shift_dx float8 DEFAULT 0, shift_dy float8 DEFAULT 0)
RETURNS TABLE(pair_no int, drawing_id text, version_a jsonb, version_b jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    np int := generate_pairs.pairs;
    nd int := coalesce(generate_pairs.drawings, greatest(generate_pairs.pairs, 1));
    sd int8 := coalesce(generate_pairs.seed, 0);
    mr float8 := generate_pairs.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('pairs', np, generate_pairs.objects,
                                       generate_pairs.change_rate, mr, generate_pairs.spike_factor);
    PERFORM buildtrace._reexport_check_args(generate_pairs.reidentify_rate, generate_pairs.reidentify_jitter,
                                            generate_pairs.rotate_rate, generate_pairs.shift_dx,
                                            generate_pairs.shift_dy);
    IF nd < 1 THEN
        RAISE EXCEPTION 'drawings must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', nd);
    END IF;
    IF generate_pairs.spike_at IS NOT NULL AND NOT generate_pairs.spike_at BETWEEN 1 AND np THEN
        RAISE EXCEPTION 'spike_at must be a pair number between 1 and %', np
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', generate_pairs.spike_at);
    END IF;
    RETURN QUERY
    WITH c AS MATERIALIZED (
        -- only the drawings the pairs use: pair p is of drawing (p - 1) % nd + 1
        SELECT * FROM buildtrace._reexport_chain(least(nd, greatest(np, 1)),
                                                 ((np::int8 + nd - 1) / nd + 1)::int, generate_pairs.objects,
                                                 generate_pairs.change_rate, sd::int,
                                                 (generate_pairs.spike_at - 1) % nd + 1,
                                                 (generate_pairs.spike_at - 1) / nd + 2,
                                                 generate_pairs.spike_factor,
                                                 generate_pairs.reidentify_rate, generate_pairs.reidentify_jitter,
                                                 generate_pairs.rotate_rate, generate_pairs.shift_dx,
                                                 generate_pairs.shift_dy)
    ),
    p AS (
        SELECT g.p, (g.p - 1) % nd + 1 AS d, (g.p - 1) / nd + 2 AS s, hm,
               ((hashint8extended(1, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad,
               ((hashint8extended(2, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < 0.5 AS bad_a
        FROM generate_series(1, np) g(p),
             LATERAL (SELECT hashint8extended(g.p, hashint8extended(-1, sd)) AS hm) h
    )
    SELECT p.p, buildtrace._sim_drawing_id(generate_pairs.drawing_prefix, p.d),
           CASE WHEN p.bad AND p.bad_a THEN x.broken -> 'payload' ELSE a.payload END,
           CASE WHEN p.bad AND NOT p.bad_a THEN x.broken -> 'payload' ELSE b.payload END,
           CASE WHEN p.bad
                THEN b.truth || jsonb_build_object('malformed', true,
                                                   'defect', jsonb_build_object('version', CASE WHEN p.bad_a THEN 'a' ELSE 'b' END)
                                                             || (x.broken -> 'defect'))
                ELSE b.truth END
    FROM p
    JOIN c a ON a.drawing_no = p.d AND a.version_no = p.s - 1
    JOIN c b ON b.drawing_no = p.d AND b.version_no = p.s
    LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(CASE WHEN p.bad_a THEN a.payload ELSE b.payload END,
                                                      hashint8extended(3, p.hm)) AS broken
                       WHERE p.bad) x ON true
    ORDER BY p.p;
END
$fn$;
COMMENT ON FUNCTION buildtrace.generate_pairs(integer, integer, float8, integer, float8, integer, integer, float8, text, float8, float8, float8, float8, float8) IS
    'Simulated drawing version pairs with the ground truth of their changes; the same seed gives the same pairs.';

-- Simulated version chains for INSERT INTO buildtrace.versions: version 1 is
-- a base floor plan, each later version the previous one changed; truth is
-- relative to the previous version (version 1: all objects added).  A
-- malformed version is a broken copy of what would have been uploaded; the
-- next version is derived from the unbroken one.  spike_at / spike_drawing:
-- the version (> 1) that changes far more objects.  reidentify_rate,
-- reidentify_jitter, rotate_rate, shift_dx, shift_dy: the re-export options
-- of _reexport_chain (each version against the one before).
CREATE FUNCTION buildtrace.generate_versions(drawings int, versions int, objects int DEFAULT 100,
                                             change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                             malformed_rate float8 DEFAULT 0,
                                             spike_at int DEFAULT NULL, spike_drawing int DEFAULT 1,
                                             spike_factor float8 DEFAULT 10,
                                             drawing_prefix text DEFAULT 'DWG-',
                                             reidentify_rate float8 DEFAULT 0,
                                             reidentify_jitter float8 DEFAULT 0,
                                             rotate_rate float8 DEFAULT 0,
                                             shift_dx float8 DEFAULT 0, shift_dy float8 DEFAULT 0)
RETURNS TABLE(drawing_id text, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    nd int := generate_versions.drawings;
    nv int := generate_versions.versions;
    sd int8 := coalesce(generate_versions.seed, 0);
    mr float8 := generate_versions.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('drawings', nd, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._sim_check_args('versions', nv, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._reexport_check_args(generate_versions.reidentify_rate,
                                            generate_versions.reidentify_jitter,
                                            generate_versions.rotate_rate, generate_versions.shift_dx,
                                            generate_versions.shift_dy);
    IF generate_versions.spike_at IS NOT NULL
       AND (NOT generate_versions.spike_at BETWEEN 2 AND nv
            OR generate_versions.spike_drawing IS NULL
            OR NOT generate_versions.spike_drawing BETWEEN 1 AND nd) THEN
        RAISE EXCEPTION 'spike must be at a version between 2 and % of a drawing between 1 and %', nv, nd
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were spike_at %s, spike_drawing %s.',
                                  generate_versions.spike_at,
                                  coalesce(generate_versions.spike_drawing::text, 'null'));
    END IF;
    IF nd = 0 OR nv = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT buildtrace._sim_drawing_id(generate_versions.drawing_prefix, c.drawing_no), c.version_no,
           CASE WHEN bad THEN x.broken -> 'payload' ELSE c.payload END,
           CASE WHEN bad THEN c.truth || jsonb_build_object('malformed', true,
                                                            'defect', x.broken -> 'defect')
                ELSE c.truth END
    FROM buildtrace._reexport_chain(nd, nv, generate_versions.objects, generate_versions.change_rate,
                                    sd::int, generate_versions.spike_drawing,
                                    generate_versions.spike_at, generate_versions.spike_factor,
                                    generate_versions.reidentify_rate, generate_versions.reidentify_jitter,
                                    generate_versions.rotate_rate, generate_versions.shift_dx,
                                    generate_versions.shift_dy) c,
         LATERAL (SELECT hashint8extended(c.version_no,
                                          hashint8extended(c.drawing_no, hashint8extended(-2, sd))) AS hm) h,
         LATERAL (SELECT ((hashint8extended(1, h.hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad) m
         LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(c.payload, hashint8extended(3, h.hm)) AS broken
                            WHERE m.bad) x ON true
    ORDER BY c.drawing_no, c.version_no;
END
$fn$;
COMMENT ON FUNCTION buildtrace.generate_versions(integer, integer, integer, float8, integer, float8, integer, integer, float8, text, float8, float8, float8, float8, float8) IS
    'Simulated version chains of drawings with the ground truth of each version''s changes; the same seed gives the same versions.';
