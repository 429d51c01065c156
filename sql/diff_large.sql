-- bt_diff on a generated drawing of 12,000 objects with known changes.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

-- Version a: 12,000 objects (ids O00001..O12000) in shuffled order.
-- Version b: 1..200 removed, 201..500 moved 1 unit north-east-ish
-- (dx 1, dy 1), 501..700 widened by 0.5, 701..800 retyped, 801..1000
-- relayered, 1001..1050 moved AND resized, 12001..12300 added; the rest
-- unchanged (with keys written in another order for half of them).
CREATE TEMP TABLE big AS
WITH objs AS (
  SELECT n, format('O%s', lpad(n::text, 5, '0')) AS id,
         (ARRAY['wall','door','window','column','beam','slab'])[1 + n % 6] AS type
  FROM generate_series(1, 12300) n),
a AS (
  SELECT jsonb_agg(jsonb_build_object('id', id, 'type', type, 'x', n % 100, 'y', n / 100,
                                      'width', 1 + n % 7, 'height', 0.25, 'layer', 'L' || n % 10)
                   ORDER BY md5(id)) AS v
  FROM objs WHERE n <= 12000),
b AS (
  SELECT jsonb_agg(jsonb_build_object(
           'id', id,
           'type', CASE WHEN n BETWEEN 701 AND 800 THEN 'opening' ELSE type END,
           'x', n % 100 + CASE WHEN n BETWEEN 201 AND 500 OR n BETWEEN 1001 AND 1050 THEN 1 ELSE 0 END,
           'y', n / 100 + CASE WHEN n BETWEEN 201 AND 500 THEN 1 ELSE 0 END,
           'width', 1 + n % 7 + CASE WHEN n BETWEEN 501 AND 700 OR n BETWEEN 1001 AND 1050 THEN 0.5 ELSE 0 END,
           'height', 0.25,
           'layer', CASE WHEN n BETWEEN 801 AND 1000 THEN 'X' ELSE 'L' || n % 10 END)
         ORDER BY n DESC) AS v
  FROM objs WHERE n > 200)
SELECT a.v AS a, b.v AS b, bt_diff(a.v, b.v) AS d FROM a, b;

SELECT jsonb_array_length(a) AS objects_a, jsonb_array_length(b) AS objects_b, d->'counts' AS counts
FROM big;
SELECT d->>'summary' AS summary FROM big;
-- Lists are ordered by id and hold the expected ids.
SELECT k, jsonb_array_length(d->k) AS n, d->k->0->>'id' AS first, d->k->-1->>'id' AS last,
       (SELECT bool_and(e1->>'id' < e2->>'id')
        FROM jsonb_array_elements(d->k) WITH ORDINALITY x1(e1, i)
        JOIN jsonb_array_elements(d->k) WITH ORDINALITY x2(e2, j) ON j = i + 1) AS ordered
FROM big, unnest(ARRAY['added','removed','moved','resized','retyped','modified']) k;
SELECT d->'moved'->0 AS first_move, d->'modified'->0 AS first_modified FROM big;
-- Swapping the versions swaps added and removed.
SELECT bt_diff(b, a)->'counts' AS reversed FROM big;
-- The result's bytes are those PostgreSQL stores for its text (*= compares
-- the stored images): counts of five digits, 10000 and 10950, included.
CREATE FUNCTION pg_temp.stored_as_its_text(j jsonb) RETURNS boolean LANGUAGE sql AS
$$ SELECT t *= u FROM (SELECT j) t, (SELECT j::text::jsonb) u $$;
SELECT pg_temp.stored_as_its_text(d) AS canonical,
       pg_temp.stored_as_its_text(bt_diff(a, a)) AS canonical_same,
       (SELECT pg_temp.stored_as_its_text(x) AND x->'counts'->'unchanged' = '10000'
        FROM (SELECT bt_diff(v, v) AS x
              FROM (SELECT jsonb_agg(e) AS v
                    FROM jsonb_array_elements(a) WITH ORDINALITY o(e, i) WHERE i <= 10000) t) s) AS canonical_10000
FROM big;
