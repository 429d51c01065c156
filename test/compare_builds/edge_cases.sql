-- Hand-made pairs at the edges of bt_diff's fast paths, appended to
-- cmp.cases (ids from 100001) after cases.sql: many changed attributes
-- (the JEntry offset stride), one vector spelled several ways, deltas and
-- rounded distances at the limits of the scaled-integer arithmetic, runs
-- of types, b reusing a's objects (twice, shifted, beside a namesake),
-- moved objects with attributes changed in place, leftovers of kinds
-- the other side lacks, and large versions reordered, shifted and renamed.
\set ON_ERROR_STOP on
SELECT setseed(0.1234) \g /dev/null
CREATE TEMP TABLE t(cat text, a jsonb, b jsonb, mt float8 DEFAULT NULL, st float8 DEFAULT NULL, mg boolean DEFAULT NULL);
-- many changed attributes in one object (the written "changed" object: JEntry offset stride 32)
INSERT INTO t(cat, a, b)
SELECT 'tgt:manyattrs' || n,
       jsonb_build_array(('{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}'::jsonb ||
          (SELECT jsonb_object_agg('k' || lpad(i::text, 3, '0'), i) FROM generate_series(1, n) i)),
          '{"id":"B","type":"door","x":1,"y":1,"width":1,"height":1}'::jsonb),
       jsonb_build_array(('{"id":"A","type":"wall","x":5,"y":0,"width":1,"height":1}'::jsonb ||
          (SELECT jsonb_object_agg('k' || lpad(i::text, 3, '0'), CASE WHEN i % 2 = 0 THEN to_jsonb('s' || i) ELSE to_jsonb(i + 0.5) END) FROM generate_series(1, n) i)),
          '{"id":"B","type":"door","x":1,"y":1,"width":1,"height":1}'::jsonb)
FROM unnest(ARRAY[1, 31, 32, 33, 63, 64, 65, 100, 300]) n;
-- keys only on one side, many
INSERT INTO t(cat, a, b)
SELECT 'tgt:onesided' || n,
       jsonb_build_array('{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}'::jsonb ||
          (SELECT jsonb_object_agg('a' || i, i) FROM generate_series(1, n) i)),
       jsonb_build_array('{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}'::jsonb ||
          (SELECT jsonb_object_agg('b' || i, NULL::int) FROM generate_series(1, n) i))
FROM unnest(ARRAY[16, 17, 33, 70]) n;
-- the same vector with different spellings (memo of the move vector, of the rounded value)
INSERT INTO t(cat, a, b)
SELECT 'tgt:spellings' || v.k,
       (SELECT jsonb_agg(jsonb_build_object('id', 'O' || lpad(i::text, 3, '0'), 'type', (ARRAY['door','wall','',NULL])[1 + i % 4], 'x', i, 'y', 0, 'width', 1, 'height', 1) - CASE WHEN i % 4 = 3 THEN 'type' ELSE '' END) FROM generate_series(1, 40) i),
       (SELECT jsonb_agg(jsonb_build_object('id', 'O' || lpad(i::text, 3, '0'), 'type', (ARRAY['door','wall','',NULL])[1 + i % 4],
                'x', (i::numeric + (v.dxs)[1 + i % array_length(v.dxs, 1)]::numeric), 'y', (v.dys)[1 + (i / 3) % array_length(v.dys, 1)]::numeric, 'width', 1, 'height', 1) - CASE WHEN i % 4 = 3 THEN 'type' ELSE '' END) FROM generate_series(1, 40) i)
FROM (VALUES (1, '{0.1,0.10,0.100,1e-1}'::text[], '{0,0.0,0.00}'::text[]),
             (2, '{0.5,0.50,0.5000000000000001,0.49999999999999994}', '{0.5,0.5,-0.5}'),
             (3, '{1.05,1.0500,1.049999999,1.050000001}', '{0}'),
             (4, '{-0.0,0,0.000000000000000}', '{0.2,0.20,-0.2}'),
             (5, '{0.15,0.25,0.35,0.45,0.55}', '{0}'),
             (6, '{1234567.891,1234567.8910,1234567.89100000}', '{0.000000001}'),
             (7, '{99999999999.9999,99999999999.99990,-99999999999.9999}', '{0}'),
             (8, '{9.95,9.949999999,9.950000001}', '{0}'),
             (9, '{0.7071067811865476,0.70710678118654757}', '{0.7071067811865476,0.70710678118654746}')) v(k, dxs, dys);
