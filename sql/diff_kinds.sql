-- bt_diff: every change kind, alone and combined.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

\set base '[{"id":"D1","type":"door","x":4,"y":2,"width":1,"height":2,"layer":"A-DOOR"}]'

-- Identical inputs: zero changes.
SELECT bt_diff(:'base', :'base');
-- Added and removed carry the object as written.
SELECT bt_diff('[]', :'base')->'added' AS added, bt_diff(:'base', '[]')->'removed' AS removed;

-- Moved, in each of the eight compass directions (y grows to the north).
SELECT d.dx, d.dy, m->>'direction' AS direction, m->'distance' AS distance, m->'dx' AS mdx, m->'dy' AS mdy
FROM (VALUES (3, 0), (2, 2), (0, 1.5), (-2, 2), (-1, 0), (-2, -2), (0, -4), (3, -3)) AS d(dx, dy),
     LATERAL (SELECT bt_diff(:'base',
                jsonb_set(jsonb_set(:'base', '{0,x}', to_jsonb(4 + d.dx)), '{0,y}', to_jsonb(2 + d.dy)))
              -> 'moved' -> 0 AS m) s;
-- Sector edges (tan 22.5 degrees = 0.41421356...): just above is
-- north-east, just below is east.
SELECT bt_diff('[{"id":"P","x":0,"y":0,"width":0,"height":0}]',
               '[{"id":"P","x":10,"y":4.1421357,"width":0,"height":0}]')->'moved'->0->>'direction' AS above_22_5,
       bt_diff('[{"id":"P","x":0,"y":0,"width":0,"height":0}]',
               '[{"id":"P","x":10,"y":4.1421355,"width":0,"height":0}]')->'moved'->0->>'direction' AS below_22_5;
-- Numbers stay clean: exact decimal differences, rounded distance.
SELECT bt_diff('[{"id":"P","x":0.1,"y":0.2,"width":1,"height":1}]',
               '[{"id":"P","x":0.4,"y":0.6,"width":1,"height":1}]')->'moved';

-- Resized (width, height or both).
SELECT bt_diff(:'base', jsonb_set(:'base', '{0,width}', '1.2'))->'resized' AS width,
       bt_diff(:'base', jsonb_set(:'base', '{0,height}', '2.5'))->'counts'->'resized' AS height;

-- Retyped, including to and from a missing type.
SELECT bt_diff(:'base', jsonb_set(:'base', '{0,type}', '"window"'))->'retyped' AS retyped,
       bt_diff(:'base', :'base'::jsonb #- '{0,type}')->'retyped' AS type_dropped,
       bt_diff(:'base'::jsonb #- '{0,type}', :'base')->'summary' AS type_added;

-- Modified: attributes changed, added (no "from") and dropped (no "to");
-- nested values compare by jsonb equality, and 1.0 equals 1.00.
SELECT jsonb_pretty(bt_diff(
  '[{"id":"W1","type":"wall","x":0,"y":0,"width":5,"height":0.2,"layer":"A","fire":{"rating":30},"tags":["ext"],"u":1.0,"old":true}]',
  '[{"id":"W1","type":"wall","x":0,"y":0,"width":5,"height":0.2,"layer":"B","fire":{"rating":60},"tags":["ext"],"u":1.00,"new":null}]'));
-- The same values with keys in another order are not a change.
SELECT bt_diff('[{"id":"W1","x":0,"y":0,"width":5,"height":0.2,"a":{"p":1,"q":[1,2]}}]',
               '[{"height":0.2,"a":{"q":[1,2],"p":1},"width":5,"y":0,"x":0,"id":"W1"}]')->'counts';
-- Equal numbers written differently are not a move or resize.
SELECT bt_diff('[{"id":"W1","x":1,"y":2,"width":5,"height":0.2}]',
               '[{"id":"W1","x":1.000,"y":2.0,"width":5.0,"height":0.20}]')->'counts';

-- One object can be moved, resized, retyped and modified at once.
SELECT jsonb_pretty(bt_diff(:'base',
  '[{"id":"D1","type":"window","x":5,"y":2,"width":1.5,"height":2,"layer":"A-GLAZ"}]'));

-- Counts: unchanged counts objects in both versions with no reported change.
SELECT bt_diff(
  '[{"id":"a","x":0,"y":0,"width":1,"height":1},{"id":"b","x":0,"y":0,"width":1,"height":1},{"id":"c","x":0,"y":0,"width":1,"height":1}]',
  '[{"id":"a","x":0,"y":0,"width":1,"height":1},{"id":"b","x":9,"y":0,"width":1,"height":1},{"id":"d","x":0,"y":0,"width":1,"height":1}]')->'counts';

-- A moved object whose other keys and values are laid out as before (the
-- usual move) and one whose attributes changed without changing the
-- layout: a key renamed to one of the same length, a value of the same
-- length, a nested object, a flag; and an equal number written otherwise.
-- x and y change their stored length, which moves the values after them.
SELECT k.label, d->'counts'->>'moved' AS moved, d->'counts'->>'modified' AS modified,
       d->'modified'->0->'changed' AS changed
FROM (VALUES
        ('same attributes', '{"layer":"A","z":1.5}', '{"layer":"A","z":1.5}'),
        ('key renamed', '{"layer":"A"}', '{"level":"A"}'),
        ('value of same length', '{"layer":"A"}', '{"layer":"B"}'),
        ('nested value', '{"meta":{"k":1}}', '{"meta":{"k":2}}'),
        ('flag', '{"locked":true}', '{"locked":false}'),
        ('equal number written otherwise', '{"z":1.0}', '{"z":1}')) AS k(label, attrs_a, attrs_b),
     LATERAL (SELECT bt_diff(
        jsonb_build_array('{"id":"M","type":"wall","x":0,"y":0,"width":1,"height":1}'::jsonb || k.attrs_a::jsonb),
        jsonb_build_array('{"id":"M","type":"wall","x":0.25,"y":-1.75,"width":1,"height":1}'::jsonb || k.attrs_b::jsonb)) AS d) s;
