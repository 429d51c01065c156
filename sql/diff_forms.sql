-- bt_diff: the three input forms, empty versions, id kinds, NULL handling.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

-- The same change in the array, wrapper and map forms.
\set a_arr '[{"id":"D1","type":"door","x":4,"y":2,"width":1,"height":2},{"id":"W1","type":"wall","x":0,"y":0,"width":10,"height":0.2,"layer":"A-WALL"}]'
\set b_arr '[{"id":"D1","type":"door","x":6,"y":2,"width":1,"height":2},{"id":"W1","type":"wall","x":0,"y":0,"width":10,"height":0.2,"layer":"A-WALL"}]'
SELECT jsonb_pretty(bt_diff(:'a_arr', :'b_arr'));
SELECT bt_diff(jsonb_build_object('objects', :'a_arr'::jsonb, 'drawing', 'GF-01', 'rev', 3),
               jsonb_build_object('objects', :'b_arr'::jsonb, 'drawing', 'GF-01', 'rev', 4))
       = bt_diff(:'a_arr', :'b_arr') AS wrapper_same_as_array;
-- Map form with attribute objects: the key is the id; output objects carry it.
SELECT jsonb_pretty(bt_diff(
  '{"D1":{"type":"door","x":4,"y":2,"width":1,"height":2},"C1":{"type":"column","x":1,"y":1,"width":0.3,"height":0.3}}',
  '{"D1":{"type":"door","x":6,"y":2,"width":1,"height":2},"B1":{"type":"beam","x":0,"y":5,"width":6,"height":0.3}}'));
-- An "id" inside a map value is allowed when it agrees with the key.
SELECT bt_diff('{"D1":{"id":"D1","x":0,"y":0,"width":1,"height":1}}',
               '{"D1":{"x":0,"y":0,"width":1,"height":1}}')->'counts';

-- Map form with content hashes (the "job state" form): equal / not equal only.
SELECT jsonb_pretty(bt_diff('{"src/a.c":"9f2c01","src/b.c":"77aa00","docs/x.md":"0001"}',
                            '{"src/a.c":"9f2c01","src/b.c":"77aa01","src/c.c":"c0ffee"}'));
-- A hash that becomes an attribute object is a content change.
SELECT bt_diff('{"K":"abc"}', '{"K":{"x":0,"y":0,"width":1,"height":1}}')->'modified';

-- "objects" that is not an array means the map form: here an invalid entry.
SELECT bt_validate('{"objects": 5}');
SELECT bt_validate('{"objects": {"x":0,"y":0,"width":1,"height":1}}');

-- Empty versions, in every form.
SELECT bt_diff('[]', '[]');
SELECT bt_diff('{}', '{"objects": []}')->'counts';
SELECT bt_diff('[]', :'a_arr')->'summary' AS all_added,
       bt_diff(:'a_arr', '{}')->'summary' AS all_removed;

-- Numeric ids compare as their jsonb text: 7 and "7" are the same object,
-- 1.50 and "1.5" are not (by id; matching by content then pairs them).
SELECT bt_diff('[{"id":7,"x":0,"y":0,"width":1,"height":1},{"id":1.50,"x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"7","x":0,"y":3,"width":1,"height":1},{"id":"1.5","x":0,"y":0,"width":1,"height":1}]',
               match_geometry => false)
       - 'resized' - 'retyped' - 'modified' - 'counts' - 'rotated' - 'ambiguous' - 'reidentified';
-- A changed object's id is written as the version it is in wrote it: a
-- number stays a number, and so does a re-identified object's previous id.
SELECT d -> 'moved' -> 0 -> 'id' AS moved_id, d -> 'reidentified' -> 0 AS reidentified,
       d -> 'moved' -> 1 -> 'previous_id' AS previous_id
