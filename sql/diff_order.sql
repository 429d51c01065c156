-- Id order and duplicates on the paths of the id sort (src/drawing.c):
-- versions of 64 objects or more are radix-sorted on the first eight id
-- bytes, and only runs of equal prefixes with longer ids are compared by
-- their text.  Every list must come out in byte order of the ids, as
-- ORDER BY ... COLLATE "C" gives it.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

-- Ids that share long prefixes, short ids that are prefixes of long ones,
-- numbers, and multibyte text; in a shuffled (but fixed) element order.
CREATE TEMP TABLE ids AS
SELECT id, row_number() OVER (ORDER BY md5(id)) AS pos
FROM (SELECT 'building-01-storey-' || i AS id FROM generate_series(1, 120) i
      UNION ALL SELECT 'ABCDEFGH' || i FROM generate_series(1, 40) i
      UNION ALL VALUES ('ABCDEFGH'), ('ABCDEFG'), ('ABCDEFGI'), ('A'), ('AB'), ('ABCDEFGH0'),
                       ('Ä'), ('Äb'), ('ÄÄÄÄÄÄÄÄ1'), ('ÄÄÄÄÄÄÄÄ'), ('zz'), ('0'), ('00000000000')) s(id);

-- a: every id but those at positions divisible by 7; b: all but those
-- divisible by 5.  So the first are added, the second removed.
CREATE TEMP TABLE pair AS
SELECT (SELECT jsonb_agg(jsonb_build_object('id', id, 'x', 0, 'y', 0, 'width', 1, 'height', 1) ORDER BY pos)
        FROM ids WHERE pos % 7 <> 0) AS a,
       (SELECT jsonb_agg(jsonb_build_object('id', id, 'x', CASE WHEN pos % 3 = 0 THEN 1 ELSE 0 END, 'y', 0, 'width', 1, 'height', 1) ORDER BY pos)
        FROM ids WHERE pos % 5 <> 0) AS b;

SELECT jsonb_array_length(a) AS a_objects, jsonb_array_length(b) AS b_objects FROM pair;

-- Each list against its expected ids in byte order.
SELECT ARRAY(SELECT e->>'id' FROM jsonb_array_elements(d->'added') e)
         = ARRAY(SELECT id FROM ids WHERE pos % 7 = 0 AND pos % 5 <> 0 ORDER BY id COLLATE "C") AS added_ok,
       ARRAY(SELECT e->>'id' FROM jsonb_array_elements(d->'removed') e)
         = ARRAY(SELECT id FROM ids WHERE pos % 5 = 0 AND pos % 7 <> 0 ORDER BY id COLLATE "C") AS removed_ok,
       ARRAY(SELECT e->>'id' FROM jsonb_array_elements(d->'moved') e)
         = ARRAY(SELECT id FROM ids WHERE pos % 3 = 0 AND pos % 5 <> 0 AND pos % 7 <> 0 ORDER BY id COLLATE "C") AS moved_ok,
       (d->'counts'->>'unchanged')::int
         = (SELECT count(*) FROM ids WHERE pos % 3 <> 0 AND pos % 5 <> 0 AND pos % 7 <> 0) AS unchanged_ok
FROM (SELECT bt_diff(a, b) AS d FROM pair) s;

-- The first added ids, to see the order by eye.
SELECT e->>'id' AS first_added FROM pair, jsonb_array_elements(bt_diff(a, b)->'added') e LIMIT 8;

-- Duplicates among long ids with a shared prefix, in a version large
-- enough for the radix path: reported in id order, each naming the first
-- element with that id.
SELECT p->>'detail' AS detail
FROM jsonb_array_elements(bt_validate(
       (SELECT jsonb_agg(jsonb_build_object('id', id, 'x', 0, 'y', 0, 'width', 1, 'height', 1) ORDER BY ord)
        FROM (SELECT id, pos AS ord FROM ids
              UNION ALL VALUES ('building-01-storey-99', 1000), ('ABCDEFGH', 1001),
                               ('building-01-storey-100', 1002), ('building-01-storey-99', 1003)) s(id, ord)))) p;
