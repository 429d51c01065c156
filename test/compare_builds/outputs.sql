-- One build's outputs for every case of cmp.cases, into cmp.out_<side>:
-- bt_diff's and bt_try_diff's results (text, stored size and an md5 of the
-- stored bytes, so that equal text with other bytes counts as different)
-- or their errors (SQLSTATE, message, detail), and bt_svg's document or
-- error for the cases marked svg.  Run once per build, each in a session of
-- its own: the two libraries export the same symbols and define the same
-- settings, so a backend must load only one of them.  psql variables: lib
-- (the library's file name in $libdir) and side (base or tree).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET compare.lib = :'lib';
SET compare.side = :'side';
DO $$
DECLARE
  side text := current_setting('compare.side');
  lib text := '$libdir/' || current_setting('compare.lib');
BEGIN
  IF NOT EXISTS (SELECT FROM pg_cast WHERE castsource = 'jsonb'::regtype AND casttarget = 'bytea'::regtype) THEN
    CREATE CAST (jsonb AS bytea) WITHOUT FUNCTION;
  END IF;
  EXECUTE format('CREATE FUNCTION cmp.%s_diff(jsonb, jsonb, float8, float8, boolean) RETURNS jsonb
                  AS %L, %L LANGUAGE C STABLE', side, lib, 'bt_diff');
  EXECUTE format('CREATE FUNCTION cmp.%s_try_diff(jsonb, jsonb, float8, float8, boolean) RETURNS jsonb
                  AS %L, %L LANGUAGE C STABLE', side, lib, 'bt_try_diff');
  EXECUTE format('CREATE FUNCTION cmp.%s_svg(jsonb, jsonb, jsonb) RETURNS text
                  AS %L, %L LANGUAGE C STABLE STRICT', side, lib, 'bt_svg');
  EXECUTE format('CREATE TABLE cmp.out_%s (id int PRIMARY KEY, d_res text, d_size int, d_err text,
                  t_res text, t_size int, t_err text, s_res text, s_err text)', side);
END $$;

-- A call's result (its text, and its stored size when it is jsonb), or its
-- error; all NULL for no call.  $1 .. $6: a, b, move and size tolerance,
-- match_geometry, bt_svg's options (three sets in turn: the default,
-- narrow without labels, some kinds only).
CREATE OR REPLACE FUNCTION cmp.outcome(call text, c cmp.cases, OUT res text, OUT size int, OUT err text)
LANGUAGE plpgsql AS $$
DECLARE
  st text;
  msg text;
  det text;
BEGIN
  IF call IS NULL THEN
    RETURN;
  END IF;
  EXECUTE call INTO res, size USING c.a, c.b, c.mt, c.st, c.mg,
    (ARRAY['{}', '{"width": 640, "labels": false}',
           '{"clouds": false, "kinds": ["moved", "added", "removed", "reidentified"]}'])[1 + c.id % 3]::jsonb;
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
  err := st || ' | ' || msg || ' | ' || coalesce(det, '');
END $$;

-- Every case through this build's three functions.
DO $$
DECLARE
  side text := current_setting('compare.side');
  jsonb_call text := 'SELECT r::text || '' #'' || md5(r::bytea), pg_column_size(r) FROM cmp.%s_%s($1, $2, $3, $4, $5) r';
BEGIN
  EXECUTE format(
    'INSERT INTO cmp.out_%1$s
     SELECT c.id, d.res, d.size, d.err, t.res, t.size, t.err, s.res, s.err
     FROM cmp.cases c,
          cmp.outcome(%2$L, c) d,
          cmp.outcome(%3$L, c) t,
          cmp.outcome(CASE WHEN c.svg THEN %4$L END, c) s', side,
    format(jsonb_call, side, 'diff'), format(jsonb_call, side, 'try_diff'),
    format('SELECT s, NULL::int FROM cmp.%s_svg($1, $2, $6) s', side));
END $$;