FROM (SELECT bt_diff('[{"id":"7","x":0,"y":3,"width":1,"height":1},{"id":2.50,"type":"door","x":9,"y":0,"width":1,"height":1}]',
                     '[{"id":7,"x":0,"y":0,"width":1,"height":1},{"id":8.0,"type":"door","x":9.5,"y":0,"width":1,"height":1}]') AS d) s;
-- Unicode ids and types, ordered by the bytes of the id.
SELECT bt_diff('[{"id":"Tür-1","type":"Tür","x":0,"y":0,"width":1,"height":2}]',
               '[{"id":"Tür-1","type":"Tür","x":0,"y":0,"width":1,"height":2},
                 {"id":"Ünterzug","type":"Träger","x":0,"y":0,"width":4,"height":0.3},
                 {"id":"Zarge","type":"Träger","x":0,"y":0,"width":4,"height":0.3},
                 {"id":"窓-1","type":"窓","x":1,"y":0,"width":1,"height":1}]') -> 'added';

-- Order of elements does not matter; lists come out ordered by id.
SELECT bt_diff('[{"id":"b","x":0,"y":0,"width":1,"height":1},{"id":"a","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"c","x":0,"y":0,"width":1,"height":1},{"id":"aa","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]')
       -> 'added';

-- NULL versions give NULL; NULL tolerances mean "use the setting".
SELECT bt_diff(NULL, '[]') IS NULL AS null_a, bt_diff('[]', NULL) IS NULL AS null_b,
       bt_try_diff(NULL, '[]') IS NULL AS try_null, bt_validate(NULL) IS NULL AS validate_null;

-- The real drawing: an IFC sample house (89 objects).
\set fzk `cat test/data/fzk-haus.json`
SELECT jsonb_array_length(:'fzk') AS objects, bt_validate(:'fzk') AS problems,
       bt_diff(:'fzk', :'fzk')->'counts' AS identical;
-- Move every door 0.5 east, retype one window, drop a member, rename a wall.
WITH a AS (SELECT :'fzk'::jsonb AS v),
b AS (
  SELECT jsonb_agg(CASE
           WHEN e->>'type' = 'door' THEN jsonb_set(e, '{x}', to_jsonb((e->>'x')::numeric + 0.5))
           WHEN e->>'id' = (SELECT min(x->>'id') FROM a, jsonb_array_elements(a.v) x WHERE x->>'type' = 'window')
             THEN jsonb_set(e, '{type}', '"door"')
           WHEN e->>'type' = 'wall' AND e->>'name' LIKE '%-1' THEN jsonb_set(e, '{name}', '"renamed"')
           ELSE e END) AS v
  FROM a, jsonb_array_elements(a.v) e
  WHERE e->>'id' <> (SELECT min(x->>'id') FROM a, jsonb_array_elements(a.v) x WHERE x->>'type' = 'member'))
\x on
SELECT d->'counts' AS counts, d->>'summary' AS summary,
       jsonb_pretty(d->'retyped') AS retyped, jsonb_pretty(d->'modified'->0) AS first_modified,
       (SELECT array_agg(m->>'id' || ' ' || (m->>'distance') || ' ' || (m->>'direction')) FROM jsonb_array_elements(d->'moved') m) AS moved,
       d->'removed'->0->>'name' AS removed
FROM a, b, LATERAL bt_diff(a.v, b.v) d;
\x off

-- Map entries written out: "id" takes its place among the keys in jsonb
-- order (after "ab", before "zz"), and a value that changed between a hash
-- and an object is one "content" change, whatever its keys are called.
-- The written jsonb reads back equal to itself reparsed from its text.
SELECT d -> 'added' AS added, d -> 'modified' AS modified, d = (d::text)::jsonb AS reparses_equal
FROM bt_diff('{"A": "h1", "B": {"x":1,"y":1,"width":1,"height":1,"content":1,"ab":1}}',
             '{"A": {"x":1,"y":1,"width":1,"height":1,"content":5,"ab":2,"zz":3}, "B": "h2",
               "C": {"x":1,"y":1,"width":1,"height":1,"ab":1,"zz":2,"i":0}}') d;
