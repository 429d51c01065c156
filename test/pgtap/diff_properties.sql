-- Properties of bt_diff, bt_validate and bt_try_diff over the IFC sample
-- house and 30 random drawing pairs, checked against plain-SQL oracles.
BEGIN;
SELECT plan(17);
SET LOCAL search_path = buildtrace, public, pg_catalog;

\set fzk `cat test/data/fzk-haus.json`

-- 30 random pairs of 200 objects: ~5 % removed, ~5 % added, ~10 % moved,
-- ~10 % resized, ~5 % retyped, ~5 % relayered, elements in random order.
SELECT setseed(0.42);
CREATE TEMP TABLE objs ON COMMIT DROP AS
SELECT p, n, 'O' || n AS id, (ARRAY['wall','door','window','column'])[1 + floor(random() * 4)::int] AS type,
       round((random() * 100)::numeric, 2) AS x, round((random() * 100)::numeric, 2) AS y,
       round((random() * 5)::numeric, 2) AS w, round((random() * 5)::numeric, 2) AS h,
       random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS ord
FROM generate_series(1, 30) p, generate_series(1, 200) n;
CREATE TEMP TABLE pairs ON COMMIT DROP AS
SELECT p,
       coalesce(jsonb_agg(jsonb_build_object('id', id, 'type', type, 'x', x, 'y', y, 'width', w, 'height', h, 'layer', 'L')
                          ORDER BY ord) FILTER (WHERE r1 >= 0.05), '[]') AS a,
       coalesce(jsonb_agg(jsonb_build_object(
                  'id', id,
                  'type', CASE WHEN r2 < 0.05 THEN 'beam' ELSE type END,
                  'x', x + CASE WHEN r3 < 0.10 THEN round((r4 * 0.4 - 0.2)::numeric, 2) ELSE 0 END,
                  'y', y + CASE WHEN r3 < 0.10 THEN round((r2 * 0.4 - 0.2)::numeric, 2) ELSE 0 END,
                  'width', w + CASE WHEN r3 BETWEEN 0.10 AND 0.20 THEN round((r4 * 0.04)::numeric, 2) ELSE 0 END,
                  'height', h,
                  'layer', CASE WHEN r4 < 0.05 THEN 'M' ELSE 'L' END)
                ORDER BY ord DESC) FILTER (WHERE r1 < 0.95), '[]') AS b
FROM objs GROUP BY p;
INSERT INTO pairs VALUES (0, :'fzk', :'fzk'), (-1, '[]', :'fzk'), (-2, :'fzk', '[]');
CREATE TEMP TABLE diffs ON COMMIT DROP AS
SELECT p, a, b, bt_diff(a, b) AS d, bt_diff(b, a) AS r FROM pairs;

CREATE FUNCTION pg_temp.ids(j jsonb) RETURNS text[] LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(array_agg(e->>'id' ORDER BY e->>'id' COLLATE "C"), '{}') FROM jsonb_array_elements(j) e $$;

SELECT is((SELECT count(*) FROM diffs WHERE p > 0 AND (d->'counts'->>'moved')::int > 0
                                         AND (d->'counts'->>'added')::int > 0 AND (d->'counts'->>'removed')::int > 0
                                         AND (d->'counts'->>'resized')::int > 0 AND (d->'counts'->>'retyped')::int > 0), 30::bigint,
          'every random pair has moves, additions, removals, resizes and retypes');

-- bt_diff(a, a) has no changes.
SELECT is_empty($$
  SELECT p FROM diffs, LATERAL (SELECT bt_diff(a, a) AS s UNION ALL SELECT bt_diff(b, b)) x
  WHERE s->>'summary' <> 'No changes.'
     OR (SELECT sum(value::int) FROM jsonb_each_text(s->'counts') WHERE key <> 'unchanged') <> 0
$$, 'bt_diff(a, a) reports no changes');
SELECT is_empty($$
  SELECT p FROM diffs WHERE (bt_diff(a, a)->'counts'->>'unchanged')::int <> jsonb_array_length(a)
$$, 'bt_diff(a, a) counts every object unchanged');

