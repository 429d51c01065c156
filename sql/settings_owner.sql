-- The settings that shape what the pipeline stores are the superuser's: a
-- writer can neither SET them, nor smuggle a value in as a placeholder
-- before the module is loaded, so its pairs are judged by the owner's rules.
-- bt_diff's own tolerance arguments stay free for anyone.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
DROP ROLE IF EXISTS bt_settings_writer;
RESET client_min_messages;
CREATE ROLE bt_settings_writer IN ROLE buildtrace_writer;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

-- A new session: buildtrace's module is not loaded yet, so the SET makes a
-- placeholder; loading the module (the INSERT) must not apply it.
\c -
SET SESSION AUTHORIZATION bt_settings_writer;
SET buildtrace.move_tolerance = 1e15;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('smuggled', '[{"id":"C","type":"column","x":0,"y":0,"width":1,"height":1}]',
                    '[{"id":"C","type":"column","x":5000,"y":0,"width":1,"height":1}]');
SHOW buildtrace.move_tolerance;

-- Now loaded: every setting is refused, by SET and by set_config.
SET buildtrace.move_tolerance = 1e15;
SET buildtrace.size_tolerance = 1e15;
SET buildtrace.spike_factor = 1;
SET buildtrace.spike_min_changes = 0;
SET buildtrace.on_invalid = 'reject';
SET buildtrace.pending_max_age = '1s';
SELECT set_config('buildtrace.spike_factor', '1', true);
-- bt_diff's arguments are the caller's to choose.
SELECT buildtrace.bt_diff('[{"id":"C","type":"column","x":0,"y":0,"width":1,"height":1}]',
                          '[{"id":"C","type":"column","x":5000,"y":0,"width":1,"height":1}]',
                          move_tolerance => 1e15) ->> 'summary' AS summary;
RESET SESSION AUTHORIZATION;

-- The pair was judged by the owner's tolerance.
SELECT p.drawing_id, p.status, c.moved, c.summary
FROM buildtrace.pairs p JOIN buildtrace.changes c USING (pair_id);

-- A superuser may hand one setting to a role.
GRANT SET ON PARAMETER buildtrace.spike_factor TO bt_settings_writer;
SET SESSION AUTHORIZATION bt_settings_writer;
SET buildtrace.spike_factor = 5;
SHOW buildtrace.spike_factor;
RESET buildtrace.spike_factor;
RESET SESSION AUTHORIZATION;
REVOKE SET ON PARAMETER buildtrace.spike_factor FROM bt_settings_writer;
DROP OWNED BY bt_settings_writer;
DROP ROLE bt_settings_writer;
