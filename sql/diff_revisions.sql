-- Real revisions: rotations, objects re-identified under new ids (content,
-- geometry, nearest), ambiguity, and whole-drawing shifts.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, public;

-- Rotation: its own kind, modulo 360, delta in (-180, 180].
SELECT d -> 'rotated' AS rotated, d -> 'modified' AS modified, d ->> 'summary' AS summary
FROM (SELECT bt_diff('[{"id":"S1","type":"stair","x":0,"y":0,"width":1,"height":3,"rotation":210,"name":"Treppe"}]',
                     '[{"id":"S1","type":"stair","x":0,"y":0,"width":1,"height":3,"rotation":300,"name":"Treppe"}]') AS d) s;
SELECT label, bt_diff(format('[{"id":"S","x":0,"y":0,"width":1,"height":1,"rotation":%s}]', a)::jsonb,
                      format('[{"id":"S","x":0,"y":0,"width":1,"height":1,"rotation":%s}]', b)::jsonb)
              -> 'rotated' -> 0 ->> 'delta' AS delta
FROM (VALUES ('across 0', 359.8, 0.1), ('across 0, beyond', 350, 10), ('back across 0', 10, 350),
             ('half turn', 0, 180), ('minus half turn', 180, 0), ('at the tolerance', 10, 10.5),
             ('past the tolerance', 10, 10.6), ('full turn', 0, 360)) v(label, a, b);
-- No rotation is 0.
SELECT bt_diff('[{"id":"S","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"S","x":0,"y":0,"width":1,"height":1,"rotation":45}]') -> 'rotated' AS none_to_some;
\set VERBOSITY terse
SELECT bt_diff('[{"id":"S","x":0,"y":0,"width":1,"height":1,"rotation":"90"}]', '[]');
\set VERBOSITY default

-- Re-identified by content: a re-export with new ids, nothing else changed.
SELECT d -> 'reidentified' AS reidentified, d -> 'counts' -> 'added' AS added,
       d -> 'counts' -> 'removed' AS removed, d ->> 'summary' AS summary
FROM (SELECT bt_diff('[{"id":"A","type":"wall","x":0,"y":0,"width":8,"height":0.2},
                       {"id":"B","type":"door","x":2,"y":0,"width":1,"height":0.2}]',
                     '[{"id":"X","type":"wall","x":0,"y":0,"width":8,"height":0.2},
                       {"id":"Y","type":"door","x":2,"y":0,"width":1,"height":0.2}]') AS d) s;
-- Numbers compare by value: 6.0 and 6 are the same content.
SELECT bt_diff('[{"id":"A","type":"wall","x":6.0,"y":0,"width":8.50,"height":0.2,"level":1}]',
               '[{"id":"X","type":"wall","x":6,"y":0,"width":8.5,"height":0.20,"level":1.0}]')
       -> 'reidentified' AS by_value;
-- By geometry: jitter within the tolerances; by nearest: a door moved half
-- a metre, a window widened in place, each under a new id.
SELECT d -> 'reidentified' AS reidentified, d -> 'moved' AS moved, d -> 'resized' AS resized,
       d ->> 'summary' AS summary
FROM (SELECT bt_diff('[{"id":"C1","type":"column","x":5,"y":5,"width":0.3,"height":0.3,"tag":"a"},
                       {"id":"D1","type":"door","x":2,"y":0,"width":1,"height":0.2},
                       {"id":"W1","type":"window","x":6,"y":0,"width":1.2,"height":0.2}]',
                     '[{"id":"C9","type":"column","x":5.05,"y":5,"width":0.305,"height":0.3,"tag":"b"},
                       {"id":"D9","type":"door","x":2.5,"y":0,"width":1,"height":0.2},
                       {"id":"W9","type":"window","x":6,"y":0,"width":1.8,"height":0.2}]') AS d) s;
-- Never a guess: two identical objects at one place, and one removed object
-- with two equally near candidates, are ambiguous and stay added/removed.
SELECT d -> 'ambiguous' AS ambiguous, d -> 'reidentified' AS reidentified,
       d -> 'counts' -> 'added' AS added, d -> 'counts' -> 'removed' AS removed,
       d ->> 'summary' AS summary
FROM (SELECT bt_diff('[{"id":"P1","type":"post","x":0,"y":0,"width":1,"height":1},
                       {"id":"P2","type":"post","x":0,"y":0,"width":1,"height":1},
                       {"id":"L1","type":"lamp","x":10,"y":0,"width":1,"height":1}]',
                     '[{"id":"Q1","type":"post","x":0,"y":0,"width":1,"height":1},
                       {"id":"Q2","type":"post","x":0,"y":0,"width":1,"height":1},
                       {"id":"M1","type":"lamp","x":9.5,"y":0,"width":1,"height":1},
                       {"id":"M2","type":"lamp","x":10.5,"y":0,"width":1,"height":1}]') AS d) s;
-- A grid of identical columns re-exported in place is paired exactly.
WITH g AS (SELECT i, j FROM generate_series(0, 9) i, generate_series(0, 9) j),
     a AS (SELECT jsonb_agg(jsonb_build_object('id', format('c%s-%s', i, j), 'type', 'column',
                  'x', i * 6, 'y', j * 6, 'width', 0.4, 'height', 0.4)) v FROM g),
     b AS (SELECT jsonb_agg(jsonb_build_object('id', md5(format('%s-%s', i, j)), 'type', 'column',
                  'x', i * 6 + 0.01 * (i % 3), 'y', j * 6, 'width', 0.4, 'height', 0.4)) v FROM g),
     d AS (SELECT bt_diff(a.v, b.v) AS d FROM a, b)
