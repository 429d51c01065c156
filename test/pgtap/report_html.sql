-- report_html(): one self-contained, well-formed page whose sections say what
-- the tables hold, with every value from the data escaped; for the reader
-- role only; clear errors for a bad window.
BEGIN;
SELECT plan(28);
SET LOCAL search_path = buildtrace, public, pg_catalog;

\set fzk `cat test/data/fzk-haus.json`

-- Pairs of 8 drawings, and a failed one; the FZK-Haus under a hostile
-- drawing id, the most active drawing; 55 open anomalies, more than the
-- table shows.
INSERT INTO pairs (drawing_id, job_id, version_a, version_b, latency_ms)
SELECT 'RPT-' || drawing_id, 'rpt-job', version_a, version_b, 10
FROM generate_pairs(16, 12, 0.2, 5, drawings => 8);
INSERT INTO pairs (drawing_id, version_a, version_b)
VALUES ('RPT-"bad" & <b>', '[{"id": 1}]', '[]'), (U&'RPT-\FFFF-\FFFE', '[{"id": 1}]', '[]');
INSERT INTO pairs (drawing_id, version_a, version_b)
SELECT '<script>alert(1)</script>', :'fzk'::jsonb, jsonb_path_query_array(:'fzk'::jsonb, '$[1 to last]')
FROM generate_series(1, 3);
INSERT INTO anomalies (kind, severity, drawing_id, details)
SELECT 'missing_upload', 'medium', 'RPT-' || i, jsonb_build_object('due_at', '2026-01-01', 'every', '1 hour')
FROM generate_series(1, 55) i;

CREATE TEMP TABLE page AS SELECT report_html() AS html;

SELECT ok(xml_is_well_formed_document(html), 'the page is well-formed XML') FROM page;
SELECT ok(html !~* '<script' AND html !~* '(src|href)\s*=\s*"(?!data:)' AND html !~* '@import|url\(',
          'no scripts, and nothing loaded from elsewhere') FROM page;
SELECT ok(strpos(html, '&lt;script&gt;alert(1)&lt;/script&gt;') > 0 AND strpos(html, 'RPT-&quot;bad&quot; &amp; &lt;b&gt;') > 0,
          'drawing ids are escaped') FROM page;
SELECT ok(strpos(html, format('<span class="status %1$s">%1$s</span>', health() ->> 'status')) > 0,
          'the health status is the one health() gives') FROM page;
SELECT ok(strpos(html, (SELECT '<li>' || replace(replace(w, '&', '&amp;'), '<', '&lt;') || '</li>'
                        FROM jsonb_array_elements_text(health() -> 'warnings') w LIMIT 1)) > 0,
          'health() warnings are listed') FROM page;
SELECT ok(strpos(html, format('<b>%s</b> pairs processed, <b>%s</b> failed',
                              (SELECT sum(pairs) FROM hourly_rollups WHERE hour >= _window_start('24 hours')),
                              (SELECT sum(failed) FROM hourly_rollups WHERE hour >= _window_start('24 hours')))) > 0,
          'the totals are the rollups''') FROM page;
SELECT is((SELECT count(*) FROM regexp_matches(html, '<svg class="chart"', 'g')), 3::bigint,
          'three charts: changes per hour, per day, latency') FROM page;
SELECT ok((SELECT count(*) FROM regexp_matches(html, '<rect x="[0-9.]+" y="[0-9.]+" width="[0-9.]+" height="[0-9.]+" fill="#43a047"><title>[^<]*: [0-9]+ added</title>', 'g')) >= 2,
          'added objects appear in both change charts') FROM page;
SELECT ok(xml_is_well_formed_document(_bar_chart('empty', '[]')) AND _bar_chart('empty', '[]') LIKE '<svg class="chart"%',
          'a chart without buckets is still drawn, empty');
SELECT ok(html ~ '<polyline class="line p95"' OR html ~ '<circle cx="[0-9.]+" cy="[0-9.]+" r="2.5" fill="#fb8c00"/>',
          'the latency chart plots P95') FROM page;
SELECT ok(strpos(html, format('<p class="note">and %s more.</p>',
                              (SELECT count(*) - 50 FROM anomalies WHERE resolved_at IS NULL))) > 0,
          'the anomalies table shows 50 rows and says how many more') FROM page;
SELECT ok(strpos(html, 'due_at: 2026-01-01, every: 1 hour') > 0, 'anomaly details in words') FROM page;
SELECT ok(strpos(html, format('<tr><td>%s</td><td>RPT-&quot;bad&quot; &amp; &lt;b&gt;</td>',
                              (SELECT pair_id FROM pairs WHERE drawing_id = 'RPT-"bad" & <b>'))) > 0,
          'the dead letter is listed') FROM page;
SELECT ok(strpos(html, U&'<td>RPT-\FFFD-\FFFD</td>') > 0,
          'U+FFFE and U+FFFF, which XML does not allow, are replaced') FROM page;