-- Swapping the versions swaps added and removed and keeps the rest.
SELECT is_empty($$
  SELECT p FROM diffs
  WHERE d->'added' <> r->'removed' OR d->'removed' <> r->'added'
$$, 'added of (a, b) equals removed of (b, a), and vice versa');
SELECT is_empty($$
  SELECT p FROM diffs
  WHERE pg_temp.ids(d->'moved') <> pg_temp.ids(r->'moved')
     OR pg_temp.ids(d->'resized') <> pg_temp.ids(r->'resized')
     OR pg_temp.ids(d->'retyped') <> pg_temp.ids(r->'retyped')
     OR pg_temp.ids(d->'modified') <> pg_temp.ids(r->'modified')
     OR d->'counts'->'unchanged' <> r->'counts'->'unchanged'
     OR (SELECT bool_or(m1->'distance' <> m2->'distance' OR (m1->>'dx')::numeric <> -(m2->>'dx')::numeric)
         FROM jsonb_array_elements(d->'moved') m1 JOIN jsonb_array_elements(r->'moved') m2 ON m1->'id' = m2->'id')
$$, 'moved, resized, retyped, modified are symmetric; reversed moves negate dx');

-- Counts equal list lengths, and every object is accounted for.
SELECT is_empty($$
  SELECT p, k FROM diffs, unnest(ARRAY['added','removed','moved','resized','retyped','modified']) k
  WHERE (d->'counts'->>k)::int <> jsonb_array_length(d->k)
$$, 'counts equal list lengths');
SELECT is_empty($$
  SELECT p FROM diffs
  WHERE (d->'counts'->>'added')::int + (d->'counts'->>'unchanged')::int
        + cardinality(ARRAY(SELECT DISTINCT unnest(pg_temp.ids(d->'moved') || pg_temp.ids(d->'resized')
                                                   || pg_temp.ids(d->'retyped') || pg_temp.ids(d->'modified'))))
        <> jsonb_array_length(b)
$$, 'added + unchanged + changed = objects in b');

-- Lists are ordered by id (byte order).
SELECT is_empty($$
  SELECT p, k FROM diffs, unnest(ARRAY['added','removed','moved','resized','retyped','modified']) k
  WHERE ARRAY(SELECT e->>'id' FROM jsonb_array_elements(d->k) e) <> pg_temp.ids(d->k)
$$, 'every list is ordered by id');

-- Plain-SQL oracles with the same rules (move: distance > 0.1; resize:
-- |dw| or |dh| > 0.01; exact decimal arithmetic).
CREATE TEMP VIEW joined AS
SELECT p, ea, eb FROM pairs,
  LATERAL (SELECT ea, eb FROM jsonb_array_elements(a) ea FULL JOIN jsonb_array_elements(b) eb
           ON ea->>'id' = eb->>'id') j;
SELECT is_empty($$
  SELECT p FROM diffs d JOIN (
    SELECT p,
      coalesce(array_agg(eb->>'id' ORDER BY eb->>'id' COLLATE "C") FILTER (WHERE ea IS NULL), '{}') AS added,
      coalesce(array_agg(ea->>'id' ORDER BY ea->>'id' COLLATE "C") FILTER (WHERE eb IS NULL), '{}') AS removed,
      coalesce(array_agg(ea->>'id' ORDER BY ea->>'id' COLLATE "C")
        FILTER (WHERE sqrt(((eb->>'x')::numeric - (ea->>'x')::numeric) ^ 2
                         + ((eb->>'y')::numeric - (ea->>'y')::numeric) ^ 2) > 0.1), '{}') AS moved,
      coalesce(array_agg(ea->>'id' ORDER BY ea->>'id' COLLATE "C")
        FILTER (WHERE abs((eb->>'width')::numeric - (ea->>'width')::numeric) > 0.01
                   OR abs((eb->>'height')::numeric - (ea->>'height')::numeric) > 0.01), '{}') AS resized,
      coalesce(array_agg(ea->>'id' ORDER BY ea->>'id' COLLATE "C")
        FILTER (WHERE ea->'type' <> eb->'type'), '{}') AS retyped
    FROM joined GROUP BY p) o USING (p)
  WHERE pg_temp.ids(d.d->'added') <> o.added OR pg_temp.ids(d.d->'removed') <> o.removed
     OR pg_temp.ids(d.d->'moved') <> o.moved OR pg_temp.ids(d.d->'resized') <> o.resized
     OR pg_temp.ids(d.d->'retyped') <> o.retyped
$$, 'added, removed, moved, resized, retyped agree with a plain-SQL diff');
SELECT is_empty($$
  SELECT p, m FROM diffs, jsonb_array_elements(d->'moved') m
  WHERE (m->>'dx')::numeric <> (m->'to'->>'x')::numeric - (m->'from'->>'x')::numeric
     OR (m->>'dy')::numeric <> (m->'to'->>'y')::numeric - (m->'from'->>'y')::numeric
     OR abs((m->>'distance')::numeric - sqrt((m->>'dx')::numeric ^ 2 + (m->>'dy')::numeric ^ 2)) > 1e-9
     OR m->>'direction' <> (ARRAY['east','north-east','north','north-west','west','south-west','south','south-east'])
          [1 + ((floor(degrees(atan2((m->>'dy')::float8, (m->>'dx')::float8)) / 45 + 0.5)::int + 8) % 8)]
$$, 'dx, dy, distance and direction of every move are right');