SELECT d -> 'counts' ->> 'reidentified' AS reidentified, d -> 'counts' ->> 'added' AS added,
       d -> 'counts' ->> 'ambiguous' AS ambiguous,
       (SELECT bool_and(r ->> 'previous_id' = format('c%s-%s', i, j))
        FROM jsonb_array_elements(d -> 'reidentified') r
        JOIN generate_series(0, 9) i ON true JOIN generate_series(0, 9) j
          ON r ->> 'id' = md5(format('%s-%s', i, j))) AS all_right
FROM d;
-- Off: per call, and by the setting.
SELECT bt_diff('[{"id":"A","type":"wall","x":0,"y":0,"width":8,"height":0.2}]',
               '[{"id":"X","type":"wall","x":0,"y":0,"width":8,"height":0.2}]',
               match_geometry => false) ->> 'summary' AS off_per_call;
SET buildtrace.match_geometry = off;
SELECT bt_diff('[{"id":"A","type":"wall","x":0,"y":0,"width":8,"height":0.2}]',
               '[{"id":"X","type":"wall","x":0,"y":0,"width":8,"height":0.2}]') ->> 'summary' AS off_by_setting;
SELECT bt_diff('[{"id":"A","type":"wall","x":0,"y":0,"width":8,"height":0.2}]',
               '[{"id":"X","type":"wall","x":0,"y":0,"width":8,"height":0.2}]',
               match_geometry => true) ->> 'summary' AS on_per_call;
RESET buildtrace.match_geometry;

-- A whole-drawing shift: reported once; objects that moved with it are not
-- listed; one that moved differently is, relative to the shift.
WITH a AS (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall', 'x', i * 3, 'y', 0,
                                               'width', 2, 'height', 0.2)) v
           FROM generate_series(1, 6) i),
     b AS (SELECT jsonb_agg(jsonb_build_object('id', 'E' || i, 'type', 'wall',
                                               'x', i * 3 + 10,
                                               'y', CASE WHEN i = 6 THEN 2 ELSE 0 END,
                                               'width', 2, 'height', 0.2)) v
           FROM generate_series(1, 6) i)
SELECT d -> 'shift' AS shift, d -> 'moved' AS moved, d -> 'counts' AS counts, d ->> 'summary' AS summary
FROM (SELECT bt_diff(a.v, b.v) AS d FROM a, b) s;
-- Fewer than half moved together: no shift.
SELECT bt_diff('[{"id":"1","x":0,"y":0,"width":1,"height":1},{"id":"2","x":5,"y":0,"width":1,"height":1},
                 {"id":"3","x":9,"y":0,"width":1,"height":1},{"id":"4","x":0,"y":9,"width":1,"height":1},
                 {"id":"5","x":5,"y":9,"width":1,"height":1},{"id":"6","x":9,"y":9,"width":1,"height":1},
                 {"id":"7","x":20,"y":9,"width":1,"height":1}]',
               '[{"id":"1","x":10,"y":0,"width":1,"height":1},{"id":"2","x":15,"y":0,"width":1,"height":1},
                 {"id":"3","x":19,"y":0,"width":1,"height":1},{"id":"4","x":0,"y":9,"width":1,"height":1},
                 {"id":"5","x":5,"y":9,"width":1,"height":1},{"id":"6","x":9,"y":9,"width":1,"height":1},
                 {"id":"7","x":20,"y":9,"width":1,"height":1}]') -> 'shift' AS no_shift;

-- The FZK-Haus, re-exported (every id new, order shuffled): fully paired.
\set fzk `cat test/data/fzk-haus.json`
WITH a AS (SELECT :'fzk'::jsonb AS v),
     b AS (SELECT jsonb_agg(e || jsonb_build_object('id', md5(e ->> 'id')) ORDER BY md5(e ->> 'name')) AS v
           FROM a, jsonb_array_elements(a.v) e),
     d AS (SELECT bt_diff(a.v, b.v) AS d FROM a, b)
SELECT d -> 'counts' AS counts, d ->> 'summary' AS summary,
       (SELECT bool_and(md5(r ->> 'previous_id') = r ->> 'id') FROM jsonb_array_elements(d -> 'reidentified') r)
           AS all_right
FROM d;
-- The FZK-Haus moved 10 m east.
WITH a AS (SELECT :'fzk'::jsonb AS v),
     b AS (SELECT jsonb_agg(jsonb_set(e, '{x}', to_jsonb((e ->> 'x')::numeric + 10))) AS v
           FROM a, jsonb_array_elements(a.v) e)
SELECT d -> 'shift' AS shift, d -> 'counts' ->> 'moved' AS moved, d ->> 'summary' AS summary
FROM (SELECT bt_diff(a.v, b.v) AS d FROM a, b) s;

