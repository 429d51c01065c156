-- The negative-size check reads the sign from the numeric header instead
-- of calling numeric_cmp (src/drawing.c, numeric_is_negative).  Every
-- storage form of a jsonb numeric, and every spelling of zero, must give
-- the same answer as numeric comparison.  Values with a weight beyond
-- +-63 base-10000 digits or a scale beyond 63 use the long form; the rest
-- the short form.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, pg_catalog;

CREATE TEMP TABLE sizes (w text);
INSERT INTO sizes VALUES
  ('0'), ('-0'), ('-0.0'), ('-0.000'), ('-0e10'), ('-0e-400'), ('0.0'),
  ('1'), ('0.5'), ('1e300'), ('1e-300'), ('0.' || repeat('0', 70) || '1'),
  ('-1'), ('-0.5'), ('-2'), ('-1e-20'), ('-1e300'), ('-1e-300'),
  ('-0.' || repeat('0', 70) || '1'), ('-' || repeat('9', 400));

-- rejected: bt_validate reports a negative size for width (and height);
-- expected: numeric comparison with zero.  The two columns must agree.
SELECT left(w, 12) AS width,
       jsonb_array_length(bt_validate(format('[{"id":"A","x":0,"y":0,"width":%s,"height":%s}]', w, w)::jsonb)) AS problems,
       w::numeric < 0 AS negative,
       (SELECT bool_and(p->>'message' = 'negative size in drawing object')
        FROM jsonb_array_elements(bt_validate(format('[{"id":"A","x":0,"y":0,"width":%s,"height":%s}]', w, w)::jsonb)) p) AS all_negative_size
FROM sizes ORDER BY w::numeric, w;

-- The same through bt_diff: a negative size raises, anything else diffs.
SELECT count(*) FILTER (WHERE ok = (w::numeric >= 0)) AS agree, count(*) AS total
FROM (SELECT w, (SELECT count(*) = 0 FROM jsonb_array_elements(
               bt_try_diff('[]', format('[{"id":"A","x":0,"y":0,"width":%s,"height":1}]', w)::jsonb) -> 'problems')) AS ok
      FROM sizes) s;