-- numeric corner values for deltas: 15/16 digits, dscale 15/16, exponents, extremes
INSERT INTO t(cat, a, b)
SELECT 'tgt:delta:' || xa || '->' || xb,
       jsonb_build_array(('{"id":"A","type":"door","x":' || xa || ',"y":' || xa || ',"width":' || ltrim(xa, '-') || ',"height":1}')::jsonb),
       jsonb_build_array(('{"id":"A","type":"door","x":' || xb || ',"y":0,"width":' || ltrim(xb, '-') || ',"height":1}')::jsonb)
FROM unnest('{0,-0,0.000,1,1.10,999999999999.999,9999999999999.999,999999999999999,1000000000000000,0.000000000000001,0.0000000000000001,0.123456789012345,0.1234567890123456,-999999999999.999,99999999.99999999,1e15,1e16,1e-15,1e-16,123456789012.3456,5e-324,1.7976931348623157e308,2e308,9e131071,1e-16383,0.30000000000000004,12.5,-12.5}'::text[]) xa,
     unnest('{0,0.0,1.0,2.5,999999999999.998,-999999999999.999,1000000000000,0.000000000000002,1e15,1e-15,0.1234567890123457,7,1e16,9e131071,-9e131071,12.50}'::text[]) xb;
-- rounded distances at the 9-decimal boundary and near 1e15
INSERT INTO t(cat, a, b)
SELECT 'tgt:round:' || d, '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"C","x":0,"y":0,"width":1,"height":1}]',
       ('[{"id":"A","x":' || d || ',"y":0,"width":1,"height":1},{"id":"B","x":' || d || ',"y":0,"width":1,"height":1},{"id":"C","x":0,"y":' || d || ',"width":1,"height":1}]')::jsonb
FROM unnest('{0.0000000005,0.0000000015,0.0000000025,1.0000000005,0.1000000005,999999.9999999995,999999999999999.5,999999999999999,1000000000000001,4503599627370497.5,0.1000000001,0.1,0.10000000001,1e-10,123456.1234567895,-0.0000000005}'::text[]) d;
-- type text reuse: runs of equal types, missing type, empty type, types differing after 40 bytes
INSERT INTO t(cat, a, b)
SELECT 'tgt:types' || k,
       (SELECT jsonb_agg(o) FROM (SELECT jsonb_build_object('id', 'T' || lpad(i::text, 3, '0'), 'x', 0, 'y', 0, 'width', 1, 'height', 1) ||
            CASE WHEN ty IS NULL THEN '{}' ELSE jsonb_build_object('type', ty) END AS o
          FROM generate_series(1, 30) i, LATERAL (SELECT (types)[1 + (i / rl) % array_length(types, 1)] AS ty) s) q),
       (SELECT jsonb_agg(o) FROM (SELECT jsonb_build_object('id', 'T' || lpad(i::text, 3, '0'), 'x', CASE WHEN i % 2 = 0 THEN 3 ELSE 0 END, 'y', 0, 'width', CASE WHEN i % 3 = 0 THEN 2 ELSE 1 END, 'height', 1, 'layer', i % 5) ||
            CASE WHEN ty IS NULL THEN '{}' ELSE jsonb_build_object('type', ty) END AS o
          FROM generate_series(1, 30) i, LATERAL (SELECT (types2)[1 + (i / rl) % array_length(types2, 1)] AS ty) s) q)
FROM (VALUES (1, ARRAY['door', NULL, '', 'door'], ARRAY['door', NULL, '', 'window'], 1),
             (2, ARRAY[repeat('x', 40) || 'A', repeat('x', 40) || 'B', repeat('x', 39) || 'é'], ARRAY[repeat('x', 40) || 'B', repeat('x', 40) || 'A', repeat('x', 39) || 'é'], 2),
             (3, ARRAY['class', 'box', 'storey', 'stairs', 'gallery', 'bus'], ARRAY['class', 'box', 'storey', 'stairs', 'gallery', 'bus'], 3),
             (4, ARRAY['object', NULL], ARRAY[NULL, 'object'], 1),
             (5, ARRAY['door'], ARRAY['door'], 30),
             (6, ARRAY['Door', 'door', 'DOOR'], ARRAY['door', 'Door', 'DOOR'], 4)) v(k, types, types2, rl);