-- Summaries a person reads: labels (buildtrace.label_keys), units,
-- renames, moves of several types together, and a bound.
SET buildtrace.units = 'm';
SELECT bt_diff('[{"id":"w3","type":"wall","x":0,"y":0,"width":4,"height":0.2,"name":"Wand-Int-ERDG-3"},
                 {"id":"d2","type":"door","x":1,"y":0,"width":1,"height":0.1,"name":"Innentuer-2"},
                 {"id":"d3","type":"door","x":3,"y":0,"width":1,"height":0.1,"name":"Innentuer-3"},
                 {"id":"r5","type":"room","x":9,"y":9,"width":4,"height":4,"name":"5"},
                 {"id":"c1","type":"column","x":20,"y":0,"width":0.3,"height":0.3,"tag":"C-1"},
                 {"id":"x1","type":"column","x":30,"y":0,"width":0.3,"height":0.3},
                 {"id":"s1","type":"slab","x":0,"y":40,"width":9,"height":9},
                 {"id":"s2","type":"slab","x":10,"y":40,"width":9,"height":9},
                 {"id":"s3","type":"slab","x":20,"y":40,"width":9,"height":9}]',
               '[{"id":"w3","type":"wall","x":0,"y":0.5,"width":4,"height":0.2,"name":"Wand-Int-ERDG-3"},
                 {"id":"d2","type":"door","x":1,"y":0.5,"width":1,"height":0.1,"name":"Innentuer-2"},
                 {"id":"d3","type":"door","x":3,"y":0.5,"width":1,"height":0.1,"name":"Innentuer-3"},
                 {"id":"r5","type":"room","x":9,"y":9,"width":4,"height":4,"name":"Kueche"},
                 {"id":"c1","type":"column","x":21,"y":0,"width":0.3,"height":0.3,"tag":"C-1"},
                 {"id":"x1","type":"column","x":31,"y":0,"width":0.3,"height":0.3},
                 {"id":"s1","type":"slab","x":0,"y":40,"width":9,"height":9},
                 {"id":"s2","type":"slab","x":10,"y":40,"width":9,"height":9},
                 {"id":"s3","type":"slab","x":20,"y":40,"width":9,"height":9}]') ->> 'summary' AS summary;
SET buildtrace.label_keys = 'tag';
SELECT bt_diff('[{"id":"c1","type":"column","x":20,"y":0,"width":0.3,"height":0.3,"tag":"C-1","name":"N"}]',
               '[{"id":"c1","type":"column","x":25,"y":0,"width":0.3,"height":0.3,"tag":"C-1","name":"N"}]')
       ->> 'summary' AS by_tag;
RESET buildtrace.label_keys;
-- No units: the number alone.
SET buildtrace.units = '';
SELECT bt_diff('[{"id":"c1","type":"column","x":20,"y":0,"width":0.3,"height":0.3}]',
               '[{"id":"c1","type":"column","x":21,"y":0,"width":0.3,"height":0.3}]')
       ->> 'summary' AS no_units;
RESET buildtrace.units;
-- A label key whose value names nothing (null, "", true) gives way to the
-- next label key, and to the id only when no key names the object; a
-- name that was empty and is set is no rename.
SELECT bt_diff('[{"id":"k1","type":"room","x":0,"y":0,"width":1,"height":1,"name":null,"label":"Kitchen"},
                 {"id":"k2","type":"room","x":5,"y":0,"width":1,"height":1,"name":"","tag":"T-2"},
                 {"id":"k3","type":"room","x":9,"y":0,"width":1,"height":1,"name":true},
                 {"id":"k4","type":"room","x":20,"y":0,"width":1,"height":1,"name":""}]',
               '[{"id":"k1","type":"room","x":2,"y":0,"width":1,"height":1,"name":null,"label":"Kitchen"},
                 {"id":"k2","type":"room","x":5,"y":3,"width":1,"height":1,"name":"","tag":"T-2"},
                 {"id":"k3","type":"room","x":5,"y":0,"width":1,"height":1,"name":true},
                 {"id":"k4","type":"room","x":20,"y":0,"width":1,"height":1,"name":"Store"}]') ->> 'summary' AS summary;
-- A blank name is no name either; spaces and tabs around the setting's keys,
-- and keys left empty, do not count.
SET buildtrace.label_keys = E' name ,\ttag ,, ';
SELECT bt_diff('[{"id":"k5","type":"room","x":0,"y":0,"width":1,"height":1,"name":"  ","tag":"T-5"},
                 {"id":"k6","type":"room","x":9,"y":0,"width":1,"height":1,"name":"Hall"}]',
               '[{"id":"k5","type":"room","x":0,"y":2,"width":1,"height":1,"name":"  ","tag":"T-5"},
                 {"id":"k6","type":"room","x":9,"y":0,"width":2,"height":1,"name":"Hall"}]') ->> 'summary' AS summary;
RESET buildtrace.label_keys;
-- A spike of 216 changes of many kinds and types: a headline, the largest
-- groups, and how many more, well under 600 characters.
WITH a AS (SELECT jsonb_agg(jsonb_build_object('id', 'o' || i, 'type', 't' || (i % 12), 'x', i * 5, 'y', 0,
                                               'width', 1, 'height', 1)) v FROM generate_series(1, 300) i),
     b AS (SELECT jsonb_agg(jsonb_build_object('id', CASE WHEN i % 5 = 0 THEN 'n' || i ELSE 'o' || i END,
                                               'type', 't' || (i % 12), 'x', i * 5 + CASE WHEN i % 5 = 1 THEN 2 ELSE 0 END,
                                               'y', CASE WHEN i % 5 = 0 THEN 100 ELSE 0 END,
                                               'width', CASE WHEN i % 5 = 2 THEN 2 ELSE 1 END, 'height', 1)) v
           FROM generate_series(1, 300) i)
SELECT length(s) < 600 AS short, s AS summary
FROM (SELECT bt_diff(a.v, b.v) ->> 'summary' AS s FROM a, b) x;

-- Objects piled at one place under new ids: a handful is one ambiguous
-- group; a crowd of more than 128 of a type in a few cells is passed over
-- by the place stages (nothing tells them apart, and weighing every pair
-- of them would be quadratic), and reported as added and removed.
SELECT n, d -> 'counts' ->> 'added' AS added, d -> 'counts' ->> 'removed' AS removed,
       jsonb_array_length(d -> 'ambiguous') AS ambiguous_groups
