-- The rules at the edges of bt_diff's decisions, each with the smallest
-- input that shows it: where a summary changes its wording, where a shift is
-- or is not a shift, where the matcher pairs, declines or calls a tie, and
-- the order of long ids.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, public;

-- ---------- summary wording ----------

-- A type ending in a consonant and y takes -ies, a two-letter one too.
SELECT bt_diff('[]', '[{"id":"A","type":"ty","x":0,"y":0,"width":1,"height":1},
                       {"id":"B","type":"ty","x":5,"y":0,"width":1,"height":1}]') ->> 'summary' AS plural;

-- From 1e15 units on, a distance is written in scientific notation.
SELECT label, bt_diff('[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1}]',
                      format('[{"id":"A","type":"t","x":%s,"y":0,"width":1,"height":1}]', x)::jsonb)
              ->> 'summary' AS summary
FROM (VALUES ('just below 1e15', '999999999999999'), ('at 1e15', '1000000000000000')) v(label, x);
-- So is one below a millionth, which two significant digits would write
-- with hundreds of zeros (or, below 1e-308, as NaN).
SELECT label, bt_diff('[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1}]',
                      format('[{"id":"A","type":"t","x":%s,"y":0,"width":1,"height":1}]', x)::jsonb, 0)
              ->> 'summary' AS summary
FROM (VALUES ('a millionth', '0.000001'), ('less', '0.00000099'), ('1e-300', '1e-300'),
             ('subnormal', '1e-320')) v(label, x);

-- A rename is its own sentence only when the name is the one change: a
-- moved object whose name changed too is a move with changed attributes.
SELECT bt_diff('[{"id":"D1","type":"door","x":0,"y":0,"width":1,"height":1,"name":"Front"}]',
               '[{"id":"D1","type":"door","x":5,"y":0,"width":1,"height":1,"name":"Back"}]')
       ->> 'summary' AS moved_and_renamed;
-- A name that is the type (or starts with it) is not said twice.
SELECT bt_diff('[{"id":"D1","type":"door","x":0,"y":0,"width":1,"height":1,"name":"Door"}]',
               '[{"id":"D1","type":"door","x":0,"y":0,"width":1,"height":1,"name":"Exit"}]')
       ->> 'summary' AS renamed_from_type_name;
-- A label that is a number names its object, and its change is a rename
-- too: to another number, and to text.
SELECT bt_diff('[{"id":"R","type":"room","x":0,"y":0,"width":1,"height":1,"name":5}]',
               '[{"id":"R","type":"room","x":0,"y":0,"width":1,"height":1,"name":6}]')
       ->> 'summary' AS number_renamed,
       bt_diff('[{"id":"R","type":"room","x":0,"y":0,"width":1,"height":1,"name":5}]',
               '[{"id":"R","type":"room","x":0,"y":0,"width":1,"height":1,"name":"Lobby"}]')
       ->> 'summary' AS number_renamed_to_text;

-- Objects of several types moved together only when they moved by one
-- rounded distance in one direction: 1 and 5 units east are two sentences.
SELECT bt_diff('[{"id":"W","type":"wall","x":0,"y":0,"width":1,"height":1},
                 {"id":"D","type":"door","x":0,"y":10,"width":1,"height":1}]',
               '[{"id":"W","type":"wall","x":1,"y":0,"width":1,"height":1},
                 {"id":"D","type":"door","x":5,"y":10,"width":1,"height":1}]') ->> 'summary' AS two_distances;

-- ---------- rotation ----------

-- A large angle is reduced modulo 360 exactly, as a decimal: 1e20 + 80
-- degrees is 0 (1e20 is 280 modulo 360), so 0 to it is no turn; reduced as
-- a double it would be 80.
SELECT d ->> 'summary' AS summary, d -> 'rotated' AS rotated
FROM (SELECT bt_diff('[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1,"rotation":0}]',
                     '[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1,"rotation":100000000000000000080}]') AS d) s;

-- ---------- whole-drawing shift ----------

-- An object re-identified by content under a shift is measured against the
-- shift: D's content came back as E at D's old place, which against the
-- shift of 5 east is a move of 5 west.
SELECT jsonb_pretty(jsonb_build_object('moved', d -> 'moved', 'shift', d -> 'shift',
                                       'counts', d -> 'counts', 'summary', d -> 'summary')) AS reidentified_under_shift
FROM (SELECT bt_diff('[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1},
                       {"id":"B","type":"t","x":10,"y":0,"width":1,"height":1},
                       {"id":"C","type":"t","x":20,"y":0,"width":1,"height":1},
                       {"id":"D","type":"t","x":100,"y":0,"width":1,"height":1}]',
                     '[{"id":"A","type":"t","x":5,"y":0,"width":1,"height":1},
                       {"id":"B","type":"t","x":15,"y":0,"width":1,"height":1},
                       {"id":"C","type":"t","x":25,"y":0,"width":1,"height":1},
                       {"id":"E","type":"t","x":100,"y":0,"width":1,"height":1}]') AS d) s;