-- duplicates and reuse: b holds a's objects byte-identical, twice, shifted by one, with a namesake
INSERT INTO t(cat, a, b)
SELECT 'tgt:reuse:' || k, a, b FROM (VALUES
 ('twice', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]'::jsonb,
           '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]'::jsonb),
 ('namesake', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]',
              '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"A","x":5,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]'),
 ('namesake_first', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]',
              '[{"id":"A","x":5,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]'),
 ('numstr', '[{"id":7,"x":0,"y":0,"width":1,"height":1},{"id":"8","x":0,"y":0,"width":1,"height":1}]',
            '[{"id":"7","x":0,"y":0,"width":1,"height":1},{"id":8,"x":0,"y":0,"width":1,"height":1},{"id":7,"x":0,"y":0,"width":1,"height":1}]'),
 ('numstr_valid', '[{"id":7,"x":0,"y":0,"width":1,"height":1},{"id":"8","x":0,"y":0,"width":1,"height":1}]',
            '[{"id":"7","x":0,"y":0,"width":1,"height":1},{"id":8,"x":0,"y":0,"width":1,"height":1}]'),
 ('numdec', '[{"id":1.50,"x":0,"y":0,"width":1,"height":1},{"id":"1.5","x":0,"y":0,"width":1,"height":1}]',
            '[{"id":"1.5","x":0,"y":0,"width":1,"height":1},{"id":1.50,"x":1,"y":0,"width":1,"height":1}]'),
 ('longpref', '[{"id":"ABCDEFGHIJ","x":0,"y":0,"width":1,"height":1},{"id":"ABCDEFGH","x":0,"y":0,"width":1,"height":1},{"id":"ABCDEFGHI","x":0,"y":0,"width":1,"height":1}]',
              '[{"id":"ABCDEFGHI","x":0,"y":0,"width":1,"height":1},{"id":"ABCDEFGH","x":2,"y":0,"width":1,"height":1},{"id":"ABCDEFGHIJ","x":0,"y":0,"width":1,"height":1},{"id":"ABCDEFGHI","x":0,"y":0,"width":1,"height":1}]'),
 ('swapdup', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"C","x":0,"y":0,"width":1,"height":1}]',
             '[{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"C","x":0,"y":0,"width":1,"height":1}]'),
 ('skip2', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"C","x":0,"y":0,"width":1,"height":1},{"id":"D","x":0,"y":0,"width":1,"height":1}]',
           '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"D","x":0,"y":0,"width":1,"height":1},{"id":"C","x":1,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"D","x":0,"y":0,"width":1,"height":1}]'),
 ('invalid_a_same', '[{"id":"A","x":0,"y":0,"width":-1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]',
                    '[{"id":"A","x":0,"y":0,"width":-1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]'),
 ('map_a', '{"A":{"x":0,"y":0,"width":1,"height":1},"B":"h1"}', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]'),
 ('map_b', '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]', '{"A":{"x":0,"y":0,"width":1,"height":1},"B":{"id":"B","x":0,"y":0,"width":1,"height":1}}'),
 ('wrapper', '{"objects":[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1}]}', '{"objects":[{"id":"B","x":0,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"A","x":0,"y":0,"width":1,"height":1}], "x": 1}')
) v(k, a, b);
-- a large drawing: b = a with one object removed near the start, one appended, rest identical (reuse with resync), and variants
INSERT INTO t(cat, a, b)
SELECT 'tgt:bigreuse:' || k, a, b FROM (
  SELECT (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall', 'x', i, 'y', i % 7, 'width', 1, 'height', 1) ORDER BY i) FROM generate_series(1, 3000) i) AS a) s,
  LATERAL (VALUES
    ('drop1', (a - 10) || '[{"id":"Z","x":1,"y":1,"width":1,"height":1}]'::jsonb),
    ('reverse', (SELECT jsonb_agg(e ORDER BY n DESC) FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n))),
    ('every3moved', (SELECT jsonb_agg(CASE WHEN n % 3 = 0 THEN e || jsonb_build_object('x', (e->>'x')::numeric + 0.5) ELSE e END ORDER BY n) FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n))),
    ('pairswap', (SELECT jsonb_agg(e ORDER BY CASE WHEN n % 2 = 0 THEN n - 1 ELSE n + 1 END) FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n))),
    ('shift_most', (SELECT jsonb_agg(CASE WHEN n % 10 <> 0 THEN e || jsonb_build_object('x', (e->>'x')::numeric + 10, 'y', (e->>'y')::numeric - 0.25) ELSE e END ORDER BY n) FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n))),
    ('renamed_all', (SELECT jsonb_agg(e || jsonb_build_object('id', 'N' || n) ORDER BY random()) FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n))),
    ('renamed_nearby', (SELECT jsonb_agg(e || jsonb_build_object('id', 'N' || n, 'x', (e->>'x')::numeric + 0.3) ORDER BY n) FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n))),
    ('dup_everywhere', (SELECT jsonb_agg(e ORDER BY n) FROM (SELECT e, n FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n) UNION ALL SELECT e, n + 0.5 FROM jsonb_array_elements(a) WITH ORDINALITY q(e, n) WHERE n % 500 = 0) z))
  ) v(k, b);