FROM (SELECT n.n, bt_diff(
          (SELECT jsonb_agg(jsonb_build_object('id', 'o' || i, 'type', 'door', 'x', 0, 'y', 0,
                                               'width', 1, 'height', 1, 'k', i)) FROM generate_series(1, n.n) i),
          (SELECT jsonb_agg(jsonb_build_object('id', 'n' || i, 'type', 'door', 'x', 0, 'y', 0,
                                               'width', 1, 'height', 1, 'k', -i)) FROM generate_series(1, n.n) i)) d
      FROM (VALUES (3), (200)) n(n)) x;

-- Content is compared as jsonb: a near copy whose name differs by one
-- trailing byte is another content, and a nested 1.0 equals 1.
SELECT d -> 'reidentified' AS reidentified, d -> 'ambiguous' AS ambiguous
FROM (SELECT bt_diff('[{"id":"A","type":"door","x":0,"y":0,"width":1,"height":1,"name":"door12"}]',
                     '[{"id":"B","type":"door","x":0,"y":0,"width":1,"height":1,"name":"door12"},
                       {"id":"C","type":"door","x":0,"y":0,"width":1,"height":1,"name":"door12\u0001"}]') AS d) x;
SELECT d -> 'reidentified' -> 0 ->> 'basis' AS basis
FROM (SELECT bt_diff('[{"id":"A","type":"door","x":0,"y":0,"width":1,"height":1,"k":[1.0]}]',
                     '[{"id":"B","type":"door","x":0,"y":0,"width":1,"height":1,"k":[1]}]') AS d) x;

-- Bad values of the new settings.
SET buildtrace.summary_max_sentences = 1;
SET buildtrace.rotation_tolerance = -1;
SET buildtrace.match_distance = -1;
SET buildtrace.shift_min_share = 1.5;
RESET buildtrace.summary_max_sentences;

-- Moves just past the tolerance in four directions average to no move: no
-- shift, and the objects whose attributes alone changed did not go with one.
SELECT d -> 'shift' AS shift, d -> 'counts' ->> 'moved' AS moved, d ->> 'summary' AS summary
FROM (SELECT bt_diff(
    '[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":5,"y":0,"width":1,"height":1},
      {"id":"C","x":0,"y":5,"width":1,"height":1},{"id":"D","x":5,"y":5,"width":1,"height":1},
      {"id":"E","x":9,"y":0,"width":1,"height":1,"k":1},{"id":"F","x":9,"y":5,"width":1,"height":1,"k":1},
      {"id":"G","x":9,"y":9,"width":1,"height":1,"k":1},{"id":"H","x":0,"y":9,"width":1,"height":1,"k":1}]',
    '[{"id":"A","x":0.09,"y":0.09,"width":1,"height":1},{"id":"B","x":4.91,"y":-0.09,"width":1,"height":1},
      {"id":"C","x":-0.09,"y":5.09,"width":1,"height":1},{"id":"D","x":4.91,"y":4.91,"width":1,"height":1},
      {"id":"E","x":9,"y":0,"width":1,"height":1,"k":2},{"id":"F","x":9,"y":5,"width":1,"height":1,"k":2},
      {"id":"G","x":9,"y":9,"width":1,"height":1,"k":2},{"id":"H","x":0,"y":9,"width":1,"height":1,"k":2}]',
    match_geometry => false) AS d) s;
-- Two groups of three as large, moved 1 and 1.18 east: the nearer is the
-- shift, and the diff the other way round finds its opposite.
WITH v AS (SELECT '[{"id":"A1","x":0,"y":0,"width":1,"height":1},{"id":"A2","x":5,"y":0,"width":1,"height":1},
                    {"id":"A3","x":9,"y":0,"width":1,"height":1},{"id":"B1","x":0,"y":9,"width":1,"height":1},
                    {"id":"B2","x":5,"y":9,"width":1,"height":1},{"id":"B3","x":9,"y":9,"width":1,"height":1}]'::jsonb AS a,
                  '[{"id":"A1","x":1,"y":0,"width":1,"height":1},{"id":"A2","x":6,"y":0,"width":1,"height":1},
                    {"id":"A3","x":10,"y":0,"width":1,"height":1},{"id":"B1","x":1.18,"y":9,"width":1,"height":1},
                    {"id":"B2","x":6.18,"y":9,"width":1,"height":1},{"id":"B3","x":10.18,"y":9,"width":1,"height":1}]'::jsonb AS b)
SELECT bt_diff(a, b) ->> 'summary' AS a_to_b, bt_diff(b, a) ->> 'summary' AS b_to_a FROM v;
-- Two groups of three as large moved as far, one east and one west: each
-- is half the objects (shift_min_share), but as near as each other, neither
-- is the shift, whichever is counted first.
WITH v AS (SELECT '[{"id":"A1","x":0,"y":0,"width":1,"height":1},{"id":"A2","x":5,"y":0,"width":1,"height":1},
                    {"id":"A3","x":9,"y":0,"width":1,"height":1},{"id":"B1","x":0,"y":9,"width":1,"height":1},
                    {"id":"B2","x":5,"y":9,"width":1,"height":1},{"id":"B3","x":9,"y":9,"width":1,"height":1}]'::jsonb AS a,
                  '[{"id":"A1","x":1,"y":0,"width":1,"height":1},{"id":"A2","x":6,"y":0,"width":1,"height":1},
                    {"id":"A3","x":10,"y":0,"width":1,"height":1},{"id":"B1","x":-1,"y":9,"width":1,"height":1},
                    {"id":"B2","x":4,"y":9,"width":1,"height":1},{"id":"B3","x":8,"y":9,"width":1,"height":1}]'::jsonb AS b)
SELECT bt_diff(a, b) -> 'shift' AS a_to_b, bt_diff(b, a) -> 'shift' AS b_to_a,
       bt_diff(a, b) -> 'counts' ->> 'moved' AS moved FROM v;