-- Moves just past the tolerance that average to no move are no shift: each
-- of these four is past the tolerance of 1, their mean (1.0000000001, 0)
-- is not (a tolerance is exceeded by more than a billionth of it).
SELECT jsonb_pretty(jsonb_build_object('shift', d -> 'shift', 'moved', d -> 'counts' -> 'moved',
                                       'shifted', d -> 'counts' -> 'shifted')) AS spread_moves
FROM (SELECT bt_diff('[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":1},
                       {"id":"B","type":"t","x":0,"y":10,"width":1,"height":1},
                       {"id":"C","type":"t","x":0,"y":20,"width":1,"height":1},
                       {"id":"D","type":"t","x":0,"y":30,"width":1,"height":1}]',
                     '[{"id":"A","type":"t","x":1.0000000001,"y":0.9,"width":1,"height":1},
                       {"id":"B","type":"t","x":1.0000000001,"y":9.1,"width":1,"height":1},
                       {"id":"C","type":"t","x":1.0000000001,"y":20.5,"width":1,"height":1},
                       {"id":"D","type":"t","x":1.0000000001,"y":29.5,"width":1,"height":1}]', 1) AS d) s;

-- Ten of 22 objects moved 10 east, an eleventh (10.9, 0.9). The shift
-- would be their mean, about (10.08, 0.08); the eleventh lies 1.16 from it,
-- past the tolerance of 1 though each coordinate is within it, so only ten
-- moved with it: fewer than half of the 22 (buildtrace.shift_min_share).
WITH a AS (SELECT jsonb_agg(jsonb_build_object('id', 'o' || lpad(i::text, 2, '0'), 'type', 't',
                                               'x', i * 100, 'y', 0, 'width', 1, 'height', 1)) AS j
           FROM generate_series(1, 22) i),
     b AS (SELECT jsonb_agg(jsonb_build_object('id', 'o' || lpad(i::text, 2, '0'), 'type', 't',
                                               'x', CASE WHEN i <= 10 THEN i * 100 + 10
                                                         WHEN i = 11 THEN i * 100 + 10.9 ELSE i * 100 END,
                                               'y', CASE WHEN i = 11 THEN 0.9 ELSE 0 END,
                                               'width', 1, 'height', 1)) AS j
           FROM generate_series(1, 22) i)
SELECT d -> 'shift' AS shift, d -> 'counts' -> 'moved' AS moved, d -> 'counts' -> 'shifted' AS shifted,
       d -> 'counts' -> 'unchanged' AS unchanged
FROM a, b, bt_diff(a.j, b.j, 1) d;

-- A shift that rounds to no move as written (1e-10 east, with a move
-- tolerance of 0) is no shift: the objects moved each on their own.
SELECT d -> 'shift' AS shift, d -> 'counts' ->> 'moved' AS moved, d ->> 'summary' AS summary
FROM bt_diff('[{"id":"a","x":0,"y":0,"width":1,"height":1},{"id":"b","x":5,"y":0,"width":1,"height":1},
               {"id":"c","x":9,"y":3,"width":1,"height":1}]',
             '[{"id":"a","x":1e-10,"y":0,"width":1,"height":1},{"id":"b","x":5.0000000001,"y":0,"width":1,"height":1},
               {"id":"c","x":9.0000000001,"y":3,"width":1,"height":1}]', 0) d;

-- A shift is found wherever the drawing went: three objects moved by 1e300
-- are a shift of 1e300 (its rounding once overflowed past 1.8e299 and made
-- it infinite), against which the object that stayed put moved. Moves
-- past double's range (from -1e308 to 1e308) are no shift, and the object
-- that stayed put is unchanged, not moved against an infinite one.
SELECT label, (d -> 'shift' ->> 'dx')::float8 AS shift_dx, d -> 'counts' ->> 'shifted' AS shifted,
       d -> 'counts' ->> 'moved' AS moved, d -> 'counts' ->> 'unchanged' AS unchanged
FROM (VALUES ('by 1e300', 0::numeric, 1e300), ('past the range', -1e308, 1e308)) v(label, x0, x1),
     LATERAL (SELECT bt_diff(
         jsonb_build_array(jsonb_build_object('id', 'A', 'x', x0, 'y', 0, 'width', 1, 'height', 1),
                           jsonb_build_object('id', 'B', 'x', x0, 'y', 5, 'width', 1, 'height', 1),
                           jsonb_build_object('id', 'C', 'x', x0, 'y', 10, 'width', 1, 'height', 1),
                           jsonb_build_object('id', 'D', 'x', 0, 'y', 20, 'width', 1, 'height', 1)),
         jsonb_build_array(jsonb_build_object('id', 'A', 'x', x1, 'y', 0, 'width', 1, 'height', 1),
                           jsonb_build_object('id', 'B', 'x', x1, 'y', 5, 'width', 1, 'height', 1),
                           jsonb_build_object('id', 'C', 'x', x1, 'y', 10, 'width', 1, 'height', 1),
                           jsonb_build_object('id', 'D', 'x', 0, 'y', 20, 'width', 1, 'height', 1))) AS d) s;