-- The three input forms of the same drawing give the same diff.
CREATE FUNCTION pg_temp.as_map(v jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS
$$ SELECT coalesce(jsonb_object_agg(e->>'id', e - 'id'), '{}') FROM jsonb_array_elements(v) e $$;
SELECT is_empty($$
  SELECT p FROM diffs
  WHERE bt_diff(jsonb_build_object('objects', a, 'rev', 1), jsonb_build_object('objects', b)) <> d
     OR bt_diff(pg_temp.as_map(a), pg_temp.as_map(b)) <> d
     OR bt_diff(a, pg_temp.as_map(b)) <> d
$$, 'array, wrapper and map forms give the same diff');

-- Tolerances: a larger tolerance never reports more.
SELECT is_empty($$
  SELECT p FROM diffs
  WHERE NOT (pg_temp.ids(bt_diff(a, b, 0.15, 0.02)->'moved') <@ pg_temp.ids(d->'moved'))
     OR NOT (pg_temp.ids(d->'moved') <@ pg_temp.ids(bt_diff(a, b, 0, 0)->'moved'))
     OR NOT (pg_temp.ids(bt_diff(a, b, 0.15, 0.02)->'resized') <@ pg_temp.ids(d->'resized'))
$$, 'moved and resized shrink as tolerances grow');

-- bt_validate and bt_try_diff agree with bt_diff.
SELECT is_empty($$
  SELECT p FROM diffs WHERE bt_validate(a) <> '[]' OR bt_validate(b) <> '[]' OR bt_try_diff(a, b) <> d
$$, 'valid pairs: bt_validate is [] and bt_try_diff equals bt_diff');
CREATE TEMP TABLE broken ON COMMIT DROP AS
SELECT p, jsonb_set(a, '{3,x}', '"3.5"') AS a, jsonb_set(b, '{5}', '"oops"') AS b FROM pairs WHERE p > 0;
SELECT is_empty($$
  SELECT p FROM broken
  WHERE bt_try_diff(a, b)->'problems' <>
        (SELECT jsonb_agg(pr || jsonb_build_object('version', v,
                     'detail', 'Version ' || v || ', ' || lower(left(pr->>'detail', 1)) || substr(pr->>'detail', 2)))
         FROM (SELECT 'a' AS v, bt_validate(a) AS ps UNION ALL SELECT 'b', bt_validate(b)) s,
              jsonb_array_elements(ps) pr)
$$, 'bt_try_diff lists exactly the problems bt_validate finds in each version');
SELECT throws_ok($$ SELECT bt_diff(a, b) FROM broken WHERE p = 1 $$, '22036',
                 'non-numeric value in drawing object', 'bt_diff raises the first problem of version a');
SELECT lives_ok($$ SELECT bt_try_diff(a, b) FROM broken $$, 'bt_try_diff never raises for bad drawing data');

-- dx and dy are exact, and written as numeric subtraction writes them (the
-- larger display scale of the two), for coordinates the diff subtracts as
-- scaled integers and for those it leaves to numeric arithmetic (more
-- digits, larger scales, far exponents).
CREATE TEMP TABLE coords ON COMMIT DROP AS
SELECT v::numeric AS x FROM unnest(ARRAY['0', '0.0', '2.5', '-2.5', '5.0', '0.001', '123456.789', '-0.30',
    '1e-20', '99999999999.9999', '1234567890123.45', '12345678901234567890', '-7.125000',
    '0.1', '0.20', '1e10', '3.14159265358979', '1.000000000000001', '-999999999999999',
    '0.000000000000000123', '42', '-0.5', '10000', '9999.9999']) v;
SELECT is_empty($$
  SELECT a.x, b.x, m->>'dx'
  FROM coords a, coords b,
       LATERAL (SELECT bt_diff(jsonb_build_array(jsonb_build_object('id', 'P', 'x', a.x, 'y', b.x, 'width', 1, 'height', 1)),
                               jsonb_build_array(jsonb_build_object('id', 'P', 'x', b.x, 'y', a.x, 'width', 1, 'height', 1)),
                               0) -> 'moved' -> 0 AS m) d
  WHERE a.x <> b.x
    AND (m IS NULL OR m->>'dx' <> (b.x - a.x)::text OR m->>'dy' <> (a.x - b.x)::text)
$$, 'dx and dy equal numeric subtraction, value and display scale, over 24 x 24 coordinates');

SELECT * FROM finish();
ROLLBACK;