-- Moves of -0.09 and 0.09 east, 0.3 north, with a tolerance of 0.1 fall in
-- one cell of the grid (-0 is 0): one shift, not two cells as dense, though
-- a move elsewhere (AZ) comes between them.
SELECT bt_diff('[{"id":"A1","x":0,"y":0,"width":1,"height":1},{"id":"A2","x":5,"y":0,"width":1,"height":1},
                 {"id":"A3","x":9,"y":0,"width":1,"height":1},{"id":"AZ","x":20,"y":20,"width":1,"height":1},
                 {"id":"B1","x":0,"y":9,"width":1,"height":1},
                 {"id":"B2","x":5,"y":9,"width":1,"height":1},{"id":"B3","x":9,"y":9,"width":1,"height":1}]',
               '[{"id":"A1","x":-0.09,"y":0.3,"width":1,"height":1},{"id":"A2","x":4.91,"y":0.3,"width":1,"height":1},
                 {"id":"A3","x":8.91,"y":0.3,"width":1,"height":1},{"id":"AZ","x":25,"y":25,"width":1,"height":1},
                 {"id":"B1","x":0.09,"y":9.3,"width":1,"height":1},
                 {"id":"B2","x":5.09,"y":9.3,"width":1,"height":1},{"id":"B3","x":9.09,"y":9.3,"width":1,"height":1}]',
               move_tolerance => 0.1) -> 'shift' AS shift;
-- A turn of 10^20 degrees is 280 degrees: to 90 is 170 degrees.
SELECT bt_diff('[{"id":"A","x":0,"y":0,"width":1,"height":1,"rotation":1e20}]',
               '[{"id":"A","x":0,"y":0,"width":1,"height":1,"rotation":90}]') -> 'rotated' AS rotated;
-- Huge amounts in two significant digits; an empty type reads "object";
-- plurals of capitals; one object under a new id.
SELECT bt_diff('[{"id":"A","x":1e300,"y":0,"width":1,"height":1}]',
               '[{"id":"A","x":-1e300,"y":0,"width":1,"height":1}]') ->> 'summary' AS huge;
SELECT bt_diff('[]', '[{"id":"1","type":"","x":0,"y":0,"width":1,"height":1},{"id":"2","type":"","x":5,"y":0,"width":1,"height":1},
                       {"id":"3","type":"BOX","x":9,"y":0,"width":1,"height":1},{"id":"4","type":"BOX","x":9,"y":5,"width":1,"height":1}]') ->> 'summary' AS types;
SELECT bt_diff('[{"id":"A","type":"wall","x":0,"y":0,"width":4,"height":0.2}]',
               '[{"id":"B","type":"wall","x":0,"y":0,"width":4,"height":0.2}]') ->> 'summary' AS one_new_id;
-- A label that starts with its type is not given the type twice.
SELECT bt_diff('[{"id":"r5","type":"room","x":9,"y":9,"width":4,"height":4,"name":"Room 5"}]',
               '[{"id":"r5","type":"room","x":9,"y":9,"width":4,"height":4,"name":"Kueche"}]') ->> 'summary' AS rename;
-- Objects exactly the tolerance apart are found wherever they lie (the grid
-- once put 3.3 and 4.4 two cells of 1.1 apart).
SELECT x0, x1, bt_diff(format('[{"id":"r","type":"door","x":%s,"y":0,"width":1,"height":1}]', x0)::jsonb,
                       format('[{"id":"a","type":"door","x":%s,"y":0,"width":1,"height":1}]', x1)::jsonb,
                       move_tolerance => 1.1) -> 'reidentified' AS reidentified
FROM (VALUES (2.2, 3.3), (3.3, 4.4)) v(x0, x1);
-- A chain of doors, removed and added in turn with growing gaps, pairs from
-- one end, a pass at a time; the two the passes leave are not ambiguous.
WITH g AS (SELECT k, sum(CASE WHEN k = 0 THEN 0 WHEN k <= 32 THEN 0.39 + 0.01 * k ELSE 0.71 END)
                         OVER (ORDER BY k) AS x
           FROM generate_series(0, 33) k),
     v AS (SELECT jsonb_agg(jsonb_build_object('id', 'R' || k / 2, 'type', 'door', 'x', x, 'y', 0,
                                               'width', 0.2, 'height', 0.2)) FILTER (WHERE k % 2 = 0) AS a,
                  jsonb_agg(jsonb_build_object('id', 'A' || k / 2, 'type', 'door', 'x', x, 'y', 0,
                                               'width', 0.2, 'height', 0.2)) FILTER (WHERE k % 2 = 1) AS b
           FROM g)
SELECT d -> 'counts' ->> 'reidentified' AS reidentified, d -> 'ambiguous' AS ambiguous,
       jsonb_array_length(d -> 'added') AS added, jsonb_array_length(d -> 'removed') AS removed
FROM (SELECT bt_diff(a, b) AS d FROM v) s;
-- Leftovers of a type the other side lacks take no part in matching; those
-- of shared types, between them in id order, still pair, and the rest keep
-- their id order. An empty type is a type: it pairs with "" only, and an
-- object without one only with another without one, however near.
SELECT d -> 'reidentified' AS reidentified, d -> 'removed' AS removed, d -> 'added' AS added
FROM (SELECT bt_diff('[{"id":"a1","type":"door","x":0,"y":0,"width":1,"height":1},
                       {"id":"a2","type":"wall","x":5,"y":0,"width":1,"height":1},
                       {"id":"a3","type":"door","x":9,"y":0,"width":1,"height":1},
                       {"id":"a4","x":20,"y":0,"width":1,"height":1},
                       {"id":"a5","type":"","x":20.3,"y":0,"width":1,"height":1}]',
                     '[{"id":"b1","type":"window","x":0,"y":0,"width":1,"height":1},
                       {"id":"b2","type":"wall","x":5.2,"y":0,"width":1,"height":1},
                       {"id":"b3","type":"window","x":9,"y":0,"width":1,"height":1},
                       {"id":"b4","type":"","x":20.1,"y":0,"width":1,"height":1},
                       {"id":"b5","x":20.5,"y":0,"width":1,"height":1}]') AS d) s;
