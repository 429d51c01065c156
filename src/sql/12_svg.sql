
-- Pictures of diffs (src/svg.c, src/svg_sql.c). STABLE: the tolerances,
-- label keys and units come from the settings.

CREATE FUNCTION buildtrace.bt_svg(a jsonb, b jsonb, options jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'bt_svg'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_svg(jsonb, jsonb, jsonb) IS
'A standalone SVG picture of bt_diff(a, b): unchanged objects grey, added green, removed red, moved purple with an arrow from the old place, resized, retyped, modified and rotated orange, re-identified blue; revision clouds, a legend, a scale bar and a north arrow. Options: width (pixels), labels, clouds, ids, kinds.';
