-- Privileges of the pipeline: a writer submits input, a reader reads results,
-- nobody else gets in; a denied action fails with 42501.
BEGIN;
SELECT plan(44);

SELECT has_role('buildtrace_writer');
SELECT has_role('buildtrace_reader');
SELECT ok(NOT rolcanlogin, rolname || ' is NOLOGIN')
FROM pg_roles WHERE rolname IN ('buildtrace_reader', 'buildtrace_writer') ORDER BY rolname;
-- Granting one of the roles to a login must give nothing beyond the
-- extension's privileges.
SELECT is_empty($$SELECT rolname FROM pg_roles
                  WHERE rolname IN ('buildtrace_writer', 'buildtrace_reader', 'buildtrace_monitor', 'buildtrace_tenant')
                    AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolcanlogin
                         OR rolreplication OR rolbypassrls)$$,
                'the install''s roles are plain NOLOGIN roles, with no role attributes');
-- The columns a writer may insert, as the README lists them: not status,
-- error or processed_at (the pipeline's), nor version_id (one sequence for
-- every writer). Checked as privileges, since the trigger would overwrite
-- a status that got in.
CREATE FUNCTION pg_temp.writer_inserts(t regclass) RETURNS text[] LANGUAGE sql AS $$
    SELECT array_agg(a.attname::text ORDER BY a.attnum) FROM pg_attribute a
    WHERE a.attrelid = t AND a.attnum > 0 AND NOT a.attisdropped
      AND has_column_privilege('buildtrace_writer', t, a.attnum, 'INSERT')
$$;
SELECT is(pg_temp.writer_inserts('buildtrace.pairs'),
          ARRAY['drawing_id', 'job_id', 'version_a', 'version_b', 'latency_ms', 'from_version', 'to_version',
                'retry_of', 'tenant'],
          'writer may insert exactly these columns of pairs');
SELECT is(pg_temp.writer_inserts('buildtrace.versions'),
          ARRAY['drawing_id', 'job_id', 'payload', 'latency_ms', 'uploaded_at', 'tenant'],
          'writer may insert exactly these columns of versions');

-- The writer: inserts pairs and versions, calls process and retry_failed.
SET LOCAL ROLE buildtrace_writer;
SELECT lives_ok($$INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b)
                  VALUES ('roles-1', 'roles-job', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]')$$,
                'writer inserts a pair');
SELECT lives_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('roles-2', '7', '[]')$$,
                'writer inserts an invalid pair (flagged, not rejected)');
SELECT lives_ok($$INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('roles-v', '[]'), ('roles-v', '[]')$$,
                'writer inserts versions');
SELECT is((buildtrace.process('{"job_id": "roles-p", "version_pairs": [{"drawing_id": "roles-1", "version_a": [], "version_b": []}]}'))->>'tasks_created',
          '1', 'writer calls process');
-- (the retry itself fails again: its payload is still invalid; a refused
-- row would say that the writer may not make it)
SELECT results_eq($$SELECT r.status, r.retry_pair_id IS NOT NULL
                    FROM buildtrace.retry_failed(drawing => 'roles-2') r$$,
                  $$VALUES ('failed'::text, true)$$,
                  'writer calls retry_failed, and the retry is made');
SELECT is((SELECT status FROM buildtrace.pairs WHERE drawing_id = 'roles-1' AND job_id = 'roles-job'),
          'done', 'the trigger processed the writer''s pair');
SELECT throws_ok($$UPDATE buildtrace.changes SET summary = 'forged'$$, '42501', NULL,
                 'writer cannot update changes');
SELECT throws_ok($$DELETE FROM buildtrace.anomalies$$, '42501', NULL, 'writer cannot delete anomalies');
SELECT throws_ok($$INSERT INTO buildtrace.anomalies (kind, severity) VALUES ('volume_spike', 'low')$$,
                 '42501', NULL, 'writer cannot insert anomalies');
SELECT throws_ok($$INSERT INTO buildtrace.changes (pair_id, drawing_id, diff, summary, added, removed, moved,
                   resized, retyped, modified, unchanged, processing_us) VALUES (1, 'x', '{}', '', 0, 0, 0, 0, 0, 0, 0, 0)$$,
                 '42501', NULL, 'writer cannot insert changes');
SELECT throws_ok($$UPDATE buildtrace.pairs SET status = 'done'$$, '42501', NULL, 'writer cannot update pairs');
SELECT throws_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, status, processed_at)
                   VALUES ('x', '[]', '[]', 'done', now())$$, '42501', NULL, 'writer cannot set a status');
SELECT throws_ok($$SELECT * FROM buildtrace.changes$$, '42501', NULL, 'writer cannot read changes directly');
SELECT throws_ok($$INSERT INTO buildtrace.versions (version_id, drawing_id, payload) VALUES (1000, 'x', '[]')$$,
                 '42501', NULL, 'writer cannot choose a version_id, which would block other writers');