-- Changes found in three steps (by id, re-identified, measured against the
-- shift) are listed in the id order of b.
SELECT jsonb_path_query_array(d, '$.moved[*].id') AS moved, jsonb_path_query_array(d, '$.reidentified[*].id') AS reidentified,
       d -> 'shift' AS shift
FROM (SELECT bt_diff(
  '[{"id":"c1","type":"wall","x":0,"y":0,"width":1,"height":1},
    {"id":"c2","type":"wall","x":3,"y":0,"width":1,"height":1},
    {"id":"c3","type":"wall","x":6,"y":0,"width":1,"height":1},
    {"id":"c4","type":"wall","x":9,"y":0,"width":1,"height":1},
    {"id":"c5","type":"wall","x":12,"y":0,"width":1,"height":1},
    {"id":"a6","type":"door","x":15,"y":0,"width":1,"height":1},
    {"id":"c7","type":"wall","x":18,"y":0,"width":1,"height":1},
    {"id":"c8","type":"wall","x":21,"y":0,"width":1,"height":1}]',
  '[{"id":"c1","type":"wall","x":0,"y":10,"width":1,"height":1},
    {"id":"c2","type":"wall","x":3,"y":10,"width":1,"height":1},
    {"id":"c3","type":"wall","x":6,"y":0,"width":1,"height":1},
    {"id":"c4","type":"wall","x":9,"y":10,"width":1,"height":1},
    {"id":"c5","type":"wall","x":12,"y":10,"width":1,"height":1},
    {"id":"c6","type":"door","x":15.5,"y":10,"width":1,"height":1},
    {"id":"c7","type":"wall","x":18,"y":10,"width":1,"height":1},
    {"id":"c8","type":"wall","x":21,"y":10,"width":1,"height":1}]') AS d) s;

-- Far from 0 the doubles of two places can fall on either side of a
-- tolerance that their decimals are within, or beyond: the decisions are
-- those of the places as written, as a move's are. A window found again
-- 1.9999999 away at x = 8.9e11 is within a move tolerance of 2; one
-- 0.1000001 away at 4e9 is beyond 0.1 (the nearest, not the same
-- geometry, and moved by that); with a shift of 12345678.8, an object 0.1
-- off it went with it, and one 0.11 off moved by exactly that.
SELECT bt_diff('[{"id":"A","type":"window","x":888103000000.032,"y":-3255,"width":1,"height":1}]',
               '[{"id":"B","type":"window","x":888103000001.23199994,"y":-3253.40000008,"width":1,"height":1}]',
               2) -> 'reidentified' AS reidentified;
SELECT d -> 'reidentified' AS reidentified, d -> 'moved' AS moved
FROM (SELECT bt_diff('[{"id":"A","type":"window","x":4000000000,"y":0,"width":1,"height":1}]',
                     '[{"id":"B","type":"window","x":4000000000.1000001,"y":0,"width":1,"height":1}]') AS d) s;