-- ---------- the matcher ----------

-- Two identical removed objects and one added near them: no pair can be
-- told apart, so all three are one ambiguous group.
SELECT jsonb_pretty(jsonb_build_object('ambiguous', d -> 'ambiguous', 'reidentified', d -> 'reidentified',
                                       'summary', d -> 'summary')) AS two_for_one
FROM (SELECT bt_diff('[{"id":"R1","type":"col","x":0,"y":0,"width":1,"height":1},
                       {"id":"R2","type":"col","x":0,"y":0,"width":1,"height":1}]',
                     '[{"id":"A","type":"col","x":0.05,"y":0,"width":1,"height":1}]') AS d) s;

-- One removed object and two added within the place tolerance of it: the
-- pair by geometry needs each to be the other's only candidate, so none is
-- made there; the nearest (A1) is paired, A2 is added.
SELECT jsonb_pretty(jsonb_build_object('reidentified', d -> 'reidentified', 'added', d -> 'added',
                                       'summary', d -> 'summary')) AS one_for_two
FROM (SELECT bt_diff('[{"id":"R1","type":"col","x":0,"y":0,"width":1,"height":1}]',
                     '[{"id":"A1","type":"col","x":0.05,"y":0,"width":1,"height":1},
                       {"id":"A2","type":"col","x":-0.08,"y":0,"width":1,"height":1}]') AS d) s;

-- Geometry is place and size: a new id at the same place but five times as
-- high is found nearby, not as the same geometry.
SELECT d -> 'reidentified' -> 0 ->> 'basis' AS basis, d ->> 'summary' AS summary
FROM (SELECT bt_diff('[{"id":"R","type":"t","x":0,"y":0,"width":1,"height":1}]',
                     '[{"id":"A","type":"t","x":0,"y":0,"width":1,"height":5}]') AS d) s;

-- Pairing does not depend on where the drawing lies: a door that kept its
-- place under a new id, and a column moved within the tolerance under one,
-- are found at 0, at 1e15 and in map coordinates in millimetres with a
-- search radius of a millionth (cells counted from 0 would number past a
-- double's exact integers); an object far out does not unplace the others,
-- and is itself left added.
SET buildtrace.match_distance = 0;
SELECT o AS origin, r AS radius, d -> 'counts' ->> 'reidentified' AS reidentified,
       d -> 'counts' ->> 'added' AS added, d ->> 'summary' AS summary
FROM (VALUES (0, 0.5), (1e15, 0.5), (5431234500, 1e-6)) v(o, r),
     LATERAL (SELECT bt_diff(
         jsonb_build_array(
             jsonb_build_object('id', 'D1', 'type', 'door', 'x', o, 'y', o, 'width', 1, 'height', 1, 'layer', 1),
             jsonb_build_object('id', 'C1', 'type', 'column', 'x', o + 7, 'y', o, 'width', 1, 'height', 1)),
         jsonb_build_array(
             jsonb_build_object('id', 'D2', 'type', 'door', 'x', o, 'y', o, 'width', 1, 'height', 1, 'layer', 2),
             jsonb_build_object('id', 'C2', 'type', 'column', 'x', o + 7, 'y', o + r * 0.5, 'width', 1, 'height', 1),
             jsonb_build_object('id', 'F', 'type', 'door', 'x', -1e300, 'y', 0, 'width', 1, 'height', 1)),
         move_tolerance => r) AS d) s;
RESET buildtrace.match_distance;

-- ---------- ids ----------

-- 70 ids of nine bytes that share their first eight, in opposite orders in
-- the two versions: ordered by the whole id (past the eight bytes the sort
-- keys hold), every object finds itself.
WITH a AS (SELECT jsonb_agg(jsonb_build_object('id', 'abcdefgh' || chr(48 + i), 'x', 0, 'y', i,
                                               'width', 1, 'height', 1) ORDER BY i DESC) AS j
           FROM generate_series(0, 69) i),
     b AS (SELECT jsonb_agg(jsonb_build_object('id', 'abcdefgh' || chr(48 + i), 'x', 0, 'y', i,
                                               'width', 1, 'height', 1) ORDER BY i) AS j
           FROM generate_series(0, 69) i)
SELECT d -> 'counts' AS counts, d ->> 'summary' AS summary
FROM a, b, bt_diff(a.j, b.j) d;
