
-- Diffing drawing versions (src/drawing.c, src/diff.c, src/matcher.c,
-- src/summary.c). bt_diff and bt_try_diff read the settings when an
-- argument is NULL, so they are STABLE; none of them is STRICT because NULL
-- arguments are meaningful (a NULL version gives NULL).

CREATE FUNCTION buildtrace.bt_diff(a jsonb, b jsonb,
                                   move_tolerance float8 DEFAULT NULL,
                                   size_tolerance float8 DEFAULT NULL,
                                   match_geometry boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_diff'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_diff(jsonb, jsonb, float8, float8, boolean) IS
'Changes from drawing version a to version b: added, removed, moved, resized, retyped, modified, rotated, re-identified and ambiguous objects, a whole-drawing shift, counts and a summary. Raises an error for invalid input.';

CREATE FUNCTION buildtrace.bt_try_diff(a jsonb, b jsonb,
                                       move_tolerance float8 DEFAULT NULL,
                                       size_tolerance float8 DEFAULT NULL,
                                       match_geometry boolean DEFAULT NULL)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_try_diff'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_try_diff(jsonb, jsonb, float8, float8, boolean) IS
'bt_diff, or {"problems": [...]} listing every problem of both versions instead of raising an error.';

CREATE FUNCTION buildtrace.bt_validate(v jsonb)
RETURNS jsonb
AS 'MODULE_PATHNAME', 'bt_validate'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_validate(jsonb) IS
'Every problem of one drawing version as a JSON array; [] when it is valid.';
