-- Reading a version against the one before it (src/drawing.c, reuse_like):
-- an object of b byte-identical to a's object expected next is taken from a
-- instead of being read again. Whatever b's order, edits and problems, the
-- diff and the problems must be those of reading b on its own, which is what
-- happens when a is in map form (it is then not used).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

CREATE FUNCTION pg_temp.obj(id text, x numeric, w numeric DEFAULT 1) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_build_object('id', id, 'type', 'wall', 'x', x, 'y', 0, 'width', w, 'height', 1)
$$;
-- The same version as an id -> attributes map.
CREATE FUNCTION pg_temp.as_map(v jsonb) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT jsonb_object_agg(e ->> 'id', e - 'id') FROM jsonb_array_elements(v) e
$$;

-- a: A..H. b: A kept; B moved to the end unchanged; C and D changed in a
-- row; X new; E kept; F removed; G, H kept.
\set a '[{"id":"A","x":1,"y":0,"width":1,"height":1},{"id":"B","x":2,"y":0,"width":1,"height":1},{"id":"C","x":3,"y":0,"width":1,"height":1},{"id":"D","x":4,"y":0,"width":1,"height":1},{"id":"E","x":5,"y":0,"width":1,"height":1},{"id":"F","x":6,"y":0,"width":1,"height":1},{"id":"G","x":7,"y":0,"width":1,"height":1},{"id":"H","x":8,"y":0,"width":1,"height":1}]'
\set b '[{"id":"A","x":1,"y":0,"width":1,"height":1},{"id":"C","x":13,"y":0,"width":1,"height":1},{"id":"D","x":14,"y":0,"width":1,"height":1},{"id":"X","x":9,"y":0,"width":1,"height":1},{"id":"E","x":5,"y":0,"width":1,"height":1},{"id":"G","x":7,"y":0,"width":1,"height":1},{"id":"H","x":8,"y":0,"width":1,"height":1},{"id":"B","x":2,"y":0,"width":1,"height":1}]'
SELECT bt_diff(:'a', :'b') ->> 'summary' AS summary;
SELECT bt_diff(:'a', :'b') -> 'counts' AS counts;
SELECT bt_diff(:'a', :'b') -> 'counts' = bt_diff(pg_temp.as_map(:'a'), :'b') -> 'counts'
   AND bt_diff(:'a', :'b') -> 'moved' = bt_diff(pg_temp.as_map(:'a'), :'b') -> 'moved'
   AND bt_diff(:'a', :'b') -> 'added' = bt_diff(pg_temp.as_map(:'a'), :'b') -> 'added'
   AS same_as_reading_b_alone;

-- b with problems among reused objects: an unchanged object twice (its
-- copy is a duplicate id) and a bad one after them. Every problem is
-- reported, with b's element indexes.
\set bad '[{"id":"A","x":1,"y":0,"width":1,"height":1},{"id":"B","x":2,"y":0,"width":1,"height":1},{"id":"B","x":2,"y":0,"width":1,"height":1},{"id":"C","x":3,"y":0,"width":-1,"height":1}]'
SELECT p ->> 'version' AS version, p ->> 'index' AS index, p ->> 'id' AS id, p ->> 'message' AS message
FROM jsonb_array_elements(bt_try_diff(:'a', :'bad') -> 'problems') p;
SELECT bt_try_diff(:'a', :'bad') = bt_try_diff(pg_temp.as_map(:'a'), :'bad') AS same_problems;

-- An id twice in b, once as a's object unchanged and once changed, in both
-- orders: b's objects taken from a and the others meet in id order, the
-- duplicate reported at the later element, as when reading b alone.
\set dup1 '[{"id":"A","x":1,"y":0,"width":1,"height":1},{"id":"B","x":2,"y":0,"width":1,"height":1},{"id":"B","x":9,"y":0,"width":1,"height":1},{"id":"C","x":3,"y":0,"width":1,"height":1}]'
\set dup2 '[{"id":"A","x":1,"y":0,"width":1,"height":1},{"id":"B","x":9,"y":0,"width":1,"height":1},{"id":"B","x":2,"y":0,"width":1,"height":1},{"id":"C","x":3,"y":0,"width":1,"height":1}]'
SELECT v AS b, p ->> 'index' AS index, p ->> 'id' AS id, p ->> 'detail' AS detail
FROM (VALUES ('dup1', :'dup1'::jsonb), ('dup2', :'dup2'::jsonb)) b(v, doc),
     jsonb_array_elements(bt_try_diff(:'a', doc) -> 'problems') p;
SELECT bt_try_diff(:'a', :'dup1') = bt_try_diff(pg_temp.as_map(:'a'), :'dup1')
   AND bt_try_diff(:'a', :'dup2') = bt_try_diff(pg_temp.as_map(:'a'), :'dup2') AS same_problems;

-- An invalid a is not used: b's copy of a's bad object is reported too.
SELECT p ->> 'version' AS version, p ->> 'index' AS index, p ->> 'message' AS message
FROM jsonb_array_elements(bt_try_diff('[{"id":"Q","x":"?","y":0,"width":1,"height":1}]',
                                      '[{"id":"Q","x":"?","y":0,"width":1,"height":1}]') -> 'problems') p;

-- 300 objects, every kind of edit, runs of them, and a shuffle of a tail:
-- the same result as reading b alone.
CREATE TEMP TABLE big AS
SELECT (SELECT jsonb_agg(pg_temp.obj('O' || lpad(i::text, 4, '0'), i) ORDER BY i)
        FROM generate_series(1, 300) i) AS a,
       (SELECT jsonb_agg(o ORDER BY ord)
        FROM (SELECT CASE WHEN i % 17 IN (3, 4, 5) THEN pg_temp.obj('O' || lpad(i::text, 4, '0'), i + 5)
                          WHEN i % 23 = 0 THEN pg_temp.obj('O' || lpad(i::text, 4, '0'), i, -2)
                          ELSE pg_temp.obj('O' || lpad(i::text, 4, '0'), i) END AS o,
                     CASE WHEN i > 280 THEN 1000 - i ELSE i END AS ord
              FROM generate_series(1, 300) i
              WHERE i % 13 NOT IN (0, 1)
              UNION ALL
              SELECT pg_temp.obj('N' || k, k), k * 31 % 300 + 0.5
              FROM generate_series(1, 12) k) s) AS b;
SELECT jsonb_array_length(bt_try_diff(a, b) -> 'problems') AS problems,
       bt_try_diff(a, b) = bt_try_diff(pg_temp.as_map(a), b) AS same_problems
FROM big;
UPDATE big SET b = (SELECT jsonb_agg(CASE WHEN (e ->> 'width')::numeric < 0
                                          THEN e || '{"width": 2}' ELSE e END)
                    FROM jsonb_array_elements(b) e);
SELECT bt_diff(a, b) -> 'counts' AS counts,
       bt_diff(a, b) -> 'counts' = bt_diff(pg_temp.as_map(a), b) -> 'counts'
       AND bt_diff(a, b) ->> 'summary' = bt_diff(pg_temp.as_map(a), b) ->> 'summary'
       AND bt_diff(a, b) -> 'moved' = bt_diff(pg_temp.as_map(a), b) -> 'moved'
       AND bt_diff(a, b) -> 'resized' = bt_diff(pg_temp.as_map(a), b) -> 'resized'
       AND bt_diff(a, b) -> 'added' = bt_diff(pg_temp.as_map(a), b) -> 'added' AS same_as_reading_b_alone
FROM big;
