-- bt_diff: move and size tolerances, from the settings and per call.
-- A change is reported only when it is GREATER than the tolerance; a change
-- exactly at the tolerance (in decimal) is not reported.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

CREATE TEMP TABLE t(label text, a jsonb, b jsonb);
INSERT INTO t VALUES
  ('move 0.1 (at default)',   '[{"id":"P","x":1.0,"y":0,"width":1,"height":1}]', '[{"id":"P","x":1.1,"y":0,"width":1,"height":1}]'),
  ('move 0.1000001',          '[{"id":"P","x":1.0,"y":0,"width":1,"height":1}]', '[{"id":"P","x":1.1000001,"y":0,"width":1,"height":1}]'),
  ('move 0.0999999',          '[{"id":"P","x":1.0,"y":0,"width":1,"height":1}]', '[{"id":"P","x":1.0999999,"y":0,"width":1,"height":1}]'),
  ('diagonal 0.06/0.08 = 0.1','[{"id":"P","x":0,"y":0,"width":1,"height":1}]',   '[{"id":"P","x":0.06,"y":0.08,"width":1,"height":1}]'),
  ('width 0.01 (at default)', '[{"id":"P","x":0,"y":0,"width":1.0,"height":1}]', '[{"id":"P","x":0,"y":0,"width":1.01,"height":1}]'),
  ('width 0.0100001',         '[{"id":"P","x":0,"y":0,"width":1.0,"height":1}]', '[{"id":"P","x":0,"y":0,"width":1.0100001,"height":1}]'),
  ('height -0.01',            '[{"id":"P","x":0,"y":0,"width":1,"height":1.0}]', '[{"id":"P","x":0,"y":0,"width":1,"height":0.99}]'),
  ('height -0.0100001',       '[{"id":"P","x":0,"y":0,"width":1,"height":1.0}]', '[{"id":"P","x":0,"y":0,"width":1,"height":0.9899999}]');

-- Defaults: move_tolerance 0.1, size_tolerance 0.01.
SELECT label, (d->'counts'->>'moved')::int AS moved, (d->'counts'->>'resized')::int AS resized,
       (d->'counts'->>'unchanged')::int AS unchanged
FROM t, LATERAL bt_diff(a, b) d ORDER BY label;

-- Per-call arguments override the settings; NULL means "use the setting".
SELECT label, bt_diff(a, b, 0.05, NULL)->'counts'->>'moved' AS moved_tol_005,
       bt_diff(a, b, NULL, 0.005)->'counts'->>'resized' AS resized_tol_0005,
       bt_diff(a, b, 0, 0)->'counts'->>'unchanged' AS unchanged_tol_0
FROM t ORDER BY label;

-- The settings.
SET buildtrace.move_tolerance = 0.5;
SET buildtrace.size_tolerance = 0;
SELECT label, bt_diff(a, b)->'counts' AS counts FROM t ORDER BY label;
-- A per-call argument still wins over the setting.
SELECT bt_diff(a, b, 0.01)->'counts'->>'moved' AS moved FROM t WHERE label = 'move 0.1 (at default)';
RESET buildtrace.move_tolerance;
RESET buildtrace.size_tolerance;

-- A larger move at a larger tolerance: exactly 2.5 is not a move, 2.5000001 is.
SELECT bt_diff('[{"id":"P","x":0,"y":0,"width":1,"height":1}]', '[{"id":"P","x":1.5,"y":2,"width":1,"height":1}]', 2.5)->'counts'->>'moved' AS at_2_5,
       bt_diff('[{"id":"P","x":0,"y":0,"width":1,"height":1}]', '[{"id":"P","x":1.5,"y":2,"width":1,"height":1}]', 2.4999999)->'counts'->>'moved' AS above;

-- Tolerances are numbers from 0 to 1e15, as the settings.
SELECT bt_diff('[]', '[]', -1);
SELECT bt_diff('[]', '[]', NULL, 'NaN');
SELECT bt_try_diff('[]', '[]', -0.5);
SELECT bt_diff('[]', '[]', 'Infinity');
-- (shown with every digit it has, whatever extra_float_digits says)
SET extra_float_digits = 0;
SELECT bt_diff('[]', '[]', 1.000000000000001e15);
RESET extra_float_digits;
SELECT bt_diff('[]', '[]', 1e15)->'counts'->>'moved' AS at_the_largest;
-- (A tolerance of 1e308 once looped for ever in the search for a shift: the
-- timeout turns that into a diff of this test's output.)
SET statement_timeout = '20s';
-- At the largest tolerance, moves that overflow double precision (dx
-- infinite as a double) are measured and end: they make no shift (a shift
-- is a double, and theirs would be past its range), so each is a move.
SELECT bt_diff('[{"id":"A","x":1e308,"y":0,"width":1,"height":1},{"id":"B","x":1e308,"y":0,"width":1,"height":1},{"id":"C","x":1e308,"y":0,"width":1,"height":1}]',
               '[{"id":"A","x":-1e308,"y":0,"width":1,"height":1},{"id":"B","x":-1e308,"y":0,"width":1,"height":1},{"id":"C","x":-1e308,"y":0,"width":1,"height":1}]',
               1e15) -> 'counts' AS counts;
SELECT bt_diff('[{"id":"A","x":1e308,"y":0,"width":1,"height":1}]', '[{"id":"A","x":-1e308,"y":0,"width":1,"height":1}]', 1e308);
RESET statement_timeout;