SELECT o3, d -> 'shift' AS shift, d -> 'moved' AS moved
FROM unnest(ARRAY['12345978.7', '12345978.69']) o3,
     LATERAL (SELECT bt_diff(
  '[{"id":"O0","x":0,"y":0,"width":1,"height":1},{"id":"O1","x":100,"y":0,"width":1,"height":1},
    {"id":"O2","x":200,"y":0,"width":1,"height":1},{"id":"O3","x":300,"y":0,"width":1,"height":1}]',
  ('[{"id":"O0","x":12345678.8,"y":0,"width":1,"height":1},{"id":"O1","x":12345778.8,"y":0,"width":1,"height":1},
     {"id":"O2","x":12345878.8,"y":0,"width":1,"height":1},{"id":"O3","x":' || o3 || ',"y":0,"width":1,"height":1}]')::jsonb) AS d) s;
-- Places 1.3 apart at 1e12, whose doubles lie two cells of a tolerance of
-- 1.3 apart, are found (the places are measured from the median place);
-- and one object far out leaves the others' search as it was: 200 windows
-- moved by 0.01 under new ids are found again beside a door at 1e20.
SELECT bt_diff('[{"id":"A","type":"w","x":1000000008291.70818,"y":0,"width":1,"height":1}]',
               '[{"id":"B","type":"w","x":1000000008293.00818,"y":0,"width":1,"height":1}]',
               1.3) -> 'reidentified' AS reidentified;
WITH a AS (SELECT jsonb_agg(jsonb_build_object('id', 'a' || i, 'type', 'window', 'x', i, 'y', 0,
                                               'width', 0.5, 'height', 0.5)) j FROM generate_series(1, 200) i),
     b AS (SELECT jsonb_agg(jsonb_build_object('id', 'b' || i, 'type', 'window', 'x', i + 0.01, 'y', 0,
                                               'width', 0.5, 'height', 0.5)) j FROM generate_series(1, 200) i)
SELECT jsonb_array_length(bt_diff(a.j || '[{"id":"far","type":"door","x":1e20,"y":0,"width":1,"height":1}]',
                                  b.j) -> 'reidentified') AS reidentified_beside_far_door
FROM a, b;

-- Objects that moved together within the tolerance but across the edge of
-- a cell of the shift search (cells of twice the tolerance: 10.08 and
-- 10.12 lie on either side of 10.1) are a shift, and b against a finds the
-- opposite one.
SELECT d -> 'shift' AS shift, jsonb_array_length(d -> 'moved') AS moved
FROM (VALUES ('[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":5,"y":0,"width":1,"height":1},
               {"id":"C","x":9,"y":0,"width":1,"height":1}]'::jsonb,
              '[{"id":"A","x":10.08,"y":0,"width":1,"height":1},{"id":"B","x":15.08,"y":0,"width":1,"height":1},
               {"id":"C","x":19.12,"y":0,"width":1,"height":1}]'::jsonb)) v(a, b),
     LATERAL (VALUES (bt_diff(a, b)), (bt_diff(b, a))) x(d);

-- Every block of cells that could hold a shift is searched, each from the
-- mean of its moves to the mean of those within the tolerance: four of
-- seven objects moved within 0.1 of 10.1 beside three at 10.35 are a shift.
-- Of two clusters as large, the nearer wins though it straddles a cell.
SELECT bt_diff((SELECT jsonb_agg(jsonb_build_object('id', 'o' || i, 'x', 0, 'y', 0, 'width', 1, 'height', 1))
                FROM generate_series(1, 7) i),
               (SELECT jsonb_agg(jsonb_build_object('id', 'o' || i, 'x', (ARRAY[10.02, 10.02, 10.18, 10.18, 10.35, 10.35, 10.35])[i],
                                                    'y', 0, 'width', 1, 'height', 1))
                FROM generate_series(1, 7) i)) -> 'shift' AS shift;
SELECT bt_diff((SELECT jsonb_agg(jsonb_build_object('id', 'o' || i, 'x', 0, 'y', 0, 'width', 1, 'height', 1))
                FROM generate_series(1, 6) i),
               (SELECT jsonb_agg(jsonb_build_object('id', 'o' || i, 'x', (ARRAY[0.29, 0.31, 0.31, 1, 1, 1])[i],
                                                    'y', 0, 'width', 1, 'height', 1))
                FROM generate_series(1, 6) i)) -> 'shift' AS shift;

-- The shift is written as the objects that went with it are judged against
-- it: far from 0, where the mean rounded as output would leave them (or
-- where a double's sum of identical moves is off them), it is the move
-- nearest the mean, exactly; an object 0.0115 off the shift as written,
-- with a tolerance of 0.01, moved, though it is within 0.01 of the mean.
SELECT x, d -> 'shift' ->> 'dx' AS shift_dx, d -> 'shift' ->> 'objects' AS objects, d -> 'counts' ->> 'moved' AS moved
FROM unnest(ARRAY['123456789012345.67', '800328328238322.31']) x,
     LATERAL (SELECT bt_diff('[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},
                               {"id":"C","x":0,"y":0,"width":1,"height":1}]',
                             ('[{"id":"A","x":' || x || ',"y":0,"width":1,"height":1},{"id":"B","x":' || x || ',"y":0,"width":1,"height":1},
                                {"id":"C","x":' || x || ',"y":0,"width":1,"height":1}]')::jsonb) AS d) s;
SELECT d -> 'shift' ->> 'dx' AS shift_dx, d -> 'shift' ->> 'objects' AS objects, d -> 'moved' AS moved
FROM bt_diff('[{"id":"A","x":0,"y":0,"width":1,"height":1},{"id":"B","x":0,"y":0,"width":1,"height":1},
               {"id":"C","x":0,"y":0,"width":1,"height":1},{"id":"D","x":0,"y":0,"width":1,"height":1}]',
             '[{"id":"A","x":1234567890123.456,"y":0,"width":1,"height":1},{"id":"B","x":1234567890123.456,"y":0,"width":1,"height":1},
               {"id":"C","x":1234567890123.456,"y":0,"width":1,"height":1},{"id":"D","x":1234567890123.4485,"y":0,"width":1,"height":1}]',
             0.01) d;

-- Equally near means the same but for the rounding of the places and one
-- part in a billion: a door 0 away is nearer than one 9e-10 away, and two
-- 0.1 away on either side are equally near.
SELECT d -> 'reidentified' AS reidentified, d -> 'ambiguous' AS ambiguous
FROM (VALUES ('0', '0.0000000009'), ('0.1', '-0.1')) v(xa, xb),
     LATERAL (SELECT bt_diff(('[{"id":"A","type":"door","x":' || xa || ',"y":0,"width":1,"height":1},
                               {"id":"B","type":"door","x":' || xb || ',"y":0,"width":1,"height":1}]')::jsonb,
                             '[{"id":"N","type":"door","x":0,"y":0,"width":2,"height":1}]') AS d) s;

-- How many objects went with a shift is counted as they are judged: on
-- their decimals where the doubles cannot tell. Three doors moved by
-- 199999999.9999999987 with a tolerance of 1e-9 are a shift of exactly that
-- (the mean rounded as output, 200000000, left none of them with it); a
-- door 0.0447 off two others moved 5e14 north, with a tolerance of 0.05,
-- went with them (as doubles it was 0.0656 off).
SELECT d -> 'shift' ->> 'dx' AS shift_dx, d -> 'shift' ->> 'dy' AS shift_dy,
       d -> 'shift' ->> 'objects' AS objects, d -> 'counts' ->> 'moved' AS moved
FROM (VALUES ('[{"id":"A","type":"door","x":199999999.9999999987,"y":0,"width":1,"height":1},
                {"id":"B","type":"door","x":200000009.9999999987,"y":0,"width":1,"height":1},
                {"id":"C","type":"door","x":200000019.9999999987,"y":0,"width":1,"height":1}]'::jsonb, 1e-9),
             ('[{"id":"A","type":"door","x":0,"y":500000000000000,"width":1,"height":1},
                {"id":"B","type":"door","x":10,"y":500000000000000,"width":1,"height":1},
                {"id":"C","type":"door","x":19.98,"y":500000000000000.04,"width":1,"height":1}]'::jsonb, 0.05)) v(b, tol),
     LATERAL (SELECT bt_diff('[{"id":"A","type":"door","x":0,"y":0,"width":1,"height":1},
                               {"id":"B","type":"door","x":10,"y":0,"width":1,"height":1},
                               {"id":"C","type":"door","x":20,"y":0,"width":1,"height":1}]', b, tol) AS d) s;

-- b against a is the mirror of a against b also where doubles run out:
-- past 2^52 cells of the shift search no block is searched (a cell's
-- neighbour is no longer one more), and places are weighed with the
-- rounding of the places as read, not as moved back by the shift.
WITH v(a, b, tol) AS (VALUES
  ('[{"id":"P0","type":"door","x":0,"y":0,"width":1,"height":1},{"id":"P1","type":"door","x":1,"y":0,"width":1,"height":1},
     {"id":"P2","type":"door","x":2,"y":0,"width":1,"height":1}]'::jsonb,
   '[{"id":"P0","type":"door","x":0,"y":27272727273036.53329,"width":1,"height":1},
     {"id":"P1","type":"door","x":1,"y":27272727273036.53265,"width":1,"height":1},
     {"id":"P2","type":"door","x":2,"y":27272727273036.53302,"width":1,"height":1}]'::jsonb, 0.001),
  ('[{"id":"D1","type":"door","x":0,"y":0,"width":1,"height":1},{"id":"D2","type":"door","x":5,"y":0,"width":1,"height":1},
     {"id":"D3","type":"door","x":0,"y":5,"width":1,"height":1},{"id":"W1","type":"wall","x":0,"y":0,"width":1,"height":1},
     {"id":"W2","type":"wall","x":-1e-9,"y":0,"width":1,"height":1}]'::jsonb,
   '[{"id":"D1","type":"door","x":0,"y":773203.27,"width":1,"height":1},{"id":"D2","type":"door","x":5,"y":773203.27,"width":1,"height":1},
     {"id":"D3","type":"door","x":0,"y":773208.27,"width":1,"height":1},
     {"id":"N1","type":"wall","x":0.009,"y":773203.278,"width":1,"height":1}]'::jsonb, 0.01),
  -- places measured from the median in both directions, decided on the
  -- places as read: a window found again 1.99996 away under a shift of 1e12
  ('[{"id":"A","type":"door","x":0,"y":0,"width":1,"height":1},{"id":"B","type":"door","x":10,"y":0,"width":1,"height":1},
     {"id":"C","type":"door","x":20,"y":0,"width":1,"height":1},{"id":"R","type":"window","x":102.0001019,"y":0,"width":1,"height":1}]'::jsonb,
   '[{"id":"A","type":"door","x":1000000000000,"y":0,"width":1,"height":1},{"id":"B","type":"door","x":1000000000010,"y":0,"width":1,"height":1},
     {"id":"C","type":"door","x":1000000000020,"y":0,"width":1,"height":1},
     {"id":"N","type":"window","x":1000000000104.0000619,"y":0,"width":1,"height":1}]'::jsonb, 2),
  -- the candidates as near as the nearest are counted against it, found
  -- first, whatever order they come in: two doors as near as the nearest
  -- one, with a shift of 893913000, in both directions
  ('[{"id":"S1","type":"wall","x":0,"y":0,"width":1,"height":1},{"id":"S2","type":"wall","x":5,"y":0,"width":1,"height":1},
     {"id":"S3","type":"wall","x":0,"y":5,"width":1,"height":1},
     {"id":"O9","type":"door","x":0.000003275,"y":0.00000121,"width":1,"height":1},
     {"id":"O12","type":"door","x":0.00000287,"y":-0.00000343,"width":1,"height":1},
     {"id":"O18","type":"door","x":-0.000003765,"y":0.000004445,"width":1,"height":1}]'::jsonb,
   '[{"id":"S1","type":"wall","x":0,"y":893913000,"width":1,"height":1},{"id":"S2","type":"wall","x":5,"y":893913000,"width":1,"height":1},
     {"id":"S3","type":"wall","x":0,"y":893913005,"width":1,"height":1},
     {"id":"N1","type":"door","x":0,"y":893913000,"width":1,"height":1}]'::jsonb, 0.1),
  -- moves across the cells 2^52 - 1 and 2^52: that block and its mirror
  -- are searched alike
  ('[{"id":"A","type":"door","x":0,"y":0,"width":1,"height":1},{"id":"B","type":"door","x":0,"y":5,"width":1,"height":1},
     {"id":"C","type":"door","x":0,"y":10,"width":1,"height":1}]'::jsonb,
   '[{"id":"A","type":"door","x":9007199254740.9910,"y":0,"width":1,"height":1},
     {"id":"B","type":"door","x":9007199254740.9915,"y":5,"width":1,"height":1},
     {"id":"C","type":"door","x":9007199254740.9918,"y":10,"width":1,"height":1}]'::jsonb, 0.001))
SELECT f -> 'shift' = 'null' AS no_shift_ab, r -> 'shift' = 'null' AS no_shift_ba,
       f -> 'counts' ->> 'reidentified' AS reidentified_ab, r -> 'counts' ->> 'reidentified' AS reidentified_ba,
       f -> 'counts' ->> 'ambiguous' AS ambiguous_ab, r -> 'counts' ->> 'ambiguous' AS ambiguous_ba
FROM v, LATERAL (SELECT bt_diff(a, b, tol) AS f, bt_diff(b, a, tol) AS r) d;
