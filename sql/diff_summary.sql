-- bt_diff: the plain-English summary.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

-- No changes.
SELECT bt_diff('[]', '[]')->>'summary' AS empty,
       bt_diff('[{"id":"a","x":0,"y":0,"width":1,"height":1}]', '[{"id":"a","x":0.05,"y":0,"width":1,"height":1}]')->>'summary' AS below_tolerance;

-- The example from the design: moves grouped by type and direction with the
-- mean distance, kinds in the order added, removed, moved, resized, retyped,
-- modified.
SELECT bt_diff(
  '[{"id":"D1","type":"door","x":0,"y":0,"width":1,"height":2},
    {"id":"D4","type":"door","x":5,"y":5,"width":1,"height":2},
    {"id":"D7","type":"door","x":9,"y":9,"width":1,"height":2},
    {"id":"S1","type":"stairs","x":0,"y":9,"width":3,"height":5},
    {"id":"S2","type":"stairs","x":5,"y":9,"width":3,"height":5},
    {"id":"G1","type":"glass","x":0,"y":0,"width":1,"height":1,"tint":"none"}]',
  '[{"id":"D1","type":"door","x":2,"y":0,"width":1,"height":2},
    {"id":"D4","type":"door","x":7,"y":5,"width":1,"height":2},
    {"id":"D7","type":"window","x":9,"y":9,"width":1,"height":2},
    {"id":"S1","type":"stairs","x":0,"y":9,"width":3,"height":6},
    {"id":"S2","type":"stairs","x":5,"y":9,"width":3,"height":6},
    {"id":"G1","type":"glass","x":0,"y":0,"width":1,"height":1,"tint":"grey"},
    {"id":"W1","type":"window","x":3,"y":0,"width":1,"height":1}]')->>'summary';

-- Pluralisation: class/box/bench/sash/gallery/storey/stairs/column; a/an.
-- (Nine sentences: more than a summary shows by default.)
SET buildtrace.summary_max_sentences = 20;
SELECT bt_diff('[]', jsonb_agg(jsonb_build_object('id', t || n, 'type', t, 'x', 0, 'y', 0, 'width', 1, 'height', 1)))->>'summary'
FROM unnest(ARRAY['class','box','bench','sash','gallery','storey','stairs','column','ceiling']) t, generate_series(1, 2) n;
RESET buildtrace.summary_max_sentences;
SELECT bt_diff('[]', '[{"id":"x1","type":"box","x":0,"y":0,"width":1,"height":1},{"id":"o1","x":0,"y":0,"width":1,"height":1}]')->>'summary';
SELECT bt_diff('[{"id":"a","type":"door","x":0,"y":0,"width":1,"height":1},{"id":"b","type":"door","x":0,"y":0,"width":1,"height":1},{"id":"c","type":"wall","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"a","type":"opening","x":0,"y":0,"width":1,"height":1},{"id":"b","type":"opening","x":0,"y":0,"width":1,"height":1},{"id":"c","type":"opening","x":0,"y":0,"width":1,"height":1}]')->>'summary';
SELECT bt_diff('[{"id":"a","x":0,"y":0,"width":1,"height":1}]', '[{"id":"a","type":"arch","x":0,"y":0,"width":1,"height":1}]')->>'summary';

-- At most three ids per group, then "and N more".
SELECT bt_diff('[]', jsonb_agg(jsonb_build_object('id', 'W' || n, 'type', 'wall', 'x', 0, 'y', 0, 'width', 1, 'height', 1)))->>'summary'
FROM generate_series(1, 3) n;
SELECT bt_diff(jsonb_agg(jsonb_build_object('id', 'W' || n, 'type', 'wall', 'x', 0, 'y', 0, 'width', 1, 'height', 1)), '[]')->>'summary'
FROM generate_series(1, 12) n;

-- Distances: two significant digits, "1 unit" singular, groups per direction.
SELECT d, bt_diff('[{"id":"P","type":"post","x":0,"y":0,"width":1,"height":1}]',
                  jsonb_build_array(jsonb_build_object('id','P','type','post','x',0,'y',d,'width',1,'height',1)), 0)->>'summary' AS summary
FROM unnest(ARRAY[0.5, 1, 1.04, 2.236, 12.7, 123, 0.0375]::numeric[]) d;
SELECT bt_diff('[{"id":"A","type":"post","x":0,"y":0,"width":1,"height":1},{"id":"B","type":"post","x":0,"y":0,"width":1,"height":1},{"id":"C","type":"post","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"A","type":"post","x":1,"y":0,"width":1,"height":1},{"id":"B","type":"post","x":3,"y":0,"width":1,"height":1},{"id":"C","type":"post","x":0,"y":-2,"width":1,"height":1}]')->>'summary';

-- Content hashes (map form) and modified attributes.
SELECT bt_diff('{"a.c":"1","b.c":"2","c.c":"3"}', '{"a.c":"1","b.c":"9","c.c":"8","d.c":"4"}')->>'summary';
SELECT bt_diff('[{"id":"W1","type":"wall","x":0,"y":0,"width":1,"height":1,"layer":"A"}]',
               '[{"id":"W1","type":"wall","x":0,"y":0,"width":1,"height":1,"layer":"B"}]')->>'summary';

