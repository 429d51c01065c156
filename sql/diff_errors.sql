-- bt_diff, bt_validate, bt_try_diff: every bad-input path, with SQLSTATE
-- and detail.  bt_validate and bt_try_diff report the same message and
-- detail that bt_diff raises.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;
\set ok '[{"id":"A","x":0,"y":0,"width":1,"height":1}]'
-- The error bt_diff raises, as a row (SQLSTATE, message, detail).
CREATE FUNCTION pg_temp.err(a jsonb, b jsonb) RETURNS TABLE (code text, message text, detail text)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM buildtrace.bt_diff(a, b);
  RETURN QUERY SELECT 'no error', NULL::text, NULL::text;
EXCEPTION WHEN data_exception THEN
  GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL;
  RETURN NEXT;
END $$;

-- As the client sees it:
SELECT bt_diff(:'ok', '[{"id":"A","x":"NaN","y":0,"width":1,"height":1}]');

-- Top-level scalars.
SELECT * FROM pg_temp.err('5', :'ok');
SELECT * FROM pg_temp.err(:'ok', '"text"');
SELECT * FROM pg_temp.err(:'ok', 'null');
SELECT * FROM pg_temp.err(:'ok', 'true');
-- An element that is not an object.
SELECT * FROM pg_temp.err('[{"id":"A","x":0,"y":0,"width":1,"height":1}, 7]', :'ok');
SELECT * FROM pg_temp.err(:'ok', '[[1,2]]');
-- Ids: missing, null, empty, boolean, object, array.
SELECT * FROM pg_temp.err(:'ok', '[{"x":0,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":null,"x":0,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"","x":0,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":false,"x":0,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":{"n":1},"x":0,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":["A"],"x":0,"y":0,"width":1,"height":1}]');
-- Duplicate ids (also a number and a string with the same text).
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"A","x":1,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err('[{"id":7,"x":0,"y":0,"width":1,"height":1},{"id":"7","x":0,"y":0,"width":1,"height":1}]', :'ok');
-- Coordinates and sizes: missing, null, strings (including "NaN"), booleans, objects, negative sizes.
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":null,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":"NaN","y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":"1.5","width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":true,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":1,"height":{"v":1}}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":-0.5,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":1,"height":-2}]');
-- a negative size of many digits is cut in the detail, as long text is
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":-1e-16383,"height":1}]');
-- Beyond double precision, in which places, sizes and turns are measured.
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":-1e400,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","x":0,"y":0,"width":1,"height":1,"rotation":1e400}]');
SELECT bt_validate('[{"id":"A","x":1.7e308,"y":-1e-400,"width":1e255,"height":1}]') AS within_range;
-- Type, when present, is a string.
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","type":3,"x":0,"y":0,"width":1,"height":1}]');
SELECT * FROM pg_temp.err(:'ok', '[{"id":"A","type":null,"x":0,"y":0,"width":1,"height":1}]');
-- Wrapper form: errors name the index inside "objects".
SELECT * FROM pg_temp.err(:'ok', '{"objects":[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1}]}');
-- Map form: values must be a hash or an object; objects need coordinates;
-- an inner "id" must agree with the key.
SELECT * FROM pg_temp.err('{"A":1}', :'ok');
SELECT * FROM pg_temp.err('{"A":null}', :'ok');
SELECT * FROM pg_temp.err('{"A":{"x":0,"y":0,"width":1}}', :'ok');
SELECT * FROM pg_temp.err('{"A":{"id":"B","x":0,"y":0,"width":1,"height":1}}', :'ok');
SELECT * FROM pg_temp.err('{"A":{"id":null,"x":0,"y":0,"width":1,"height":1}}', :'ok');
SELECT * FROM pg_temp.err('{"A":{"id":"","x":0,"y":0,"width":1,"height":1}}', :'ok');
SELECT * FROM pg_temp.err(:'ok', '{"":"9f2c"}');
-- Version a is checked before version b.
SELECT * FROM pg_temp.err('[1]', '[2]');


