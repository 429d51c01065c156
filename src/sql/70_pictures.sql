
-- Pictures of stored pairs and the HTML report.

-- The picture of a stored pair of the caller's tenant (it runs with the
-- caller's rights).
CREATE FUNCTION buildtrace.bt_svg(pair_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result text;
BEGIN
    SELECT buildtrace.bt_svg(p.version_a, p.version_b, '{}'::jsonb)
    INTO result
    FROM buildtrace.pairs p
    WHERE p.pair_id = bt_svg.pair_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pair % does not exist', bt_svg.pair_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = buildtrace._pair_standing(bt_svg.pair_id),
                  HINT = 'Pairs are numbered by pair_id in buildtrace.pairs.';
    END IF;
    RETURN result;
END
$$;

COMMENT ON FUNCTION buildtrace.bt_svg(bigint) IS
'The bt_svg picture of a stored pair, by pair_id.';

REVOKE ALL ON FUNCTION buildtrace.bt_svg(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.bt_svg(bigint) TO buildtrace_reader;

-- ---------------------------------------------------------------------------
-- report_html(): one self-contained page (no scripts, fonts or images from
-- elsewhere) with the health, charts of changes and latency, open anomalies,
-- dead letters, and the latest change set of the most active drawings with
-- their pictures. Well-formed XML (XHTML syntax), so that XML tools read it.
-- ---------------------------------------------------------------------------

-- Text for HTML or XML: the special characters escaped, and the control
-- characters and U+FFFE, U+FFFF, which XML does not allow, replaced.
CREATE FUNCTION buildtrace._html(t text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN regexp_replace(replace(replace(replace(replace(replace(
           t, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'), '''', '&#39;'),
       '[\x01-\x08\x0b\x0c\x0e-\x1f\uFFFE\uFFFF]', U&'\FFFD', 'g');

-- The kinds of change objects are counted by, in the charts' stacking order,
-- with the colours of bt_svg's pictures (the report's charts and the
-- Prometheus samples list them from here).
CREATE FUNCTION buildtrace._chart_kinds()
RETURNS TABLE (ord integer, kind text, colour text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES (1, 'added', '#43a047'), (2, 'removed', '#e53935'), (3, 'moved', '#8e24aa'),
           (4, 'resized', '#fb8c00'), (5, 'retyped', '#f4511e'), (6, 'modified', '#ffb300'),
           (7, 'rotated', '#8d6e63'), (8, 'reidentified', '#1e88e5')
$$;

-- The top of a chart's scale: 1, 2 or 5 times a power of ten, at least v.
CREATE FUNCTION buildtrace._nice_ceiling(v float8)
RETURNS numeric
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT trim_scale(CASE WHEN v / p <= 1 THEN p WHEN v / p <= 2 THEN 2 * p
                               WHEN v / p <= 5 THEN 5 * p ELSE 10 * p END)
        FROM (SELECT power(10::numeric, floor(log(greatest(v, 1e-9)::numeric))) AS p) s);

-- Chart geometry: a viewBox of 720 x 240, the plot inside the margins.
CREATE FUNCTION buildtrace._chart_frame(title text, body text, labels text[], top numeric, unit text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 720 240" '
                  'role="img" aria-label="%1$s" font-family="sans-serif" font-size="11">'
                  '<title>%1$s</title>'
                  '<line x1="56" y1="200" x2="710" y2="200" stroke="#9e9e9e"/>'
                  '<line x1="56" y1="10" x2="56" y2="200" stroke="#9e9e9e"/>'
                  '<text x="50" y="14" text-anchor="end">%2$s</text>'
                  '<text x="50" y="200" text-anchor="end">0</text>'
                  '<text x="52" y="236">%3$s</text>%4$s%5$s</svg>',
                  buildtrace._html(title), top, buildtrace._html(unit), body,
                  (SELECT string_agg(format('<text x="%s" y="216" text-anchor="middle">%s</text>',
                                            round((56 + (i - 0.5) * 654.0 / n)::numeric, 1),
                                            buildtrace._html(labels[i])), '' ORDER BY i)
                   FROM (SELECT cardinality(labels) AS n) c,
                        generate_series(1, cardinality(labels)) i
                   WHERE (i - 1) % greatest(1, ceil(n / 8.0)::int) = 0))
$$;

-- Stacked bars of changes by kind: buckets is an array of objects with a
-- "label" and a count per kind.
CREATE FUNCTION buildtrace._bar_chart(title text, buckets jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH cells AS (
        SELECT b.i, b.e ->> 'label' AS label, k.kind, k.colour,
               coalesce((b.e ->> k.kind)::bigint, 0) AS v,
               coalesce(sum(coalesce((b.e ->> k.kind)::bigint, 0))
                        OVER (PARTITION BY b.i ORDER BY k.ord
                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS below
        FROM jsonb_array_elements(buckets) WITH ORDINALITY b(e, i)
        CROSS JOIN buildtrace._chart_kinds() k),
    dims AS (SELECT greatest(count(DISTINCT i), 1) AS n,
                    buildtrace._nice_ceiling(greatest(max(below + v), 1)) AS top,
                    least(0.8 * 654.0 / greatest(count(DISTINCT i), 1), 48) AS bar
             FROM cells)
    SELECT buildtrace._chart_frame(
               title,
               coalesce(string_agg(format('<rect x="%s" y="%s" width="%s" height="%s" fill="%s">'
                                          '<title>%s: %s %s</title></rect>',
                                          round((56 + (c.i - 0.5) * 654.0 / d.n - d.bar / 2)::numeric, 1),
                                          round((200 - (c.below + c.v) * 190.0 / d.top)::numeric, 1),
                                          round(d.bar::numeric, 1),
                                          round((c.v * 190.0 / d.top)::numeric, 1), c.colour,
                                          buildtrace._html(c.label), c.v, c.kind), ''
                                   ORDER BY c.i, c.kind) FILTER (WHERE c.v > 0), ''),
               ARRAY(SELECT e ->> 'label' FROM jsonb_array_elements(buckets) e),
               d.top, 'objects changed')
    FROM dims d
    LEFT JOIN cells c ON true            -- no buckets: the empty frame
    GROUP BY d.n, d.top, d.bar
$$;

-- Processing latency per bucket: P50, P95 and P99 as lines, the 95 %
-- bounds of P95 and P99 as bands (where the sample is large enough to have
-- them). points is an array of objects: label, p50, p95, p95_lower,
-- p95_upper, p99, p99_lower, p99_upper (ms; NULL where there were no pairs).
CREATE FUNCTION buildtrace._latency_chart(title text, points jsonb)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH p AS (SELECT i, e FROM jsonb_array_elements(points) WITH ORDINALITY x(e, i)),
    dims AS (SELECT greatest(count(*), 1) AS n,
                    buildtrace._nice_ceiling(greatest(max(greatest((e ->> 'p99')::float8,
                                                                     (e ->> 'p99_upper')::float8)), 0.001)) AS top
             FROM p),
    xy AS (SELECT p.i, q.q, round((56 + (p.i - 0.5) * 654.0 / d.n)::numeric, 1) AS x,
                  round((200 - (p.e ->> q.q)::float8 * 190.0 / d.top::float8)::numeric, 1) AS y,
                  round((200 - coalesce((p.e ->> (q.q || '_lower'))::float8, (p.e ->> q.q)::float8)
                               * 190.0 / d.top::float8)::numeric, 1) AS y_lower,
                  round((200 - coalesce((p.e ->> (q.q || '_upper'))::float8, (p.e ->> q.q)::float8)
                               * 190.0 / d.top::float8)::numeric, 1) AS y_upper
           FROM p, dims d, (VALUES ('p50'), ('p95'), ('p99')) q(q)
           WHERE p.e ->> q.q IS NOT NULL),
    style(q, colour) AS (VALUES ('p50', '#43a047'), ('p95', '#fb8c00'), ('p99', '#e53935'))
    SELECT buildtrace._chart_frame(
               title,
               coalesce((SELECT string_agg(format('<polygon class="band %s" points="%s" fill="%s" fill-opacity="0.18"/>',
                                                  s.q, b.pts, s.colour), '' ORDER BY s.q)
                         FROM style s,
                              LATERAL (SELECT string_agg(x || ',' || y_upper, ' ' ORDER BY i) || ' ' ||
                                              string_agg(x || ',' || y_lower, ' ' ORDER BY i DESC) AS pts
                                       FROM xy WHERE xy.q = s.q) b
                         WHERE s.q <> 'p50' AND b.pts IS NOT NULL), '') ||
               coalesce((SELECT string_agg(format('<polyline class="line %s" points="%s" fill="none" stroke="%s" stroke-width="2"/>%s',
                                                  s.q, l.pts, s.colour, l.dots), '' ORDER BY s.q)
                         FROM style s,
                              LATERAL (SELECT string_agg(x || ',' || y, ' ' ORDER BY i) AS pts,
                                              string_agg(format('<circle cx="%s" cy="%s" r="2.5" fill="%s"/>',
                                                                x, y, s.colour), '' ORDER BY i) AS dots
                                       FROM xy WHERE xy.q = s.q) l
                         WHERE l.pts IS NOT NULL), '') ||
               '<text x="600" y="24" fill="#43a047">P50</text><text x="640" y="24" fill="#fb8c00">P95</text>'
               '<text x="680" y="24" fill="#e53935">P99</text>',
               ARRAY(SELECT e ->> 'label' FROM jsonb_array_elements(points) e),
               d.top, 'ms')
    FROM dims d
$$;

-- The health status and its warnings.
CREATE FUNCTION buildtrace._report_health()
RETURNS text
LANGUAGE sql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('<section id="health"><h2>Health <span class="status %1$s">%1$s</span></h2>%2$s</section>',
                  buildtrace._html(h ->> 'status'),
                  CASE WHEN jsonb_array_length(h -> 'warnings') = 0 THEN '<p>No warnings.</p>'
                       ELSE '<ul>' || (SELECT string_agg('<li>' || buildtrace._html(w) || '</li>', '')
                                       FROM jsonb_array_elements_text(h -> 'warnings') w) || '</ul>' END)
    FROM (SELECT buildtrace.health(interval '1 hour') AS h) s
$$;

-- The hours the report charts: the window's, the last 7 days at most.
CREATE FUNCTION buildtrace._report_hours(start timestamptz)
RETURNS SETOF timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT generate_series(greatest(start, date_trunc('hour', now(), 'UTC') - interval '7 days'),
                           date_trunc('hour', now(), 'UTC'), interval '1 hour')
$$;

-- The report's sections that read a window are PL/pgSQL planned with its
-- start's value, as metrics()' are (40_metrics.sql).
--
-- Objects changed per kind since start, from the rollups, in buckets of
-- unit ('hour' or 'day', UTC): the data of the report's bar charts.
CREATE FUNCTION buildtrace._report_change_counts(start timestamptz, unit text)
RETURNS TABLE (bucket timestamptz, counts jsonb)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN QUERY
        SELECT date_trunc(unit, r.hour, 'UTC'),
               jsonb_build_object('added', sum(r.added), 'removed', sum(r.removed), 'moved', sum(r.moved),
                                  'resized', sum(r.resized), 'retyped', sum(r.retyped),
                                  'modified', sum(r.modified), 'rotated', sum(r.rotated),
                                  'reidentified', sum(r.reidentified))
        FROM buildtrace.hourly_rollups r
        WHERE r.hour >= start
        GROUP BY 1;
END
$$;

-- Totals of the window, and changes per hour (the last 7 days at most) and
-- per day, from the hourly rollups.
CREATE FUNCTION buildtrace._report_changes(start timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        WITH hours AS (
            SELECT h.hour, coalesce(c.counts, '{}') AS counts
            FROM buildtrace._report_hours(start) h(hour)
            LEFT JOIN buildtrace._report_change_counts(start, 'hour') c ON c.bucket = h.hour),
        days AS (
            SELECT c.bucket AS day, c.counts FROM buildtrace._report_change_counts(start, 'day') c),
        totals AS (
            SELECT coalesce(sum(r.pairs), 0) AS pairs, coalesce(sum(r.failed), 0) AS failed,
                   count(DISTINCT r.drawing_id) AS drawings,
                   coalesce(sum(r.added + r.removed + r.moved + r.resized + r.retyped + r.modified + r.rotated), 0) AS changed
            FROM buildtrace.hourly_rollups r WHERE r.hour >= start)
        SELECT format('<section id="changes"><h2>Changes</h2>'
                      '<p class="totals"><b>%s</b> pairs processed, <b>%s</b> failed, <b>%s</b> drawings, '
                      '<b>%s</b> object changes.</p>'
                      '<h3>Per hour (UTC)</h3>%s<h3>Per day (UTC)</h3>%s%s</section>',
                      t.pairs, t.failed, t.drawings, t.changed,
                      buildtrace._bar_chart('Changes per hour by kind',
                          (SELECT jsonb_agg(counts || jsonb_build_object('label', to_char(hour AT TIME ZONE 'UTC', 'DD HH24:00'))
                                            ORDER BY hour) FROM hours)),
                      buildtrace._bar_chart('Changes per day by kind',
                          coalesce((SELECT jsonb_agg(counts || jsonb_build_object('label', to_char(day AT TIME ZONE 'UTC', 'YYYY-MM-DD'))
                                                     ORDER BY day) FROM days), '[]')),
                      (SELECT '<p class="legend">' || string_agg(format('<span style="color:%s">&#9632;</span> %s',
                                                                       k.colour, k.kind), ' ' ORDER BY k.ord) || '</p>'
                       FROM buildtrace._chart_kinds() k))
        FROM totals t);
END
$$;

-- Processing latency per hour with its bounds, from the rollups' sketches.
CREATE FUNCTION buildtrace._report_latency(start timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        WITH hours AS (
            SELECT h.hour, s.sketch
            FROM buildtrace._report_hours(start) h(hour)
            LEFT JOIN LATERAL (SELECT buildtrace.bt_sketch_merge(r.processing_ms) AS sketch
                               FROM buildtrace.hourly_rollups r WHERE r.hour = h.hour) s ON true)
        SELECT format('<section id="latency"><h2>Processing latency</h2>%s'
                      '<p class="note">Lines are the estimates; bands are their 95 %% bounds.</p></section>',
                      buildtrace._latency_chart('Processing latency per hour (ms): P50, P95, P99',
                          jsonb_agg(jsonb_build_object(
                                        'label', to_char(h.hour AT TIME ZONE 'UTC', 'DD HH24:00'),
                                        'p50', q50.estimate, 'p95', q95.estimate, 'p99', q99.estimate,
                                        'p95_lower', q95.lower, 'p95_upper', q95.upper,
                                        'p99_lower', q99.lower, 'p99_upper', q99.upper)
                                    ORDER BY h.hour)))
        FROM hours h
        LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(h.sketch, 0.5::float8) q50 ON true
        LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(h.sketch, 0.95::float8) q95 ON true
        LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(h.sketch, 0.99::float8) q99 ON true);
END
$$;

-- A table of rows (each an array of cells, already HTML), the first 50 of
-- total, with a note of the rest.
CREATE FUNCTION buildtrace._html_table(headers text[], cells text[], total bigint, empty text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN total = 0 THEN '<p>' || empty || '</p>'
                ELSE '<div class="scroll"><table><thead><tr>' ||
                     (SELECT string_agg('<th>' || buildtrace._html(h) || '</th>', '' ORDER BY i)
                      FROM unnest(headers) WITH ORDINALITY x(h, i)) ||
                     '</tr></thead><tbody>' || coalesce(array_to_string(cells, ''), '') ||
                     '</tbody></table></div>' ||
                     CASE WHEN total > cardinality(cells)
                          THEN format('<p class="note">and %s more.</p>', total - cardinality(cells))
                          ELSE '' END END
$$;

-- An anomaly's details in words: the first problem of invalid input, else
-- "key: value" pairs.
CREATE FUNCTION buildtrace._anomaly_details(details jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(details -> 'problems') = 'array'
                THEN concat_ws(': ', details -> 'problems' -> 0 ->> 'message',
                               details -> 'problems' -> 0 ->> 'detail')
                ELSE (SELECT string_agg(e.key || ': ' || e.value, ', ' ORDER BY e.key)
                      FROM jsonb_each_text(details) e) END
$$;

CREATE FUNCTION buildtrace._report_anomalies()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('<section id="anomalies"><h2>Open anomalies</h2>%s</section>',
                  buildtrace._html_table(
                      ARRAY['Detected (UTC)', 'Kind', 'Severity', 'Drawing', 'Pair', 'Details'],
                      ARRAY(SELECT format('<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="wide">%s</td></tr>',
                                          buildtrace._html(a.severity),
                                          to_char(a.detected_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                                          buildtrace._html(replace(a.kind, '_', ' ')), buildtrace._html(a.severity),
                                          buildtrace._html(coalesce(a.drawing_id, '')),
                                          coalesce(a.pair_id::text, ''),
                                          buildtrace._html(left(buildtrace._anomaly_details(a.details), 200)))
                            FROM buildtrace.anomalies a WHERE a.resolved_at IS NULL
                            ORDER BY a.detected_at DESC, a.anomaly_id DESC LIMIT 50),
                      (SELECT count(*) FROM buildtrace.anomalies a WHERE a.resolved_at IS NULL),
                      'No open anomalies.'))
$$;

CREATE FUNCTION buildtrace._report_dead_letters()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('<section id="dead-letters"><h2>Dead letters</h2>%s</section>',
                  buildtrace._html_table(
                      ARRAY['Pair', 'Drawing', 'Job', 'Submitted (UTC)', 'Problems', 'First problem'],
                      ARRAY(SELECT format('<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class="wide">%s</td></tr>',
                                          d.pair_id, buildtrace._html(d.drawing_id),
                                          buildtrace._html(coalesce(d.job_id, '')),
                                          to_char(d.submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                                          d.problem_count,
                                          buildtrace._html(concat_ws(': ', d.problems -> 0 ->> 'message',
                                                                     d.problems -> 0 ->> 'detail')))
                            FROM buildtrace.dead_letters d ORDER BY d.pair_id DESC LIMIT 50),
                      (SELECT count(*) FROM buildtrace.dead_letters),
                      'No dead letters.'))
$$;

-- A pair's picture as an image (a data URI, so that the page stays one
-- file), or a note when the pair is too large for a thumbnail or cannot be
-- drawn.
CREATE FUNCTION buildtrace._thumbnail(a jsonb, b jsonb, alt text)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- objects in each of bt_diff's forms: a list, {"objects": list}, a map
    IF (SELECT sum(CASE WHEN jsonb_typeof(v) = 'array' THEN jsonb_array_length(v)
                        WHEN jsonb_typeof(v -> 'objects') = 'array' THEN jsonb_array_length(v -> 'objects')
                        WHEN jsonb_typeof(v) = 'object' THEN (SELECT count(*) FROM jsonb_object_keys(v))
                        ELSE 0 END)
        FROM unnest(ARRAY[a, b]) v) > 20000 THEN
        RETURN '<p class="note">Too large for a thumbnail; draw it with bt_svg.</p>';
    END IF;
    RETURN format('<img alt="%s" src="data:image/svg+xml;base64,%s"/>', buildtrace._html(alt),
                  translate(encode(convert_to(buildtrace.bt_svg(a, b, '{"width": 480, "labels": false, "ids": false}'::jsonb),
                                              'UTF8'), 'base64'), E'\n', ''));
EXCEPTION WHEN data_exception OR program_limit_exceeded THEN
    RETURN format('<p class="note">No picture: %s</p>', buildtrace._html(SQLERRM));
END
$$;

-- The latest change set of each of the six most active drawings.
CREATE FUNCTION buildtrace._report_drawings(start timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        WITH active AS (
            SELECT r.drawing_id, sum(r.pairs) AS pairs
            FROM buildtrace.hourly_rollups r
            WHERE r.hour >= start AND r.pairs > 0
            GROUP BY r.drawing_id
            ORDER BY sum(r.pairs) DESC, r.drawing_id
            LIMIT 6)
        SELECT format('<section id="drawings"><h2>Most active drawings</h2>%s</section>',
                      coalesce('<div class="drawings">' ||
                               string_agg(format('<div class="drawing"><h3>%s</h3>'
                                                 '<p class="note">%s in the window; latest: pair %s at %s UTC.</p>'
                                                 '<p>%s</p>%s</div>',
                                                 buildtrace._html(a.drawing_id),
                                                 a.pairs || CASE WHEN a.pairs = 1 THEN ' pair' ELSE ' pairs' END, c.pair_id,
                                                 to_char(c.computed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                                                 buildtrace._html(c.summary),
                                                 buildtrace._thumbnail(p.version_a, p.version_b,
                                                                       'Changes of ' || a.drawing_id)),
                                          '' ORDER BY a.pairs DESC, a.drawing_id) || '</div>',
                               '<p>No pairs processed in this window.</p>'))
        FROM active a
        CROSS JOIN LATERAL buildtrace._latest_change_set(a.drawing_id) c
        JOIN buildtrace.pairs p ON p.pair_id = c.pair_id);
END
$$;

CREATE FUNCTION buildtrace._report_page(body text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT '<!DOCTYPE html>' || E'\n' ||
           '<html xmlns="http://www.w3.org/1999/xhtml" lang="en"><head><meta charset="utf-8"/>'
           '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
           '<title>buildtrace report</title><style>'
           'body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212121;background:#f5f5f5}'
           'main{max-width:1100px;margin:0 auto;padding:12px}'
           'section{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:10px 16px;margin:0 0 14px}'
           'h1{font-size:1.5em;margin:.3em 0}h2{font-size:1.2em;margin:.3em 0 .5em}h3{font-size:1em;margin:.8em 0 .3em}'
           '.status{display:inline-block;padding:1px 10px;border-radius:12px;color:#fff;font-size:.85em;vertical-align:middle}'
           '.healthy{background:#2e7d32}.degraded{background:#ef6c00}.unhealthy{background:#c62828}'
           'table{border-collapse:collapse;width:100%;min-width:40em;font-size:.9em}.wide{min-width:16em}'
           'th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eee;vertical-align:top}'
           'tr.high td{background:#ffebee}.scroll{overflow-x:auto}.note{color:#616161;font-size:.9em}'
           'svg.chart{width:100%;height:auto;max-width:760px;display:block}'
           '.drawings{display:flex;flex-wrap:wrap;gap:12px}'
           '.drawing{flex:1 1 300px;max-width:540px;border:1px solid #eee;border-radius:4px;padding:8px}'
           '.drawing img{width:100%;height:auto;border:1px solid #eee}'
           '@media print{body{background:#fff}main{max-width:none}section{break-inside:avoid;border:none}}'
           '</style></head><body><main>' || body || '</main></body></html>' || E'\n'
$$;

-- The HTML report of the last <since> of the caller's tenant (it runs with
-- the caller's rights). Every value from the data is escaped.
CREATE FUNCTION buildtrace.report_html(since interval DEFAULT interval '24 hours')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start timestamptz := buildtrace._checked_window_start(since, 'report'::text, 'since'::text);
BEGIN
    RETURN buildtrace._report_page(
        format('<h1>buildtrace report</h1><p class="note">From %s to %s UTC (the last %s, in whole hours).</p>',
               to_char(start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
               to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), buildtrace._html(since::text)) ||
        buildtrace._report_health() ||
        buildtrace._report_changes(start) ||
        buildtrace._report_latency(start) ||
        buildtrace._report_anomalies() ||
        buildtrace._report_dead_letters() ||
        buildtrace._report_drawings(start));
END
$$;

COMMENT ON FUNCTION buildtrace.report_html(interval) IS
'A self-contained HTML page of the last <since>: health, changes per hour and day, processing latency with bounds, open anomalies, dead letters, and the latest change set of the most active drawings with pictures.';

REVOKE ALL ON FUNCTION buildtrace._report_health(), buildtrace._report_changes(timestamptz),
    buildtrace._report_latency(timestamptz), buildtrace._report_anomalies(),
    buildtrace._report_dead_letters(), buildtrace._report_drawings(timestamptz),
    buildtrace._thumbnail(jsonb, jsonb, text), buildtrace.report_html(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._report_health(), buildtrace._report_changes(timestamptz),
    buildtrace._report_latency(timestamptz), buildtrace._report_anomalies(),
    buildtrace._report_dead_letters(), buildtrace._report_drawings(timestamptz),
    buildtrace._thumbnail(jsonb, jsonb, text), buildtrace.report_html(interval) TO buildtrace_reader;