-- Long names and types are cut to 40 bytes with an ellipsis, on a character
-- boundary, so the summary stays short however long the data's text is.
SELECT length(s) AS characters, s AS summary
FROM (SELECT bt_diff(jsonb_build_array(jsonb_build_object('id', 'L1', 'type', repeat('t', 5000), 'x', 0, 'y', 0, 'width', 1, 'height', 1, 'name', repeat('ä', 300))),
                     jsonb_build_array(jsonb_build_object('id', 'L1', 'type', repeat('u', 5000), 'x', 5, 'y', 0, 'width', 2, 'height', 1, 'name', repeat('ö', 300))))->>'summary') d(s);
-- A type cut short takes no plural ending after its ellipsis.
SELECT bt_diff('[]', jsonb_build_array(jsonb_build_object('id', 'Y1', 'type', repeat('long', 20), 'x', 0, 'y', 0, 'width', 1, 'height', 1),
                                       jsonb_build_object('id', 'Y2', 'type', repeat('long', 20), 'x', 1, 'y', 0, 'width', 1, 'height', 1)))->>'summary' AS summary;
-- Types and names as a sentence shows them: blanks (and a type's
-- underscores) run together into one space and are trimmed, so "door " and
-- "door" are one type, not "door s"; a blank type is an object; a name that
-- only changed its blanks reads the same and is no rename.
SELECT bt_diff('[]', '[{"id":"a","type":"door ","x":0,"y":0,"width":1,"height":1},
                       {"id":"b","type":"door","x":0,"y":0,"width":1,"height":1},
                       {"id":"c","type":"  curtain__wall\n","x":0,"y":0,"width":1,"height":1},
                       {"id":"d","type":"_curtain wall_","x":0,"y":0,"width":1,"height":1},
                       {"id":"e","type":" \t ","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
SELECT bt_diff('[]', jsonb_build_array(jsonb_build_object('id', 'x', 'type', repeat(' ', 100000) || 'window' || repeat(' ', 1000),
                                                          'x', 0, 'y', 0, 'width', 1, 'height', 1)))->>'summary' AS summary;
SELECT to_jsonb(to_name) AS to_name, bt_diff('[{"id":"a","type":"room","name":"Room 5","x":0,"y":0,"width":1,"height":1}]',
                        jsonb_build_array(jsonb_build_object('id', 'a', 'type', 'room', 'name', to_name, 'x', 0, 'y', 0, 'width', 1, 'height', 1)))->>'summary' AS summary
FROM unnest(ARRAY[E' Room\n 5 ', E'Room\t\t6']) to_name;
-- "an" before a vowel, accented ones too.
SELECT to_type, bt_diff('[{"id":"a","type":"door","x":0,"y":0,"width":1,"height":1}]',
                        jsonb_build_array(jsonb_build_object('id', 'a', 'type', to_type, 'x', 0, 'y', 0, 'width', 1, 'height', 1)))->>'summary' AS summary
FROM unnest(ARRAY['arch', 'Éclair', 'île', 'œil_de_boeuf', 'Ünterzug', 'Çhair', 'ßtair', 'gate']) to_type;
-- A retype that only respells the type (spacing, underscores) reads as
-- such, not "1 door became a door"; a name cut after a blank ends in the
-- ellipsis without it.
SELECT bt_diff('[{"id":"a","type":"curtain_wall","x":0,"y":0,"width":1,"height":1},
                 {"id":"b","type":"door","x":5,"y":0,"width":1,"height":1}]',
               '[{"id":"a","type":"curtain wall","x":0,"y":0,"width":1,"height":1},
                 {"id":"b","type":"door ","x":5,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
SELECT bt_diff('[]', jsonb_build_array(jsonb_build_object('id', 'n', 'type', 'room', 'x', 0, 'y', 0, 'width', 1, 'height', 1,
                                                          'name', repeat('abc ', 10) || 'defgh')))->>'summary' AS summary;
-- Respelled means the types read alike in full: types that differ past the
-- 40 bytes shown, or an absent type against "object", changed type; a
-- vertical tab or form feed is a blank too, so such a label names nothing.
SELECT bt_diff('[{"id":"D1","type":"abcdefghij abcdefghij abcdefghij abcdefghij_one","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"D1","type":"abcdefghij abcdefghij abcdefghij abcdefghij_two","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
SELECT bt_diff('[{"id":"D1","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"D1","type":"object","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
SELECT bt_diff('[{"id":"a","type":"door","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"a","type":"do or","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
SELECT bt_diff('[{"id":"D1","type":"door","name":"x","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"D1","type":"door","name":"\u000b\f","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
-- Other characters a sentence cannot show are blanks too: escape, delete
-- and the other controls, the C1 controls (U+0085, the next line) and the
-- line and paragraph separators (U+2028, U+2029); so a type that only
-- gained one is respelled. An id shows each as one space and keeps its
-- own spaces.
SELECT bt_diff('[]', '[{"id":"e1","type":"door\u001b[31m","name":"Room\u00855","x":0,"y":0,"width":1,"height":1},
                       {"id":"e2","type":"\u2029window","name":"\u2028\u007f\u0001","x":0,"y":0,"width":1,"height":1},
                       {"id":"a\nb  c\u2028\u0085","type":"window","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
SELECT bt_diff('[{"id":"a","type":"door","x":0,"y":0,"width":1,"height":1}]',
               '[{"id":"a","type":"door\u2028","x":0,"y":0,"width":1,"height":1}]')->>'summary' AS summary;