-- bt_validate lists every problem, in element order, then duplicate ids.
SELECT jsonb_pretty(bt_validate(
  '[{"id":"A","x":0,"y":0,"width":1,"height":1},
    "door",
    {"id":true,"x":"NaN","y":null,"width":-1},
    {"id":"A","x":1,"y":1,"width":1,"height":1},
    {"id":"C","type":["door"],"x":0,"y":0,"width":1,"height":1}]'));
-- A duplicate id is listed even when one of its two elements has another
-- problem, first or second.
SELECT jsonb_path_query_array(bt_validate(v), '$[*].detail') AS problems
FROM (VALUES ('[{"id":"A","x":1,"y":1,"width":1,"height":1},{"id":"A","x":"1","y":1,"width":1,"height":1}]'::jsonb),
             ('[{"id":"A","x":1,"y":1,"width":1},{"id":"A","x":1,"y":1,"width":1,"height":1}]')) t(v);
-- The same in version b, read against a valid a (its unchanged objects
-- taken from a unchecked).
SELECT jsonb_path_query_array(bt_try_diff(
           '[{"id":"A","x":1,"y":1,"width":1,"height":1},{"id":"B","x":1,"y":1,"width":1,"height":1}]',
           '[{"id":"A","x":1,"y":1,"width":1,"height":1},{"id":"A","x":"2","y":1,"width":1,"height":1},
             {"id":"B","x":1,"y":1,"width":1,"height":1}]'), '$.problems[*].detail') AS problems;
SELECT bt_validate(:'ok') AS valid, bt_validate('[]') AS empty, bt_validate('{}') AS empty_map;
SELECT bt_validate('42');
SELECT bt_validate('{"A":"h","B":[1],"C":{"x":0,"y":0,"width":1,"height":-1}}');

-- The first problem bt_validate lists is the error bt_diff raises.
SELECT v, (SELECT to_jsonb(e) FROM pg_temp.err('[]', v) e) = jsonb_build_object(
         'code', p->>'sqlstate', 'message', p->>'message',
         'detail', 'Version b, ' || lower(left(p->>'detail', 1)) || substr(p->>'detail', 2)) AS same
FROM (VALUES ('[{"id":"A","x":0,"y":0,"width":1}]'::jsonb),
             ('[3, {"id":"A"}]'), ('[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1}]'),
             ('{"K":{"x":"1"}}'), ('[{"id":"", "x":1}]')) AS t(v),
     LATERAL (SELECT bt_validate(v)->0 AS p) s;

-- bt_try_diff: the diff when both versions are valid, else every problem of
-- both versions, each naming its version; it never raises for bad data.
SELECT bt_try_diff(:'ok', :'ok') = bt_diff(:'ok', :'ok') AS same_as_diff;
SELECT jsonb_pretty(bt_try_diff('[{"id":"A","x":0,"y":0,"width":1,"height":1}, 5]',
                                '{"objects":[{"id":"B","x":"far","y":0,"width":1,"height":1}]}'));
SELECT bt_try_diff('7', :'ok');
SELECT bt_try_diff(:'ok', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1}]');
-- A version with more problems than are worth listing (300 empty objects, 5
-- problems each): the first 1,000 are listed, then one says how many.
SELECT jsonb_array_length(v) AS listed, v -> 999 ->> 'key' AS last_listed_key, v -> -1 AS count_problem
FROM (SELECT bt_validate((SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 300))) AS v) s;
SELECT jsonb_array_length(v) AS listed, v -> 1000 ->> 'detail' AS a_count, v -> -1 ->> 'detail' AS b_count
FROM (SELECT bt_try_diff((SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 300)),
                         (SELECT jsonb_agg('{}'::jsonb) FROM generate_series(1, 250))) -> 'problems' AS v) s;

-- An id is named in problems and errors cut to 200 bytes, on a character
-- boundary, with an ellipsis: a hostile id of megabytes cannot swell what
-- is stored of a failed pair, nor the server log. The index still locates
-- the object.
SELECT p ->> 'index' AS index, octet_length(p ->> 'id') AS id_bytes, right(p ->> 'id', 2) AS id_ends,
       octet_length(p ->> 'detail') AS detail_bytes
FROM (SELECT bt_validate(jsonb_build_array(jsonb_build_object('id', repeat('€', 1000000), 'x', 'bad'))) -> 0 AS p) s;
SELECT bt_diff('[]', jsonb_build_array(jsonb_build_object('id', repeat('ab', 120), 'x', 0)));

-- A number as an id is its text, at most 200 characters: jsonb stores
-- 1e131000 in a few bytes, and its text took 131 kB of memory per object.
SELECT length(n::text) AS printed,
       bt_validate(jsonb_build_array(jsonb_build_object('id', n, 'x', 0, 'y', 0, 'width', 1, 'height', 1))) -> 0 ->> 'detail' AS problem
FROM (VALUES (1e199), (1e200), (-1e198), (-1e199), (('0.' || repeat('1', 198))::numeric),
             (('0.' || repeat('1', 199))::numeric), (1e131000)) v(n);
SELECT bt_diff('[]', '[{"id": 1e131000, "x": 0, "y": 0, "width": 1, "height": 1}]');