-- A table that shows all its rows says nothing of more (the dead letters).
SELECT ok(strpos(html, 'and 0 more') = 0, 'a table of all its rows has no note of more') FROM page;
-- The dead letters table starts with the newest: when there are more than
-- it shows, the ones left out are the old ones.
SELECT ok(strpos(html, format(U&'<tr><td>%s</td><td>RPT-\FFFD-\FFFD</td>',
                              (SELECT pair_id FROM pairs WHERE drawing_id = U&'RPT-\FFFF-\FFFE')))
          BETWEEN 1 AND strpos(html, format('<tr><td>%s</td><td>RPT-&quot;bad&quot;',
                                            (SELECT pair_id FROM pairs WHERE drawing_id = 'RPT-"bad" & <b>'))),
          'dead letters are listed newest first') FROM page;

-- The most active drawings, each with the picture of its latest pair.
SELECT is((SELECT count(*) FROM regexp_matches(html, '<img alt="Changes of ', 'g')),
          (SELECT least(6, count(DISTINCT drawing_id)) FROM changes WHERE computed_at >= _window_start('24 hours')),
          'one picture per active drawing, at most six') FROM page;
SELECT is(convert_from(decode(substring(html FROM 'alt="Changes of &lt;script&gt;alert\(1\)&lt;/script&gt;" src="data:image/svg\+xml;base64,([^"]*)"'),
                              'base64'), 'UTF8'),
          (SELECT bt_svg(version_a, version_b, '{"width": 480, "labels": false, "ids": false}')
           FROM pairs WHERE drawing_id = '<script>alert(1)</script>' LIMIT 1),
          'a thumbnail is the bt_svg picture of the pair') FROM page;
SELECT ok(strpos(html, '<h3>&lt;script&gt;alert(1)&lt;/script&gt;</h3><p class="note">3 pairs in the window;') > 0,
          'a drawing says how many pairs it had in the window') FROM page;
-- A pair of more than 20,000 objects gets a note, in each form bt_diff reads.
SELECT is(_thumbnail(v.a, v.b, 'big'),
          '<p class="note">Too large for a thumbnail; draw it with bt_svg.</p>', 'a large pair, ' || v.form)
FROM (SELECT 'in map form' AS form, jsonb_object_agg('M' || i, jsonb_build_object('x', i, 'y', 0)) AS a,
             jsonb_object_agg('M' || i, jsonb_build_object('x', i, 'y', 1)) AS b
      FROM generate_series(1, 10001) i
      UNION ALL
      SELECT 'wrapped in "objects"', jsonb_build_object('objects', jsonb_agg(jsonb_build_object('id', i))),
             jsonb_build_object('objects', jsonb_agg(jsonb_build_object('id', i)))
      FROM generate_series(1, 10001) i) v;

-- A hostile writer's id of 100 kB, moved, does not swell a thumbnail (it
-- would be in every element of its object, escaped, then in base64); one
-- of a megabyte in a failed pair is stored, and so shown in the dead
-- letters and health(), cut to 200 bytes.
SELECT cmp_ok(length(_thumbnail(jsonb_build_array(jsonb_build_object('id', repeat('"', 100000), 'x', 0, 'y', 0, 'width', 1, 'height', 1)),
                                jsonb_build_array(jsonb_build_object('id', repeat('"', 100000), 'x', 9, 'y', 0, 'width', 1, 'height', 1)),
                                'long id')),
              '<', 5000, 'a thumbnail does not repeat a long id');
INSERT INTO pairs (drawing_id, version_a, version_b)
VALUES ('RPT-long-id', jsonb_build_array(jsonb_build_object('id', repeat('"', 1000000), 'x', 'bad')), '[]');
SELECT cmp_ok(octet_length(error::text), '<', 5000, 'a failed pair stores a long id cut short')
FROM pairs WHERE drawing_id = 'RPT-long-id';

-- The most active drawings are those of the window: a drawing whose pairs
-- were all processed before it is not shown, however many it had.
INSERT INTO pairs (drawing_id, version_a, version_b)
SELECT 'RPT-old', version_a, version_b FROM generate_pairs(8, 5, 0.2, 7);
UPDATE hourly_rollups SET hour = hour - interval '3 days' WHERE drawing_id = 'RPT-old';
SELECT ok(strpos(report_html(), 'alt="Changes of RPT-old"') = 0
          AND strpos(report_html('7 days'), 'alt="Changes of RPT-old"') > 0,
          'a drawing active only before the window is not among the most active');

-- A resolved anomaly is no longer listed.
UPDATE anomalies SET resolved_at = now() WHERE drawing_id = 'RPT-55';
SELECT ok(strpos(_report_anomalies(), '<td>RPT-54</td>') > 0 AND strpos(_report_anomalies(), '<td>RPT-55</td>') = 0,
          'resolved anomalies are not listed');

-- Only the reader role reads it.
CREATE ROLE report_reader_tap IN ROLE buildtrace_reader;
CREATE ROLE report_stranger_tap;
SET LOCAL ROLE report_reader_tap;
SELECT lives_ok('SELECT buildtrace.report_html(interval ''2 hours'')', 'the reader role reads the report');
RESET ROLE;
SET LOCAL ROLE report_stranger_tap;
SELECT throws_ok('SELECT buildtrace.report_html()', '42501', NULL, 'other roles cannot');
RESET ROLE;

SELECT throws_ok('SELECT buildtrace.report_html(NULL)', '22023', 'report window must not be NULL',
                 'a NULL window is an error');

SELECT * FROM finish();
ROLLBACK;