-- moved objects compared in one pass when their keys and other values are
-- as before: attributes changed in place (same lengths), a key renamed to
-- one of the same length, numbers and containers after a place value that
-- changed its stored length, equal numbers written otherwise, many keys
-- (the JEntry offset stride), a retype and a resize of the same lengths
INSERT INTO t(cat, a, b)
SELECT 'tgt:inplace:' || v.k,
       (SELECT jsonb_agg(('{"type":"wall","width":1,"height":1}'::jsonb || v.attrs_a::jsonb) ||
                         jsonb_build_object('id', 'P' || i, 'x', i * 0.5, 'y', 0))
        FROM generate_series(1, 30) i),
       (SELECT jsonb_agg(('{"type":"wall","width":1,"height":1}'::jsonb || v.attrs_b::jsonb) ||
                         jsonb_build_object('id', 'P' || i, 'x', i * 0.5 + CASE WHEN i % 3 = 0 THEN 0 ELSE 2.25 END,
                                            'y', CASE WHEN i % 2 = 0 THEN -1.125 ELSE 0 END))
        FROM generate_series(1, 30) i)
FROM (VALUES
    ('same', '{"layer":"A","z":1.5,"meta":{"k":[1,2]},"on":true,"n":null}', '{"layer":"A","z":1.5,"meta":{"k":[1,2]},"on":true,"n":null}'),
    ('value', '{"layer":"A","z":1.5}', '{"layer":"B","z":1.5}'),
    ('number', '{"layer":"A","z":1.5}', '{"layer":"A","z":2.5}'),
    ('renamed_key', '{"layer":"A"}', '{"level":"A"}'),
    ('nested', '{"meta":{"k":[1,2]}}', '{"meta":{"k":[1,3]}}'),
    ('flag', '{"on":true}', '{"on":false}'),
    ('null_to_bool', '{"n":null}', '{"n":true}'),
    ('equal_number', '{"z":1.0}', '{"z":1}'),
    ('string_vs_number', '{"z":"1"}', '{"z":1}'),
    ('retype', '{"type":"wall"}', '{"type":"door"}'),
    ('resize', '{"width":2,"height":3}', '{"width":3,"height":2}'),
    ('rotation', '{"rotation":90}', '{"rotation":45}'),
    ('many_keys', (SELECT jsonb_object_agg('k' || lpad(i::text, 2, '0'), i * 1.5)::text FROM generate_series(1, 40) i),
                  (SELECT jsonb_object_agg('k' || lpad(i::text, 2, '0'), CASE WHEN i = 37 THEN 99.5 ELSE i * 1.5 END)::text FROM generate_series(1, 40) i)),
    ('many_keys_same', (SELECT jsonb_object_agg('k' || lpad(i::text, 2, '0'), i * 1.5)::text FROM generate_series(1, 40) i),
                       (SELECT jsonb_object_agg('k' || lpad(i::text, 2, '0'), i * 1.5)::text FROM generate_series(1, 40) i))
) v(k, attrs_a, attrs_b);
-- leftovers of kinds the other side lacks among ones it has (the matcher
-- sets the former aside): types removed or added only, an empty type
-- against none, typeless objects, content hashes, ambiguous groups, ids
-- interleaved so that kept and set-aside leftovers alternate
INSERT INTO t(cat, a, b)
SELECT 'tgt:kinds:' || v.k,
       (SELECT jsonb_agg(o) FROM (SELECT jsonb_build_object('id', 'K' || lpad(i::text, 3, '0'), 'x', (i % 7) * 3.0, 'y', (i / 7) * 3.0,
                                                          'width', 1, 'height', 1) || v.ta[1 + i % cardinality(v.ta)]::jsonb AS o
                                  FROM generate_series(1, 60) i ORDER BY i) s),
       (SELECT jsonb_agg(o) FROM (SELECT jsonb_build_object('id', CASE WHEN i % 3 = 0 THEN 'N' ELSE 'K' END || lpad(i::text, 3, '0'),
                                                          'x', (i % 7) * 3.0 + CASE WHEN i % 5 = 0 THEN 0.4 ELSE 0 END,
                                                          'y', (i / 7) * 3.0, 'width', 1, 'height', 1) || v.tb[1 + i % cardinality(v.tb)]::jsonb AS o
                                  FROM generate_series(1, 60) i ORDER BY i) s)