SELECT throws_ok($$UPDATE buildtrace.drawing_state SET last_total = 0$$, '42501', NULL,
                 'writer cannot touch drawing state');
SELECT throws_ok($$SELECT buildtrace._lock_drawings(ARRAY['x'], '')$$, '42501', NULL,
                 'writer cannot call internal functions');
-- Taking the pending results would leave pairs without their changes.
SELECT throws_ok($$SELECT * FROM buildtrace._pairs_take_results()$$, '42501', NULL,
                 'writer cannot take the pipeline''s pending results');
SELECT throws_ok($$SELECT * FROM buildtrace._pairs_pending_drawings()$$, '42501', NULL,
                 'writer cannot read the pipeline''s pending drawings');
SELECT lives_ok($$SELECT buildtrace.bt_diff('[]', '[]'), buildtrace.bt_try_diff('[]', '7'),
                         buildtrace.bt_validate('[]')$$,
                'writer calls bt_diff, bt_try_diff and bt_validate');
RESET ROLE;

-- The reader: views and read functions only.
SET LOCAL ROLE buildtrace_reader;
SELECT lives_ok($$SELECT * FROM buildtrace.hourly_changes$$, 'reader reads hourly_changes');
SELECT lives_ok($$SELECT * FROM buildtrace.dead_letters$$, 'reader reads dead_letters');
SELECT ok((SELECT count(*) FROM buildtrace.open_anomalies WHERE drawing_id = 'roles-2') >= 1,
          'reader sees open anomalies');
SELECT is(buildtrace.changes('roles-1')->>'drawing_id', 'roles-1', 'reader calls changes()');
SELECT matches(buildtrace.report('roles-job'), '^BuildTrace report for job roles-job', 'reader calls report()');
SELECT throws_ok($$INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('x', '[]', '[]')$$,
                 '42501', NULL, 'reader cannot insert pairs');
SELECT throws_ok($$SELECT buildtrace.process('{"version_pairs": []}')$$, '42501', NULL, 'reader cannot call process');
SELECT lives_ok($$SELECT * FROM buildtrace.drawing_state$$,
                'reader reads drawing_state, which names the latest change set');
SELECT throws_ok($$UPDATE buildtrace.drawing_state SET last_pair_id = NULL$$, '42501', NULL,
                 'reader cannot change the pipeline''s state');
SELECT throws_ok($$UPDATE buildtrace.anomalies SET resolved_at = now()$$, '42501', NULL,
                 'reader cannot resolve anomalies');
SELECT throws_ok($$SELECT * FROM buildtrace.retry_failed()$$, '42501', NULL, 'reader cannot retry');
-- The call above fails inside as well (no INSERT on pairs); the reader
-- must not get as far as running the retry functions, itself or by PUBLIC.
SELECT is_empty($$SELECT f FROM unnest(ARRAY['buildtrace.retry_failed(bigint[], text)',
                                             'buildtrace._retry_group(bigint[], bigint[], bigint[])',
                                             'buildtrace._retry_dead_letters(bigint[])']) f
                  WHERE has_function_privilege('buildtrace_reader', f, 'EXECUTE')$$,
                'reader may execute none of the retry functions');
-- The diff functions are open to every role with USAGE on the schema.
SELECT lives_ok($$SELECT buildtrace.bt_diff('[]', '[]'), buildtrace.bt_try_diff('[]', '7'),
                         buildtrace.bt_validate('[]')$$,
                'reader calls bt_diff, bt_try_diff and bt_validate');
RESET ROLE;

-- Anyone else gets nothing, not even the schema.
CREATE ROLE buildtrace_tap_nobody NOLOGIN;
SET LOCAL ROLE buildtrace_tap_nobody;
SELECT throws_ok($$SELECT * FROM buildtrace.hourly_changes$$, '42501', NULL, 'PUBLIC cannot read views');
SELECT throws_ok($$SELECT buildtrace.changes('roles-1')$$, '42501', NULL, 'PUBLIC cannot call changes()');
-- The diff functions are executable by PUBLIC: only the schema keeps them
-- out of reach.
SELECT throws_ok($$SELECT buildtrace.bt_validate('[]')$$, '42501', NULL, 'PUBLIC cannot call bt_validate');
RESET ROLE;
SELECT ok(NOT has_schema_privilege('public', 'buildtrace', 'USAGE'), 'PUBLIC has no USAGE on schema buildtrace');
SELECT ok(NOT has_function_privilege('public', 'buildtrace.history(text, timestamptz, timestamptz)', 'EXECUTE'),
          'history() is the reader''s, not PUBLIC''s');

SELECT * FROM finish();
ROLLBACK;