FROM (VALUES
    ('disjoint', '{"{\"type\":\"door\"}"}'::text[], '{"{\"type\":\"window\"}"}'::text[]),
    ('some_shared', '{"{\"type\":\"door\"}","{\"type\":\"wall\"}"}', '{"{\"type\":\"window\"}","{\"type\":\"wall\"}"}'),
    ('empty_vs_none', '{"{\"type\":\"\"}","{}"}', '{"{}","{\"type\":\"\"}"}'),
    ('typeless', '{"{}","{\"type\":\"slab\"}"}', '{"{}"}'),
    ('attrs', '{"{\"type\":\"wall\",\"level\":\"L1\"}","{\"type\":\"door\"}"}', '{"{\"type\":\"wall\",\"level\":\"L2\"}","{\"type\":\"beam\"}"}')
) v(k, ta, tb);
-- map forms: content hashes only on one side, hashes among objects
INSERT INTO t(cat, a, b)
SELECT 'tgt:kinds:map_' || v.k,
       (SELECT jsonb_object_agg('K' || lpad(i::text, 3, '0'),
                                CASE WHEN i % v.m = 0 THEN to_jsonb('h' || i % 9)
                                     ELSE jsonb_build_object('type', 'wall', 'x', i * 3.0, 'y', 0, 'width', 1, 'height', 1) END)
        FROM generate_series(1, 40) i),
       (SELECT jsonb_object_agg(CASE WHEN i % 2 = 0 THEN 'N' ELSE 'K' END || lpad(i::text, 3, '0'),
                                CASE WHEN i % v.n = 0 THEN to_jsonb('h' || i % 9)
                                     ELSE jsonb_build_object('type', 'door', 'x', i * 3.0, 'y', 0, 'width', 1, 'height', 1) END)
        FROM generate_series(1, 40) i)
FROM (VALUES ('hashes_both', 2, 3), ('hashes_a', 2, 1000), ('hashes_b', 1000, 4)) v(k, m, n);
-- tolerance variants of a few of them
INSERT INTO t SELECT cat || ':mt0', a, b, 0, 0, NULL FROM t WHERE cat LIKE 'tgt:round%' OR cat LIKE 'tgt:spell%' OR cat LIKE 'tgt:delta%';
INSERT INTO t SELECT cat || ':nogeo', a, b, NULL, NULL, false FROM t WHERE cat LIKE 'tgt:bigreuse%' OR cat LIKE 'tgt:reuse%';
INSERT INTO cmp.cases SELECT 100000 + row_number() OVER (), cat, a, b, mt, st, mg, random() < 0.3 FROM t;
