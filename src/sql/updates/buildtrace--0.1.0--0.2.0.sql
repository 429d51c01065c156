-- buildtrace 0.1.0 -> 0.2.0. Every schema change of 0.2.0 is here; the
-- result equals a fresh install of 0.2.0 (test/upgrade/run.sh compares them).

\echo Use "ALTER EXTENSION buildtrace UPDATE TO '0.2.0'" to load this file. \quit

-- 0.1.0 did not check who owned schema buildtrace when it was installed.
-- Whoever owns it, or may create in it, can plant overloads that the
-- SECURITY DEFINER functions below would run with their owner's rights:
-- refuse to go on until that is put right.
DO $$
DECLARE
    schema_owner name;
    owner_super  boolean;
    creators     text;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(n.nspowner), r.rolsuper,
           (SELECT pg_catalog.string_agg(pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)), ', ')
            FROM pg_catalog.aclexplode(n.nspacl) a
            WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
              AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner)
    INTO schema_owner, owner_super, creators
    FROM pg_catalog.pg_namespace n
    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
    WHERE n.nspname OPERATOR(pg_catalog.=) 'buildtrace';
    IF schema_owner OPERATOR(pg_catalog.<>) current_user AND NOT owner_super THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.format('schema "buildtrace" is owned by role %I, not by the updating role %I',
                                        schema_owner, current_user),
            HINT = 'ALTER SCHEMA buildtrace OWNER TO the extension''s owner, check the schema for objects buildtrace did not create, then update again.';
    ELSIF creators IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = 'other roles may create objects in schema "buildtrace"',
            DETAIL = pg_catalog.format('CREATE on the schema is granted to %s.', creators),
            HINT = 'REVOKE CREATE ON SCHEMA buildtrace from them, check the schema for objects buildtrace did not create, then update again.';
    END IF;
END
$$;

-- The objects this script creates are owned by the role that runs it, which
-- may be another superuser than the one who created the extension: run it
-- as the owner of the tables, so that every object has one owner (the
-- one-pair store writes directly only to tables its function's owner owns,
-- and a GRANT's grantor is that owner, as in a fresh install).
DO $$
DECLARE
    table_owner name;
    owner_super boolean;
BEGIN
    SELECT r.rolname, r.rolsuper INTO table_owner, owner_super
    FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) c.relowner
    WHERE c.oid OPERATOR(pg_catalog.=) 'buildtrace.pairs'::pg_catalog.regclass;
    -- the role to go back to at the end of the script
    PERFORM pg_catalog.set_config('buildtrace_update.role', pg_catalog.current_setting('role'), true);
    IF table_owner OPERATOR(pg_catalog.=) current_user THEN
        RETURN;
    ELSIF NOT owner_super THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.format('buildtrace''s tables are owned by role %I, which is not a superuser',
                                        table_owner),
            HINT = 'Give buildtrace''s objects to a superuser (REASSIGN OWNED or ALTER ... OWNER TO), then update again.';
    END IF;
    PERFORM pg_catalog.set_config('role', table_owner, true);
END
$$;

-- What the site granted on buildtrace's objects beyond what 0.1.0 granted
-- (pg_init_privs), and what of that it revoked: every GRANT or REVOKE of
-- this script records the whole ACL of its object as the extension's own,
-- the site's grants in, its revokes out, and pg_dump would then leave both
-- out of a dump. They are kept here, and pg_init_privs is mended at the end
-- of the script.
DO $$
BEGIN
    PERFORM pg_catalog.set_config('buildtrace_update.site_grants', coalesce((
        WITH objects (classoid, objoid, objsubid, acl, kind, owner) AS (
            SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid, 0, c.relacl,
                   CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 's' ELSE 'r' END, c.relowner
            FROM pg_catalog.pg_class c
            WHERE c.relnamespace OPERATOR(pg_catalog.=) 'buildtrace'::pg_catalog.regnamespace
            UNION ALL
            SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, a.attrelid, a.attnum, a.attacl, 'c', c.relowner
            FROM pg_catalog.pg_attribute a
            JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) a.attrelid
            WHERE c.relnamespace OPERATOR(pg_catalog.=) 'buildtrace'::pg_catalog.regnamespace
              AND a.attnum OPERATOR(pg_catalog.>) 0 AND a.attacl IS NOT NULL
            UNION ALL
            SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid, 0, p.proacl, 'f', p.proowner
            FROM pg_catalog.pg_proc p
            WHERE p.pronamespace OPERATOR(pg_catalog.=) 'buildtrace'::pg_catalog.regnamespace
            UNION ALL
            SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid, 0, t.typacl, 'T', t.typowner
            FROM pg_catalog.pg_type t
            WHERE t.typnamespace OPERATOR(pg_catalog.=) 'buildtrace'::pg_catalog.regnamespace
            UNION ALL
            SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass, n.oid, 0, n.nspacl, 'n', n.nspowner
            FROM pg_catalog.pg_namespace n
            WHERE n.nspname OPERATOR(pg_catalog.=) 'buildtrace'
        )
        SELECT pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(o.classoid::pg_catalog.oid, o.objoid,
                                                                 o.objsubid, d.grantor, d.grantee,
                                                                 d.privilege_type, d.is_grantable,
                                                                 d.change))
        FROM objects o
        CROSS JOIN LATERAL (
            SELECT coalesce((SELECT i.initprivs FROM pg_catalog.pg_init_privs i
                             WHERE i.classoid OPERATOR(pg_catalog.=) o.classoid
                               AND i.objoid OPERATOR(pg_catalog.=) o.objoid
                               AND i.objsubid OPERATOR(pg_catalog.=) o.objsubid),
                            pg_catalog.acldefault(o.kind::"char", o.owner)) AS acl) base
        CROSS JOIN LATERAL (
            (SELECT g.*, 'granted' AS change FROM pg_catalog.aclexplode(o.acl) g
             EXCEPT
             SELECT b.*, 'granted' FROM pg_catalog.aclexplode(base.acl) b)
            UNION ALL
            (SELECT b.*, 'revoked' FROM pg_catalog.aclexplode(base.acl) b
             WHERE o.acl IS NOT NULL
             EXCEPT
             SELECT g.*, 'revoked' FROM pg_catalog.aclexplode(o.acl) g)) d
    )::text, '[]'), true);
END
$$;

-- New roles: the monitoring's, and the group of the tenants.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['buildtrace_monitor', 'buildtrace_tenant'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$$;
GRANT USAGE ON SCHEMA buildtrace TO buildtrace_monitor;

-- A latency that is no duration fails its pair instead of the statement;
-- versions keep theirs as sent. A pair not failed with an infinite or NaN
-- latency (0.1.0's check let them through) stops the update, saying what to
-- do, rather than failing on the new check.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM buildtrace.pairs p
    WHERE p.status <> 'failed' AND NOT (p.latency_ms >= 0 AND p.latency_ms < 'Infinity');
    IF n > 0 THEN
        RAISE EXCEPTION 'cannot update buildtrace: % pairs not failed have an infinite or NaN latency_ms', n
            USING ERRCODE = 'check_violation',
                  DETAIL = 'buildtrace 0.2.0 keeps the latency of a pair that is not failed finite.',
                  HINT = 'Set their latency_ms to NULL or to the latency they had, then run ALTER EXTENSION buildtrace UPDATE again.';
    END IF;
END
$$;
ALTER TABLE buildtrace.versions DROP CONSTRAINT versions_latency_ms_check;
ALTER TABLE buildtrace.pairs DROP CONSTRAINT pairs_latency_ms_check;
ALTER TABLE buildtrace.pairs ADD CONSTRAINT pairs_latency_ms_check
    CHECK (status = 'failed' OR (latency_ms >= 0 AND latency_ms < 'Infinity'));

-- Anomalies detected in a window, for the Prometheus samples.
CREATE INDEX anomalies_detected_idx ON buildtrace.anomalies (detected_at);
-- A pair work() gives up on is an anomaly of its own kind.
ALTER TABLE buildtrace.anomalies DROP CONSTRAINT anomalies_kind_check,
    ADD CONSTRAINT anomalies_kind_check
    CHECK (kind IN ('change_spike', 'invalid_input', 'missing_upload', 'delayed_upload',
                    'stale_pending', 'volume_spike', 'processing_failed'));
COMMENT ON TABLE buildtrace.anomalies IS
    'Change spikes, invalid input, pairs work() gave up on, missing or delayed uploads; open while resolved_at is NULL.';

-- Since 0.2.0 its hint names a job of this database's own, and a role that
-- may not read the server's settings can call it.
-- Raises a clear error when pg_cron cannot be used from this database.
CREATE OR REPLACE FUNCTION buildtrace._require_cron()
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    preloaded bool;
    cron_db   text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    -- Only superusers and pg_read_all_settings may read these settings, and
    -- a role granted schedule() or unschedule() may be neither: it is told
    -- what is missing without them.
    IF NOT pg_has_role('pg_read_all_settings', 'USAGE') THEN
        RAISE EXCEPTION 'pg_cron is not created in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A superuser can install pg_cron; until then, call buildtrace.check_uploads() from another scheduler.';
    END IF;
    preloaded := current_setting('shared_preload_libraries') ~ '(^|[ ,])pg_cron($|[ ,])';
    cron_db := current_setting('cron.database_name', true);
    IF NOT preloaded THEN
        RAISE EXCEPTION 'pg_cron is not installed'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'shared_preload_libraries does not include pg_cron.',
                  HINT = 'Install postgresql-15-cron, add pg_cron to shared_preload_libraries, set cron.database_name, restart, and run CREATE EXTENSION pg_cron; or call buildtrace.check_uploads() from another scheduler.';
    ELSIF coalesce(cron_db, 'postgres') <> current_database() THEN
        RAISE EXCEPTION 'pg_cron lives in database "%", not in "%"', coalesce(cron_db, 'postgres'), current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'pg_cron can only be managed from the database named by cron.database_name.',
                  -- a job name of this database's own: pg_cron keeps one job
                  -- per name and user, in the database it was first made for
                  HINT = format('In database %I run: SELECT cron.schedule_in_database(%L, %L, %L, %L); likewise a job %L for %L.',
                                coalesce(cron_db, 'postgres'), 'buildtrace-check-uploads-' || current_database(),
                                '*/5 * * * *', 'SELECT buildtrace.check_uploads()', current_database(),
                                'buildtrace-purge-' || current_database(), 'CALL buildtrace.purge()');
    ELSE
        RAISE EXCEPTION 'pg_cron is preloaded but the extension is not created in this database'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Run CREATE EXTENSION pg_cron;';
    END IF;
END
$$;

-- Upload times are finite: the upload checks count from them. A database
-- that holds an infinite one is not updated (a constraint left unvalidated
-- would make its dump fail to restore); the error says what to do.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM buildtrace.versions v WHERE NOT isfinite(v.uploaded_at);
    IF n > 0 THEN
        RAISE EXCEPTION 'cannot update buildtrace: % versions have an infinite uploaded_at', n
            USING ERRCODE = 'check_violation',
                  DETAIL = 'buildtrace 0.2.0 keeps upload times finite; the upload checks count from them.',
                  HINT = 'Give them a finite uploaded_at, or delete them, then run ALTER EXTENSION buildtrace UPDATE again.';
    END IF;
END
$$;
ALTER TABLE buildtrace.versions ADD CONSTRAINT versions_uploaded_at_check
    CHECK (isfinite(uploaded_at));

-- Drawing and job ids of at most 2000 bytes, so that every index entry of
-- one fits: btree refuses an entry over 2704 bytes with an error that names
-- no column. A database that holds a longer one is not updated.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT (SELECT count(*) FROM buildtrace.versions v
            WHERE octet_length(v.drawing_id) > 2000 OR octet_length(v.job_id) > 2000)
         + (SELECT count(*) FROM buildtrace.pairs p
            WHERE octet_length(p.drawing_id) > 2000 OR octet_length(p.job_id) > 2000)
         + (SELECT count(*) FROM buildtrace.upload_expectations e
            WHERE octet_length(e.drawing_id) > 2000)
    INTO n;
    IF n > 0 THEN
        RAISE EXCEPTION 'cannot update buildtrace: % rows have a drawing_id or job_id longer than 2000 bytes', n
            USING ERRCODE = 'check_violation',
                  DETAIL = 'buildtrace 0.2.0 keeps ids in versions, pairs and upload_expectations to at most 2000 bytes.',
                  HINT = 'Delete those versions, pairs (their change sets go with them) and expectations, or give such a drawing a shorter id in every table that names it (changes, anomalies, drawing_state and hourly_rollups too), then run ALTER EXTENSION buildtrace UPDATE again.';
    END IF;
END
$$;
ALTER TABLE buildtrace.versions
    ADD CONSTRAINT versions_drawing_id_length CHECK (octet_length(drawing_id) <= 2000),
    ADD CONSTRAINT versions_job_id_length CHECK (octet_length(job_id) <= 2000);
ALTER TABLE buildtrace.pairs
    ADD CONSTRAINT pairs_drawing_id_length CHECK (octet_length(drawing_id) <= 2000),
    ADD CONSTRAINT pairs_job_id_length CHECK (octet_length(job_id) <= 2000);
ALTER TABLE buildtrace.upload_expectations
    ADD CONSTRAINT upload_expectations_drawing_id_length CHECK (octet_length(drawing_id) <= 2000);

-- Whether an interval goes forward, whatever date it is added to (no part
-- of it negative: '1 month -29 days' goes back from February 1), and by at
-- most a century, so that the checks' sums of times and periods stay in
-- range.
CREATE FUNCTION buildtrace._is_period(i interval)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN i >= interval '0' AND i <= interval '100 years'
       AND extract(year FROM i) >= 0 AND extract(month FROM i) >= 0 AND extract(day FROM i) >= 0
       AND i - date_trunc('day', i) >= interval '0';

-- An expectation's period, grace and start keep the checks' sums of times
-- in range and going forward: one row made them fail for every drawing.
DO $$
DECLARE
    n bigint;
BEGIN
    SELECT count(*) INTO n FROM buildtrace.upload_expectations e
    WHERE NOT (buildtrace._is_period(e.every) AND buildtrace._is_period(e.grace)
               AND e.since > '-infinity' AND e.since < '10000-01-01');
    IF n > 0 THEN
        RAISE EXCEPTION 'cannot update buildtrace: % upload expectations have a period, grace or start out of range', n
            USING ERRCODE = 'check_violation',
                  DETAIL = 'buildtrace 0.2.0 wants periods and graces of no negative part and at most 100 years, and a start before the year 10000.',
                  HINT = 'Correct or delete them, then run ALTER EXTENSION buildtrace UPDATE again.';
    END IF;
END
$$;
ALTER TABLE buildtrace.upload_expectations
    ADD CONSTRAINT upload_expectations_period_check
        CHECK (buildtrace._is_period(every) AND buildtrace._is_period(grace)),
    ADD CONSTRAINT upload_expectations_since_check
        CHECK (since > '-infinity' AND since < '10000-01-01');

-- from_version and to_version must be versions of the pair's drawing. A
-- link to another drawing's version could only have been written by hand
-- to mislead; it is cleared, and counted.
ALTER TABLE buildtrace.versions
    ADD CONSTRAINT versions_version_drawing_key UNIQUE (version_id, drawing_id);
ALTER TABLE buildtrace.pairs DROP CONSTRAINT pairs_from_version_fkey,
                             DROP CONSTRAINT pairs_to_version_fkey;
DO $$
DECLARE
    n_from bigint;
    n_to   bigint;
BEGIN
    UPDATE buildtrace.pairs p SET from_version = NULL
    WHERE p.from_version IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.versions v
                      WHERE v.version_id = p.from_version AND v.drawing_id = p.drawing_id);
    GET DIAGNOSTICS n_from = ROW_COUNT;
    UPDATE buildtrace.pairs p SET to_version = NULL
    WHERE p.to_version IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.versions v
                      WHERE v.version_id = p.to_version AND v.drawing_id = p.drawing_id);
    GET DIAGNOSTICS n_to = ROW_COUNT;
    IF n_from + n_to > 0 THEN
        RAISE NOTICE 'cleared % from_version and % to_version links to versions of other drawings',
            n_from, n_to;
    END IF;
END
$$;
ALTER TABLE buildtrace.pairs
    ADD CONSTRAINT pairs_from_version_fkey FOREIGN KEY (from_version, drawing_id)
        REFERENCES buildtrace.versions (version_id, drawing_id) ON DELETE SET NULL (from_version),
    ADD CONSTRAINT pairs_to_version_fkey FOREIGN KEY (to_version, drawing_id)
        REFERENCES buildtrace.versions (version_id, drawing_id) ON DELETE SET NULL (to_version);

-- Whether a pair was made from versions, kept when purge() removes them and
-- the foreign keys clear its links; 0.1.0 had no purge(), so the links
-- still say (but after a version deleted by hand). The uploads view, the upload checks and purge() read it.
ALTER TABLE buildtrace.pairs ADD COLUMN made_from_versions boolean NOT NULL DEFAULT false;
UPDATE buildtrace.pairs SET made_from_versions = true
WHERE from_version IS NOT NULL OR to_version IS NOT NULL;
DROP INDEX buildtrace.pairs_drawing_submitted_idx;
CREATE INDEX pairs_drawing_submitted_idx
    ON buildtrace.pairs (drawing_id, submitted_at)
    WHERE NOT made_from_versions AND retry_of IS NULL;

-- New kinds of change: rotations, objects found again under new ids, and
-- whole-drawing shifts. Rows of 0.1.0's module count 0 of each; total now
-- counts rotations too, and no longer anything a re-export or a shift did.
ALTER TABLE buildtrace.changes
    ADD COLUMN rotated integer NOT NULL DEFAULT 0 CHECK (rotated >= 0),
    ADD COLUMN reidentified integer NOT NULL DEFAULT 0 CHECK (reidentified >= 0),
    ADD COLUMN shifted integer NOT NULL DEFAULT 0 CHECK (shifted >= 0);
ALTER TABLE buildtrace.changes DROP COLUMN total;
ALTER TABLE buildtrace.changes ADD COLUMN total integer GENERATED ALWAYS AS
    (added + removed + moved + resized + retyped + modified + rotated) STORED;
ALTER TABLE buildtrace.hourly_rollups
    ADD COLUMN rotated bigint NOT NULL DEFAULT 0 CHECK (rotated >= 0),
    ADD COLUMN reidentified bigint NOT NULL DEFAULT 0 CHECK (reidentified >= 0);

-- But a change set that this build's module diffed while the schema was
-- still 0.1.0's (between installing the build and this update) holds these
-- counts in its diff: they are taken from there, into its rollup hour (the
-- UTC hour of computed_at, as 0.1.0's rollups have it) and, for the last
-- pair of a drawing, the total the spike rule compares with.
WITH counted AS (
    SELECT c.pair_id,
           coalesce((c.diff -> 'counts' ->> 'rotated')::integer, 0) AS rotated,
           coalesce((c.diff -> 'counts' ->> 'reidentified')::integer, 0) AS reidentified,
           coalesce((c.diff -> 'counts' ->> 'shifted')::integer, 0) AS shifted
    FROM buildtrace.changes c
), fixed AS (
    UPDATE buildtrace.changes c
    SET rotated = n.rotated, reidentified = n.reidentified, shifted = n.shifted
    FROM counted n
    WHERE n.pair_id = c.pair_id AND n.rotated + n.reidentified + n.shifted > 0
    RETURNING c.drawing_id, c.computed_at, c.rotated, c.reidentified
)
UPDATE buildtrace.hourly_rollups r
SET rotated = r.rotated + f.rotated, reidentified = r.reidentified + f.reidentified
FROM (SELECT date_trunc('hour', f.computed_at, 'UTC') AS hour, f.drawing_id,
             sum(f.rotated) AS rotated, sum(f.reidentified) AS reidentified
      FROM fixed f GROUP BY 1, 2) f
WHERE r.hour = f.hour AND r.drawing_id = f.drawing_id;
UPDATE buildtrace.drawing_state s
SET last_total = c.total
FROM buildtrace.changes c
WHERE c.pair_id = s.last_pair_id AND s.last_total IS DISTINCT FROM c.total;

-- Tenants: every row of 0.1.0 is of the default tenant ''. A new row is of
-- the session's (see 69_tenants.sql of the install script).
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['versions', 'pairs', 'changes', 'anomalies', 'drawing_state',
                             'hourly_rollups', 'upload_expectations'] LOOP
        EXECUTE format('ALTER TABLE buildtrace.%I ADD COLUMN tenant text NOT NULL DEFAULT %L', t, '');
        EXECUTE format('ALTER TABLE buildtrace.%I ALTER COLUMN tenant SET DEFAULT
                            coalesce(current_setting(''buildtrace.tenant'', true), '''')', t);
    END LOOP;
END
$$;
GRANT INSERT (tenant) ON buildtrace.pairs, buildtrace.versions TO buildtrace_writer;

-- Ten drawing_state rows to a page, so that pruning the page of a drawing's
-- updated row stays cheap (see the install script); the rewrite spreads the
-- rows the table has.
ALTER TABLE buildtrace.drawing_state SET (fillfactor = 10);
CLUSTER buildtrace.drawing_state USING drawing_state_pkey;
ALTER TABLE buildtrace.drawing_state SET WITHOUT CLUSTER;

-- Writers no longer choose version_id: ids are one sequence for every writer
-- and tenant, and a writer who took the sequence's coming values would make
-- the others' uploads fail.
REVOKE INSERT (version_id) ON buildtrace.versions FROM buildtrace_writer;
-- Ids 0.1.0's writers chose are behind the sequence: the uploads that now
-- take its values would collide with them.
SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('buildtrace.versions', 'version_id'),
                         max(v.version_id))
FROM buildtrace.versions v
HAVING max(v.version_id) >= (SELECT CASE WHEN s.is_called THEN s.last_value + 1 ELSE s.last_value END
                             FROM buildtrace.versions_version_id_seq s);

-- hourly_changes reads the rollups (see 40_metrics.sql): UTC hours, and a
-- filter on the hour is a range of the rollups' key.
CREATE OR REPLACE VIEW buildtrace.hourly_changes AS
SELECT r.hour,
       sum(r.pairs)::bigint AS pairs,
       count(*) FILTER (WHERE r.pairs > 0) AS drawings,
       sum(r.added)::bigint AS added,
       sum(r.removed)::bigint AS removed,
       sum(r.moved)::bigint AS moved,
       sum(r.resized)::bigint AS resized,
       sum(r.retyped)::bigint AS retyped,
       sum(r.modified)::bigint AS modified,
       sum(r.rotated)::bigint AS rotated,
       sum(r.reidentified)::bigint AS reidentified
FROM buildtrace.hourly_rollups r
GROUP BY r.hour
HAVING sum(r.pairs) > 0;
COMMENT ON VIEW buildtrace.hourly_changes IS
    'Processed pairs and changes per kind, per UTC hour of processing, from hourly_rollups.';

-- bt_diff and bt_try_diff take match_geometry.
DROP FUNCTION buildtrace.bt_diff(jsonb, jsonb, float8, float8);
DROP FUNCTION buildtrace.bt_try_diff(jsonb, jsonb, float8, float8);
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

-- The statement trigger on pairs is C; it hands the statement's results to
-- _pairs_store_results, which replaces the PL/pgSQL trigger function. The
-- results carry the new counts.
DROP TRIGGER pairs_process ON buildtrace.pairs;
DROP FUNCTION buildtrace._pairs_after_insert();
DROP FUNCTION buildtrace._pairs_take_results();

CREATE FUNCTION buildtrace._pairs_take_results(
    OUT pair_id bigint, OUT drawing_id text, OUT job_id text, OUT latency_ms float8,
    OUT retry_of bigint, OUT ok boolean, OUT result jsonb, OUT processing_us bigint,
    OUT added integer, OUT removed integer, OUT moved integer, OUT resized integer,
    OUT retyped integer, OUT modified integer, OUT unchanged integer,
    OUT rotated integer, OUT reidentified integer, OUT shifted integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'bt_pairs_take_results'
LANGUAGE C VOLATILE PARALLEL UNSAFE
ROWS 10000;

CREATE FUNCTION buildtrace._pairs_after_statement()
RETURNS trigger
AS 'MODULE_PATHNAME', 'bt_pairs_after_statement'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

CREATE FUNCTION buildtrace._pairs_store_results()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET work_mem = '64MB'
AS $$
DECLARE
    -- The rows' tenant, not the session's setting, which the statement could
    -- have changed after its last row was checked.
    rows_tenant text := buildtrace._pairs_pending_tenant();
    -- The statement's drawings: their state rows are read by key, never
    -- by a scan of drawing_state, which grows with every drawing.
    drawings    text[] := ARRAY(SELECT DISTINCT d FROM buildtrace._pairs_pending_drawings() d);
    n_processed bigint;
    rollup_drawings text[];
    rollup_totals   buildtrace._rollup_totals[];
BEGIN
    PERFORM buildtrace._lock_drawings(drawings, rows_tenant);

    -- One statement does every write, over one materialised set of processed
    -- rows ("processed"). result is the diff of a processed pair and the
    -- problems of a failed one, whose counts are NULL.
    WITH processed AS MATERIALIZED (
        SELECT r.* FROM buildtrace._pairs_take_results() r
    ),
    -- The spike rule reads the changes' total as the table defines it; only
    -- these narrow rows go through the window's sort.
    ins_changes AS (
        INSERT INTO buildtrace.changes
            (pair_id, drawing_id, job_id, diff, summary, added, removed, moved,
             resized, retyped, modified, unchanged, processing_us, rotated, reidentified,
             shifted, tenant)
        SELECT pr.pair_id, pr.drawing_id, pr.job_id, pr.result, pr.result ->> 'summary',
               pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
               pr.unchanged, pr.processing_us, pr.rotated, pr.reidentified, pr.shifted,
               rows_tenant
        FROM processed pr
        WHERE pr.ok
        RETURNING pair_id, drawing_id, total
    ),
    -- The previous processed pair of each done pair: the one before it in
    -- this statement (pair_id order), else the drawing's last processed pair.
    sequenced AS (
        SELECT c.pair_id, c.drawing_id, c.total,
               lag(c.pair_id) OVER w AS batch_prev_pair,
               lag(c.total) OVER w AS batch_prev_total,
               lead(c.pair_id) OVER w IS NULL AS is_last
        FROM ins_changes c
        WINDOW w AS (PARTITION BY c.drawing_id ORDER BY c.pair_id)
    ),
    done AS (
        SELECT q.*,
               coalesce(q.batch_prev_pair, s.last_pair_id) AS prev_pair_id,
               CASE WHEN q.batch_prev_pair IS NULL THEN s.last_total
                    ELSE q.batch_prev_total END AS prev_total
        FROM sequenced q
        JOIN buildtrace.drawing_state s ON s.drawing_id = q.drawing_id
        WHERE s.drawing_id = ANY (drawings)
    ),
    ins_anomalies AS (
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
        SELECT 'invalid_input', 'high', pr.drawing_id, pr.pair_id,
               jsonb_build_object('problems', pr.result), rows_tenant
        FROM processed pr
        WHERE NOT pr.ok
        UNION ALL
        SELECT 'change_spike', sp.severity, d.drawing_id, d.pair_id,
               jsonb_build_object('previous_changes', d.prev_total, 'changes', d.total,
                                  'factor', buildtrace.setting('buildtrace.spike_factor'::text)::float8,
                                  'previous_pair_id', d.prev_pair_id),
               rows_tenant
        FROM done d
        CROSS JOIN LATERAL (SELECT buildtrace._spike_severity(d.prev_total, d.total) AS severity) sp
        WHERE sp.severity IS NOT NULL
    ),
    -- A retry that was processed (done or failed again) supersedes the failed
    -- pair: its open invalid_input or processing_failed anomaly is resolved.
    resolve_retried AS (
        UPDATE buildtrace.anomalies a
        SET resolved_at = now()
        WHERE a.pair_id = ANY (ARRAY(SELECT pr.retry_of FROM processed pr
                                     WHERE pr.retry_of IS NOT NULL))
          AND a.kind IN ('invalid_input', 'processing_failed')
          AND a.resolved_at IS NULL
    ),
    upd_state AS (
        UPDATE buildtrace.drawing_state s
        SET last_pair_id = d.pair_id, last_total = d.total, updated_at = now()
        FROM done d
        WHERE d.is_last AND s.drawing_id = d.drawing_id AND s.drawing_id = ANY (drawings)
    ),
    -- Hourly rollups, by their one rule (the _rollup aggregate,
    -- 40_metrics.sql), added to the stored rows below.
    drawing_totals AS (
        SELECT pr.drawing_id,
               buildtrace._rollup(pr.ok, pr.added, pr.removed, pr.moved, pr.resized,
                                  pr.retyped, pr.modified, pr.unchanged, pr.rotated,
                                  pr.reidentified, pr.processing_us / 1000.0::float8,
                                  pr.latency_ms) AS totals
        FROM processed pr
        GROUP BY pr.drawing_id
    )
    SELECT (SELECT count(*) FROM processed), array_agg(t.drawing_id), array_agg(t.totals)
    INTO n_processed, rollup_drawings, rollup_totals
    FROM drawing_totals t;
    PERFORM buildtrace._add_rollups(rows_tenant, rollup_drawings, rollup_totals);
    RETURN n_processed;
END
$$;

-- The change_spike rule is C (_spike_severity, src/spike.c), asked by both
-- store functions: 'high', 'medium', or NULL for no spike.
CREATE FUNCTION buildtrace._spike_severity(previous_changes integer, changes integer)
RETURNS text
AS 'MODULE_PATHNAME', 'bt_spike_severity'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- What _pairs_store_results does, for a statement that inserted one pair:
-- a few statements planned for one row, each finding the drawing's rows by
-- their keys, where the set-wise statement is planned for thousands. The
-- same rules: the drawing's lock, the table's total, _spike_severity,
-- _rollup and _add_rollups. Returns 1.
--
-- SECURITY DEFINER for the same reason as _pairs_store_results: the writer
-- role must not write changes, anomalies, rollups or drawing state itself.
-- search_path is pinned and every name is qualified.
CREATE FUNCTION buildtrace._pairs_store_one()
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rows_tenant text := buildtrace._pairs_pending_tenant();
    pr          record;
    prev        record;
    total       integer;
    severity    text;
BEGIN
    SELECT * INTO STRICT pr FROM buildtrace._pairs_take_results();
    prev := buildtrace._lock_drawing(pr.drawing_id, rows_tenant);
    IF pr.ok THEN
        INSERT INTO buildtrace.changes
            (pair_id, drawing_id, job_id, diff, summary, added, removed, moved,
             resized, retyped, modified, unchanged, processing_us, rotated, reidentified,
             shifted, tenant)
        VALUES (pr.pair_id, pr.drawing_id, pr.job_id, pr.result, pr.result ->> 'summary',
                pr.added, pr.removed, pr.moved, pr.resized, pr.retyped, pr.modified,
                pr.unchanged, pr.processing_us, pr.rotated, pr.reidentified, pr.shifted,
                rows_tenant)
        RETURNING changes.total INTO total;
        UPDATE buildtrace.drawing_state s
        SET last_pair_id = pr.pair_id, last_total = total, updated_at = now()
        WHERE s.drawing_id = pr.drawing_id;
        severity := buildtrace._spike_severity(prev.last_total, total);
        IF severity IS NOT NULL THEN
            INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
            VALUES ('change_spike', severity, pr.drawing_id, pr.pair_id,
                    jsonb_build_object('previous_changes', prev.last_total, 'changes', total,
                                       'factor', buildtrace.setting('buildtrace.spike_factor'::text)::float8,
                                       'previous_pair_id', prev.last_pair_id),
                    rows_tenant);
        END IF;
    ELSE
        INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
        VALUES ('invalid_input', 'high', pr.drawing_id, pr.pair_id,
                jsonb_build_object('problems', pr.result), rows_tenant);
    END IF;
    IF pr.retry_of IS NOT NULL THEN
        UPDATE buildtrace.anomalies a
        SET resolved_at = now()
        WHERE a.pair_id = pr.retry_of
          AND a.kind IN ('invalid_input', 'processing_failed')
          AND a.resolved_at IS NULL;
    END IF;
    PERFORM buildtrace._add_rollups(rows_tenant, ARRAY[pr.drawing_id], ARRAY[
        (SELECT buildtrace._rollup(pr.ok, pr.added, pr.removed, pr.moved, pr.resized,
                                   pr.retyped, pr.modified, pr.unchanged, pr.rotated,
                                   pr.reidentified, pr.processing_us / 1000.0::float8,
                                   pr.latency_ms))]);
    RETURN 1;
END
$$;

CREATE TRIGGER pairs_process
    AFTER INSERT ON buildtrace.pairs
    FOR EACH STATEMENT
    EXECUTE FUNCTION buildtrace._pairs_after_statement();

REVOKE ALL ON FUNCTION buildtrace._pairs_take_results() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_after_statement() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_store_results() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._pairs_store_one() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._spike_severity(integer, integer) FROM PUBLIC;

-- The hourly rollups' one rule, the _rollup aggregate (src/rollup.c): the
-- totals of a set of processed pairs, as a rollup row holds them. A failed
-- pair counts in "failed" only; the change counts and both sketches are of
-- done pairs, the latency sketch of those that reported a latency (NULL
-- where there is none). The pipeline trigger and rebuild_rollups() both
-- aggregate with it, so they cannot disagree.
CREATE TYPE buildtrace._rollup_totals AS (
    pairs               bigint,
    failed              bigint,
    added               bigint,
    removed             bigint,
    moved               bigint,
    resized             bigint,
    retyped             bigint,
    modified            bigint,
    unchanged           bigint,
    rotated             bigint,
    reidentified        bigint,
    processing_ms       buildtrace.bt_sketch,
    reported_latency_ms buildtrace.bt_sketch
);

CREATE FUNCTION buildtrace._rollup_trans(internal, ok boolean, added integer, removed integer,
                                         moved integer, resized integer, retyped integer,
                                         modified integer, unchanged integer, rotated integer,
                                         reidentified integer, processing_ms float8,
                                         latency_ms float8)
RETURNS internal
AS 'MODULE_PATHNAME', 'bt_rollup_trans'
LANGUAGE C PARALLEL SAFE;

CREATE FUNCTION buildtrace._rollup_final(internal)
RETURNS buildtrace._rollup_totals
AS 'MODULE_PATHNAME', 'bt_rollup_final'
LANGUAGE C PARALLEL SAFE;

CREATE AGGREGATE buildtrace._rollup(ok boolean, added integer, removed integer, moved integer,
                                    resized integer, retyped integer, modified integer,
                                    unchanged integer, rotated integer, reidentified integer,
                                    processing_ms float8, latency_ms float8) (
    SFUNC = buildtrace._rollup_trans,
    STYPE = internal,
    FINALFUNC = buildtrace._rollup_final,
    PARALLEL = SAFE
);

-- Adds per-drawing totals (of the _rollup aggregate) to the hourly rollups
-- of the current hour: the rollups' one merge rule, for both store
-- functions. A row is only written under its drawing's lock, so concurrent
-- statements add up in turn.
CREATE FUNCTION buildtrace._add_rollups(tenant text, drawing_ids text[],
                                        totals buildtrace._rollup_totals[])
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO buildtrace.hourly_rollups AS r
        (hour, tenant, drawing_id, pairs, failed, added, removed, moved, resized, retyped,
         modified, unchanged, rotated, reidentified, processing_ms, reported_latency_ms)
    SELECT date_trunc('hour', now(), 'UTC'), _add_rollups.tenant, t.*
    FROM unnest(drawing_ids, totals) AS t
    ON CONFLICT (hour, drawing_id) DO UPDATE
    SET pairs = r.pairs + excluded.pairs, failed = r.failed + excluded.failed,
        added = r.added + excluded.added, removed = r.removed + excluded.removed,
        moved = r.moved + excluded.moved, resized = r.resized + excluded.resized,
        retyped = r.retyped + excluded.retyped, modified = r.modified + excluded.modified,
        unchanged = r.unchanged + excluded.unchanged,
        processing_ms = buildtrace.bt_sketch_add(r.processing_ms, excluded.processing_ms),
        reported_latency_ms = buildtrace.bt_sketch_add(r.reported_latency_ms,
                                                       excluded.reported_latency_ms),
        rotated = r.rotated + excluded.rotated,
        reidentified = r.reidentified + excluded.reidentified;
END
$$;

REVOKE ALL ON FUNCTION buildtrace._add_rollups(text, text[], buildtrace._rollup_totals[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION buildtrace._rollup(boolean, integer, integer, integer, integer, integer, integer,
                                          integer, integer, integer, float8, float8) FROM PUBLIC;

-- Rollups and metrics with the new counts; calls in functions that run
-- with their owner's rights name their argument types, so that no overload
-- added later is a better match. The hours up to that of the newest pair
-- purge() removed keep their rows: their pairs are no longer there to count.
CREATE FUNCTION buildtrace.rebuild_rollups(since timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n          bigint;
    first_hour timestamptz;
BEGIN
    LOCK TABLE buildtrace.hourly_rollups IN SHARE ROW EXCLUSIVE MODE;
    -- and waits for purge() batches in progress, keeping new ones out, so
    -- that no pair goes between reading the horizon and counting.
    LOCK TABLE buildtrace.purge_horizon IN SHARE MODE;
    first_hour := greatest(coalesce((SELECT date_trunc('hour', h.pairs_processed_until, 'UTC') + interval '1 hour'
                                     FROM buildtrace.purge_horizon h),
                                    '-infinity'),
                           coalesce(date_trunc('hour', since, 'UTC'), '-infinity'));
    DELETE FROM buildtrace.hourly_rollups r WHERE r.hour >= first_hour;
    -- (first_hour is a UTC hour: a time's hour is first_hour or later
    -- exactly when the time is, which the indexes on the times serve)
    INSERT INTO buildtrace.hourly_rollups
        (hour, drawing_id, tenant, pairs, failed, added, removed, moved, resized, retyped,
         modified, unchanged, rotated, reidentified, processing_ms, reported_latency_ms)
    SELECT g.hour, g.drawing_id, g.tenant, (g.totals).*
    FROM (SELECT x.hour, x.drawing_id, x.tenant,
                 buildtrace._rollup(x.ok, x.added, x.removed, x.moved, x.resized, x.retyped,
                                    x.modified, x.unchanged, x.rotated, x.reidentified,
                                    x.processing_ms, x.latency_ms) AS totals
          FROM (SELECT date_trunc('hour', c.computed_at, 'UTC') AS hour, c.drawing_id, c.tenant,
                       true AS ok, c.added, c.removed, c.moved, c.resized, c.retyped, c.modified,
                       c.unchanged, c.rotated, c.reidentified,
                       c.processing_us / 1000.0::float8 AS processing_ms, p.latency_ms
                FROM buildtrace.changes c
                JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
                WHERE c.computed_at >= first_hour
                UNION ALL
                SELECT date_trunc('hour', p.processed_at, 'UTC'), p.drawing_id, p.tenant, false,
                       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
                FROM buildtrace.pairs p
                -- as the trigger counts them: failed in the store step, with
                -- an anomaly; not given up by work() (another tenant's
                -- drawing, out of attempts), which the rollups never see
                WHERE p.status = 'failed' AND p.processed_at >= first_hour
                  AND EXISTS (SELECT FROM buildtrace.anomalies a
                              WHERE a.pair_id = p.pair_id AND a.kind = 'invalid_input')) x
          GROUP BY x.hour, x.drawing_id, x.tenant) g;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.rebuild_rollups(timestamptz) IS
    'Recompute hourly_rollups from changes and pairs, from the hour of since on (NULL: all); returns the number of rows.';

-- Every hour: the signature of 0.1.0, kept so that what a site granted on
-- it stays.
CREATE OR REPLACE FUNCTION buildtrace.rebuild_rollups()
RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
RETURN buildtrace.rebuild_rollups(NULL::timestamptz);
COMMENT ON FUNCTION buildtrace.rebuild_rollups() IS
    'Recompute hourly_rollups from changes and pairs; returns the number of rows.';
REVOKE ALL ON FUNCTION buildtrace.rebuild_rollups(timestamptz) FROM PUBLIC;

-- now() - span, counted back in UTC (TimeZone below), as the rollups'
-- hours are: a day is 24 hours also across a change of the session zone's
-- clocks. The windows' starts and purge()'s cutoffs; executable by
-- everyone, as _window_start is.
CREATE FUNCTION buildtrace._utc_ago(span interval)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
RETURN now() - span;

-- Start of the rollup window for "the last <span>": the UTC hour containing
-- now() - span (counted in UTC, _utc_ago), so the window always covers at
-- least span (up to one hour more, as rollups have hour granularity). NULL
-- span: everything.
CREATE OR REPLACE FUNCTION buildtrace._window_start(span interval)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN span IS NULL THEN '-infinity'::timestamptz
            ELSE date_trunc('hour', buildtrace._utc_ago(span), 'UTC') END;

-- The start of the window "the last <since>" of metrics(), report_html() or
-- health() (what names which, argument names its argument), or a clear error
-- for a window that is NULL, negative or beyond the timestamp range.
CREATE FUNCTION buildtrace._checked_window_start(since interval, what text, argument text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    start timestamptz;
BEGIN
    IF since IS NULL THEN
        RAISE EXCEPTION '% window must not be NULL', what USING ERRCODE = '22023',
            DETAIL = format('Argument "%s" is NULL.', argument);
    END IF;
    BEGIN
        start := buildtrace._window_start(since);
    EXCEPTION WHEN datetime_field_overflow THEN
        RAISE EXCEPTION '% window is out of range', what USING ERRCODE = '22023',
            DETAIL = format('Argument "%s" is %s, which reaches beyond the timestamp range.', argument, since);
    END;
    -- (counted in UTC, as the window is: a span of mixed signs is one sign)
    IF buildtrace._utc_ago(since) > now() THEN
        RAISE EXCEPTION '% window must not be negative', what USING ERRCODE = '22023',
            DETAIL = format('Argument "%s" is %s.', argument, since);
    END IF;
    RETURN start;
END
$$;

-- metrics()' data quality: per drawing with pairs since start, its pairs,
-- failed pairs and late or missing uploads, and a score: valid pairs over
-- pairs plus late or missing uploads (1 is perfect). The 50 lowest scores.
CREATE FUNCTION buildtrace._metrics_data_quality(start timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object('drawing_id', q.drawing_id, 'pairs', q.pairs,
                                                     'failed', q.failed, 'late_uploads', q.late,
                                                     'score', q.score)
                                  ORDER BY q.score, q.drawing_id), '[]')
        FROM (SELECT r.drawing_id, r.done + r.failed AS pairs, r.failed, coalesce(a.late, 0) AS late,
                     round(r.done::numeric / (r.done + r.failed + coalesce(a.late, 0)), 4) AS score
              FROM (SELECT h.drawing_id, sum(h.pairs) AS done, sum(h.failed) AS failed
                    FROM buildtrace.hourly_rollups h WHERE h.hour >= start GROUP BY h.drawing_id) r
              LEFT JOIN (SELECT n.drawing_id, count(*) AS late FROM buildtrace.anomalies n
                         WHERE n.kind IN ('missing_upload', 'delayed_upload') AND n.detected_at >= start
                         GROUP BY n.drawing_id) a USING (drawing_id)
              ORDER BY 5, 1 LIMIT 50) q);
END
$$;

-- metrics()' jobs: each job with pairs processed since start, oldest first,
-- with the largest latency a pair of it reported (null when none did: such a
-- job still counts) and totals over its done pairs in the window.
CREATE FUNCTION buildtrace._metrics_jobs(start timestamptz)
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
BEGIN
    RETURN (
        SELECT coalesce(jsonb_agg(jsonb_build_object(
                   'job_id', j.job_id, 'latency_ms', j.latency_ms, 'pairs', j.pairs,
                   'total_added', j.total_added, 'total_removed', j.total_removed,
                   'total_modified', j.total_modified, 'total_unchanged', j.total_unchanged,
                   'processed_at', j.processed_at)
               ORDER BY j.processed_at, j.job_id), '[]')
        FROM (SELECT c.job_id, max(p.latency_ms) AS latency_ms, count(*) AS pairs,
                     sum(c.added) AS total_added, sum(c.removed) AS total_removed,
                     sum(buildtrace._changed_objects(c.diff)) AS total_modified,
                     sum(c.unchanged) AS total_unchanged, max(c.computed_at) AS processed_at
              FROM buildtrace.changes c
              JOIN buildtrace.pairs p ON p.pair_id = c.pair_id
              WHERE c.computed_at >= start AND c.job_id IS NOT NULL
              GROUP BY c.job_id) j);
END
$$;
REVOKE ALL ON FUNCTION buildtrace._metrics_jobs(timestamptz), buildtrace._metrics_data_quality(timestamptz)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._changed_objects(jsonb), buildtrace._metrics_jobs(timestamptz),
    buildtrace._metrics_data_quality(timestamptz) TO buildtrace_reader;

-- metrics()' latency keys from the merged sketches of processing time and
-- reported latency: P95/P99 with 95 % bounds, the sketch's relative
-- accuracy, the reported P95/P99. Also the PL/Proxy front's (sharding/).
CREATE FUNCTION buildtrace._latency_fields(processing buildtrace.bt_sketch,
                                           reported buildtrace.bt_sketch)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_build_object(
        'latency_unit', 'ms',
        'latency_p95', p95.estimate,
        'latency_p99', p99.estimate,
        'latency_p95_bounds', jsonb_build_object('lower', p95.lower, 'upper', p95.upper),
        'latency_p99_bounds', jsonb_build_object('lower', p99.lower, 'upper', p99.upper),
        'latency_confidence', 0.95,
        'latency_relative_accuracy', buildtrace.bt_sketch_relative_accuracy(processing),
        'reported_latency_p95', buildtrace.bt_sketch_quantile(reported, 0.95::float8),
        'reported_latency_p99', buildtrace.bt_sketch_quantile(reported, 0.99::float8))
    -- a window without pairs has no sketch: its fields are null
    FROM (SELECT) one
    LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(processing, 0.95::float8) p95 ON true
    LEFT JOIN LATERAL buildtrace.bt_sketch_quantile_bounds(processing, 0.99::float8) p99 ON true
$$;

CREATE OR REPLACE FUNCTION buildtrace.metrics(since interval DEFAULT interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    start     timestamptz;
    proc      buildtrace.bt_sketch;
    reported  buildtrace.bt_sketch;
    hourly    jsonb;
    n_failed  bigint;
    jobs      jsonb;
BEGIN
    start := buildtrace._checked_window_start(since, 'metrics'::text, 'since'::text);

    SELECT jsonb_object_agg(to_char(h.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                            jsonb_build_object('pairs', h.pairs, 'failed', h.failed,
                                               'added', h.added, 'removed', h.removed,
                                               'moved', h.moved, 'resized', h.resized,
                                               'retyped', h.retyped, 'modified', h.modified,
                                               'rotated', h.rotated, 'reidentified', h.reidentified,
                                               'unchanged', h.unchanged)),
           sum(h.failed)
    INTO hourly, n_failed
    FROM (SELECT r.hour, sum(r.pairs) AS pairs, sum(r.failed) AS failed,
                 sum(r.added) AS added, sum(r.removed) AS removed, sum(r.moved) AS moved,
                 sum(r.resized) AS resized, sum(r.retyped) AS retyped,
                 sum(r.modified) AS modified, sum(r.unchanged) AS unchanged,
                 sum(r.rotated) AS rotated, sum(r.reidentified) AS reidentified
          FROM buildtrace.hourly_rollups r
          WHERE r.hour >= start
          GROUP BY r.hour) h;

    SELECT buildtrace.bt_sketch_merge(r.processing_ms), buildtrace.bt_sketch_merge(r.reported_latency_ms)
    INTO proc, reported
    FROM buildtrace.hourly_rollups r
    WHERE r.hour >= start;
    jobs := buildtrace._metrics_jobs(start);

    RETURN jsonb_build_object(
        'since', start,
        'until', now(),
        'pairs', coalesce(buildtrace.bt_sketch_count(proc), 0),
        'hourly_stats', coalesce(hourly, '{}'),
        'data_quality_issues', coalesce(n_failed, 0),
        'jobs', coalesce(jobs, '[]'),
        'data_quality', buildtrace._metrics_data_quality(start))
        || buildtrace._latency_fields(proc, reported);
END
$$;

CREATE OR REPLACE FUNCTION buildtrace._check_pending(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age interval := buildtrace.setting('buildtrace.pending_max_age'::text)::interval;
BEGIN
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, coalesce(p.processed_at, as_of))
    FROM buildtrace.pairs p
    WHERE a.kind = 'stale_pending' AND a.resolved_at IS NULL
      AND p.pair_id = a.pair_id AND p.status <> 'pending';
    GET DIAGNOSTICS resolved = ROW_COUNT;

    -- The pairs are locked against a purge() removing them meanwhile (an
    -- anomaly would fail the whole check on the foreign key); one processed
    -- meanwhile is no longer pending when locked, and is passed over.
    WITH stale AS (
        SELECT p.pair_id, p.drawing_id, p.submitted_at, p.tenant
        FROM buildtrace.pairs p
        WHERE p.status = 'pending' AND p.submitted_at < as_of - max_age
          AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                          WHERE a.kind = 'stale_pending' AND a.pair_id = p.pair_id
                            AND a.resolved_at IS NULL)
        FOR KEY SHARE OF p
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, detected_at,
                                      tenant)
    SELECT 'stale_pending', 'high', s.drawing_id, s.pair_id,
           jsonb_build_object('submitted_at', s.submitted_at,
                              -- a time its owner wrote may be infinite: no age
                              'age', CASE WHEN isfinite(s.submitted_at) THEN as_of - s.submitted_at END,
                              'max_age', max_age),
           as_of, s.tenant
    FROM stale s
    ORDER BY s.pair_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

CREATE OR REPLACE FUNCTION buildtrace._check_volume(as_of timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    factor   float8 := buildtrace.setting('buildtrace.spike_factor'::text)::float8;
    min_base int := buildtrace.setting('buildtrace.spike_min_changes'::text)::int;
    n        int;
BEGIN
    -- per drawing, and per tenant with no drawing: a tenant's readers see
    -- the whole of their own uploads, never a sum over other tenants'
    WITH hours AS (
        SELECT c.drawing_id,
               CASE WHEN GROUPING(c.tenant) = 0 THEN c.tenant ELSE min(c.tenant) END AS tenant,
               sum(c.total) FILTER (WHERE c.computed_at >= as_of - interval '1 hour') AS last_hour,
               sum(c.total) FILTER (WHERE c.computed_at < as_of - interval '1 hour') AS hour_before
        FROM buildtrace.changes c
        WHERE c.computed_at >= as_of - interval '2 hours' AND c.computed_at < as_of
        GROUP BY GROUPING SETS ((c.drawing_id), (c.tenant))
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at, tenant)
    SELECT 'volume_spike', 'medium', h.drawing_id,
           jsonb_build_object('changes_last_hour', h.last_hour,
                              'changes_hour_before', h.hour_before,
                              'factor', round((h.last_hour::numeric / h.hour_before), 2),
                              'window_end', as_of),
           as_of, h.tenant
    FROM hours h
    WHERE h.hour_before >= greatest(min_base, 1)
      AND h.last_hour::float8 / h.hour_before >= factor
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'volume_spike'
                        AND a.drawing_id IS NOT DISTINCT FROM h.drawing_id
                        AND a.tenant = h.tenant
                        AND a.detected_at > as_of - interval '1 hour')
    ORDER BY h.drawing_id NULLS FIRST, h.tenant;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- The last hour against health()'s thresholds (buildtrace.health_p99_ms,
-- buildtrace.health_failure_rate, the latter judged from 20 pairs on): a
-- warning for each one crossed.
CREATE FUNCTION buildtrace._health_thresholds()
RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT array_remove(ARRAY[
               CASE WHEN s.max_p99 > 0 AND h.p99 > s.max_p99 THEN
                   format('Processing latency P99 of the last hour is %s ms, over buildtrace.health_p99_ms (%s ms).',
                          round(h.p99::numeric, 1), s.max_p99) END,
               CASE WHEN s.max_rate < 1 AND h.done + h.failed >= 20 AND h.failed > s.max_rate * (h.done + h.failed) THEN
                   format('%s of %s pairs failed in the last hour (%s %%), over buildtrace.health_failure_rate (%s %%).',
                          h.failed, h.done + h.failed, round(100.0 * h.failed / (h.done + h.failed), 1),
                          round(100 * s.max_rate::numeric, 1)) END], NULL)
    FROM (SELECT coalesce(sum(r.pairs), 0) AS done, coalesce(sum(r.failed), 0) AS failed,
                 buildtrace.bt_sketch_quantile(buildtrace.bt_sketch_merge(r.processing_ms), 0.99::float8) AS p99
          FROM buildtrace.hourly_rollups r
          WHERE r.hour >= buildtrace._window_start(interval '1 hour')) h,
         (SELECT buildtrace.setting('buildtrace.health_p99_ms'::text)::float8 AS max_p99,
                 buildtrace.setting('buildtrace.health_failure_rate'::text)::float8 AS max_rate) s
$$;

CREATE OR REPLACE FUNCTION buildtrace.health(recent interval DEFAULT interval '1 hour')
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_age   interval := buildtrace.setting('buildtrace.pending_max_age'::text)::interval;
    unhealthy bool := false;
    degraded  bool := false;
    warnings  text[] := '{}';
    n         bigint;
    n_pending bigint;
    oldest    timestamptz;
    r         record;
    over      text[];
    -- "within recent", counted back in UTC as every window is
    recent_start timestamptz;
BEGIN
    PERFORM buildtrace._checked_window_start(recent, 'health'::text, 'recent'::text);
    recent_start := buildtrace._utc_ago(recent);
    FOR r IN SELECT * FROM buildtrace._cron_runs() LOOP
        IF r.last_status = 'failed' THEN
            unhealthy := true;
            warnings := warnings || format('Scheduled check %s failed at %s: %s',
                                           r.job_name, r.last_start, r.last_message);
        ELSIF greatest(r.last_start, r.scheduled_at) < now() - greatest(2 * r.every, interval '2 minutes') THEN
            degraded := true;
            warnings := warnings || format('Scheduled check %s has not run since %s (every %s).',
                                           r.job_name, coalesce(r.last_start::text, 'it was scheduled'), r.every);
        END IF;
    END LOOP;

    SELECT count(*), min(submitted_at) INTO n_pending, oldest
    FROM buildtrace.pairs WHERE status = 'pending';
    IF n_pending > 0 THEN
        IF oldest < now() - max_age THEN
            unhealthy := true;
        END IF;
        warnings := warnings || format('%s pair%s pending, the oldest since %s.', n_pending,
                                       CASE WHEN n_pending = 1 THEN '' ELSE 's' END, oldest);
    END IF;

    SELECT count(*) INTO n FROM buildtrace.dead_letters;
    IF n > 0 THEN
        degraded := true;
        warnings := warnings || format('%s failed pair%s waiting in dead_letters.', n,
                                       CASE WHEN n = 1 THEN '' ELSE 's' END);
    END IF;

    FOR r IN SELECT a.kind, a.severity, count(*) AS n,
                    count(*) FILTER (WHERE a.detected_at >= recent_start) AS n_recent
             FROM buildtrace.anomalies a WHERE a.resolved_at IS NULL
             GROUP BY a.kind, a.severity ORDER BY a.kind, a.severity LOOP
        IF r.severity = 'high' AND r.n_recent > 0 THEN
            unhealthy := true;
        ELSIF r.severity IN ('medium', 'high') THEN
            degraded := true;
        END IF;
        warnings := warnings || format('%s open %s anomal%s (%s severity).', r.n,
                                       replace(r.kind, '_', ' '),
                                       CASE WHEN r.n = 1 THEN 'y' ELSE 'ies' END, r.severity);
    END LOOP;

    over := buildtrace._health_thresholds();
    IF cardinality(over) > 0 THEN
        degraded := true;
        warnings := warnings || over;
    END IF;

    RETURN jsonb_build_object(
        'status', CASE WHEN unhealthy THEN 'unhealthy' WHEN degraded THEN 'degraded' ELSE 'healthy' END,
        'warnings', to_jsonb(warnings),
        -- the queue of deferred processing (and any pair not processed yet)
        'backlog', jsonb_build_object('pending', n_pending,
                                      'oldest_age_seconds', CASE WHEN isfinite(oldest)
                                                                     THEN round(extract(epoch FROM now() - oldest), 3) END),
        'anomalies', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'anomaly_id', a.anomaly_id, 'type', a.kind, 'severity', a.severity,
                       'drawing_id', a.drawing_id, 'pair_id', a.pair_id, 'details', a.details,
                       'detected_at', a.detected_at, 'resolved_at', a.resolved_at)
                   ORDER BY a.detected_at DESC, a.anomaly_id DESC)
            FROM (SELECT * FROM buildtrace.anomalies a
                  WHERE a.resolved_at IS NULL OR a.detected_at >= recent_start
                  ORDER BY a.detected_at DESC, a.anomaly_id DESC LIMIT 50) a), '[]'),
        'checked_at', now());
END
$$;

COMMENT ON FUNCTION buildtrace.metrics(interval) IS
    'GET /metrics body with latency bounds and per-job metrics, from hourly_rollups.';

-- The simulator regenerates ids, jitters them, rotates objects and shifts
-- drawings: generate_pairs and generate_versions gain five trailing
-- parameters, all off by default, and four internal functions.
DROP FUNCTION buildtrace.generate_pairs(int, int, float8, int, float8, int, int, float8, text);
DROP FUNCTION buildtrace.generate_versions(int, int, int, float8, int, float8, int, int, float8, text);

CREATE FUNCTION buildtrace._reexport_objects(a jsonb, b jsonb, moved jsonb, state jsonb, step int,
                                             h int8, reidentify_rate float8, rotate_rate float8,
                                             shift_x int8, shift_y int8, jitter int8)
RETURNS TABLE(i int8, orig text, in_a bool, mv bool, id_a text, id_b text, rotated bool,
              elem jsonb, st jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
SELECT ob.i, ob.orig, ob.in_a, ob.mv, ob.prev ->> 0, ev.id_b, ev.rotated,
       ob.e || jsonb_build_object(
                   'id', ev.id_b,
                   'x', trim_scale(((ob.e ->> 'x')::numeric * 1000 + nw.ox + (step - 1) * shift_x) / 1000),
                   'y', trim_scale(((ob.e ->> 'y')::numeric * 1000 + nw.oy + (step - 1) * shift_y) / 1000))
            || CASE WHEN nw.rot % 360000 = 0 THEN '{}'
                    ELSE jsonb_build_object('rotation', trim_scale(
                             ((coalesce((ob.e ->> 'rotation')::numeric, 0) * 1000 + nw.rot) % 360000 + 360000)
                             % 360000 / 1000)) END,
       jsonb_build_array(ev.id_b, nw.rot, nw.ox, nw.oy)
FROM (SELECT bo.e, bo.i, bo.e ->> 'id' AS orig, pa.e AS pe, pa.e IS NOT NULL AS in_a,
             mvd.t IS NOT NULL AS mv,
             coalesce(state -> (bo.e ->> 'id'), jsonb_build_array(bo.e ->> 'id', 0, 0, 0)) AS prev,
             pg_catalog.hashtextextended(bo.e ->> 'id', h) AS ho
      FROM jsonb_array_elements(b) WITH ORDINALITY bo(e, i)
      LEFT JOIN jsonb_array_elements(a) pa(e) ON pa.e ->> 'id' = bo.e ->> 'id'
      LEFT JOIN jsonb_array_elements_text(moved) mvd(t) ON mvd.t = bo.e ->> 'id') ob,
LATERAL (SELECT ((pg_catalog.hashint8extended(1, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                ((pg_catalog.hashint8extended(2, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                ((pg_catalog.hashint8extended(3, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u3,
                ((pg_catalog.hashint8extended(4, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u4,
                ((pg_catalog.hashint8extended(5, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u5,
                ((pg_catalog.hashint8extended(6, ob.ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u6) u,
LATERAL (SELECT step > 1 AND u.u1 < reidentify_rate AS reid,
                ob.in_a AND u.u2 < rotate_rate AS rotated,
                -- the move in the chain, in mm
                CASE WHEN ob.in_a THEN ((ob.e ->> 'x')::numeric - (ob.pe ->> 'x')::numeric) * 1000 END AS mx,
                CASE WHEN ob.in_a THEN ((ob.e ->> 'y')::numeric - (ob.pe ->> 'y')::numeric) * 1000 END AS my) m,
LATERAL (SELECT CASE WHEN m.reid
                     THEN translate(left(encode(decode(md5(h::text || '/' || ob.orig), 'hex'), 'base64'), 22),
                                    '+/', '_$')
                     ELSE ob.prev ->> 0 END AS id_b,
                m.rotated,
                CASE WHEN m.reid AND ob.in_a THEN round((2 * u.u5 - 1) * jitter)::int8 ELSE 0 END AS jx,
                CASE WHEN m.reid AND ob.in_a THEN round((2 * u.u6 - 1) * jitter)::int8 ELSE 0 END AS jy,
                ob.mv AND (shift_x <> 0 OR shift_y <> 0)
                AND (m.mx + shift_x) ^ 2 + (m.my + shift_y) ^ 2 < 40000 AS turn) ev,
LATERAL (SELECT (ob.prev ->> 1)::int8
                + CASE WHEN ev.rotated
                       THEN (5000 + floor(170001 * u.u3)::int8) * CASE WHEN u.u4 < 0.5 THEN -1 ELSE 1 END
                       ELSE 0 END AS rot,
                (ob.prev ->> 2)::int8 + ev.jx + CASE WHEN ev.turn THEN -2 * m.mx::int8 ELSE 0 END AS ox,
                (ob.prev ->> 3)::int8 + ev.jy + CASE WHEN ev.turn THEN -2 * m.my::int8 ELSE 0 END AS oy) nw
$fn$;

CREATE FUNCTION buildtrace._reexport_step(a jsonb, b jsonb, truth jsonb, state jsonb, step int,
                                          h int8, reidentify_rate float8, rotate_rate float8,
                                          shift_x int8, shift_y int8, jitter int8)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
WITH o AS MATERIALIZED (
    SELECT o.*, o.in_a AND o.id_a <> o.id_b AND rt.t IS NOT NULL AS fresh,
           o.in_a AND NOT (o.id_a <> o.id_b AND rt.t IS NOT NULL) AS matched
    FROM buildtrace._reexport_objects(a, b, truth -> 'moved', state, step, h, reidentify_rate,
                                      rotate_rate, shift_x, shift_y, jitter) o
    LEFT JOIN jsonb_array_elements_text(truth -> 'retyped') rt(t) ON rt.t = o.orig
),
sh AS (
    SELECT shift_x <> 0 OR shift_y <> 0 AS shifted,
           count(*) FILTER (WHERE matched AND NOT mv) >= 3
           AND 2 * count(*) FILTER (WHERE matched AND NOT mv) >= count(*) FILTER (WHERE matched) AS seen
    FROM o
),
lists AS (
    SELECT t.k, CASE WHEN t.k = 'removed' THEN coalesce(state -> t.id ->> 0, t.id) ELSE o.id_b END AS id
    FROM unnest(ARRAY['added', 'removed', 'moved', 'resized', 'retyped', 'modified']) k(k)
    CROSS JOIN LATERAL (SELECT k.k, x FROM jsonb_array_elements_text(truth -> k.k) x) t(k, id)
    LEFT JOIN o ON o.orig = t.id AND t.k <> 'removed'
    WHERE t.k IN ('added', 'removed') OR o.matched
    UNION ALL SELECT 'removed', id_a FROM o WHERE fresh
    UNION ALL SELECT 'added', id_b FROM o WHERE fresh
    UNION ALL SELECT 'moved', id_b FROM o, sh WHERE sh.shifted AND NOT sh.seen AND matched AND NOT mv
    UNION ALL SELECT 'rotated', id_b FROM o WHERE matched AND rotated
)
SELECT jsonb_build_object(
    'payload', (SELECT coalesce(jsonb_agg(elem ORDER BY i), '[]') FROM o),
    'state', (SELECT coalesce(jsonb_object_agg(orig, st), '{}') FROM o),
    'ids_ok', (SELECT count(DISTINCT id_b) = count(*) FROM o)
              AND NOT EXISTS (SELECT FROM o JOIN jsonb_each(state) s ON s.value ->> 0 = o.id_b
                              WHERE s.key <> o.orig),
    'truth', truth
             || '{"added": [], "removed": [], "moved": [], "resized": [], "retyped": [],
                  "modified": [], "rotated": []}'::jsonb
             -- (json_object_agg: see _sim_chain's truth)
             || (SELECT coalesce(json_object_agg(k, ids)::jsonb, '{}')
                 FROM (SELECT k, jsonb_agg(id ORDER BY id COLLATE "C") AS ids FROM lists GROUP BY k) l)
             || jsonb_build_object(
                    'reidentified', (SELECT coalesce(jsonb_agg(jsonb_build_object('id', id_b, 'previous_id', id_a)
                                                               ORDER BY id_b COLLATE "C"), '[]')
                                     FROM o WHERE matched AND id_a <> id_b),
                    'shift', (SELECT CASE WHEN shifted AND seen
                                          THEN jsonb_build_object('dx', trim_scale(shift_x / 1000.0),
                                                                  'dy', trim_scale(shift_y / 1000.0)) END
                              FROM sh)))
$fn$;

CREATE FUNCTION buildtrace._reexport_chain(p_drawings int, p_versions int, p_objects int,
                                           p_rate float8, p_seed int, p_spike_drawing int,
                                           p_spike_step int, p_spike_factor float8,
                                           p_reidentify float8, p_jitter float8, p_rotate float8,
                                           p_shift_dx float8, p_shift_dy float8)
RETURNS TABLE(drawing_no int, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    sx int8 := round(p_shift_dx * 1000);
    sy int8 := round(p_shift_dy * 1000);
    jit int8 := round(p_jitter * 1000);
    hr int8 := hashint8extended(-3, p_seed);
    c record;
    prev jsonb;
    state jsonb;
    r jsonb;
BEGIN
    -- The spike step adds its changes as new objects: no more than a
    -- drawing may have.
    IF p_spike_step IS NOT NULL
       AND buildtrace._sim_spike_objects(p_spike_factor, p_rate, p_objects) > 1000000 THEN
        RAISE EXCEPTION 'spike_factor is too large for this drawing size'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The spike would add %s objects (spike_factor %s × 6 change kinds × change_rate %s × objects %s), more than 1000000.',
                                  CASE WHEN p_spike_factor > 1e300
                                       THEN trim(to_char(p_spike_factor::numeric * 6 * p_rate::numeric * p_objects, '9.9EEEE'))
                                       ELSE buildtrace._sim_spike_objects(p_spike_factor, p_rate, p_objects)::text END,
                                  p_spike_factor, p_rate, p_objects),
                  HINT = 'Lower spike_factor, change_rate or objects.';
    END IF;
    IF p_reidentify = 0 AND p_jitter = 0 AND p_rotate = 0 AND p_shift_dx = 0 AND p_shift_dy = 0 THEN
        RETURN QUERY SELECT * FROM buildtrace._sim_chain(p_drawings, p_versions, p_objects, p_rate, p_seed,
                                                          p_spike_drawing, p_spike_step, p_spike_factor);
        RETURN;
    END IF;
    FOR c IN SELECT * FROM buildtrace._sim_chain(p_drawings, p_versions, p_objects, p_rate, p_seed,
                                                 p_spike_drawing, p_spike_step, p_spike_factor) x
             ORDER BY x.drawing_no, x.version_no LOOP
        drawing_no := c.drawing_no;
        version_no := c.version_no;
        IF c.version_no = 1 THEN
            -- the base: nothing re-exported yet
            state := '{}';
            payload := c.payload;
            truth := c.truth || '{"reidentified": [], "rotated": [], "shift": null}';
        ELSE
            r := buildtrace._reexport_step(prev, c.payload, c.truth, state, c.version_no,
                                           hashint8extended(c.version_no, hashint8extended(c.drawing_no, hr)),
                                           p_reidentify, p_rotate, sx, sy, jit);
            IF NOT (r ->> 'ids_ok')::bool THEN
                RAISE EXCEPTION 'a regenerated id clashes with another id of drawing % version %',
                                c.drawing_no, c.version_no
                    USING ERRCODE = 'internal_error';
            END IF;
            state := r -> 'state';
            payload := r -> 'payload';
            truth := r -> 'truth';
        END IF;
        prev := c.payload;
        RETURN NEXT;
    END LOOP;
END
$fn$;

CREATE FUNCTION buildtrace._reexport_check_args(reidentify_rate float8, reidentify_jitter float8,
                                                rotate_rate float8, shift_dx float8, shift_dy float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF reidentify_rate IS NULL OR NOT reidentify_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'reidentify_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for reidentify_rate was %s.',
                                  coalesce(reidentify_rate::text, 'null'));
    END IF;
    IF reidentify_jitter IS NULL OR NOT reidentify_jitter BETWEEN 0 AND 0.07 THEN
        RAISE EXCEPTION 'reidentify_jitter must be between 0 and 0.07'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for reidentify_jitter was %s.',
                                  coalesce(reidentify_jitter::text, 'null')),
                  HINT = 'A re-identified object moves by at most the jitter on each axis; it must stay within the move tolerance (0.1), diagonally too.';
    END IF;
    IF rotate_rate IS NULL OR NOT rotate_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'rotate_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for rotate_rate was %s.', coalesce(rotate_rate::text, 'null'));
    END IF;
    IF shift_dx IS NULL OR NOT shift_dx BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'shift_dx must be between -1000000 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for shift_dx was %s.', coalesce(shift_dx::text, 'null'));
    END IF;
    IF shift_dy IS NULL OR NOT shift_dy BETWEEN -1000000 AND 1000000 THEN
        RAISE EXCEPTION 'shift_dy must be between -1000000 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given for shift_dy was %s.', coalesce(shift_dy::text, 'null'));
    END IF;
    -- in millimetres, as applied
    IF round(shift_dx * 1000) ^ 2 + round(shift_dy * 1000) ^ 2 BETWEEN 1 AND 39999 THEN
        RAISE EXCEPTION 'shift must be zero or at least 0.2 units long'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were shift_dx %s, shift_dy %s.', shift_dx, shift_dy),
                  HINT = 'Moves are 0.2 to 3 units; a shorter shift is within or too near the move tolerance (0.1) to tell from them.';
    END IF;
END
$fn$;

CREATE FUNCTION buildtrace.generate_pairs(pairs int, objects int DEFAULT 100,
                                          change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                          malformed_rate float8 DEFAULT 0,
                                          drawings int DEFAULT NULL, spike_at int DEFAULT NULL,
                                          spike_factor float8 DEFAULT 10,
                                          drawing_prefix text DEFAULT 'DWG-',
                                          reidentify_rate float8 DEFAULT 0,
                                          reidentify_jitter float8 DEFAULT 0,
                                          rotate_rate float8 DEFAULT 0,
                                          shift_dx float8 DEFAULT 0, shift_dy float8 DEFAULT 0)
RETURNS TABLE(pair_no int, drawing_id text, version_a jsonb, version_b jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    np int := generate_pairs.pairs;
    nd int := coalesce(generate_pairs.drawings, greatest(generate_pairs.pairs, 1));
    sd int8 := coalesce(generate_pairs.seed, 0);
    mr float8 := generate_pairs.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('pairs', np, generate_pairs.objects,
                                       generate_pairs.change_rate, mr, generate_pairs.spike_factor);
    PERFORM buildtrace._reexport_check_args(generate_pairs.reidentify_rate, generate_pairs.reidentify_jitter,
                                            generate_pairs.rotate_rate, generate_pairs.shift_dx,
                                            generate_pairs.shift_dy);
    IF nd < 1 THEN
        RAISE EXCEPTION 'drawings must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', nd);
    END IF;
    IF generate_pairs.spike_at IS NOT NULL AND NOT generate_pairs.spike_at BETWEEN 1 AND np THEN
        RAISE EXCEPTION 'spike_at must be a pair number between 1 and %', np
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', generate_pairs.spike_at);
    END IF;
    RETURN QUERY
    WITH c AS MATERIALIZED (
        -- only the drawings the pairs use: pair p is of drawing (p - 1) % nd + 1
        SELECT * FROM buildtrace._reexport_chain(least(nd, greatest(np, 1)),
                                                 ((np::int8 + nd - 1) / nd + 1)::int, generate_pairs.objects,
                                                 generate_pairs.change_rate, sd::int,
                                                 (generate_pairs.spike_at - 1) % nd + 1,
                                                 (generate_pairs.spike_at - 1) / nd + 2,
                                                 generate_pairs.spike_factor,
                                                 generate_pairs.reidentify_rate, generate_pairs.reidentify_jitter,
                                                 generate_pairs.rotate_rate, generate_pairs.shift_dx,
                                                 generate_pairs.shift_dy)
    ),
    p AS (
        SELECT g.p, (g.p - 1) % nd + 1 AS d, (g.p - 1) / nd + 2 AS s, hm,
               ((hashint8extended(1, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad,
               ((hashint8extended(2, hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < 0.5 AS bad_a
        FROM generate_series(1, np) g(p),
             LATERAL (SELECT hashint8extended(g.p, hashint8extended(-1, sd)) AS hm) h
    )
    SELECT p.p, buildtrace._sim_drawing_id(generate_pairs.drawing_prefix, p.d),
           CASE WHEN p.bad AND p.bad_a THEN x.broken -> 'payload' ELSE a.payload END,
           CASE WHEN p.bad AND NOT p.bad_a THEN x.broken -> 'payload' ELSE b.payload END,
           CASE WHEN p.bad
                THEN b.truth || jsonb_build_object('malformed', true,
                                                   'defect', jsonb_build_object('version', CASE WHEN p.bad_a THEN 'a' ELSE 'b' END)
                                                             || (x.broken -> 'defect'))
                ELSE b.truth END
    FROM p
    JOIN c a ON a.drawing_no = p.d AND a.version_no = p.s - 1
    JOIN c b ON b.drawing_no = p.d AND b.version_no = p.s
    LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(CASE WHEN p.bad_a THEN a.payload ELSE b.payload END,
                                                      hashint8extended(3, p.hm)) AS broken
                       WHERE p.bad) x ON true
    ORDER BY p.p;
END
$fn$;

CREATE FUNCTION buildtrace.generate_versions(drawings int, versions int, objects int DEFAULT 100,
                                             change_rate float8 DEFAULT 0.1, seed int DEFAULT 1,
                                             malformed_rate float8 DEFAULT 0,
                                             spike_at int DEFAULT NULL, spike_drawing int DEFAULT 1,
                                             spike_factor float8 DEFAULT 10,
                                             drawing_prefix text DEFAULT 'DWG-',
                                             reidentify_rate float8 DEFAULT 0,
                                             reidentify_jitter float8 DEFAULT 0,
                                             rotate_rate float8 DEFAULT 0,
                                             shift_dx float8 DEFAULT 0, shift_dy float8 DEFAULT 0)
RETURNS TABLE(drawing_id text, version_no int, payload jsonb, truth jsonb)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
#variable_conflict use_variable
DECLARE
    nd int := generate_versions.drawings;
    nv int := generate_versions.versions;
    sd int8 := coalesce(generate_versions.seed, 0);
    mr float8 := generate_versions.malformed_rate;
BEGIN
    PERFORM buildtrace._sim_check_args('drawings', nd, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._sim_check_args('versions', nv, generate_versions.objects,
                                       generate_versions.change_rate, mr,
                                       generate_versions.spike_factor);
    PERFORM buildtrace._reexport_check_args(generate_versions.reidentify_rate,
                                            generate_versions.reidentify_jitter,
                                            generate_versions.rotate_rate, generate_versions.shift_dx,
                                            generate_versions.shift_dy);
    IF generate_versions.spike_at IS NOT NULL
       AND (NOT generate_versions.spike_at BETWEEN 2 AND nv
            OR generate_versions.spike_drawing IS NULL
            OR NOT generate_versions.spike_drawing BETWEEN 1 AND nd) THEN
        RAISE EXCEPTION 'spike must be at a version between 2 and % of a drawing between 1 and %', nv, nd
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The values given were spike_at %s, spike_drawing %s.',
                                  generate_versions.spike_at,
                                  coalesce(generate_versions.spike_drawing::text, 'null'));
    END IF;
    IF nd = 0 OR nv = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT buildtrace._sim_drawing_id(generate_versions.drawing_prefix, c.drawing_no), c.version_no,
           CASE WHEN bad THEN x.broken -> 'payload' ELSE c.payload END,
           CASE WHEN bad THEN c.truth || jsonb_build_object('malformed', true,
                                                            'defect', x.broken -> 'defect')
                ELSE c.truth END
    FROM buildtrace._reexport_chain(nd, nv, generate_versions.objects, generate_versions.change_rate,
                                    sd::int, generate_versions.spike_drawing,
                                    generate_versions.spike_at, generate_versions.spike_factor,
                                    generate_versions.reidentify_rate, generate_versions.reidentify_jitter,
                                    generate_versions.rotate_rate, generate_versions.shift_dx,
                                    generate_versions.shift_dy) c,
         LATERAL (SELECT hashint8extended(c.version_no,
                                          hashint8extended(c.drawing_no, hashint8extended(-2, sd))) AS hm) h,
         LATERAL (SELECT ((hashint8extended(1, h.hm) >> 11) & 9007199254740991)::float8 / 9007199254740992 < mr AS bad) m
         LEFT JOIN LATERAL (SELECT buildtrace._sim_corrupt(c.payload, hashint8extended(3, h.hm)) AS broken
                            WHERE m.bad) x ON true
    ORDER BY c.drawing_no, c.version_no;
END
$fn$;

-- Pictures: bt_svg of two versions and of a stored pair.
CREATE FUNCTION buildtrace.bt_svg(a jsonb, b jsonb, options jsonb DEFAULT '{}')
RETURNS text
AS 'MODULE_PATHNAME', 'bt_svg'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION buildtrace.bt_svg(jsonb, jsonb, jsonb) IS
'A standalone SVG picture of bt_diff(a, b): unchanged objects grey, added green, removed red, moved purple with an arrow from the old place, resized, retyped, modified and rotated orange, re-identified blue; revision clouds, a legend, a scale bar and a north arrow. Options: width (pixels), labels, clouds, ids, kinds.';

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

-- The latest change set of a drawing: that of the pair diffed last under the
-- drawing's lock, which drawing_state records and the spike rule compares
-- with. computed_at, the start of the processing transaction, can order two
-- overlapping transactions the other way. A change set whose pair the state
-- does not name (a pair deleted by hand) falls back to the newest
-- computed_at, ties broken by pair_id. NULL when the drawing has none.
-- Runs with the caller's rights: row-level security applies.
CREATE FUNCTION buildtrace._latest_change_set(drawing_id text)
RETURNS buildtrace.changes
LANGUAGE sql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce((SELECT c FROM buildtrace.drawing_state s
                 JOIN buildtrace.changes c ON c.pair_id = s.last_pair_id
                 WHERE s.drawing_id = _latest_change_set.drawing_id
                   AND c.drawing_id = _latest_change_set.drawing_id),
                (SELECT c FROM buildtrace.changes c
                 WHERE c.drawing_id = _latest_change_set.drawing_id
                 ORDER BY c.computed_at DESC, c.pair_id DESC
                 LIMIT 1));

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

-- Readable outputs: dead_letters without the payloads (dead_letter_payloads()
-- returns them), report() with totals first and a bounded length.
DROP VIEW buildtrace.dead_letters;
-- The payloads are left out, so that a row prints on a screen: their sizes
-- say how large they are, dead_letter_payloads(pair_id) returns them.
CREATE VIEW buildtrace.dead_letters WITH (security_invoker = true) AS
SELECT p.pair_id, p.drawing_id, p.job_id, p.submitted_at, p.processed_at,
       p.error AS problems, jsonb_array_length(p.error) AS problem_count,
       p.retry_of, pg_column_size(p.version_a) AS version_a_bytes,
       pg_column_size(p.version_b) AS version_b_bytes
FROM buildtrace.pairs p
WHERE p.status = 'failed'
  AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs r WHERE r.retry_of = p.pair_id);
COMMENT ON VIEW buildtrace.dead_letters IS
    'Failed pairs not yet retried, with their problems and the stored sizes of their versions.';
GRANT SELECT ON buildtrace.dead_letters TO buildtrace_reader;

-- A stored change set as the API shows it: the diff's keys, plus drawing_id,
-- pair_id, job_id and computed_at.
CREATE FUNCTION buildtrace._change_set(c buildtrace.changes)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN c.diff || jsonb_build_object('drawing_id', c.drawing_id, 'pair_id', c.pair_id,
                                    'job_id', c.job_id, 'computed_at', c.computed_at);

-- GET /changes?drawing_id=…: the latest change set of a drawing (the diff's
-- keys, plus drawing_id, pair_id, job_id and computed_at).
--
-- Like every read function it runs with the caller's rights, so row-level
-- security shows it the caller's tenant's drawings only.
CREATE OR REPLACE FUNCTION buildtrace.changes(drawing_id text)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    SELECT buildtrace._change_set(c) INTO result
    FROM buildtrace._latest_change_set(changes.drawing_id) c
    WHERE c.pair_id IS NOT NULL;
    IF result IS NULL THEN
        PERFORM buildtrace._no_changes(changes.drawing_id);
    END IF;
    RETURN result;
END
$$;

DROP FUNCTION buildtrace.report(text);

-- The first lines of a job's report: its pairs by status, and what changed.
CREATE FUNCTION buildtrace._job_totals(job text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format(E'%s pair%s: %s done, %s failed, %s pending.\n'
                  'Objects: %s added, %s removed, %s moved, %s resized, %s retyped, %s modified, '
                  '%s rotated, %s re-identified, %s unchanged.',
                  count(*), CASE WHEN count(*) = 1 THEN '' ELSE 's' END,
                  count(*) FILTER (WHERE p.status = 'done'), count(*) FILTER (WHERE p.status = 'failed'),
                  count(*) FILTER (WHERE p.status = 'pending'),
                  coalesce(sum(c.added), 0), coalesce(sum(c.removed), 0), coalesce(sum(c.moved), 0),
                  coalesce(sum(c.resized), 0), coalesce(sum(c.retyped), 0), coalesce(sum(c.modified), 0),
                  coalesce(sum(c.rotated), 0), coalesce(sum(c.reidentified), 0),
                  coalesce(sum(c.unchanged), 0))
    FROM buildtrace.pairs p
    LEFT JOIN buildtrace.changes c ON c.pair_id = p.pair_id
    WHERE p.job_id = job
$$;

-- One pair's part of a job's report.
CREATE FUNCTION buildtrace._pair_report(p buildtrace.pairs)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT concat_ws(E'\n',
               format('Drawing %s, pair %s:', p.drawing_id, p.pair_id),
               CASE WHEN p.from_version IS NOT NULL THEN
                   format('  Compared with the previous version %s (job %s).', p.from_version,
                          coalesce((SELECT prev.job_id FROM buildtrace.versions prev
                                    WHERE prev.version_id = p.from_version), 'none'))
               END,
               CASE p.status
                   WHEN 'pending' THEN '  Status: pending, not processed yet.'
                   WHEN 'failed' THEN concat_ws(E'\n',
                       '  Status: failed, the versions could not be compared.',
                       (SELECT string_agg(format('  Problem: %s. %s', e ->> 'message', e ->> 'detail'),
                                   E'\n' ORDER BY o)
                        FROM jsonb_array_elements(p.error) WITH ORDINALITY AS x(e, o)))
                   ELSE (SELECT concat_ws(E'\n',
                             '  Status: done, changes and metrics stored.',
                             '  Added: ' || buildtrace._id_list(c.diff -> 'added'),
                             '  Removed: ' || buildtrace._id_list(c.diff -> 'removed'),
                             '  Moved: ' || buildtrace._id_list(c.diff -> 'moved'),
                             '  Resized: ' || buildtrace._id_list(c.diff -> 'resized'),
                             '  Retyped: ' || buildtrace._id_list(c.diff -> 'retyped'),
                             '  Modified: ' || buildtrace._id_list(c.diff -> 'modified'),
                             '  Unchanged: ' || c.unchanged,
                             '  Summary: ' || c.summary)
                         FROM buildtrace.changes c WHERE c.pair_id = p.pair_id)
               END,
               '  Latency: ' || coalesce(p.latency_ms || ' ms', 'not reported'))
$$;

-- GET /report/{job_id}: the human-readable report for one job: its totals,
-- then for each of its first max_pairs pairs what changed against the
-- previous version, then how many pairs were left out.
CREATE FUNCTION buildtrace.report(job_id text, max_pairs integer DEFAULT 50)
RETURNS text
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n_pairs bigint;
    n_unpaired bigint;
    pair_lines text;
    unpaired_lines text;
BEGIN
    IF max_pairs < 1 THEN
        RAISE EXCEPTION 'report must show at least one pair' USING ERRCODE = '22023',
            DETAIL = format('Argument "max_pairs" is %s.', max_pairs);
    END IF;
    SELECT count(*) INTO n_pairs FROM buildtrace.pairs p WHERE p.job_id = report.job_id;
    -- The job's versions that no pair compares with an earlier one: mostly
    -- the first version of a drawing.
    SELECT count(*) INTO n_unpaired FROM buildtrace.versions v
    WHERE v.job_id = report.job_id
      AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs p WHERE p.to_version = v.version_id);
    IF n_pairs = 0 AND n_unpaired = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = format('unknown job "%s"', buildtrace._id_shown(report.job_id)),
            DETAIL = 'No pair or version with this job_id has been stored.';
    END IF;
    SELECT string_agg(buildtrace._pair_report(p), E'\n' ORDER BY p.pair_id) INTO pair_lines
    FROM (SELECT * FROM buildtrace.pairs p WHERE p.job_id = report.job_id
          ORDER BY p.pair_id LIMIT max_pairs) p;
    SELECT string_agg(format('Drawing %s, version %s: %s', v.drawing_id, v.version_id,
                             CASE WHEN EXISTS (SELECT 1 FROM buildtrace.versions o
                                               WHERE o.drawing_id = v.drawing_id
                                                 AND (o.uploaded_at, o.version_id) < (v.uploaded_at, v.version_id))
                                  THEN 'no pair compares it with an earlier version (one dated before it came later, or purge() removed its pair).'
                                  ELSE 'first version of the drawing, nothing to compare it with.' END),
                      E'\n' ORDER BY v.version_id) INTO unpaired_lines
    FROM (SELECT * FROM buildtrace.versions v
          WHERE v.job_id = report.job_id
            AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs p WHERE p.to_version = v.version_id)
          ORDER BY v.version_id LIMIT max_pairs) v;
    RETURN concat_ws(E'\n', format('BuildTrace report for job %s', report.job_id),
                     CASE WHEN n_pairs > 0 THEN buildtrace._job_totals(report.job_id) END,
                     pair_lines,
                     CASE WHEN n_pairs > max_pairs THEN
                         format('… and %s more pair%s: buildtrace.report(%L, max_pairs => %s) shows them all.',
                                n_pairs - max_pairs, CASE WHEN n_pairs - max_pairs = 1 THEN '' ELSE 's' END,
                                report.job_id, n_pairs) END,
                     unpaired_lines,
                     CASE WHEN n_unpaired > max_pairs THEN
                         format('… and %s more version%s without a pair: buildtrace.report(%L, max_pairs => %s) shows them all.',
                                n_unpaired - max_pairs, CASE WHEN n_unpaired - max_pairs = 1 THEN '' ELSE 's' END,
                                report.job_id, n_unpaired) END);
END
$$;

REVOKE ALL ON FUNCTION buildtrace.report(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.report(text, integer) TO buildtrace_reader;

-- ---------------------------------------------------------------------------
-- History: every processed pair of a drawing, one past change set, and the
-- payloads of a failed pair (which dead_letters leaves out).
-- ---------------------------------------------------------------------------

-- One row per processed pair, done or failed: when, which versions, the
-- counts, and the summary (for a failed pair, its first problem).
CREATE VIEW buildtrace.drawing_history WITH (security_invoker = true) AS
SELECT p.drawing_id, p.pair_id, p.job_id, p.processed_at, p.status,
       p.from_version, p.to_version,
       c.added, c.removed, c.moved, c.resized, c.retyped, c.modified, c.rotated,
       c.reidentified, c.unchanged, c.total,
       coalesce(c.summary, concat_ws(': ', p.error -> 0 ->> 'message', p.error -> 0 ->> 'detail'))
           AS summary
FROM buildtrace.pairs p
LEFT JOIN buildtrace.changes c ON c.pair_id = p.pair_id
WHERE p.status <> 'pending';
COMMENT ON VIEW buildtrace.drawing_history IS
    'Every processed pair (done or failed) with its versions, counts and summary.';

-- The history of one drawing, oldest first, processed in [since, until).
-- Runs with the caller's rights: the reader role reads the view.
CREATE FUNCTION buildtrace.history(drawing_id text, since timestamptz DEFAULT NULL,
                                   until timestamptz DEFAULT NULL)
RETURNS SETOF buildtrace.drawing_history
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF since > until THEN
        RAISE EXCEPTION 'history window ends before it starts' USING ERRCODE = '22023',
            DETAIL = format('Argument "since" is %s, "until" is %s.', since, until);
    END IF;
    RETURN QUERY
    SELECT h.* FROM buildtrace.drawing_history h
    WHERE h.drawing_id = history.drawing_id
      AND (history.since IS NULL OR h.processed_at >= history.since)
      AND (history.until IS NULL OR h.processed_at < history.until)
    ORDER BY h.processed_at, h.pair_id;
END
$$;
COMMENT ON FUNCTION buildtrace.history(text, timestamptz, timestamptz) IS
    'The processed pairs of a drawing, oldest first, optionally within [since, until).';

-- GET /changes?drawing_id=…&pair_id=…: one past change set of a drawing, in
-- the shape of changes(drawing_id).
CREATE FUNCTION buildtrace.changes(drawing_id text, pair_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    result jsonb;
BEGIN
    SELECT buildtrace._change_set(c) INTO result
    FROM buildtrace.changes c
    WHERE c.drawing_id = changes.drawing_id AND c.pair_id = changes.pair_id;
    IF result IS NULL THEN
        RAISE EXCEPTION 'drawing "%" has no change set of pair %', buildtrace._id_shown(changes.drawing_id), changes.pair_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = buildtrace._pair_standing(changes.pair_id),
                  HINT = 'buildtrace.history(drawing_id) lists the processed pairs of a drawing.';
    END IF;
    RETURN result;
END
$$;

-- The stored versions of a failed pair, to correct and resubmit them.
CREATE FUNCTION buildtrace.dead_letter_payloads(pair_id bigint,
                                                OUT version_a jsonb, OUT version_b jsonb)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    SELECT p.version_a, p.version_b INTO version_a, version_b
    FROM buildtrace.pairs p
    WHERE p.pair_id = dead_letter_payloads.pair_id AND p.status = 'failed';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'pair % is not a failed pair', dead_letter_payloads.pair_id
            USING ERRCODE = 'no_data_found',
                  DETAIL = buildtrace._pair_standing(dead_letter_payloads.pair_id),
                  HINT = 'buildtrace.dead_letters lists the failed pairs.';
    END IF;
END
$$;

REVOKE ALL ON FUNCTION buildtrace.history(text, timestamptz, timestamptz),
    buildtrace.changes(text, bigint), buildtrace.dead_letter_payloads(bigint) FROM PUBLIC;
GRANT SELECT ON buildtrace.drawing_history TO buildtrace_reader;
GRANT EXECUTE ON FUNCTION buildtrace.history(text, timestamptz, timestamptz),
                          buildtrace.changes(text, bigint), buildtrace.dead_letter_payloads(bigint)
    TO buildtrace_reader;

-- ---------------------------------------------------------------------------
-- Samples for Prometheus, scraped by prometheus-postgres-exporter with the
-- queries of monitoring/postgres-exporter-queries.yaml (alerting rules in
-- monitoring/buildtrace-alerts.yml).
-- ---------------------------------------------------------------------------

-- The samples of one family: (label, value) rows, label NULL for a family
-- of one sample. Windows are the rollups' "last hour" (the latency view's),
-- so a scrape's cost does not grow with history. Every tenant's rows count:
-- SECURITY DEFINER so that the exporter's login, given buildtrace_monitor,
-- sees all of them without a table privilege or BYPASSRLS. It returns sums
-- only (no drawing, job or tenant names), its search_path is pinned, names
-- are qualified.
CREATE FUNCTION buildtrace.prometheus_samples(family text)
RETURNS TABLE (label text, value float8)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    recent timestamptz := buildtrace._window_start(interval '1 hour');
    -- every kind has a sample, 0 when there is none
    anomaly_kinds text[] := ARRAY['change_spike', 'invalid_input', 'missing_upload', 'delayed_upload',
                                  'stale_pending', 'volume_spike', 'processing_failed'];
BEGIN
    CASE family
    WHEN 'pairs_last_hour' THEN           -- by outcome
        RETURN QUERY
        SELECT s.outcome, coalesce(sum(CASE s.outcome WHEN 'done' THEN r.pairs ELSE r.failed END), 0)::float8
        FROM (VALUES ('done'), ('failed')) s(outcome)
        LEFT JOIN buildtrace.hourly_rollups r ON r.hour >= recent
        GROUP BY s.outcome;
    WHEN 'objects_changed_last_hour' THEN -- by kind
        RETURN QUERY
        SELECT k.kind, coalesce(sum(CASE k.kind WHEN 'added' THEN r.added WHEN 'removed' THEN r.removed
                                                WHEN 'moved' THEN r.moved WHEN 'resized' THEN r.resized
                                                WHEN 'retyped' THEN r.retyped WHEN 'modified' THEN r.modified
                                                WHEN 'rotated' THEN r.rotated
                                                ELSE r.reidentified END), 0)::float8
        FROM buildtrace._chart_kinds() k
        LEFT JOIN buildtrace.hourly_rollups r ON r.hour >= recent
        GROUP BY k.kind;
    WHEN 'pending_pairs' THEN
        RETURN QUERY SELECT NULL::text, count(*)::float8 FROM buildtrace.pairs p WHERE p.status = 'pending';
    WHEN 'pending_oldest_age_seconds' THEN
        -- a time its owner wrote may be infinite: no age
        RETURN QUERY SELECT NULL::text, coalesce(extract(epoch FROM now() - min(p.submitted_at)), 0)::float8
                     FROM buildtrace.pairs p WHERE p.status = 'pending' AND isfinite(p.submitted_at);
    WHEN 'dead_letters' THEN
        RETURN QUERY SELECT NULL::text, count(*)::float8 FROM buildtrace.dead_letters;
    WHEN 'open_anomalies' THEN            -- by kind, every kind present
        RETURN QUERY
        SELECT k.kind, count(a.anomaly_id)::float8
        FROM unnest(anomaly_kinds) k(kind)
        LEFT JOIN buildtrace.anomalies a ON a.kind = k.kind AND a.resolved_at IS NULL
        GROUP BY k.kind;
    WHEN 'anomalies_last_hour' THEN       -- by kind, every kind present
        -- detected in the window, open or not: a delayed upload is recorded
        -- resolved (the upload did come), and alerts only through this
        RETURN QUERY
        SELECT k.kind, count(a.anomaly_id)::float8
        FROM unnest(anomaly_kinds) k(kind)
        LEFT JOIN buildtrace.anomalies a ON a.kind = k.kind AND a.detected_at >= recent
        GROUP BY k.kind;
    WHEN 'processing_latency_ms', 'processing_latency_ms_lower', 'processing_latency_ms_upper' THEN
        RETURN QUERY                      -- by quantile
        SELECT q.q::text, CASE family WHEN 'processing_latency_ms' THEN b.estimate
                                      WHEN 'processing_latency_ms_lower' THEN b.lower
                                      ELSE b.upper END
        FROM (SELECT buildtrace.bt_sketch_merge(r.processing_ms) AS sketch
              FROM buildtrace.hourly_rollups r WHERE r.hour >= recent) m,
             unnest(ARRAY[0.5, 0.95, 0.99]::float8[]) q(q),
             LATERAL buildtrace.bt_sketch_quantile_bounds(m.sketch, q.q) b;
    WHEN 'check_last_run_age_seconds' THEN -- by scheduled job
        RETURN QUERY SELECT c.job_name, extract(epoch FROM now() - greatest(c.last_start, c.scheduled_at))::float8
                     FROM buildtrace._cron_runs() c;
    WHEN 'check_interval_seconds' THEN    -- by scheduled job: its cadence
        RETURN QUERY SELECT c.job_name, extract(epoch FROM c.every)::float8
                     FROM buildtrace._cron_runs() c;
    WHEN 'health_status' THEN             -- 0 healthy, 1 degraded, 2 unhealthy
        RETURN QUERY SELECT NULL::text, CASE buildtrace.health() ->> 'status' WHEN 'healthy' THEN 0
                                                                         WHEN 'degraded' THEN 1 ELSE 2 END::float8;
    ELSE
        RAISE EXCEPTION 'unknown Prometheus sample family %', coalesce('"' || family || '"', 'NULL') USING ERRCODE = '22023',
            DETAIL = 'A family is the name of a buildtrace series without "buildtrace_", such as "pending_pairs".',
            HINT = 'The families are the queries of monitoring/postgres-exporter-queries.yaml.';
    END CASE;
END
$$;
COMMENT ON FUNCTION buildtrace.prometheus_samples(text) IS
    'The samples of one metric family for prometheus-postgres-exporter (monitoring/postgres-exporter-queries.yaml).';

REVOKE ALL ON FUNCTION buildtrace.prometheus_samples(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.prometheus_samples(text) TO buildtrace_monitor;

-- ---------------------------------------------------------------------------
-- Retention: pairs (with their change sets and anomalies) and versions older
-- than buildtrace.keep_pairs / buildtrace.keep_versions go away in batches,
-- each batch its own transaction, so that inserts never wait behind a long
-- delete. Dead letters go only once buildtrace.keep_dead_letters allows it;
-- hourly rollups keep the metrics of purged hours until
-- buildtrace.keep_rollups ends them.
-- ---------------------------------------------------------------------------

-- The newest processed_at of the pairs purge() removed (one row, once it
-- removed one): the rollups of that hour and earlier ones count pairs that
-- are gone, so rebuild_rollups() keeps them as they are.
CREATE TABLE buildtrace.purge_horizon (
    only_row               boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    pairs_processed_until  timestamptz NOT NULL
);
COMMENT ON TABLE buildtrace.purge_horizon IS
    'Internal: the newest processed_at of a pair purge() removed; rebuild_rollups() keeps the rollups up to its hour.';

-- What a purge looks up, by index: the pairs processed before its cutoff,
-- and the pairs made of a version it deletes (whose from_version or
-- to_version the foreign keys set to NULL). Without them every run read
-- every pair kept, and every version deleted every pair of its drawing.
CREATE INDEX pairs_processed_idx ON buildtrace.pairs (processed_at);
CREATE INDEX pairs_from_version_idx ON buildtrace.pairs (from_version) WHERE from_version IS NOT NULL;
CREATE INDEX pairs_to_version_idx ON buildtrace.pairs (to_version) WHERE to_version IS NOT NULL;
-- And the versions uploaded before its cutoff, and the resolved anomalies
-- of no pair (upload checks, volume spikes): a scan of each table before.
CREATE INDEX versions_uploaded_idx ON buildtrace.versions (uploaded_at);
CREATE INDEX anomalies_resolved_unpaired_idx ON buildtrace.anomalies (resolved_at)
    WHERE pair_id IS NULL AND resolved_at IS NOT NULL;

-- The retries of the given pairs, and theirs, and so on: each with when it
-- was processed, its status, and whether it was retried in turn.
CREATE FUNCTION buildtrace._retries(pair_ids bigint[])
RETURNS TABLE (pair_id bigint, processed_at timestamptz, status text, retried boolean)
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE chain AS (
        SELECT r.pair_id, r.processed_at, r.status FROM buildtrace.pairs r
        WHERE r.retry_of = ANY (pair_ids)
        UNION ALL
        SELECT r.pair_id, r.processed_at, r.status FROM buildtrace.pairs r
        JOIN chain c ON r.retry_of = c.pair_id)
    SELECT c.pair_id, c.processed_at, c.status,
           EXISTS (SELECT 1 FROM buildtrace.pairs n WHERE n.retry_of = c.pair_id)
    FROM chain c
$$;

-- Whether a dead letter may be purged with its retries: it was retried, and
-- every retry was processed before cutoff (a pending one, not processed
-- yet, keeps the chain) and is no dead letter waiting in turn.
CREATE FUNCTION buildtrace._retries_purgeable(pair_id bigint, cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(bool_and(coalesce(r.processed_at < cutoff, false)
                                 AND (r.status <> 'failed' OR r.retried)), false)
        FROM buildtrace._retries(ARRAY[pair_id]) r);

-- Whether a dead letter may go as one no retry fixed: every retry of it, if
-- any, failed as well, before cutoff (a pending one keeps the chain).
CREATE FUNCTION buildtrace._retries_failed_before(pair_id bigint, cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT coalesce(bool_and(coalesce(r.processed_at < cutoff, false) AND r.status = 'failed'), true)
        FROM buildtrace._retries(ARRAY[pair_id]) r);

-- Whether purge may remove a pair that is no retry, processed before
-- cutoff, as far as what it retried goes: a pair that did not fail; a dead
-- letter whose retries may go with it; or, before dead_letters_cutoff, a
-- dead letter no retry fixed.
CREATE FUNCTION buildtrace._chain_purgeable(pair_id bigint, status text, processed_at timestamptz,
                                            cutoff timestamptz, dead_letters_cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN status <> 'failed'
       OR buildtrace._retries_purgeable(pair_id, cutoff)
       OR coalesce(processed_at < dead_letters_cutoff
                   AND buildtrace._retries_failed_before(pair_id, dead_letters_cutoff), false);

-- Rows another transaction holds locked (a writer's pair naming one as its
-- retry_of or from_version, say) are left to a later batch by each of the
-- _purge_* functions below, which delete at most batch_size rows older than
-- cutoff, oldest first, and return how many they deleted.

-- The first n pairs by pair_id (past pair_id after, unless it is NULL)
-- that a batch may take, locked: processed before cutoff, and no retry (a
-- retry goes with the pair it retries, and a retried dead letter once its
-- retries may go: a retry whose dead letter went would read as an upload
-- of its own); not a dead letter that waits to be retried (it is what was
-- submitted) unless it and its retries all failed before
-- dead_letters_cutoff; nor a drawing's latest pair sent directly (its last
-- upload, which check_uploads() measures the next one against).
CREATE FUNCTION buildtrace._pairs_purgeable(cutoff timestamptz, dead_letters_cutoff timestamptz,
                                            after bigint, n integer)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN ARRAY(
        SELECT o.pair_id FROM buildtrace.pairs o
        WHERE o.processed_at < cutoff
          AND o.retry_of IS NULL
          AND (after IS NULL OR o.pair_id > after)
          -- (a pair that did not fail tested here too: a call for each pair
          -- made a batch a sixth slower)
          AND (o.status <> 'failed'
               OR buildtrace._chain_purgeable(o.pair_id, o.status, o.processed_at,
                                              cutoff, dead_letters_cutoff))
          AND NOT (NOT o.made_from_versions
                   AND NOT EXISTS (
                       SELECT 1 FROM buildtrace.pairs l
                       WHERE l.drawing_id = o.drawing_id
                         AND NOT l.made_from_versions
                         AND l.retry_of IS NULL
                         AND (l.submitted_at, l.pair_id) > (o.submitted_at, o.pair_id)
                         AND l.submitted_at <= now()))
        ORDER BY o.pair_id LIMIT n
        FOR UPDATE SKIP LOCKED);
END
$$;

-- The pairs of the next batch, batch_size of them unless fewer are left,
-- locked.
CREATE FUNCTION buildtrace._pairs_to_purge(cutoff timestamptz, batch_size integer,
                                           dead_letters_cutoff timestamptz)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    kept   bigint[] := '{}';
    batch  bigint[];
    locked bigint[];
    wanted integer;
    after  bigint;
BEGIN
    -- no dead letter goes before keep_pairs, nor any retry of one
    IF dead_letters_cutoff > cutoff THEN
        dead_letters_cutoff := cutoff;
    END IF;
    IF dead_letters_cutoff IS NULL THEN
        RETURN buildtrace._pairs_purgeable(cutoff, NULL, NULL, batch_size);
    END IF;
    -- A chain taken as dead letters ends in a failed pair, which may be
    -- retried at any moment: a retry committed after the snapshot that chose
    -- it and before the lock would be deleted with it, or left as an upload
    -- of its own. So lock the chains' retries (inserting a retry takes a
    -- key-share lock on the pair it retries: none can commit now), then
    -- judge the failed pairs again in this statement's new snapshot, which
    -- sees every retry committed before the locks; a chain with a retry not
    -- locked here, new or held by another transaction, waits for a later
    -- run. A pair that did not fail has no retries. The pairs after a chain
    -- left out fill its place, so that a short batch still means that no
    -- more are left (purge() stops at one).
    LOOP
        wanted := batch_size - cardinality(kept);
        batch := buildtrace._pairs_purgeable(cutoff, dead_letters_cutoff, after, wanted);
        locked := ARRAY(SELECT p.pair_id FROM buildtrace.pairs p
                        WHERE p.pair_id = ANY (ARRAY(SELECT r.pair_id FROM buildtrace._retries(batch) r))
                        FOR UPDATE SKIP LOCKED);
        kept := kept || ARRAY(
            SELECT o.pair_id FROM buildtrace.pairs o
            WHERE o.pair_id = ANY (batch)
              AND (o.status <> 'failed'
                   OR (buildtrace._chain_purgeable(o.pair_id, o.status, o.processed_at,
                                                   cutoff, dead_letters_cutoff)
                       AND NOT EXISTS (SELECT 1 FROM buildtrace._retries(ARRAY[o.pair_id]) r
                                       WHERE r.pair_id <> ALL (locked))))
            ORDER BY o.pair_id);
        EXIT WHEN cardinality(batch) < wanted OR cardinality(kept) = batch_size;
        after := batch[cardinality(batch)];
    END LOOP;
    RETURN kept;
END
$$;

-- A batch of pairs (their changes and anomalies follow by foreign key) with
-- their retries, and the horizon moved to the newest.
CREATE FUNCTION buildtrace._purge_pairs(cutoff timestamptz, batch_size integer,
                                        dead_letters_cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    batch  bigint[];
    n      bigint;
    newest timestamptz;
BEGIN
    -- before deleting: rebuild_rollups() must see the horizon move with it
    LOCK TABLE buildtrace.purge_horizon IN ROW EXCLUSIVE MODE;
    batch := buildtrace._pairs_to_purge(cutoff, batch_size, dead_letters_cutoff);
    -- found by key (an OR of two IN lists read every pair kept)
    WITH gone AS (
        DELETE FROM buildtrace.pairs p
        WHERE p.pair_id = ANY (batch || ARRAY(SELECT r.pair_id FROM buildtrace._retries(batch) r))
        RETURNING p.processed_at)
    SELECT count(*), max(gone.processed_at) INTO n, newest FROM gone;
    IF n > 0 THEN
        INSERT INTO buildtrace.purge_horizon AS h (pairs_processed_until) VALUES (newest)
        ON CONFLICT (only_row) DO UPDATE
        SET pairs_processed_until = greatest(h.pairs_processed_until,
                                             excluded.pairs_processed_until);
    END IF;
    RETURN n;
END
$$;

-- A batch of versions that are not the latest of their drawing uploaded by
-- now (the next upload is paired with that one, not with a version dated in
-- the future).
CREATE FUNCTION buildtrace._purge_versions(cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM buildtrace.versions v
    WHERE v.version_id IN (
        SELECT o.version_id FROM buildtrace.versions o
        WHERE o.uploaded_at < cutoff
          AND EXISTS (SELECT 1 FROM buildtrace.versions l
                      WHERE l.drawing_id = o.drawing_id
                        AND (l.uploaded_at, l.version_id) > (o.uploaded_at, o.version_id)
                        AND l.uploaded_at <= now())
        ORDER BY o.uploaded_at, o.version_id LIMIT batch_size
        FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A batch of resolved anomalies of no pair (an anomaly of a pair goes with it).
CREATE FUNCTION buildtrace._purge_anomalies(cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    DELETE FROM buildtrace.anomalies a
    WHERE a.anomaly_id IN (SELECT o.anomaly_id FROM buildtrace.anomalies o
                           WHERE o.pair_id IS NULL AND o.resolved_at < cutoff
                           ORDER BY o.resolved_at, o.anomaly_id LIMIT batch_size
                           FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- A batch of rollups of hours before both cutoff and the purge horizon's
-- hour: a later hour may still have pairs, whose rollups rebuild_rollups()
-- would write again.
CREATE FUNCTION buildtrace._purge_rollups(cutoff timestamptz, batch_size integer)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    horizon_hour timestamptz;
    n bigint;
BEGIN
    SELECT date_trunc('hour', h.pairs_processed_until, 'UTC') INTO horizon_hour
    FROM buildtrace.purge_horizon h;
    -- no pair purged yet: every hour's rollups can be rebuilt
    IF horizon_hour IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM buildtrace.hourly_rollups r
    WHERE (r.hour, r.drawing_id) IN (
        SELECT o.hour, o.drawing_id FROM buildtrace.hourly_rollups o
        WHERE o.hour < cutoff AND o.hour < horizon_hour
        ORDER BY o.hour, o.drawing_id LIMIT batch_size
        FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- One batch of what ('pairs', 'versions', 'anomalies' or 'rollups').
CREATE FUNCTION buildtrace._purge_batch(what text, cutoff timestamptz, batch_size integer,
                                        dead_letters_cutoff timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    CASE what
    WHEN 'pairs' THEN
        RETURN buildtrace._purge_pairs(cutoff, batch_size, dead_letters_cutoff);
    WHEN 'versions' THEN
        RETURN buildtrace._purge_versions(cutoff, batch_size);
    WHEN 'anomalies' THEN
        RETURN buildtrace._purge_anomalies(cutoff, batch_size);
    WHEN 'rollups' THEN
        RETURN buildtrace._purge_rollups(cutoff, batch_size);
    END CASE;
END
$$;

-- pg_cron keeps a row for every run of every job and removes none: 576 a day
-- for buildtrace's two jobs at five minutes, which health() and every
-- Prometheus scrape search for each job's latest run. purge() removes the
-- runs of buildtrace's jobs in this database that ended more than a week
-- ago (health() reads the latest run only); other jobs' runs are their
-- owners'. A role other than a superuser removes its own jobs' runs only
-- (pg_cron's row policy). Nothing without pg_cron.
CREATE FUNCTION buildtrace._purge_cron_runs()
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN 0;
    END IF;
    -- Where pg_cron's DELETE privilege was taken from the role, the purge
    -- itself, committed already, must not be reported as a failed run.
    -- (Checked ahead, not caught: an exception block would keep every
    -- function that reaches this one from being parallel safe.)
    IF NOT has_schema_privilege('cron', 'USAGE')
       OR NOT has_table_privilege('cron.job_run_details', 'DELETE') THEN
        RAISE WARNING 'could not remove old runs of buildtrace''s pg_cron jobs'
            USING DETAIL = format('Role %I may not delete from cron.job_run_details.', current_user),
                  HINT = 'GRANT DELETE ON cron.job_run_details to the role that runs purge().';
        RETURN 0;
    END IF;
    EXECUTE 'DELETE FROM cron.job_run_details d
             WHERE d.jobid IN (SELECT j.jobid FROM buildtrace._cron_jobs() j)
               AND d.end_time < now() - interval ''7 days''';
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- Removes what the settings no longer keep, batch_size rows a transaction,
-- and returns how many of each it removed; then the week-old runs of
-- buildtrace's pg_cron jobs. pg_cron runs it at the checks'
-- cadence once schedule() is called, so each run removes little.
--
-- A procedure, for its commits, which rule out a SET clause: instead every
-- name is qualified and the work is done by _purge_batch, whose search_path
-- is pinned. Run as its owner (pg_cron's job) or a superuser: row-level
-- security would leave it other tenants' rows.
CREATE PROCEDURE buildtrace.purge(batch_size integer DEFAULT 10000,
                                  INOUT pairs bigint DEFAULT NULL,
                                  INOUT versions bigint DEFAULT NULL,
                                  INOUT anomalies bigint DEFAULT NULL,
                                  INOUT rollups bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    what pg_catalog.text;
    keep interval;
    keep_pairs interval;
    keep_versions interval;
    keep_dead_letters interval;
    keep_rollups interval;
    dead_letters_cutoff pg_catalog.timestamptz;
    removed bigint;
    n bigint;
BEGIN
    IF batch_size IS NULL OR batch_size OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'purge batch size must be at least 1' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Argument "batch_size" is %s.', coalesce(batch_size::pg_catalog.text, 'null'));
    END IF;
    -- The settings as the caller's transaction has them (a calling
    -- procedure's SET LOCAL among them): the first commit ends it.
    keep_pairs := buildtrace.setting('buildtrace.keep_pairs'::pg_catalog.text)::interval;
    keep_versions := buildtrace.setting('buildtrace.keep_versions'::pg_catalog.text)::interval;
    keep_dead_letters := buildtrace.setting('buildtrace.keep_dead_letters'::pg_catalog.text)::interval;
    keep_rollups := buildtrace.setting('buildtrace.keep_rollups'::pg_catalog.text)::interval;
    IF keep_dead_letters OPERATOR(pg_catalog.>) interval '0' THEN
        dead_letters_cutoff := buildtrace._utc_ago(keep_dead_letters);
    END IF;
    -- Refused inside a transaction block (2D000) whether or not there is
    -- anything to remove, not only when there is.
    COMMIT;
    -- rollups last: the pairs' batches move the horizon they stop at
    FOREACH what IN ARRAY ARRAY['pairs', 'versions', 'anomalies', 'rollups']::pg_catalog.text[] LOOP
        IF what OPERATOR(pg_catalog.=) 'versions' THEN
            keep := keep_versions;
        ELSIF what OPERATOR(pg_catalog.=) 'rollups' THEN
            keep := keep_rollups;
        ELSE
            keep := keep_pairs;
        END IF;
        removed := 0;
        IF keep OPERATOR(pg_catalog.>) interval '0' THEN
            LOOP
                n := buildtrace._purge_batch(what, buildtrace._utc_ago(keep),
                                             batch_size, dead_letters_cutoff);
                removed := removed OPERATOR(pg_catalog.+) n;
                COMMIT;
                EXIT WHEN n OPERATOR(pg_catalog.<) batch_size;
            END LOOP;
        END IF;
        IF what OPERATOR(pg_catalog.=) 'pairs' THEN
            pairs := removed;
        ELSIF what OPERATOR(pg_catalog.=) 'versions' THEN
            versions := removed;
        ELSIF what OPERATOR(pg_catalog.=) 'anomalies' THEN
            anomalies := removed;
        ELSE
            rollups := removed;
        END IF;
    END LOOP;
    PERFORM buildtrace._purge_cron_runs();
    COMMIT;
END
$$;
COMMENT ON PROCEDURE buildtrace.purge(integer, bigint, bigint, bigint, bigint) IS
    'Removes pairs, versions, resolved anomalies, dead letters and rollups older than buildtrace.keep_pairs / keep_versions / keep_dead_letters / keep_rollups, in committed batches, then buildtrace''s pg_cron job runs older than a week.';

REVOKE ALL ON buildtrace.purge_horizon FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._purge_batch(text, timestamptz, integer, timestamptz),
    buildtrace._pairs_purgeable(timestamptz, timestamptz, bigint, integer),
    buildtrace._pairs_to_purge(timestamptz, integer, timestamptz),
    buildtrace._purge_pairs(timestamptz, integer, timestamptz),
    buildtrace._purge_versions(timestamptz, integer),
    buildtrace._purge_anomalies(timestamptz, integer),
    buildtrace._purge_rollups(timestamptz, integer),
    buildtrace._purge_cron_runs() FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._retries(bigint[]),
    buildtrace._chain_purgeable(bigint, text, timestamptz, timestamptz, timestamptz),
    buildtrace._retries_purgeable(bigint, timestamptz),
    buildtrace._retries_failed_before(bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON PROCEDURE buildtrace.purge(integer, bigint, bigint, bigint, bigint) FROM PUBLIC;

-- A NULL drawing_prefix is no prefix (the drawing ids were NULL).
-- A drawing id: prefix (none if NULL) and a number of at least four digits.
CREATE OR REPLACE FUNCTION buildtrace._sim_drawing_id(prefix text, d int)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(prefix, '') || CASE WHEN d < 10000 THEN lpad(d::text, 4, '0') ELSE d::text END;

-- The simulator refuses a spike_factor of NaN (NaN < 1 is false).
CREATE OR REPLACE FUNCTION buildtrace._sim_check_args(what text, n int, objects int, change_rate float8,
                                           malformed_rate float8, spike_factor float8)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
BEGIN
    IF n IS NULL OR n < 0 THEN
        RAISE EXCEPTION '% must be zero or more', what
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(n::text, 'null'));
    END IF;
    IF objects IS NULL OR objects < 1 OR objects > 1000000 THEN
        RAISE EXCEPTION 'objects must be between 1 and 1000000'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(objects::text, 'null'));
    END IF;
    IF change_rate IS NULL OR NOT change_rate BETWEEN 0 AND 0.5 THEN
        RAISE EXCEPTION 'change_rate must be between 0 and 0.5'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(change_rate::text, 'null')),
                  HINT = 'change_rate is the share of objects each change kind affects; removals cannot exceed half and leave objects to move, resize, retype and edit.';
    END IF;
    IF malformed_rate IS NULL OR NOT malformed_rate BETWEEN 0 AND 1 THEN
        RAISE EXCEPTION 'malformed_rate must be between 0 and 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(malformed_rate::text, 'null'));
    END IF;
    IF spike_factor IS NULL OR spike_factor < 1 OR spike_factor = 'infinity' OR spike_factor = 'NaN' THEN
        RAISE EXCEPTION 'spike_factor must be a finite number of at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value given was %s.', coalesce(spike_factor::text, 'null'));
    END IF;
END
$fn$;

-- retry_failed(): a dead letter that cannot be retried is refused alone,
-- and retries keep their failed pair's tenant.
-- Inserts the retries of the listed dead letters, all of one tenant, in one
-- statement, each as a new pair of the failed pair's drawing, payloads and
-- tenant with retry_of = the failed pair. A dead letter retried meanwhile
-- (by a concurrent call) is skipped. Returns the new pairs' ids.
CREATE FUNCTION buildtrace._retry_dead_letters(dead bigint[])
RETURNS bigint[]
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH ins AS (
        INSERT INTO buildtrace.pairs
            (drawing_id, job_id, version_a, version_b, latency_ms,
             from_version, to_version, retry_of, tenant)
        SELECT p.drawing_id, p.job_id, p.version_a, p.version_b, p.latency_ms,
               p.from_version, p.to_version, p.pair_id, p.tenant
        FROM buildtrace.pairs p
        WHERE p.pair_id = ANY (_retry_dead_letters.dead)
          AND p.status = 'failed'
        ORDER BY p.pair_id
        ON CONFLICT (retry_of) WHERE retry_of IS NOT NULL DO NOTHING
        RETURNING pairs.pair_id)
    SELECT coalesce(array_agg(ins.pair_id), '{}') FROM ins;
END;

-- Retries the listed dead letters, all of one tenant, in one statement, or,
-- if that statement fails, one at a time, so that one that cannot be retried
-- (its drawing is another tenant's, say) is refused alone, with a warning,
-- and the others are retried. Errors that passing conditions cause
-- (resources, locks, serialization, shutdown) end the call instead: calling
-- it again then retries everything. Adds to retried and refused.
CREATE FUNCTION buildtrace._retry_group(dead bigint[], INOUT retried bigint[], INOUT refused bigint[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    one bigint;
BEGIN
    retried := retried || buildtrace._retry_dead_letters(dead);
EXCEPTION
    WHEN insufficient_resources OR system_error OR transaction_rollback
         OR lock_not_available OR operator_intervention THEN
        RAISE;
    WHEN OTHERS THEN
        IF cardinality(dead) = 1 THEN
            refused := refused || dead;
            RAISE WARNING 'dead letter % was not retried', dead[1]
                USING DETAIL = format('Retrying it failed with %s: %s.', SQLSTATE, SQLERRM);
        ELSE
            FOREACH one IN ARRAY dead LOOP
                SELECT g.retried, g.refused INTO retried, refused
                FROM buildtrace._retry_group(ARRAY[one], retried, refused) g;
            END LOOP;
        END IF;
END
$$;

-- Retries dead letters (all, or those listed, or those of one drawing) with
-- their stored payloads, e.g. after a setting or the diff was fixed. Each
-- retry is a new pair with retry_of = the failed pair, processed by the same
-- trigger; the failed pair, its problems and its (now resolved) anomaly stay
-- as history. To retry with corrected data instead, insert the corrected pair
-- yourself with retry_of set.
--
-- One group per tenant (the pipeline stores a statement's pairs under one
-- tenant); see _retry_group.
CREATE OR REPLACE FUNCTION buildtrace.retry_failed(pair_ids bigint[] DEFAULT NULL,
                                        drawing text DEFAULT NULL)
RETURNS TABLE (failed_pair_id bigint, retry_pair_id bigint, status text)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant_dead record;
    retried     bigint[] := '{}';
    refused     bigint[] := '{}';
BEGIN
    -- dead_letters, spelled out: the writer role has no access to views.
    FOR tenant_dead IN
        SELECT array_agg(p.pair_id ORDER BY p.pair_id) AS ids
        FROM buildtrace.pairs p
        WHERE p.status = 'failed'
          AND NOT EXISTS (SELECT 1 FROM buildtrace.pairs r WHERE r.retry_of = p.pair_id)
          AND (retry_failed.pair_ids IS NULL OR p.pair_id = ANY (retry_failed.pair_ids))
          AND (retry_failed.drawing IS NULL OR p.drawing_id = retry_failed.drawing)
        GROUP BY p.tenant
        ORDER BY p.tenant LOOP
        SELECT g.retried, g.refused INTO retried, refused
        FROM buildtrace._retry_group(tenant_dead.ids, retried, refused) g;
    END LOOP;

    -- A new statement, so it sees what the trigger wrote.
    RETURN QUERY
    SELECT p.retry_of, p.pair_id, p.status
    FROM buildtrace.pairs p
    WHERE p.pair_id = ANY (retried)
    UNION ALL
    SELECT r, NULL::bigint, 'refused'::text
    FROM unnest(refused) r
    ORDER BY 1;
END
$$;

REVOKE ALL ON FUNCTION buildtrace._retry_dead_letters(bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._retry_dead_letters(bigint[]) TO buildtrace_writer;
REVOKE ALL ON FUNCTION buildtrace._retry_group(bigint[], bigint[], bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace._retry_group(bigint[], bigint[], bigint[]) TO buildtrace_writer;

-- schedule() also registers the purge, and keeps the id of each job it
-- registers: health() reads the runs of those only.
ALTER TABLE buildtrace.scheduled_jobs ADD COLUMN jobid bigint;
-- The jobs schedule() registers, named and commanded in this one place.
CREATE FUNCTION buildtrace._cron_job_specs()
RETURNS TABLE (job_name text, command text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    VALUES ('buildtrace-check-uploads', 'SELECT buildtrace.check_uploads()'),
           ('buildtrace-purge', 'CALL buildtrace.purge()')
$$;

-- The pg_cron jobs in this database that bear the names of schedule()'s
-- jobs, whichever role's: the one place that says which jobs are
-- buildtrace's (health() reads the runs of those schedule() registered
-- only, scheduled_jobs.jobid). SECURITY DEFINER: pg_cron shows a role its
-- own jobs only, and schedule(), unschedule() and health() must see every
-- role's jobs of these names, to refuse a second set, to remove a dropped
-- role's and to read their runs. It returns ids, job names and role names,
-- nothing else; search_path is pinned.
CREATE FUNCTION buildtrace._cron_jobs()
RETURNS TABLE (jobid bigint, job_name text, username text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY EXECUTE
        'SELECT j.jobid, j.jobname::text, j.username::text FROM cron.job j
         WHERE j.jobname IN (SELECT c.job_name FROM buildtrace._cron_job_specs() c)
           AND j.database = current_database()';
END
$$;

REVOKE ALL ON FUNCTION buildtrace._cron_job_specs(), buildtrace._cron_jobs() FROM PUBLIC;

CREATE OR REPLACE FUNCTION buildtrace.schedule(every interval DEFAULT interval '5 minutes')
RETURNS TABLE (job_name text, cron_schedule text, command text, jobid bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    expr text := buildtrace._cron_expression(every);
    j record;
    other_roles text;
BEGIN
    PERFORM buildtrace._require_cron();
    INSERT INTO buildtrace.scheduled_jobs AS s (job_name, every, command)
    SELECT c.job_name, schedule.every, c.command FROM buildtrace._cron_job_specs() c
    ON CONFLICT ON CONSTRAINT scheduled_jobs_pkey
    DO UPDATE SET every = excluded.every, command = excluded.command,
                  scheduled_at = excluded.scheduled_at;
    -- pg_cron keeps a job per name and user: scheduled by a second role, the
    -- checks and purge would run twice, at two cadences, and health() could
    -- not tell which one scheduled_jobs describes.
    SELECT string_agg(DISTINCT c.username, ', ' ORDER BY c.username) INTO other_roles
    FROM buildtrace._cron_jobs() c WHERE c.username <> current_user;
    IF other_roles IS NOT NULL THEN
        RAISE EXCEPTION 'buildtrace''s jobs in this database are scheduled by role %', other_roles
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'pg_cron keeps one job per name and user; a second role''s jobs would run the checks and the purge twice.',
                  HINT = format('Call buildtrace.unschedule() as a superuser (it removes every role''s) or as %s first, or call schedule() as %s.',
                                other_roles, other_roles);
    END IF;

    -- What is scheduled, and as whom, is _cron_job_specs()'s alone: a role
    -- that may write scheduled_jobs (one granted schedule() must) could
    -- otherwise have the next caller's cron run a command of its choosing
    -- as that caller. A row it added is dropped.
    DELETE FROM buildtrace.scheduled_jobs s
    WHERE s.job_name NOT IN (SELECT c.job_name FROM buildtrace._cron_job_specs() c);
    FOR j IN SELECT c.job_name, c.command FROM buildtrace._cron_job_specs() c ORDER BY c.job_name LOOP
        job_name := j.job_name;
        cron_schedule := expr;
        command := j.command;
        -- pg_cron is optional, so it is called by name at run time only.
        EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO jobid USING j.job_name, expr, j.command;
        UPDATE buildtrace.scheduled_jobs s SET jobid = schedule.jobid WHERE s.job_name = j.job_name;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION buildtrace.schedule(interval) IS
    'Registers buildtrace''s periodic upload checks and purge with pg_cron at the given cadence; idempotent.';

-- Since 0.2.0: only the jobs schedule() registered (scheduled_jobs), the
-- calling user's in this database; 0.1.0 removed every buildtrace-* job,
-- a deferred worker's too.
CREATE OR REPLACE FUNCTION buildtrace.unschedule()
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int := 0;
    job bigint;
BEGIN
    PERFORM buildtrace._require_cron();
    -- The jobs schedule() registered, and no other: a deferred worker's job
    -- is named buildtrace-work-N by the README's advice. Removed by id, as
    -- the caller may: a superuser every role's (a dropped role's too), any
    -- other role its own.
    FOR job IN SELECT c.jobid FROM buildtrace._cron_jobs() c
               WHERE c.username = current_user
                  OR (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user)
               ORDER BY c.jobid LOOP
        EXECUTE 'SELECT cron.unschedule($1)' USING job;
        n := n + 1;
    END LOOP;
    -- A job another role registered runs on, and health() keeps watching it.
    DELETE FROM buildtrace.scheduled_jobs s
    WHERE s.job_name NOT IN (SELECT c.job_name FROM buildtrace._cron_jobs() c);
    RETURN n;
END
$$;
COMMENT ON FUNCTION buildtrace.unschedule() IS
    'Removes the pg_cron jobs schedule() registered; returns how many; idempotent.';

-- process() keeps a version string that cannot be read as JSON for any
-- reason of its data (not only a syntax error), and checks latency_ms.
CREATE OR REPLACE FUNCTION buildtrace._json_value(v jsonb)
RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(v) IS DISTINCT FROM 'string' THEN
        RETURN v;
    END IF;
    RETURN (v #>> '{}')::jsonb;
EXCEPTION
    -- not JSON text, a character the database cannot hold, nesting beyond
    -- the stack: the pipeline flags what it got
    WHEN data_exception OR program_limit_exceeded THEN
        RETURN v;
END
$$;

-- Text as an error detail shows it: at most 40 characters.
CREATE FUNCTION buildtrace._text_excerpt(t text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN length(t) > 40 THEN left(t, 40) || '…' ELSE t END
$$;

-- An id as an error names it: as it is, unless it is longer than any stored
-- id can be (2000 bytes), which no lookup finds; then its first 40
-- characters, so that a caller's megabytes never reach the log.
CREATE FUNCTION buildtrace._id_shown(id text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN octet_length(id) > 2000 THEN buildtrace._text_excerpt(id) ELSE id END
$$;

-- A JSON value as an error detail shows it: at most 40 characters.
CREATE FUNCTION buildtrace._json_excerpt(v jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT buildtrace._text_excerpt(v::text)
$$;

-- An id of a process() request that the tables cannot store is refused with
-- where it is (the place, such as 'Element 3 of "version_pairs"'), before
-- anything is written: at most 2000 bytes, as the *_drawing_id_length and
-- *_job_id_length checks of pairs and versions say. Checked before the other
-- checks of its element, whose details quote the ids; a value of another
-- type is no id, and theirs to refuse.
CREATE FUNCTION buildtrace._check_id_length(what text, v jsonb, place text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(v) IN ('string', 'number') AND octet_length(v #>> '{}') > 2000 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('process request %s is longer than 2000 bytes', what),
            DETAIL = format('%s has a %s of %s bytes, %s.', place, what, octet_length(v #>> '{}'),
                            buildtrace._json_excerpt(v));
    END IF;
END
$$;

-- Where a pair the caller asked for stands, as an error's detail: its
-- drawing and status, or that the caller can see no such pair. It runs with
-- the caller's rights, so another tenant's pair reads as none.
CREATE FUNCTION buildtrace._pair_standing(pair_id bigint)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce((SELECT format('Pair %s is of drawing %s and %s.', p.pair_id,
                               buildtrace._json_excerpt(to_jsonb(p.drawing_id)),
                               CASE p.status WHEN 'pending' THEN 'waits to be processed'
                                             WHEN 'failed' THEN 'failed'
                                             ELSE 'was processed' END)
                 FROM buildtrace.pairs p WHERE p.pair_id = _pair_standing.pair_id),
                format('There is no pair %s that you can see: never made, purged, or of another tenant.',
                       _pair_standing.pair_id));

-- Whether v is a latency process() can store: absent, null, or a number of
-- milliseconds as a JSON number or string. One that is no duration (NaN,
-- negative) is stored, and its pair fails in the pipeline.
CREATE FUNCTION buildtrace._is_latency(v jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RETURN true;
    ELSIF jsonb_typeof(v) NOT IN ('number', 'string') THEN
        RETURN false;
    END IF;
    PERFORM (v #>> '{}')::double precision;
    RETURN true;
EXCEPTION
    WHEN data_exception THEN
        RETURN false;
END
$$;

-- Whether v can name a drawing: a JSON string or number, not empty.
CREATE FUNCTION buildtrace._is_drawing_id(v jsonb)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(jsonb_typeof(v) IN ('string', 'number') AND v #>> '{}' <> '', false);

-- process() in parts: the pair list and the job states.
-- The checks of a process() pair list, element by element; raises the first
-- problem, writes nothing.
CREATE FUNCTION buildtrace._check_pairs(items jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    item     jsonb;
    i        integer := 0;
BEGIN
    FOR item IN SELECT e FROM jsonb_array_elements(items) e LOOP
        IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'version pair must be a JSON object',
                DETAIL = format('Element %s of "version_pairs" is a JSON %s.', i, jsonb_typeof(item));
        END IF;
        PERFORM buildtrace._check_id_length('drawing_id', item -> 'drawing_id',
                                            format('Element %s of "version_pairs"', i));
        PERFORM buildtrace._check_id_length('job_id', item -> 'job_id',
                                            format('Element %s of "version_pairs"', i));
        IF NOT buildtrace._is_drawing_id(item -> 'drawing_id') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'version pair has no drawing_id',
                DETAIL = format('Element %s of "version_pairs" needs a non-empty "drawing_id".', i);
        ELSIF NOT (item ? 'version_a' AND item ? 'version_b') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'version pair needs version_a and version_b',
                DETAIL = format('Element %s of "version_pairs" (drawing_id %s) lacks "%s".', i,
                                buildtrace._text_excerpt(item ->> 'drawing_id'),
                                CASE WHEN item ? 'version_a' THEN 'version_b' ELSE 'version_a' END);
        ELSIF item ? 'job_id' AND jsonb_typeof(item -> 'job_id') NOT IN ('string', 'number') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'version pair has an invalid job_id',
                DETAIL = format('Element %s of "version_pairs" (drawing_id %s) has job_id %s; send a string or a number.',
                                i, buildtrace._text_excerpt(item ->> 'drawing_id'), buildtrace._json_excerpt(item -> 'job_id'));
        ELSIF NOT buildtrace._is_latency(item -> 'latency_ms') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'version pair has an invalid latency_ms',
                DETAIL = format('Element %s of "version_pairs" (drawing_id %s) has latency_ms %s, not a number of milliseconds.',
                                i, buildtrace._text_excerpt(item ->> 'drawing_id'), buildtrace._json_excerpt(item -> 'latency_ms'));
        END IF;
        i := i + 1;
    END LOOP;
END
$$;

-- process()'s pair list, checked: all inserted (and so processed) in one
-- statement. Like process(), it runs with the caller's rights, so it stays
-- executable by everyone.
CREATE FUNCTION buildtrace._process_pairs(job text, items jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ids      bigint[];
    n_pairs  integer;
BEGIN
    WITH ins AS (
        INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
        SELECT e ->> 'drawing_id', coalesce(e ->> 'job_id', job),
               buildtrace._json_value(e -> 'version_a'), buildtrace._json_value(e -> 'version_b'),
               (e ->> 'latency_ms')::double precision
        FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
        ORDER BY x.ord
        RETURNING pair_id)
    SELECT array_agg(pair_id) INTO ids FROM ins;

    n_pairs := coalesce(cardinality(ids), 0);
    RETURN jsonb_build_object(
        'job_id', job,
        'message', format('Processed %s pair%s: %s', n_pairs,
                          CASE WHEN n_pairs = 1 THEN '' ELSE 's' END, buildtrace._outcome(ids)),
        'tasks_created', n_pairs);
END
$$;

-- The version a job state carries: the map under "objects", "files" or
-- "state" when that is the state's only key beside job_id, drawing_id,
-- timestamp and latency_ms and holds an object or array; else the state's
-- other keys, so that a path named "state" among others stays a path.
CREATE FUNCTION buildtrace._state_payload(state jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT CASE WHEN (SELECT count(*) FROM jsonb_object_keys(m.map)) = 1
                         AND jsonb_typeof(m.wrapped) IN ('object', 'array')
                    THEN m.wrapped ELSE m.map END
        FROM (SELECT state - ARRAY['job_id', 'drawing_id', 'timestamp', 'latency_ms'] AS map,
                     coalesce(state -> 'objects', state -> 'files', state -> 'state') AS wrapped) m);

-- The checks of a process() job list, element by element; raises the first
-- problem, writes nothing.
CREATE FUNCTION buildtrace._check_states(items jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    item     jsonb;
    i        integer := 0;
BEGIN
    FOR item IN SELECT e FROM jsonb_array_elements(items) e LOOP
        IF jsonb_typeof(item) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'job state must be a JSON object',
                DETAIL = format('Element %s of the job list is a JSON %s.', i, jsonb_typeof(item));
        END IF;
        PERFORM buildtrace._check_id_length('job_id', item -> 'job_id', format('Element %s of the job list', i));
        PERFORM buildtrace._check_id_length('drawing_id', item -> 'drawing_id', format('Element %s of the job list', i));
        IF item ? 'job_id' AND jsonb_typeof(item -> 'job_id') NOT IN ('string', 'number') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'job state has an invalid job_id',
                DETAIL = format('Element %s of the job list has job_id %s; send a string or a number.',
                                i, buildtrace._json_excerpt(item -> 'job_id'));
        END IF;
        IF item ? 'drawing_id' AND NOT buildtrace._is_drawing_id(item -> 'drawing_id') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'job state has an invalid drawing_id',
                DETAIL = format('Element %s of the job list (job_id %s) has drawing_id %s; leave it out or send a non-empty one.',
                                i, buildtrace._text_excerpt(coalesce(item ->> 'job_id', 'none')), buildtrace._json_excerpt(item -> 'drawing_id'));
        END IF;
        IF NOT buildtrace._is_latency(item -> 'latency_ms') THEN
            RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
                MESSAGE = 'job state has an invalid latency_ms',
                DETAIL = format('Element %s of the job list (job_id %s) has latency_ms %s, not a number of milliseconds.',
                                i, buildtrace._text_excerpt(coalesce(item ->> 'job_id', 'none')), buildtrace._json_excerpt(item -> 'latency_ms'));
        END IF;
        IF item ? 'timestamp' THEN
            BEGIN
                -- An upload time is a finite one: the upload checks count from it.
                IF NOT isfinite((item ->> 'timestamp')::timestamptz) THEN
                    RAISE EXCEPTION USING ERRCODE = 'datetime_field_overflow';
                END IF;
            EXCEPTION WHEN data_exception THEN
                RAISE EXCEPTION USING ERRCODE = 'invalid_datetime_format',
                    MESSAGE = 'job state has an invalid timestamp',
                    DETAIL = format('Element %s of the job list (job_id %s) has timestamp %s.', i,
                                    buildtrace._text_excerpt(coalesce(item ->> 'job_id', 'none')), buildtrace._json_excerpt(item -> 'timestamp'));
            END;
        END IF;
        i := i + 1;
    END LOOP;
END
$$;

-- process()'s job states, checked: each is a version of its drawing (default
-- "default", the single build stream of a job list; a tenant's states name
-- theirs); its objects are under
-- "objects", "files" or "state", or are all its keys other than the metadata
-- keys (_state_payload). All are inserted as versions in one statement
-- (which pairs them, and so processes the pairs).
CREATE FUNCTION buildtrace._process_states(job text, request jsonb, items jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n_states integer := jsonb_array_length(items);
    ids      bigint[];
    n_pairs  integer;
BEGIN
    WITH ins AS (
        INSERT INTO buildtrace.versions (drawing_id, job_id, payload, latency_ms, uploaded_at)
        SELECT coalesce(e ->> 'drawing_id', request ->> 'drawing_id', 'default'),
               coalesce(e ->> 'job_id', job),
               buildtrace._state_payload(e),
               (e ->> 'latency_ms')::double precision,
               coalesce((e ->> 'timestamp')::timestamptz, now())
        FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
        ORDER BY x.ord
        RETURNING version_id)
    SELECT array_agg(version_id) INTO ids FROM ins;

    SELECT array_agg(p.pair_id) INTO ids FROM buildtrace.pairs p WHERE p.to_version = ANY (ids);
    n_pairs := coalesce(cardinality(ids), 0);
    RETURN jsonb_build_object(
        'job_id', job,
        'message', format('Stored %s job state%s; processed %s pair%s: %s', n_states,
                          CASE WHEN n_states = 1 THEN '' ELSE 's' END, n_pairs,
                          CASE WHEN n_pairs = 1 THEN '' ELSE 's' END, buildtrace._outcome(ids)),
        'tasks_created', n_states);
END
$$;

-- A drawing is the first tenant's to name it: acting for a tenant, job
-- states (items of request) must name their drawing, or the request must,
-- or "default" would be one tenant's and every other tenant's states of it
-- refused. Checked with the rest of the request, so that the PL/Proxy
-- front, which sends each part with its drawing, refuses it too.
CREATE FUNCTION buildtrace._check_states_named(request jsonb, items jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    unnamed jsonb;
    at      integer;
    acting  boolean;
BEGIN
    IF jsonb_typeof(request) = 'object' AND request ? 'drawing_id' THEN
        RETURN;
    END IF;
    BEGIN
        acting := buildtrace.current_tenant() <> '';
    EXCEPTION WHEN insufficient_privilege THEN
        -- a tenant's member that has not said which tenant: through the
        -- PL/Proxy front its role's default applies on the shard
        acting := true;
    END;
    IF NOT acting THEN
        RETURN;
    END IF;
    SELECT x.e, x.ord - 1 INTO unnamed, at
    FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
    WHERE NOT x.e ? 'drawing_id'
    ORDER BY x.ord LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'job state must name its drawing when acting for a tenant',
            DETAIL = format('Element %s of the job list (job_id %s) has no drawing_id, nor has the request: the drawing "default" would belong to the first tenant that sent one.',
                            at, buildtrace._text_excerpt(coalesce(unnamed ->> 'job_id', 'none'))),
            HINT = 'Send "drawing_id" in the request or in each job state.';
    END IF;
END
$$;

-- Every check of a process() request, of the request and of each of its
-- elements: raises the first problem, as process() would, and writes
-- nothing. The PL/Proxy front runs it before it sends any part of a request
-- to a shard.
CREATE FUNCTION buildtrace._check_request(request jsonb)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF jsonb_typeof(request) = 'object' AND request ? 'storage_path' THEN
        RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
            MESSAGE = 'process request key "storage_path" is not supported',
            DETAIL = 'Versions are read from the request, not from a storage bucket.',
            HINT = 'Send "version_pairs", a list of job states, or insert into buildtrace.versions.';
    END IF;
    IF jsonb_typeof(request) = 'object' AND jsonb_typeof(request -> 'job_id') NOT IN ('string', 'number') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request key "job_id" must be a string or a number',
            DETAIL = format('Got a JSON %s.', jsonb_typeof(request -> 'job_id'));
    END IF;
    -- the drawing of job states that name none
    IF jsonb_typeof(request) = 'object' AND request ? 'drawing_id'
       AND NOT buildtrace._is_drawing_id(request -> 'drawing_id') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request key "drawing_id" must be a non-empty string or a number',
            DETAIL = format('Got %s.', buildtrace._json_excerpt(request -> 'drawing_id'));
    END IF;
    PERFORM buildtrace._check_id_length('job_id', request -> 'job_id', 'The request');
    PERFORM buildtrace._check_id_length('drawing_id', request -> 'drawing_id', 'The request');
    -- (on an array, ? asks for string elements: only an object has keys)
    IF jsonb_typeof(request) = 'object' AND request ? 'version_pairs' AND request ? 'jobs' THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = 'process request must not have both "version_pairs" and "jobs"',
            DETAIL = 'One request is a list of pairs or a list of job states.',
            HINT = 'Send them in two requests.';
    END IF;
    IF jsonb_typeof(request -> 'version_pairs') = 'array' THEN
        PERFORM buildtrace._check_pairs(request -> 'version_pairs');
        RETURN;
    ELSIF jsonb_typeof(request) = 'array' THEN
        PERFORM buildtrace._check_states(request);
        PERFORM buildtrace._check_states_named(request, request);
        RETURN;
    ELSIF jsonb_typeof(request -> 'jobs') = 'array' THEN
        PERFORM buildtrace._check_states(request -> 'jobs');
        PERFORM buildtrace._check_states_named(request, request -> 'jobs');
        RETURN;
    ELSIF jsonb_typeof(request) = 'object' AND (request ? 'version_pairs' OR request ? 'jobs') THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('process request key "%s" must be an array',
                             CASE WHEN request ? 'version_pairs' THEN 'version_pairs' ELSE 'jobs' END),
            DETAIL = format('It is a JSON %s.',
                            jsonb_typeof(request -> CASE WHEN request ? 'version_pairs' THEN 'version_pairs'
                                                         ELSE 'jobs' END));
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
        MESSAGE = 'process request needs "version_pairs" or a list of job states',
        DETAIL = CASE WHEN request IS NULL THEN 'Got NULL.'
                      WHEN request = '{}' THEN 'Got an empty JSON object.'
                      ELSE format('Got a JSON %s%s.', jsonb_typeof(request),
                                  CASE WHEN jsonb_typeof(request) = 'object'
                                       THEN format(' with keys %s',
                                                   (SELECT buildtrace._text_excerpt(string_agg(k, ', ' ORDER BY k))
                                                    FROM jsonb_object_keys(request) k))
                                       ELSE '' END) END,
        HINT = 'Send {"version_pairs": [{"drawing_id", "version_a", "version_b"}]} or [{"job_id", "timestamp", "latency_ms", "objects"}].';
END
$$;

-- POST /process. Accepts the pair list {"version_pairs": [{"drawing_id",
-- "version_a", "version_b"}, ...]} or a list of build job states (a JSON
-- array, or {"jobs": [...]}), checks all of it, stores it, and returns
-- {"job_id", "message", "tasks_created"}. Processing happens in this call
-- (the triggers), so the message says what became of the pairs.
CREATE OR REPLACE FUNCTION buildtrace.process(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job      text := coalesce(request ->> 'job_id', gen_random_uuid()::text);
BEGIN
    PERFORM buildtrace._check_request(request);
    IF jsonb_typeof(request -> 'version_pairs') = 'array' THEN
        RETURN buildtrace._process_pairs(job, request -> 'version_pairs');
    ELSIF jsonb_typeof(request) = 'array' THEN
        RETURN buildtrace._process_states(job, request, request);
    END IF;
    RETURN buildtrace._process_states(job, request, request -> 'jobs');
END
$$;


-- Tenants (see 69_tenants.sql of the install script): the pipeline writing
-- under the rows' tenant, row-level security, and the read functions and
-- views running with the caller's rights.
DROP FUNCTION buildtrace._lock_drawings(text[]);
CREATE FUNCTION buildtrace._lock_drawings(drawings text[], tenant text)
RETURNS void
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    foreign_drawing text;
BEGIN
    INSERT INTO buildtrace.drawing_state AS s (drawing_id, tenant)
    SELECT DISTINCT d, _lock_drawings.tenant FROM unnest(drawings) AS d ORDER BY 1
    ON CONFLICT (drawing_id) DO NOTHING;

    -- The aggregate reads (and so locks) every row.
    SELECT min(l.drawing_id) FILTER (WHERE l.tenant <> _lock_drawings.tenant) INTO foreign_drawing
    FROM (SELECT s.drawing_id, s.tenant FROM buildtrace.drawing_state s
          WHERE s.drawing_id = ANY (drawings)
          ORDER BY s.drawing_id
          FOR UPDATE) l;
    IF foreign_drawing IS NOT NULL THEN
        PERFORM buildtrace._refuse_foreign_drawing(foreign_drawing, tenant);
    END IF;
END
$$;

-- _lock_drawings for the one drawing of a one-pair statement: locks (or
-- creates) its drawing_state row and returns what the spike rule reads of
-- it, by its key, however many drawings there are.
CREATE FUNCTION buildtrace._lock_drawing(drawing text, tenant text,
                                         OUT last_pair_id bigint, OUT last_total integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner text;
BEGIN
    -- A row another transaction is creating is waited for by the INSERT and
    -- read by the second SELECT.
    FOR i IN 1..2 LOOP
        SELECT s.tenant, s.last_pair_id, s.last_total INTO owner, last_pair_id, last_total
        FROM buildtrace.drawing_state s WHERE s.drawing_id = drawing
        FOR UPDATE;
        EXIT WHEN FOUND;
        INSERT INTO buildtrace.drawing_state (drawing_id, tenant) VALUES (drawing, tenant)
        ON CONFLICT (drawing_id) DO NOTHING;
    END LOOP;
    IF owner <> tenant THEN
        PERFORM buildtrace._refuse_foreign_drawing(drawing, tenant);
    END IF;
END
$$;

-- The error of a statement that names another tenant's drawing.
CREATE FUNCTION buildtrace._refuse_foreign_drawing(drawing text, tenant text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'drawing "%" belongs to another tenant', drawing
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = format('The statement writes as tenant "%s"; drawing ids are unique across tenants.',
                              tenant),
              HINT = 'Use another drawing_id.';
END
$$;

-- Claims the drawings of a statement's deferred pairs (buildtrace.processing
-- = deferred) for their tenant when the statement ends, as processing them
-- inline would: creates their drawing_state rows, or refuses a drawing of
-- another tenant. New rows are inserted in drawing order, as _lock_drawings
-- inserts them, so that statements claiming the same new drawings wait for
-- one another in one order instead of deadlocking. It takes no row lock:
-- work() locks a drawing when it processes its pairs, and finds the row in
-- place, committed with them.
--
-- SECURITY DEFINER, called by the pairs statement trigger (src/claims.c)
-- the way the store functions are: the writer role must not write
-- drawing_state itself. search_path is pinned and every name is qualified.
CREATE FUNCTION buildtrace._claim_drawings(drawings text[], tenant text)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    foreign_drawing text;
BEGIN
    -- A row another transaction is creating is waited for by the INSERT
    -- and read by the SELECT.
    INSERT INTO buildtrace.drawing_state (drawing_id, tenant)
    SELECT DISTINCT d, _claim_drawings.tenant FROM unnest(drawings) AS d ORDER BY 1
    ON CONFLICT (drawing_id) DO NOTHING;
    SELECT min(s.drawing_id) FILTER (WHERE s.tenant <> _claim_drawings.tenant) INTO foreign_drawing
    FROM buildtrace.drawing_state s
    WHERE s.drawing_id = ANY (drawings);
    IF foreign_drawing IS NOT NULL THEN
        PERFORM buildtrace._refuse_foreign_drawing(foreign_drawing, tenant);
    END IF;
END
$$;

REVOKE ALL ON FUNCTION buildtrace._lock_drawings(text[], text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._lock_drawing(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._refuse_foreign_drawing(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace._claim_drawings(text[], text) FROM PUBLIC;

CREATE FUNCTION buildtrace._pairs_pending_tenant()
RETURNS text
AS 'MODULE_PATHNAME', 'bt_pairs_pending_tenant'
LANGUAGE C VOLATILE PARALLEL UNSAFE;
REVOKE ALL ON FUNCTION buildtrace._pairs_pending_tenant() FROM PUBLIC;

CREATE OR REPLACE FUNCTION buildtrace._versions_after_insert()
RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY DEFINER PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stamp   timestamptz;
    tenants text[] := ARRAY(SELECT DISTINCT n.tenant FROM new_versions n ORDER BY 1);
BEGIN
    IF cardinality(tenants) > 1 THEN
        RAISE EXCEPTION 'versions of one statement must be of one tenant'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = format('The statement inserted versions of tenants %s.',
                                  array_to_string(tenants, ', ')),
                  HINT = 'Insert each tenant''s versions in a statement of their own.';
    END IF;
    PERFORM buildtrace._lock_drawings(ARRAY(SELECT DISTINCT drawing_id FROM new_versions),
                                      tenants[1]);
    stamp := clock_timestamp();

    -- An actual update of the lock row, so that a REPEATABLE READ statement
    -- that waited for us fails with a serialization error instead of missing
    -- the version we add.
    UPDATE buildtrace.drawing_state s
    SET last_uploaded_at = GREATEST(s.last_uploaded_at, n.uploaded_at), updated_at = now()
    FROM (SELECT drawing_id, max(uploaded_at) AS uploaded_at
          FROM new_versions GROUP BY drawing_id) n
    WHERE s.drawing_id = n.drawing_id;

    -- Concurrent uploads are stamped with their transaction's start time, so
    -- one that waited for the lock above can look older than a version that
    -- another transaction committed meanwhile, and the chain would fork.
    -- Upload order for versions stamped during this transaction (from its
    -- start to now) is therefore the order they got the drawing's lock: such
    -- a version not later than a version committed by someone else is
    -- re-stamped now. Versions stamped before this transaction began
    -- (deliberate back-dated imports) or after now (a client's clock ahead)
    -- keep their time and are paired where they belong; a version of the
    -- future is no version committed meanwhile, so it re-stamps none. The
    -- latest other version up to now is found once per drawing, from the
    -- newest down the index, not by reading the drawing's whole history.
    WITH others AS MATERIALIZED (
        SELECT d.drawing_id,
               (SELECT o.uploaded_at FROM buildtrace.versions o
                WHERE o.drawing_id = d.drawing_id AND o.uploaded_at <= stamp
                  -- a hashed subplan: the statement's own versions are skipped
                  -- at a probe each, however many it inserted
                  AND o.version_id NOT IN (SELECT nv.version_id FROM new_versions nv)
                ORDER BY o.uploaded_at DESC LIMIT 1) AS latest
        FROM (SELECT DISTINCT nv.drawing_id FROM new_versions nv) d)
    UPDATE buildtrace.versions v
    SET uploaded_at = stamp
    FROM new_versions n
    JOIN others x ON x.drawing_id = n.drawing_id
    WHERE v.version_id = n.version_id
      AND n.uploaded_at >= now() AND n.uploaded_at <= stamp
      AND n.uploaded_at <= x.latest;

    INSERT INTO buildtrace.pairs
        (drawing_id, job_id, version_a, version_b, latency_ms, from_version, to_version, tenant)
    SELECT n.drawing_id, n.job_id, prev.payload, n.payload, n.latency_ms,
           prev.version_id, n.version_id, n.tenant
    FROM (SELECT v.* FROM new_versions nv
          JOIN buildtrace.versions v ON v.version_id = nv.version_id) n
    CROSS JOIN LATERAL (
        SELECT v.version_id, v.payload
        FROM buildtrace.versions v
        WHERE v.drawing_id = n.drawing_id
          AND (v.uploaded_at, v.version_id) < (n.uploaded_at, n.version_id)
        ORDER BY v.uploaded_at DESC, v.version_id DESC
        LIMIT 1) prev
    ORDER BY n.uploaded_at, n.version_id;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION buildtrace._check_missing(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
    -- _upload_due(as_of), column by column: each statement below read it
    -- again, a drawing's last upload by two index probes per expectation
    -- each time (two thirds of a check's time with 10,000 expectations).
    drawing_ids  text[];
    last_uploads timestamptz[];
    due_times    timestamptz[];
    late_times   timestamptz[];
    periods      interval[];
BEGIN
    SELECT coalesce(array_agg(d.drawing_id), '{}'), array_agg(d.last_upload), array_agg(d.due_at),
           array_agg(d.late_at), array_agg(d.every)
    INTO drawing_ids, last_uploads, due_times, late_times, periods
    FROM buildtrace._upload_due(as_of) d;

    -- Resolve: an upload arrived after the one the anomaly was waiting on.
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, d.last_upload),
        details = a.details || jsonb_build_object('resolved_by_upload_at', d.last_upload)
    FROM unnest(drawing_ids, last_uploads) AS d(drawing_id, last_upload)
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND a.drawing_id = d.drawing_id
      AND d.last_upload IS NOT NULL
      AND d.last_upload > coalesce((a.details ->> 'last_upload_at')::timestamptz, '-infinity');
    GET DIAGNOSTICS resolved = ROW_COUNT;

    -- Resolve: the drawing is expected no more (its expectation deleted); no
    -- upload would ever resolve it.
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, as_of),
        details = a.details || jsonb_build_object('resolved_because', 'no longer expected')
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.upload_expectations e WHERE e.drawing_id = a.drawing_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    resolved := resolved + n;

    -- Escalate a still-open one once the drawing is a whole period later still.
    UPDATE buildtrace.anomalies a
    SET severity = 'high',
        details = a.details || jsonb_build_object('overdue_by', as_of - d.due_at)
    FROM unnest(drawing_ids, due_times, late_times, periods) AS d(drawing_id, due_at, late_at, every)
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.severity <> 'high'
      AND a.drawing_id = d.drawing_id AND as_of > d.late_at + d.every;

    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at, tenant)
    SELECT 'missing_upload',
           CASE WHEN as_of > d.late_at + d.every THEN 'high' ELSE 'medium' END,
           d.drawing_id,
           jsonb_build_object('last_upload_at', d.last_upload, 'due_at', d.due_at,
                              'late_at', d.late_at, 'overdue_by', as_of - d.due_at),
           as_of, buildtrace._drawing_tenant(d.drawing_id, e.tenant)
    FROM unnest(drawing_ids, last_uploads, due_times, late_times, periods)
         AS d(drawing_id, last_upload, due_at, late_at, every)
    JOIN buildtrace.upload_expectations e ON e.drawing_id = d.drawing_id
    WHERE as_of > d.late_at
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
                        AND a.drawing_id = d.drawing_id)
    ORDER BY d.drawing_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END
$$;

CREATE OR REPLACE FUNCTION buildtrace._check_delayed(as_of timestamptz)
RETURNS int
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n int;
BEGIN
    -- Once per expectation (MATERIALIZED: inlined, the tenant was looked up
    -- once per upload), and from the last upload already checked, which the
    -- first new one is measured against: a check costs what arrived since
    -- the last one, not every upload since the expectation began.
    --
    -- "Since the last one" reaches an hour further back: an upload is
    -- stamped when its transaction starts and seen when it commits, so one
    -- still open while the last check ran is older than that check and was
    -- not seen by it. A late period is recorded once (the NOT EXISTS below):
    -- an upload checked twice, or one seen late that comes before an upload
    -- already recorded late for the same due time, adds nothing.
    WITH expected AS MATERIALIZED (
        SELECT t.*,
               coalesce(buildtrace._last_upload(t.drawing_id, t.tenant, t.since, t.checked_from),
                        t.since) AS scan_from
        FROM (SELECT e.drawing_id, e.every, e.grace, e.since,
                     buildtrace._drawing_tenant(e.drawing_id, e.tenant) AS tenant,
                     greatest(coalesce(e.checked_until, e.since) - interval '1 hour', e.since) AS checked_from
              FROM buildtrace.upload_expectations e
              WHERE coalesce(e.checked_until, e.since) < as_of) t
    ), ordered AS (
        SELECT u.drawing_id, u.uploaded_at, u.version_id, u.pair_id, x.every, x.grace,
               x.checked_from, x.tenant,
               coalesce(lag(u.uploaded_at) OVER w, x.since) AS previous_at
        FROM expected x
        -- each drawing's new uploads by its indexes (OFFSET 0: not a join
        -- with every upload of every drawing)
        CROSS JOIN LATERAL (
            SELECT u.* FROM buildtrace.uploads u
            WHERE u.drawing_id = x.drawing_id AND u.tenant = x.tenant
              AND u.uploaded_at > x.since AND u.uploaded_at >= x.scan_from
              AND u.uploaded_at <= as_of
            OFFSET 0) u
        WINDOW w AS (PARTITION BY u.drawing_id ORDER BY u.uploaded_at, u.version_id, u.pair_id)
    )
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details,
                                      detected_at, resolved_at, tenant)
    SELECT 'delayed_upload', 'low', o.drawing_id, kept.pair_id,
           jsonb_build_object('upload_at', o.uploaded_at, 'due_at', o.previous_at + o.every,
                              'grace', o.grace, 'delay', o.uploaded_at - (o.previous_at + o.every),
                              'version_id', o.version_id),
           as_of, as_of, o.tenant
    FROM ordered o
    -- The upload's pair, locked against a purge() removing it meanwhile
    -- (its anomaly would fail the whole check on the foreign key): one
    -- removed is named by the anomaly's times and version only.
    LEFT JOIN LATERAL (SELECT p.pair_id FROM buildtrace.pairs p
                       WHERE p.pair_id = o.pair_id FOR KEY SHARE) kept ON true
    WHERE o.uploaded_at > o.checked_from
      AND o.uploaded_at > o.previous_at + o.every + o.grace
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'delayed_upload' AND a.drawing_id = o.drawing_id
                        AND ((a.details ->> 'upload_at')::timestamptz = o.uploaded_at
                             OR (a.details ->> 'due_at')::timestamptz = o.previous_at + o.every))
    ORDER BY o.drawing_id, o.uploaded_at;
    GET DIAGNOSTICS n = ROW_COUNT;

    UPDATE buildtrace.upload_expectations e
    SET checked_until = as_of
    WHERE coalesce(e.checked_until, e.since) < as_of;
    RETURN n;
END
$$;

-- Periods are counted in UTC (TimeZone below): a day is 24 hours and a
-- month ends at UTC midnight, whatever zone pg_cron's or a caller's session
-- has, so the same as_of records the same anomalies from any session.
CREATE OR REPLACE FUNCTION buildtrace.check_uploads(as_of timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET TimeZone = 'UTC'
AS $$
DECLARE
    missing record;
    pending record;
    delayed int;
    volume  int;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION 'as_of must be a finite timestamp'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('check_uploads() was called with as_of %s.', coalesce(as_of::text, 'NULL'));
    END IF;
    -- the windows reach hours before as_of: far from timestamptz's ends
    IF as_of < '0001-01-01 00:00:00+00' OR as_of >= '10000-01-01 00:00:00+00' THEN
        RAISE EXCEPTION 'as_of must be a time in the years 1 to 9999 (UTC)'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('check_uploads() was called with as_of %s UTC.', as_of AT TIME ZONE 'UTC');
    END IF;
    -- Two checks at once would both see "no open anomaly" and record it twice.
    -- A lock no reader or writer can take (an advisory lock, any role could
    -- hold and so stall every check), which conflicts with itself. It orders
    -- checks that read after taking it: a REPEATABLE READ snapshot, taken
    -- before, would not see the anomalies of the check it waited for
    -- (SERIALIZABLE sees the conflict and fails with 40001).
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        RAISE EXCEPTION 'check_uploads() cannot run in a REPEATABLE READ transaction'
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'Its snapshot would not see the anomalies of a check that ran meanwhile, and it would record them again.',
                  HINT = 'Run it in READ COMMITTED, the default, or SERIALIZABLE.';
    END IF;
    LOCK TABLE buildtrace.upload_expectations IN SHARE UPDATE EXCLUSIVE MODE;
    missing := buildtrace._check_missing(as_of);
    delayed := buildtrace._check_delayed(as_of);
    pending := buildtrace._check_pending(as_of);
    volume  := buildtrace._check_volume(as_of);
    RETURN jsonb_build_object('as_of', as_of,
                              'missing_upload', missing.recorded,
                              'missing_upload_resolved', missing.resolved,
                              'delayed_upload', delayed,
                              'stale_pending', pending.recorded,
                              'stale_pending_resolved', pending.resolved,
                              'volume_spike', volume);
END
$$;

CREATE OR REPLACE FUNCTION buildtrace._cron_expression(every interval)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- whole seconds only: 59.5 seconds must not round to a minute
    s bigint := CASE WHEN extract(epoch FROM every) % 1 = 0 THEN extract(epoch FROM every) END;
BEGIN
    IF s = 60 THEN RETURN '* * * * *';
    ELSIF s > 0 AND s % 60 = 0 AND s < 3600 AND 60 % (s / 60) = 0 THEN
        RETURN format('*/%s * * * *', s / 60);
    ELSIF s = 3600 THEN RETURN '0 * * * *';
    ELSIF s > 0 AND s % 3600 = 0 AND s < 86400 AND 24 % (s / 3600) = 0 THEN
        RETURN format('0 */%s * * *', s / 3600);
    ELSIF s = 86400 THEN RETURN '0 0 * * *';
    END IF;
    RAISE EXCEPTION 'unsupported schedule interval %', coalesce(quote_literal(every), 'NULL')
        USING ERRCODE = 'invalid_parameter_value',
              DETAIL = 'The interval must be whole minutes dividing an hour, whole hours dividing a day, or one day.',
              HINT = 'Use for example ''1 minute'', ''5 minutes'', ''1 hour'' or ''1 day''.';
END
$$;

ALTER VIEW buildtrace.hourly_changes SET (security_invoker = true);
ALTER VIEW buildtrace.open_anomalies SET (security_invoker = true);
ALTER VIEW buildtrace.latency SET (security_invoker = true);
ALTER VIEW buildtrace.uploads SET (security_invoker = true);
CREATE OR REPLACE VIEW buildtrace.uploads WITH (security_invoker = true) AS
SELECT v.drawing_id, v.uploaded_at, v.version_id, NULL::bigint AS pair_id, v.tenant
FROM buildtrace.versions v
UNION ALL
SELECT p.drawing_id, p.submitted_at, NULL::bigint, p.pair_id, p.tenant
FROM buildtrace.pairs p
WHERE NOT p.made_from_versions AND p.retry_of IS NULL;

-- The tenant whose uploads an expectation of drawing counts, and under which
-- its anomalies are filed: the expectation's own, or, for an expectation of
-- the default tenant (the operator's, say), the drawing's owner once a pair
-- or version of it has been processed. An expectation that names a tenant
-- never counts, or tells, another tenant's uploads to a drawing of that id.
CREATE FUNCTION buildtrace._drawing_tenant(drawing text, expectation_tenant text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN expectation_tenant <> '' THEN expectation_tenant
            ELSE coalesce((SELECT s.tenant FROM buildtrace.drawing_state s
                           WHERE s.drawing_id = drawing),
                          expectation_tenant) END;

-- The newest upload of a drawing by a tenant in (after, until]: the newer of
-- its newest version and its newest pair sent directly (the uploads view's
-- two branches), each read backwards on its index, one entry each. A max()
-- over the view reads every upload the drawing ever had.
CREATE FUNCTION buildtrace._last_upload(drawing text, tenant text, after timestamptz,
                                        until timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN greatest((SELECT v.uploaded_at FROM buildtrace.versions v
                 WHERE v.drawing_id = drawing AND v.tenant = _last_upload.tenant
                   AND v.uploaded_at > after AND v.uploaded_at <= until
                 ORDER BY v.uploaded_at DESC LIMIT 1),
                (SELECT p.submitted_at FROM buildtrace.pairs p
                 WHERE p.drawing_id = drawing AND p.tenant = _last_upload.tenant
                   AND NOT p.made_from_versions AND p.retry_of IS NULL
                   AND p.submitted_at > after AND p.submitted_at <= until
                 ORDER BY p.submitted_at DESC LIMIT 1));
REVOKE ALL ON FUNCTION buildtrace._last_upload(text, text, timestamptz, timestamptz) FROM PUBLIC;

-- Each expected drawing's last upload at as_of and when the next is due and late.
CREATE OR REPLACE FUNCTION buildtrace._upload_due(as_of timestamptz)
RETURNS TABLE (drawing_id text, last_upload timestamptz, due_at timestamptz,
               late_at timestamptz, every interval)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT e.drawing_id, l.last_upload,
           coalesce(l.last_upload, e.since) + e.every,
           coalesce(l.last_upload, e.since) + e.every + e.grace,
           e.every
    FROM buildtrace.upload_expectations e
    -- once per expectation, not once per upload scanned (OFFSET 0 keeps it apart)
    CROSS JOIN LATERAL (SELECT buildtrace._drawing_tenant(e.drawing_id, e.tenant) AS tenant OFFSET 0) t
    -- (after '-infinity': a pair's submitted_at may be anything its owner wrote)
    CROSS JOIN LATERAL (SELECT buildtrace._last_upload(e.drawing_id, t.tenant, '-infinity'::timestamptz,
                                                       as_of) AS last_upload) l;
END;


-- The last run of each scheduled buildtrace job, or nothing without pg_cron.
-- SECURITY DEFINER: pg_cron shows a job's runs to the role that scheduled it
-- only, and health() runs with its caller's rights; this returns the status
-- of buildtrace's own jobs, which every tenant shares, and nothing else. A
-- failed run's message may quote any tenant's rows (a key in a DETAIL), so
-- once tenants exist it goes only to sessions that see every row anyway:
-- session_user, because current_user here is the function's owner.
CREATE OR REPLACE FUNCTION buildtrace._cron_runs()
RETURNS TABLE (job_name text, every interval, scheduled_at timestamptz, last_status text,
               last_start timestamptz, last_message text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    show_message bool;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    show_message := NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles t ON t.oid = m.roleid
                                WHERE t.rolname = 'buildtrace_tenant')
                    OR EXISTS (SELECT 1 FROM pg_roles r
                               WHERE r.rolname = session_user AND (r.rolsuper OR r.rolbypassrls));
    RETURN QUERY EXECUTE $q$
        SELECT s.job_name, s.every, s.scheduled_at, r.status, r.start_time,
               CASE WHEN $1 THEN r.return_message
                    ELSE 'withheld: a shared job''s message is shown only to roles that see every tenant' END
        FROM buildtrace.scheduled_jobs s
        -- the latest run of the job schedule() registered under that name
        -- (another role's job of the name, which pg_cron allows, is not
        -- buildtrace's to report); by name alone for a job registered before
        -- schedule() kept its id
        LEFT JOIN LATERAL (
            SELECT d.status, d.start_time, d.return_message
            FROM buildtrace._cron_jobs() j JOIN cron.job_run_details d ON d.jobid = j.jobid
            WHERE j.job_name = s.job_name AND (s.jobid IS NULL OR j.jobid = s.jobid)
              AND d.status IN ('succeeded', 'failed')
            ORDER BY d.start_time DESC LIMIT 1) r ON true
        WHERE s.job_name IN (SELECT c.job_name FROM buildtrace._cron_job_specs() c)
        ORDER BY s.job_name $q$ USING show_message;
END
$$;
GRANT EXECUTE ON FUNCTION buildtrace._cron_runs() TO buildtrace_reader;

CREATE FUNCTION buildtrace.current_tenant()
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tenant text := coalesce(current_setting('buildtrace.tenant', true), '');
    who    name;
BEGIN
    IF tenant = '' THEN
        -- (the login a second time only when it is another role)
        FOREACH who IN ARRAY CASE WHEN session_user = current_user THEN ARRAY[current_user]
                                  ELSE ARRAY[current_user, session_user] END LOOP
            IF pg_has_role(who, 'buildtrace_tenant', 'MEMBER')
               AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = who) THEN
                RAISE EXCEPTION 'buildtrace.tenant is not set' USING ERRCODE = 'insufficient_privilege',
                    DETAIL = format('Role "%s" is a member of a tenant and must say which tenant it acts for.',
                                    who),
                    HINT = 'SET buildtrace.tenant to the name of the tenant role.';
            END IF;
        END LOOP;
        RETURN '';
    END IF;
    -- A direct member: a tenant's users are members of buildtrace_tenant
    -- through it, and must not pass for tenants of their own.
    IF NOT EXISTS (SELECT 1 FROM pg_auth_members m
                   JOIN pg_roles r ON r.oid = m.member
                   JOIN pg_roles t ON t.oid = m.roleid
                   WHERE r.rolname = tenant AND t.rolname = 'buildtrace_tenant') THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant USING ERRCODE = 'undefined_object',
            DETAIL = 'A tenant is a role that is a direct member of buildtrace_tenant.';
    END IF;
    IF NOT pg_has_role(current_user, tenant, 'MEMBER') THEN
        RAISE EXCEPTION 'permission denied for tenant "%"', tenant USING ERRCODE = 'insufficient_privilege',
            DETAIL = format('Role "%s" is not a member of role "%s".', current_user, tenant);
    END IF;
    RETURN tenant;
END
$$;
COMMENT ON FUNCTION buildtrace.current_tenant() IS
    'The tenant the current role acts for (buildtrace.tenant, checked against its memberships); '''' for the default tenant.';

-- One policy per table, for every command: a role sees, writes, changes and
-- deletes the rows of its current tenant only. The sub-select runs the check
-- once per statement, not per row.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['pairs', 'versions', 'changes', 'anomalies', 'drawing_state',
                             'hourly_rollups', 'upload_expectations'] LOOP
        EXECUTE format('ALTER TABLE buildtrace.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON buildtrace.%I
                            USING (tenant = (SELECT buildtrace.current_tenant()))', t);
    END LOOP;
END
$$;

-- The reader reads the tables, and the views and functions over them with
-- its own rights: the policies show it its tenant's rows.
GRANT SELECT ON buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
                buildtrace.drawing_state, buildtrace.hourly_rollups, buildtrace.upload_expectations
    TO buildtrace_reader;
COMMENT ON TABLE buildtrace.drawing_state IS
    'Per-drawing lock row and last pair processed successfully, for the change-spike rule and changes(drawing_id).';

-- The simulator's version chains in stages, each a function of its own; the
-- chains are the same, value for value.
-- The arguments of a version chain (see _sim_chain), passed whole to each
-- of its stages.
CREATE TYPE buildtrace._sim_args AS (
    drawings      int,
    versions      int,
    objects       int,
    rate          float8,
    seed          int,
    spike_drawing int,
    spike_step    int,
    spike_factor  float8
);

-- The smallest grid (by cells) whose floor-plan template has at least
-- `objects` objects.
CREATE FUNCTION buildtrace._sim_grid(objects int)
RETURNS TABLE(nx int, ny int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT c.nx, c.ny
    FROM generate_series(1, 4000) k,
         LATERAL (SELECT k / 2 + 1 AS nx, (k + 1) / 2 AS ny) c
    -- template size: columns, walls, doors, windows, spaces
    WHERE (c.nx + 1) * (c.ny + 1) + c.nx * (c.ny + 1) + (c.nx + 1) * c.ny
          + c.nx * (c.ny - 1) + (c.nx - 1) * c.ny + 1
          + 2 * c.nx + 2 * c.ny - 1
          + c.nx * c.ny >= objects
    ORDER BY k LIMIT 1
$fn$;

-- The floor-plan template for an nx x ny grid: columns at intersections,
-- walls between them (outer walls thicker), a door in every interior wall
-- and one entrance, a window in every other outer wall, a space per cell.
-- Tier 0 (structure) is kept first when a drawing has fewer objects.
CREATE FUNCTION buildtrace._sim_template(nx int, ny int)
RETURNS TABLE(t bigint, tier int, kind text, orient text, i int, j int, outer_wall boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT row_number() OVER (ORDER BY tier, kind, orient, i, j) AS t, *
    FROM (
        SELECT 0 AS tier, 'column' AS kind, '-' AS orient, i, j, false AS outer_wall
        FROM generate_series(0, nx) i, generate_series(0, ny) j
        UNION ALL
        SELECT 0, 'wall', 'h', i, j, j IN (0, ny)
        FROM generate_series(0, nx - 1) i, generate_series(0, ny) j
        UNION ALL
        SELECT 0, 'wall', 'v', i, j, i IN (0, nx)
        FROM generate_series(0, nx) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'door', 'h', i, j, j = 0
        FROM generate_series(0, nx - 1) i, generate_series(0, ny) j
        WHERE (j > 0 AND j < ny) OR (i = 0 AND j = 0)
        UNION ALL
        SELECT 1, 'door', 'v', i, j, false
        FROM generate_series(1, nx - 1) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'window', 'h', i, j, true
        FROM generate_series(0, nx - 1) i, unnest(ARRAY[0, ny]) j
        WHERE NOT (i = 0 AND j = 0)
        UNION ALL
        SELECT 1, 'window', 'v', i, j, true
        FROM unnest(ARRAY[0, nx]) i, generate_series(0, ny - 1) j
        UNION ALL
        SELECT 1, 'space', '-', i, j, false
        FROM generate_series(0, nx - 1) i, generate_series(0, ny - 1) j
    ) x
$fn$;

-- The object kinds: family, type index in it, id prefix, layer; and each
-- family's two types, attribute names and the three attributes' values.
CREATE FUNCTION buildtrace._sim_kinds()
RETURNS TABLE(kind text, family text, t0 int, prefix text, layer text,
              types text[], an text[], d1 text[], d2 text[], d3 text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT f.kind, f.family, f.t0, f.prefix, f.layer, dm.types, dm.an, dm.d1, dm.d2, dm.d3
    FROM (VALUES
        ('wall', 'wall', 0, 'W', 'A-WALL'),
        ('column', 'column', 0, 'C', 'S-COLS'),
        ('door', 'opening', 0, 'D', 'A-OPNG'),
        ('window', 'opening', 1, 'WN', 'A-OPNG'),
        ('space', 'space', 0, 'SP', 'A-AREA')) f(kind, family, t0, prefix, layer)
    JOIN (VALUES
        ('wall', '{wall,curtain_wall}'::text[], '{material,fire_rating,finish}'::text[],
         '{concrete,masonry,timber frame,drywall,steel stud}'::text[],
         '{none,REI30,REI60,REI90}'::text[], '{plaster,paint,tile,exposed}'::text[]),
        ('opening', '{door,window}', '{material,fire_rating,glazing}',
         '{timber,steel,aluminium,pvc}', '{none,EI30,EI60}', '{none,single,double,triple}'),
        ('column', '{column,pier}', '{material,fire_rating,finish}',
         '{concrete,steel,timber,masonry}', '{R30,R60,R90,R120}', '{exposed,painted,clad,intumescent}'),
        ('space', '{space,zone}', '{use,floor_finish,ceiling}',
         '{office,meeting,storage,corridor,kitchen,wc,lobby}', '{carpet,tile,vinyl,screed,timber}',
         '{suspended,exposed,plaster}')) dm(family, types, an, d1, d2, d3) USING (family)
$fn$;

-- How many objects the spike step adds: enough to reach spike_factor times
-- the expected change count of a normal step (6 kinds, each a share r of
-- the objects); none at a rate of 0, and infinitely many past a factor of
-- 1e300, where the product would overflow a double. The one rule for
-- _reexport_chain's check and _sim_plan's count.
CREATE FUNCTION buildtrace._sim_spike_objects(spike_factor float8, rate float8, objects int)
RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN rate = 0 THEN 0
            WHEN spike_factor > 1e300 THEN 'Infinity'::float8
            ELSE ceil(spike_factor * 6 * rate * objects) END;

-- What every drawing of a chain shares: the grid, the objects the spike
-- step adds, and the added-object slots per step.
CREATE FUNCTION buildtrace._sim_plan(a buildtrace._sim_args)
RETURNS TABLE(nx int, ny int, n_spike int, b int)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT g.nx, g.ny, ns.n_spike, greatest((a).objects, ns.n_spike)
    FROM buildtrace._sim_grid((a).objects) g,
         -- the objects the spike step adds on its own
         LATERAL (SELECT CASE WHEN (a).spike_step IS NULL THEN 0
                              ELSE buildtrace._sim_spike_objects((a).spike_factor, (a).rate, (a).objects)::int
                         END AS n_spike) ns
$fn$;

-- Per drawing: its hash, grid spacing, column size, wall thicknesses (mm).
CREATE FUNCTION buildtrace._sim_drawings(a buildtrace._sim_args)
RETURNS TABLE(d int, hd int8, sx int8, sy int8, col int8, tw_out int8, tw_in int8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT d, hd,
           4000 + 500 * floor(8 * ((pg_catalog.hashint8extended(1, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           4000 + 500 * floor(8 * ((pg_catalog.hashint8extended(2, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           300 + 100 * floor(3 * ((pg_catalog.hashint8extended(3, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           250 + 50 * floor(4 * ((pg_catalog.hashint8extended(4, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8,
           150 + 25 * floor(3 * ((pg_catalog.hashint8extended(5, hd) >> 11) & 9007199254740991)::float8 / 9007199254740992)::int8
    FROM generate_series(1, (a).drawings) d,
         LATERAL (SELECT pg_catalog.hashint8extended(d, (a).seed::int8) AS hd) h
$fn$;

-- The steps (versions) of every drawing: their hash, change rate and
-- whether it is the spike.
CREATE FUNCTION buildtrace._sim_steps(a buildtrace._sim_args)
RETURNS TABLE(d int, s int, hs int8, rs float8, spike boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT dr.d, s, pg_catalog.hashint8extended(s, dr.hd),
           CASE WHEN sp.spike THEN least((a).rate * coalesce((a).spike_factor, 1), 0.5) ELSE (a).rate END,
           sp.spike
    FROM buildtrace._sim_drawings(a) dr, generate_series(1, (a).versions) s,
         LATERAL (SELECT coalesce(dr.d = (a).spike_drawing AND s = (a).spike_step AND s > 1, false) AS spike) sp
$fn$;

-- Every object a drawing ever has, with the step it appears in: the base
-- objects (the first n template entries, structure first, the rest in a
-- per-drawing random order) and the objects added later (slot j of step s
-- becomes object key n + (s - 2) * b + j). key = object number within the
-- drawing.
CREATE FUNCTION buildtrace._sim_births(a buildtrace._sim_args)
RETURNS TABLE(d int, key bigint, birth int, kind text, orient text, i int, j int,
              outer_wall boolean, mid boolean)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT d, key, 1, kind, orient, i, j, outer_wall, false
    FROM (SELECT dr.d, tpl.*,
                 row_number() OVER (PARTITION BY dr.d
                                    ORDER BY tier, CASE WHEN tier = 0 THEN t
                                                        ELSE pg_catalog.hashint8extended(t, hd) END) AS key
          FROM buildtrace._sim_plan(a) pl, buildtrace._sim_drawings(a) dr,
               buildtrace._sim_template(pl.nx, pl.ny) tpl) x
    WHERE key <= (a).objects
    UNION ALL
    SELECT st.d, k.key, st.s,
           CASE WHEN u1 < 0.30 THEN 'door' WHEN u1 < 0.50 THEN 'window'
                WHEN u1 < 0.65 THEN 'column' WHEN u1 < 0.85 THEN 'wall' ELSE 'space' END,
           CASE WHEN u1 >= 0.85 OR (u1 >= 0.50 AND u1 < 0.65) THEN '-'
                WHEN u2 < 0.5 THEN 'h' ELSE 'v' END,
           -- windows go on an outer wall; other kinds anywhere in the grid
           CASE WHEN u1 >= 0.30 AND u1 < 0.50 AND u2 >= 0.5 THEN CASE WHEN u3 < 0.5 THEN 0 ELSE pl.nx END
                ELSE floor(u3 * pl.nx)::int END,
           CASE WHEN u1 >= 0.30 AND u1 < 0.50 AND u2 < 0.5 THEN CASE WHEN u4 < 0.5 THEN 0 ELSE pl.ny END
                WHEN u1 < 0.30 AND u2 < 0.5 THEN floor(u4 * (pl.ny + 1))::int
                ELSE floor(u4 * pl.ny)::int END,
           u1 >= 0.30 AND u1 < 0.50,
           -- added columns stand mid-span, added walls are partitions
           u1 >= 0.50 AND u1 < 0.85
    FROM buildtrace._sim_plan(a) pl, buildtrace._sim_steps(a) st,
         LATERAL (SELECT (a).objects + (st.s - 2) * pl.b + jj AS key, jj
                  FROM generate_series(1, CASE WHEN st.spike THEN pl.b ELSE (a).objects END) jj) k,
         LATERAL (SELECT pg_catalog.hashint8extended(k.key, st.hs) AS ho) h,
         LATERAL (SELECT ((pg_catalog.hashint8extended(1, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u0,
                         ((pg_catalog.hashint8extended(21, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u1,
                         ((pg_catalog.hashint8extended(22, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u2,
                         ((pg_catalog.hashint8extended(23, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u3,
                         ((pg_catalog.hashint8extended(24, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS u4) u
    WHERE st.s > 1
      AND CASE WHEN st.spike THEN k.jj <= greatest(pl.n_spike, 0) OR (k.jj <= (a).objects AND u0 < st.rs)
               ELSE u0 < st.rs END
$fn$;

-- Every object of every drawing with its id, base geometry (mm) and
-- attribute indices.
CREATE FUNCTION buildtrace._sim_objects(a buildtrace._sim_args)
RETURNS TABLE(d int, key bigint, birth int, family text, t0 int, layer text, id text, orient text,
              x0 int8, y0 int8, w0 int8, h0 int8, rot int, a10 int, a20 int, a30 int,
              types text[], an text[], d1 text[], d2 text[], d3 text[])
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    SELECT o.d, o.key, o.birth, f.family, f.t0, f.layer,
           f.prefix || '-' || CASE WHEN num < 10000 THEN lpad(num::text, 4, '0') ELSE num::text END,
           o.orient, x0, y0, w0, h0,
           CASE WHEN o.orient = 'v' THEN 90 ELSE 0 END,
           floor(a1 * cardinality(f.d1))::int,
           floor(a2 * cardinality(f.d2))::int,
           floor(a3 * cardinality(f.d3))::int,
           f.types, f.an, f.d1, f.d2, f.d3
    FROM (SELECT *, CASE WHEN birth = 1
                         THEN row_number() OVER (PARTITION BY d, birth = 1, kind ORDER BY key)
                         ELSE key END AS num
          FROM buildtrace._sim_births(a)) o
    JOIN buildtrace._sim_kinds() f USING (kind)
    JOIN buildtrace._sim_drawings(a) dr ON dr.d = o.d
    JOIN buildtrace._sim_steps(a) st ON st.d = o.d AND st.s = o.birth,
    LATERAL (SELECT pg_catalog.hashint8extended(o.key, st.hs) AS ho) h,
    LATERAL (SELECT ((pg_catalog.hashint8extended(31, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS g1,
                    ((pg_catalog.hashint8extended(32, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS g2,
                    ((pg_catalog.hashint8extended(33, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a1,
                    ((pg_catalog.hashint8extended(34, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a2,
                    ((pg_catalog.hashint8extended(35, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS a3) u,
    LATERAL (SELECT CASE WHEN o.orient = 'v' THEN dr.sy ELSE dr.sx END - dr.col AS len,
                    CASE WHEN o.outer_wall THEN dr.tw_out ELSE dr.tw_in END AS thick,
                    CASE WHEN o.kind = 'door' THEN 900 + 100 * floor(4 * g1)::int8
                         ELSE 1200 + 200 * floor(6 * g1)::int8 END AS opening) gg,
    LATERAL (SELECT -- insertion point: centre of the host (grid point, wall, cell)
                    o.i * dr.sx + CASE WHEN o.kind = 'space' OR o.orient = 'h' OR o.mid
                                         THEN dr.sx / 2 ELSE 0 END AS cx,
                    o.j * dr.sy + CASE WHEN o.kind = 'space' OR o.orient = 'v'
                                              OR (o.mid AND o.kind = 'wall')
                                         THEN dr.sy / 2 ELSE 0 END AS cy,
                    -- doors and windows sit somewhere along their wall
                    CASE WHEN o.kind IN ('door', 'window')
                         THEN round((g2 - 0.5) * greatest(len - opening - 200, 0))::int8
                         ELSE 0 END AS off) c,
    LATERAL (SELECT cx + CASE WHEN o.orient = 'h' THEN off ELSE 0 END AS x0,
                    cy + CASE WHEN o.orient = 'v' THEN off ELSE 0 END AS y0,
                    CASE o.kind WHEN 'column' THEN dr.col WHEN 'wall' THEN len
                                WHEN 'space' THEN dr.sx - dr.tw_in ELSE opening END AS w0,
                    CASE o.kind WHEN 'column' THEN dr.col WHEN 'space' THEN dr.sy - dr.tw_in
                                ELSE thick END AS h0) gm
$fn$;

-- Every object in every step from its birth on, with that step's events and
-- the events up to it accumulated; an object is gone from the step of its
-- first removal on. The birth rows, the bulk when there are few versions,
-- have no events and skip the hashing and the window.
CREATE FUNCTION buildtrace._sim_states(a buildtrace._sim_args)
RETURNS TABLE(d int, key bigint, birth int, t0 int, layer text, id text, x0 int8, y0 int8,
              w0 int8, h0 int8, rot int, a10 int, a20 int, a30 int,
              types text[], an text[], d1 text[], d2 text[], d3 text[],
              s int, rm boolean, mv boolean, rsz boolean, rt boolean, md boolean,
              nrm int8, sdx int8, sdy int8, sdw int8, sdh int8, nrt int8, s1 int8, s2 int8, s3 int8)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $fn$
    WITH objects AS MATERIALIZED (SELECT * FROM buildtrace._sim_objects(a)),
    ev AS (
        SELECT o.*, st.s,
               st.s > o.birth AND e1 < st.rs AS rm,
               st.s > o.birth AND e2 < st.rs / (1 - st.rs) AS mv,
               st.s > o.birth AND e3 < st.rs / (1 - st.rs) AS rsz,
               st.s > o.birth AND e4 < st.rs / (1 - st.rs) AS rt,
               st.s > o.birth AND e5 < st.rs / (1 - st.rs) AS md,
               -- move: 0.2 to 3 units in any direction
               round((200 + 2800 * e6) * cos(2 * pi() * e7))::int8 AS mdx,
               round((200 + 2800 * e6) * sin(2 * pi() * e7))::int8 AS mdy,
               -- resize: width, height or both, by 20 % to 80 % of the base size,
               -- wrapping within [base / 2, base * 3 / 2)
               CASE WHEN e8 < 0.7 THEN round(o.w0 * (0.2 + 0.6 * e9))::int8 ELSE 0 END AS dw,
               CASE WHEN e8 >= 0.4 THEN round(o.h0 * (0.2 + 0.6 * e10))::int8 ELSE 0 END AS dh,
               floor(3 * e11)::int AS mattr,
               e12 AS minc
        FROM objects o
        JOIN buildtrace._sim_steps(a) st ON st.d = o.d AND st.s > o.birth,
        LATERAL (SELECT pg_catalog.hashint8extended(o.key, st.hs) AS ho) h,
        LATERAL (SELECT ((pg_catalog.hashint8extended(2, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e1,
                        ((pg_catalog.hashint8extended(3, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e2,
                        ((pg_catalog.hashint8extended(4, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e3,
                        ((pg_catalog.hashint8extended(5, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e4,
                        ((pg_catalog.hashint8extended(6, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e5,
                        ((pg_catalog.hashint8extended(7, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e6,
                        ((pg_catalog.hashint8extended(8, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e7,
                        ((pg_catalog.hashint8extended(9, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e8,
                        ((pg_catalog.hashint8extended(10, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e9,
                        ((pg_catalog.hashint8extended(11, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e10,
                        ((pg_catalog.hashint8extended(12, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e11,
                        ((pg_catalog.hashint8extended(13, ho) >> 11) & 9007199254740991)::float8 / 9007199254740992 AS e12) u
    )
    SELECT o.d, o.key, o.birth, o.t0, o.layer, o.id, o.x0, o.y0, o.w0, o.h0, o.rot, o.a10, o.a20, o.a30,
           o.types, o.an, o.d1, o.d2, o.d3,
           o.birth, false, false, false, false, false,
           0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8
    FROM objects o
    UNION ALL
    SELECT e.d, e.key, e.birth, e.t0, e.layer, e.id, e.x0, e.y0, e.w0, e.h0, e.rot, e.a10, e.a20, e.a30,
           e.types, e.an, e.d1, e.d2, e.d3,
           e.s, e.rm, e.mv, e.rsz, e.rt, e.md,
           count(*) FILTER (WHERE rm) OVER w,
           sum(CASE WHEN mv AND NOT rm THEN mdx::int4 ELSE 0 END) OVER w,
           sum(CASE WHEN mv AND NOT rm THEN mdy::int4 ELSE 0 END) OVER w,
           sum(CASE WHEN rsz AND NOT rm THEN dw::int4 ELSE 0 END) OVER w,
           sum(CASE WHEN rsz AND NOT rm THEN dh::int4 ELSE 0 END) OVER w,
           count(*) FILTER (WHERE rt AND NOT rm) OVER w,
           -- an edit moves the chosen attribute 1 .. size-1 places round its
           -- domain, so the value always differs from the one before
           sum(CASE WHEN md AND NOT rm AND mattr = 0
                    THEN 1 + floor(minc * (cardinality(e.d1) - 1))::int ELSE 0 END) OVER w,
           sum(CASE WHEN md AND NOT rm AND mattr = 1
                    THEN 1 + floor(minc * (cardinality(e.d2) - 1))::int ELSE 0 END) OVER w,
           sum(CASE WHEN md AND NOT rm AND mattr = 2
                    THEN 1 + floor(minc * (cardinality(e.d3) - 1))::int ELSE 0 END) OVER w
    FROM ev e
    WINDOW w AS (PARTITION BY e.d, e.key ORDER BY e.s)
$fn$;

-- The version chains all public functions are built from: `drawings`
-- drawings with `versions` versions each; version 1 is the base floor plan,
-- each later one the previous changed.  truth is relative to the previous
-- version (version 1: everything added). Payloads come from the live
-- objects, truth from the rows with an event only (a version's first
-- removal counts, the object is gone from then on).
CREATE OR REPLACE FUNCTION buildtrace._sim_chain(p_drawings int, p_versions int, p_objects int,
                                      p_rate float8, p_seed int, p_spike_drawing int,
                                      p_spike_step int, p_spike_factor float8)
RETURNS TABLE(drawing_no int, version_no int, payload jsonb, truth jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
-- The planner cannot estimate the generate_series joins and guesses costs in
-- the trillions; JIT compiling for those guesses takes seconds, the work
-- itself milliseconds.
SET jit = off
AS $fn$
    WITH args AS (
        SELECT ROW(p_drawings, p_versions, p_objects, p_rate, p_seed, p_spike_drawing,
                   p_spike_step, p_spike_factor)::buildtrace._sim_args AS a
    ),
    states AS MATERIALIZED (SELECT st.* FROM args, LATERAL buildtrace._sim_states(args.a) st),
    live AS (
        -- Built as JSON text and parsed once per version: about twice as fast as
        -- jsonb_build_object per object.  Every string here comes from the fixed
        -- vocabularies above or from generated ids, none needing JSON escapes.
        SELECT d, s,
               ('[' || string_agg(
                    '{"id":"' || id || '","type":"' || types[1 + (t0 + nrt) % 2]
                    || '","x":' || trim_scale((x0 + sdx) * 0.001)
                    || ',"y":' || trim_scale((y0 + sdy) * 0.001)
                    || ',"width":' || trim_scale((w0 / 2 + (w0 - w0 / 2 + sdw) % w0) * 0.001)
                    || ',"height":' || trim_scale((h0 / 2 + (h0 - h0 / 2 + sdh) % h0) * 0.001)
                    || ',"rotation":' || rot
                    || ',"layer":"' || layer || '","level":"L00","'
                    || an[1] || '":"' || d1[1 + (a10 + s1) % cardinality(d1)] || '","'
                    || an[2] || '":"' || d2[1 + (a20 + s2) % cardinality(d2)] || '","'
                    || an[3] || '":"' || d3[1 + (a30 + s3) % cardinality(d3)] || '"}',
                    ',' ORDER BY key) || ']')::jsonb AS payload
        FROM states
        WHERE nrm = 0
        GROUP BY d, s
    ),
    changed AS (
        -- json_object_agg, then jsonb: PostgreSQL 15's jsonb_object_agg copies
        -- each string of a value with a scan to the end of the value's text,
        -- quadratic in a list of a million ids (a minute that no cancel stops)
        SELECT d, s, json_object_agg(kind, ids)::jsonb AS truth
        FROM (SELECT d, s, kind, jsonb_agg(id ORDER BY id COLLATE "C") AS ids
              FROM states,
                   LATERAL (VALUES ('added', birth = s), ('removed', rm AND nrm = 1),
                                   ('moved', mv AND nrm = 0), ('resized', rsz AND nrm = 0),
                                   ('retyped', rt AND nrm = 0), ('modified', md AND nrm = 0)) k(kind, hit)
              WHERE nrm <= 1 AND (birth = s OR rm OR mv OR rsz OR rt OR md) AND hit
              GROUP BY d, s, kind) k
        GROUP BY d, s
    )
    SELECT st.d, st.s, coalesce(l.payload, '[]'),
           '{"added": [], "removed": [], "moved": [], "resized": [], "retyped": [], "modified": [],
             "malformed": false}'::jsonb
           || coalesce(c.truth, '{}')
           || CASE WHEN st.spike THEN '{"spike": true}'::jsonb ELSE '{}' END
    FROM args, LATERAL buildtrace._sim_steps(args.a) st
    LEFT JOIN live l ON l.d = st.d AND l.s = st.s
    LEFT JOIN changed c ON c.d = st.d AND c.s = st.s
    ORDER BY st.d, st.s
$fn$;

-- Counts of a set of pairs after processing, for process()'s message; the
-- pending ones (deferred processing) only if there are any.
CREATE OR REPLACE FUNCTION buildtrace._outcome(ids bigint[])
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT format('%s done, %s failed', count(*) FILTER (WHERE p.status = 'done'),
                  count(*) FILTER (WHERE p.status = 'failed'))
           || CASE WHEN count(*) FILTER (WHERE p.status = 'pending') > 0
                   THEN format(', %s pending', count(*) FILTER (WHERE p.status = 'pending')) ELSE '' END
    FROM buildtrace.pairs p
    WHERE p.pair_id = ANY (ids)
$$;

-- Deferred processing (36_work.sql of the install script): the attempts and
-- backoff of a pending pair, the worker's triggers, work().
ALTER TABLE buildtrace.pairs
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN next_attempt_at timestamptz;
COMMENT ON TABLE buildtrace.pairs IS
    'Submitted pairs of drawing versions; processed by trigger in the inserting statement, or by work() when buildtrace.processing is deferred.';

-- The worker's processing step: an UPDATE of status from 'pending' to 'done'
-- fires the pipeline's row and statement triggers, which set the real status.
CREATE TRIGGER pairs_work_diff
    BEFORE UPDATE OF status ON buildtrace.pairs
    FOR EACH ROW
    WHEN (OLD.status = 'pending' AND NEW.status = 'done')
    EXECUTE FUNCTION buildtrace._pairs_before_insert();

CREATE TRIGGER pairs_work_processed
    AFTER UPDATE OF status ON buildtrace.pairs
    FOR EACH ROW
    WHEN (OLD.status = 'pending' AND NEW.status <> 'pending')
    EXECUTE FUNCTION buildtrace._pairs_after_insert_row();

CREATE TRIGGER pairs_work_store
    AFTER UPDATE OF status ON buildtrace.pairs
    FOR EACH STATEMENT
    EXECUTE FUNCTION buildtrace._pairs_after_statement();

-- The queue: pending pairs in order, and a drawing's pending pairs (its
-- oldest, whether a pair is it), which a drawing's history of done pairs
-- would otherwise make workers read through. Inline pairs are never
-- pending when written, so neither index costs their INSERT anything.
CREATE INDEX pairs_pending_idx ON buildtrace.pairs (pair_id) WHERE status = 'pending';
CREATE INDEX pairs_pending_drawing_idx ON buildtrace.pairs (drawing_id, pair_id) WHERE status = 'pending';

-- Locks a drawing's oldest pending pair and returns it, if the pair is due,
-- no other worker is claiming it and no other transaction holds the drawing
-- (a writer's upload left open); else NULL. A worker takes a drawing's
-- pairs only behind this lock, which it holds until its claim commits. A
-- held drawing is passed over before anything is claimed: claimed and given
-- back, its pairs would use up the batch and be first in line again, and so
-- a writer holding its own drawings would starve every tenant's work. Its
-- state row is locked as processing locks it (FOR UPDATE), so that what
-- would make processing skip the drawing makes taking skip it.
CREATE FUNCTION buildtrace._work_lock_oldest(drawing_id text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    oldest bigint;
BEGIN
    SELECT p.pair_id INTO oldest
    FROM buildtrace.pairs p
    WHERE p.pair_id = (SELECT min(o.pair_id) FROM buildtrace.pairs o
                       WHERE o.drawing_id = _work_lock_oldest.drawing_id AND o.status = 'pending')
      AND coalesce(p.next_attempt_at, '-infinity') <= now()
    FOR NO KEY UPDATE SKIP LOCKED;
    IF oldest IS NOT NULL THEN
        PERFORM FROM buildtrace.drawing_state s
        WHERE s.drawing_id = _work_lock_oldest.drawing_id
        FOR UPDATE SKIP LOCKED;
        -- (a drawing without a state row is held by no one)
        IF NOT FOUND AND EXISTS (SELECT FROM buildtrace.drawing_state s
                                 WHERE s.drawing_id = _work_lock_oldest.drawing_id) THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN oldest;
END
$$;

-- Takes up to max_pairs due pending pairs, drawing by drawing, oldest
-- drawing first, skipping drawings another worker is claiming (each taken
-- drawing's oldest pending pair is locked until the claim commits) or
-- another transaction holds, however many they are. Within a
-- drawing, pairs are taken in order up to the first one not due. A row lock,
-- not an advisory lock: any role may take an advisory lock, and so stall a
-- drawing's processing; locking a pair takes the UPDATE privilege.
CREATE FUNCTION buildtrace._work_take(max_pairs integer)
RETURNS TABLE (pair_id bigint, drawing_id text, tenant text, attempts integer)
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
    n integer;
    taken integer := 0;
BEGIN
    -- Drawings whose oldest pending pair is due: the newer pairs of one
    -- whose oldest is claimed by another worker or backing off wait for it,
    -- so such drawings are left out here rather than each locked in vain.
    FOR d IN SELECT p.drawing_id
             FROM buildtrace.pairs p
             WHERE p.status = 'pending'
             GROUP BY p.drawing_id
             HAVING min(p.pair_id) = min(p.pair_id) FILTER (WHERE coalesce(p.next_attempt_at, '-infinity') <= now())
             ORDER BY min(p.pair_id) LOOP
        EXIT WHEN taken >= max_pairs;
        CONTINUE WHEN buildtrace._work_lock_oldest(d.drawing_id) IS NULL;
        RETURN QUERY
        SELECT q.pair_id, q.drawing_id, q.tenant, q.attempts
        FROM (SELECT p.pair_id, p.drawing_id, p.tenant, p.attempts,
                     bool_and(coalesce(p.next_attempt_at, '-infinity') <= now())
                         OVER (ORDER BY p.pair_id) AS due
              FROM buildtrace.pairs p
              WHERE p.drawing_id = d.drawing_id AND p.status = 'pending'
              ORDER BY p.pair_id) q
        WHERE q.due
        ORDER BY q.pair_id
        LIMIT max_pairs - taken;
        GET DIAGNOSTICS n = ROW_COUNT;
        taken := taken + n;
    END LOOP;
END
$$;

-- The next batch to claim, from the pairs _work_take takes: "fresh", the
-- pairs before the first one tried before whose attempt came to nothing
-- (its worker was terminated, crashed or cancelled, or a passing failure);
-- or, when the batch begins with such a pair, "tried", the tried pairs
-- taken, each to be taken again, claimed and processed alone
-- (_work_take_one). Whatever stops a worker stops its whole batch, which
-- every attempt is charged to: a pair that stopped its worker once is
-- therefore claimed alone, so that if it stops the next one too, it is
-- charged alone and fails alone after buildtrace.max_attempts, instead of
-- taking the good pairs of its batch with it.
CREATE FUNCTION buildtrace._work_next_batch(max_pairs integer, OUT fresh bigint[], OUT tried bigint[])
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    taken bigint[];
    first_tried bigint;
BEGIN
    SELECT array_agg(t.pair_id ORDER BY t.n), min(t.n) FILTER (WHERE t.attempts > 0),
           array_agg(t.pair_id ORDER BY t.n) FILTER (WHERE t.attempts > 0)
    INTO taken, first_tried, tried
    FROM buildtrace._work_take(max_pairs) WITH ORDINALITY AS t(pair_id, drawing_id, tenant, attempts, n);
    fresh := coalesce(taken[1 : coalesce(first_tried - 1, cardinality(taken))], '{}');
    IF first_tried IS DISTINCT FROM 1 THEN
        tried := '{}';
    END IF;
END
$$;

-- Takes one pair again, alone: if it is still pending and due, is the
-- oldest pending pair of its drawing, and no other worker is claiming it.
CREATE FUNCTION buildtrace._work_take_one(pair_id bigint)
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    drawing text;
BEGIN
    SELECT p.drawing_id INTO drawing
    FROM buildtrace.pairs p WHERE p.pair_id = _work_take_one.pair_id AND p.status = 'pending';
    IF FOUND AND buildtrace._work_lock_oldest(drawing) = pair_id THEN
        RETURN ARRAY[pair_id];
    END IF;
    RETURN '{}';
END
$$;

-- Claims taken pairs for one attempt: the ones out of attempts fail (and
-- wait in dead_letters), the others count one more attempt and are not due
-- again before a backoff of 2^attempts seconds (at most an hour), whatever
-- becomes of this one. Returns the pairs to process now.
CREATE FUNCTION buildtrace._work_claim(pair_ids bigint[])
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    max_attempts integer := buildtrace.setting('buildtrace.max_attempts'::text)::integer;
    claimed bigint[];
BEGIN
    PERFORM buildtrace._work_fail(
        ARRAY(SELECT p.pair_id FROM buildtrace.pairs p
              WHERE p.pair_id = ANY (pair_ids) AND p.status = 'pending'
                AND p.attempts >= max_attempts),
        '55000', format('processing gave up after %s attempts', max_attempts),
        'could not be processed for a passing reason (a lock timeout, a serialization failure, a worker that stopped) as often as buildtrace.max_attempts allows');

    WITH c AS (
        UPDATE buildtrace.pairs p
        SET attempts = p.attempts + 1,
            next_attempt_at = now() + least(interval '1 second' * power(2, least(p.attempts, 12)), interval '1 hour')
        WHERE p.pair_id = ANY (pair_ids) AND p.status = 'pending'
        RETURNING p.pair_id)
    SELECT array_agg(c.pair_id ORDER BY c.pair_id) INTO claimed FROM c;
    RETURN coalesce(claimed, '{}');
END
$$;

-- Fails claimed pairs that will not be processed, to wait in dead_letters:
-- out of attempts, or unprocessable for a lasting reason (the drawing is
-- another tenant's, say). Their problem says why; reason completes "Pair N
-- of drawing "D" …". Each is flagged as a processing_failed anomaly with
-- that problem, as a pair of invalid input is flagged (a dead letter that
-- nothing flags waits unseen), and counted in no rollup: the rollup of its
-- drawing may be another tenant's.
CREATE FUNCTION buildtrace._work_fail(pair_ids bigint[], sqlstate text, message text, reason text)
RETURNS void
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    WITH failed AS (
        UPDATE buildtrace.pairs p
        SET status = 'failed', processed_at = now(),
            error = jsonb_build_array(jsonb_build_object(
                'sqlstate', _work_fail.sqlstate, 'message', _work_fail.message,
                'detail', format('Pair %s of drawing "%s" %s.', p.pair_id, p.drawing_id, _work_fail.reason)))
        WHERE p.pair_id = ANY (_work_fail.pair_ids) AND p.status = 'pending'
        RETURNING p.pair_id, p.drawing_id, p.error, p.tenant)
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, pair_id, details, tenant)
    SELECT 'processing_failed', 'high', f.drawing_id, f.pair_id,
           jsonb_build_object('problems', f.error), f.tenant
    FROM failed f;
END;

-- Processes claimed pairs one at a time, oldest first: what a batch falls
-- back to when it failed, so that one pair that cannot be processed fails
-- alone. A pair that failed for a passing reason (lock timeout,
-- serialization failure, deadlock) stays claimed, to be tried again after
-- its backoff, and so do the newer pairs of its drawing.
CREATE FUNCTION buildtrace._work_one_by_one(pair_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    stalled text[] := '{}';
    processed bigint := 0;
BEGIN
    FOR p IN SELECT q.pair_id, q.drawing_id FROM buildtrace.pairs q
             WHERE q.pair_id = ANY (pair_ids) ORDER BY q.pair_id LOOP
        CONTINUE WHEN p.drawing_id = ANY (stalled);
        BEGIN
            UPDATE buildtrace.pairs q SET status = 'done'
            WHERE q.pair_id = p.pair_id AND q.status = 'pending';
            processed := processed + 1;
        EXCEPTION
            WHEN lock_not_available OR serialization_failure OR deadlock_detected THEN
                stalled := stalled || p.drawing_id;
                RAISE WARNING 'buildtrace.work() will retry pair % of drawing "%"', p.pair_id, p.drawing_id
                    USING DETAIL = format('Processing it failed with %s: %s.', SQLSTATE, SQLERRM);
            WHEN OTHERS THEN
                PERFORM buildtrace._work_fail(ARRAY[p.pair_id], SQLSTATE, SQLERRM, 'could not be processed');
        END;
    END LOOP;
    RETURN processed;
END
$$;

-- Locks the drawings of claimed pairs ahead of processing them, skipping
-- those another transaction holds (a writer's upload to its own drawing,
-- left open, say): their pairs stay pending, are not charged the attempt,
-- and wait for their backoff, so that a held drawing holds up its own pairs
-- only and not every tenant's work. Returns the pairs to process now.
CREATE FUNCTION buildtrace._work_lock_drawings(pair_ids bigint[])
RETURNS bigint[]
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    locked        text[];
    held_pairs    bigint[];
    held_drawings text[];
BEGIN
    SELECT coalesce(array_agg(l.drawing_id), '{}') INTO locked
    FROM (SELECT s.drawing_id FROM buildtrace.drawing_state s
          WHERE s.drawing_id IN (SELECT p.drawing_id FROM buildtrace.pairs p
                                 WHERE p.pair_id = ANY (pair_ids))
          ORDER BY s.drawing_id
          FOR UPDATE SKIP LOCKED) l;
    WITH held AS (
        UPDATE buildtrace.pairs p SET attempts = greatest(p.attempts - 1, 0)
        WHERE p.pair_id = ANY (pair_ids)
          AND p.drawing_id <> ALL (locked)
          AND EXISTS (SELECT FROM buildtrace.drawing_state s WHERE s.drawing_id = p.drawing_id)
        RETURNING p.pair_id, p.drawing_id)
    SELECT array_agg(h.pair_id), array_agg(DISTINCT h.drawing_id) INTO held_pairs, held_drawings
    FROM held h;
    IF held_pairs IS NULL THEN
        RETURN pair_ids;
    END IF;
    RAISE WARNING 'buildtrace.work() will retry % pairs of drawings another transaction holds',
        cardinality(held_pairs)
        USING DETAIL = format('Drawings %s.', array_to_string(held_drawings, ', '));
    RETURN ARRAY(SELECT i FROM unnest(pair_ids) i WHERE i <> ALL (held_pairs) ORDER BY i);
END
$$;

-- Processes claimed pairs: one statement per tenant (the pipeline stores a
-- statement's pairs under one tenant), or, if that statement fails, one pair
-- at a time. Returns the pairs processed.
CREATE FUNCTION buildtrace._work_process(pair_ids bigint[])
RETURNS bigint
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t text;
    ids bigint[];
    n bigint;
    processed bigint := 0;
    unheld bigint[] := buildtrace._work_lock_drawings(pair_ids);
BEGIN
    FOR t, ids IN SELECT p.tenant, array_agg(p.pair_id ORDER BY p.pair_id) FROM buildtrace.pairs p
                  WHERE p.pair_id = ANY (unheld) GROUP BY p.tenant ORDER BY 1 LOOP
        BEGIN
            UPDATE buildtrace.pairs p SET status = 'done'
            WHERE p.pair_id = ANY (ids) AND p.status = 'pending';
            GET DIAGNOSTICS n = ROW_COUNT;
        EXCEPTION WHEN OTHERS THEN
            n := buildtrace._work_one_by_one(ids);
        END;
        processed := processed + n;
    END LOOP;
    RETURN processed;
END
$$;

-- CALL buildtrace.work(max_pairs, max_seconds, poll_ms): processes pending
-- pairs in batches, each claimed and processed in transactions of their own,
-- until max_pairs were taken or max_seconds have passed, or the queue has
-- nothing due: then, with poll_ms above 0, it commits and looks again every
-- poll_ms milliseconds until max_seconds have passed (a pg_cron job that
-- starts it each minute for 55 seconds so processes a pair within about
-- poll_ms of its INSERT), and with poll_ms 0 it returns. Returns the pairs
-- processed. Batches are of at most 1,000 pairs.
--
-- A procedure, for its commits, which rule out a SET clause: as in purge(),
-- every name and operator is qualified and the work is done by functions
-- whose search_path is pinned. Run it as the owner or a superuser (pg_cron's
-- job, or a client in a loop): row-level security would leave it other
-- tenants' pairs.
CREATE PROCEDURE buildtrace.work(max_pairs integer DEFAULT 1000,
                                 max_seconds integer DEFAULT 60,
                                 poll_ms integer DEFAULT 0,
                                 INOUT processed bigint DEFAULT NULL)
LANGUAGE plpgsql
AS $$
DECLARE
    stop_at pg_catalog.timestamptz;
    batch bigint[];
    tried bigint[];
    one bigint;
    taken integer := 0;
BEGIN
    IF max_pairs IS NULL OR max_pairs OPERATOR(pg_catalog.<) 1
       OR max_seconds IS NULL OR max_seconds OPERATOR(pg_catalog.<) 1 THEN
        RAISE EXCEPTION 'work limits must be at least 1' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Arguments "max_pairs" and "max_seconds" are %s and %s.',
                                       coalesce(max_pairs::pg_catalog.text, 'null'),
                                       coalesce(max_seconds::pg_catalog.text, 'null'));
    END IF;
    IF poll_ms IS NULL OR poll_ms OPERATOR(pg_catalog.<) 0 THEN
        RAISE EXCEPTION 'poll_ms must be at least 0' USING ERRCODE = '22023',
            DETAIL = pg_catalog.format('Argument "poll_ms" is %s.',
                                       coalesce(poll_ms::pg_catalog.text, 'null'));
    END IF;
    stop_at := pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+)
               (max_seconds OPERATOR(pg_catalog.*) interval '1 second');
    processed := 0;
    LOOP
        SELECT b.fresh, b.tried INTO batch, tried
        FROM buildtrace._work_next_batch(LEAST(1000, max_pairs OPERATOR(pg_catalog.-) taken)) b;
        IF pg_catalog.cardinality(batch) OPERATOR(pg_catalog.>) 0 THEN
            taken := taken OPERATOR(pg_catalog.+) pg_catalog.cardinality(batch);
            batch := buildtrace._work_claim(batch);
            COMMIT;
            processed := processed OPERATOR(pg_catalog.+) buildtrace._work_process(batch);
            COMMIT;
        ELSIF pg_catalog.cardinality(tried) OPERATOR(pg_catalog.=) 0 THEN
            EXIT WHEN poll_ms OPERATOR(pg_catalog.=) 0;
            -- Nothing due: no transaction stays open while it waits, so the
            -- wait holds back neither vacuum nor a schema change.
            COMMIT;
            PERFORM pg_catalog.pg_sleep(LEAST(poll_ms OPERATOR(pg_catalog./) 1000.0,
                GREATEST(0, pg_catalog.date_part('epoch', stop_at OPERATOR(pg_catalog.-)
                                                           pg_catalog.clock_timestamp()))));
        ELSE
            -- Pairs whose attempt came to nothing: one claim and one
            -- processing transaction each (see _work_next_batch).
            COMMIT;
            FOREACH one IN ARRAY tried LOOP
                -- (another worker may have taken it since)
                batch := buildtrace._work_take_one(one);
                CONTINUE WHEN pg_catalog.cardinality(batch) OPERATOR(pg_catalog.=) 0;
                taken := taken OPERATOR(pg_catalog.+) 1;
                batch := buildtrace._work_claim(batch);
                COMMIT;
                processed := processed OPERATOR(pg_catalog.+) buildtrace._work_process(batch);
                COMMIT;
                EXIT WHEN taken OPERATOR(pg_catalog.>=) max_pairs
                       OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
            END LOOP;
        END IF;
        EXIT WHEN taken OPERATOR(pg_catalog.>=) max_pairs
               OR pg_catalog.clock_timestamp() OPERATOR(pg_catalog.>=) stop_at;
    END LOOP;
END
$$;
COMMENT ON PROCEDURE buildtrace.work(integer, integer, integer, bigint) IS
    'Processes pending (deferred) pairs in committed batches, whole drawings at a time; with poll_ms, waits for more until max_seconds; any number may run at once.';

REVOKE ALL ON FUNCTION buildtrace._work_take(integer), buildtrace._work_next_batch(integer),
    buildtrace._work_lock_oldest(text), buildtrace._work_take_one(bigint),
    buildtrace._work_claim(bigint[]), buildtrace._work_fail(bigint[], text, text, text),
    buildtrace._work_one_by_one(bigint[]), buildtrace._work_process(bigint[]),
    buildtrace._work_lock_drawings(bigint[]) FROM PUBLIC;
REVOKE ALL ON PROCEDURE buildtrace.work(integer, integer, integer, bigint) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Backups. The tables are the extension's, so pg_dump would write only
-- CREATE EXTENSION and none of their rows: marked as its configuration,
-- every row is dumped, and the identity sequences' positions with them
-- (pg_dump orders the tables' data by their foreign keys).
--
-- A restore must not process the rows again: versions would make pairs
-- that the dump holds already. Restore with the triggers off, as a
-- superuser: PGOPTIONS='-c session_replication_role=replica' pg_restore …
-- (README, Backup and restore; test/backup/run.sh).
-- ---------------------------------------------------------------------------

SELECT pg_catalog.pg_extension_config_dump('buildtrace.versions', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.pairs', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.changes', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.anomalies', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.drawing_state', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.hourly_rollups', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.upload_expectations', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.scheduled_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.purge_horizon', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.versions_version_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.pairs_pair_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('buildtrace.anomalies_anomaly_id_seq', '');

-- ---------------------------------------------------------------------------
-- Descriptions (psql \df+, \dd) for the functions and aggregates that had
-- none.
-- ---------------------------------------------------------------------------

COMMENT ON FUNCTION buildtrace.setting(text) IS
    'The current value of a buildtrace.* setting (loading the module first, so its default and checks apply).';
COMMENT ON FUNCTION buildtrace.bt_sketch_in(cstring) IS 'Text input of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_out(buildtrace.bt_sketch) IS 'Text output of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_recv(internal) IS 'Binary input of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_send(buildtrace.bt_sketch) IS 'Binary output of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[]) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8, float8) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_percentile_trans(internal, float8, float8[], float8) IS 'Transition function of bt_percentile.';
COMMENT ON FUNCTION buildtrace.bt_sketch_trans(internal, float8) IS 'Transition function of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_trans(internal, float8, float8) IS 'Transition function of bt_sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_merge_trans(internal, buildtrace.bt_sketch) IS 'Transition function of bt_sketch_merge.';
COMMENT ON FUNCTION buildtrace.bt_agg_combine(internal, internal) IS 'Combine function of the sketch aggregates.';
COMMENT ON FUNCTION buildtrace.bt_agg_serialize(internal) IS 'Serialize function of the sketch aggregates.';
COMMENT ON FUNCTION buildtrace.bt_agg_deserialize(bytea, internal) IS 'Deserialize function of the sketch aggregates.';
COMMENT ON FUNCTION buildtrace.bt_percentile_final(internal) IS 'Final function of bt_percentile with one quantile.';
COMMENT ON FUNCTION buildtrace.bt_percentiles_final(internal) IS 'Final function of bt_percentile with an array of quantiles.';
COMMENT ON FUNCTION buildtrace.bt_sketch_final(internal) IS 'Final function of bt_sketch and bt_sketch_merge.';
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8) IS
    'The q-quantile (0 to 1) of the values, within 1 % of the true value (relative error) while the sketch has not collapsed.';
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8[]) IS
    'The quantiles qs (each 0 to 1) of the values, within 1 % of the true values (relative error) while the sketch has not collapsed.';
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8, float8) IS
    'The q-quantile (0 to 1) of the values, within relative_accuracy (0.0001 to 0.5) of the true value while the sketch has not collapsed.';
COMMENT ON AGGREGATE buildtrace.bt_percentile(float8, float8[], float8) IS
    'The quantiles qs (each 0 to 1) of the values, within relative_accuracy (0.0001 to 0.5) of the true values while the sketch has not collapsed.';
COMMENT ON AGGREGATE buildtrace.bt_sketch(float8) IS
    'A bt_sketch of the values at 1 % relative accuracy, to store and merge later.';
COMMENT ON AGGREGATE buildtrace.bt_sketch(float8, float8) IS
    'A bt_sketch of the values at relative_accuracy (0.0001 to 0.5), to store and merge later.';
COMMENT ON AGGREGATE buildtrace.bt_sketch_merge(buildtrace.bt_sketch) IS
    'The union of the sketches (of one relative accuracy); NULLs are ignored.';
COMMENT ON FUNCTION buildtrace.bt_sketch_quantile(buildtrace.bt_sketch, float8) IS
    'The q-quantile (0 to 1) of the values in the sketch, within its relative accuracy.';
COMMENT ON FUNCTION buildtrace.bt_sketch_quantiles(buildtrace.bt_sketch, float8[]) IS
    'The quantiles qs (each 0 to 1) of the values in the sketch, within its relative accuracy.';
COMMENT ON FUNCTION buildtrace.bt_sketch_count(buildtrace.bt_sketch) IS
    'The number of values in the sketch.';
COMMENT ON FUNCTION buildtrace.bt_sketch_add(buildtrace.bt_sketch, buildtrace.bt_sketch) IS
    'The union of two sketches of one relative accuracy; a NULL side is ignored.';
COMMENT ON FUNCTION buildtrace.retry_failed(bigint[], text) IS
    'Resubmits dead letters (all, those listed, or one drawing''s) with their stored versions as new pairs; one row per dead letter.';
COMMENT ON FUNCTION buildtrace.process(jsonb) IS
    'POST /process: stores a list of version pairs or of build job states and returns {"job_id", "message", "tasks_created"}.';
COMMENT ON FUNCTION buildtrace.changes(text) IS
    'GET /changes: the latest change set of a drawing, with its drawing_id, pair_id, job_id and computed_at.';
COMMENT ON FUNCTION buildtrace.report(text, integer) IS
    'GET /report/{job_id}: a readable report of a job: its totals, then what changed in each of its first max_pairs pairs.';
COMMENT ON FUNCTION buildtrace.changes(text, bigint) IS
    'One past change set of a drawing, by pair_id, in the shape of changes(drawing_id).';
COMMENT ON FUNCTION buildtrace.dead_letter_payloads(bigint) IS
    'The stored versions of a failed pair, to correct and resubmit them.';
COMMENT ON FUNCTION buildtrace.generate_pairs(integer, integer, float8, integer, float8, integer, integer, float8, text, float8, float8, float8, float8, float8) IS
    'Simulated drawing version pairs with the ground truth of their changes; the same seed gives the same pairs.';
COMMENT ON FUNCTION buildtrace.generate_versions(integer, integer, integer, float8, integer, float8, integer, integer, float8, text, float8, float8, float8, float8, float8) IS
    'Simulated version chains of drawings with the ground truth of each version''s changes; the same seed gives the same versions.';
COMMENT ON FUNCTION buildtrace.resolve_anomalies(bigint[], text) IS
    'Closes the listed open anomalies, with an optional note; returns how many were closed.';


-- pg_init_privs without the site's grants and with what the site revoked
-- (see the top of the script), so that pg_dump dumps both again. An object
-- left with no privilege has no row, as if never granted on. Then the role
-- the script began with.
DO $$
DECLARE
    site jsonb := pg_catalog.current_setting('buildtrace_update.site_grants')::jsonb;
BEGIN
    WITH kept AS (
        SELECT i2.classoid, i2.objoid, i2.objsubid,
               (SELECT pg_catalog.array_agg(pg_catalog.format('%s=%s/%s',
                           CASE WHEN x.grantee OPERATOR(pg_catalog.=) 0 THEN ''
                                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantee)) END,
                           x.privileges,
                           pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(x.grantor)))::pg_catalog.aclitem)
                FROM (SELECT u.grantee, u.grantor,
                             pg_catalog.string_agg(
                                 CASE u.privilege_type
                                     WHEN 'SELECT' THEN 'r' WHEN 'INSERT' THEN 'a' WHEN 'UPDATE' THEN 'w'
                                     WHEN 'DELETE' THEN 'd' WHEN 'TRUNCATE' THEN 'D' WHEN 'REFERENCES' THEN 'x'
                                     WHEN 'TRIGGER' THEN 't' WHEN 'EXECUTE' THEN 'X' WHEN 'USAGE' THEN 'U'
                                     WHEN 'CREATE' THEN 'C' WHEN 'TEMPORARY' THEN 'T' WHEN 'CONNECT' THEN 'c'
                                     WHEN 'SET' THEN 's' WHEN 'ALTER SYSTEM' THEN 'A' END
                                 OPERATOR(pg_catalog.||) CASE WHEN u.is_grantable THEN '*' ELSE '' END,
                                 '') AS privileges
                      FROM (SELECT b.grantor, b.grantee, b.privilege_type, b.is_grantable
                            FROM pg_catalog.aclexplode(i2.initprivs) b
                            WHERE NOT EXISTS (
                                SELECT FROM pg_catalog.jsonb_array_elements(site) g
                                WHERE g OPERATOR(pg_catalog.=)
                                      pg_catalog.jsonb_build_array(i2.classoid::pg_catalog.oid, i2.objoid,
                                                                   i2.objsubid, b.grantor, b.grantee,
                                                                   b.privilege_type, b.is_grantable,
                                                                   'granted'))
                            UNION
                            SELECT (g OPERATOR(pg_catalog.->>) 3)::pg_catalog.oid,
                                   (g OPERATOR(pg_catalog.->>) 4)::pg_catalog.oid,
                                   g OPERATOR(pg_catalog.->>) 5,
                                   (g OPERATOR(pg_catalog.->>) 6)::boolean
                            FROM pg_catalog.jsonb_array_elements(site) g
                            WHERE (g OPERATOR(pg_catalog.->>) 0)::pg_catalog.oid OPERATOR(pg_catalog.=) i2.classoid
                              AND (g OPERATOR(pg_catalog.->>) 1)::pg_catalog.oid OPERATOR(pg_catalog.=) i2.objoid
                              AND (g OPERATOR(pg_catalog.->>) 2)::integer OPERATOR(pg_catalog.=) i2.objsubid
                              AND g OPERATOR(pg_catalog.->>) 7 OPERATOR(pg_catalog.=) 'revoked'
                              -- a role dropped since has no privilege to name
                              AND EXISTS (SELECT FROM pg_catalog.pg_roles r
                                          WHERE r.oid OPERATOR(pg_catalog.=)
                                                (g OPERATOR(pg_catalog.->>) 3)::pg_catalog.oid)
                              AND ((g OPERATOR(pg_catalog.->>) 4)::pg_catalog.oid OPERATOR(pg_catalog.=) 0
                                   OR EXISTS (SELECT FROM pg_catalog.pg_roles r
                                              WHERE r.oid OPERATOR(pg_catalog.=)
                                                    (g OPERATOR(pg_catalog.->>) 4)::pg_catalog.oid))) u
                      GROUP BY u.grantee, u.grantor) x) AS acl
        FROM pg_catalog.pg_init_privs i2
        WHERE i2.privtype OPERATOR(pg_catalog.=) 'e'
          AND EXISTS (SELECT FROM pg_catalog.jsonb_array_elements(site) g
                      WHERE (g OPERATOR(pg_catalog.->>) 0)::pg_catalog.oid OPERATOR(pg_catalog.=) i2.classoid
                        AND (g OPERATOR(pg_catalog.->>) 1)::pg_catalog.oid OPERATOR(pg_catalog.=) i2.objoid
                        AND (g OPERATOR(pg_catalog.->>) 2)::integer OPERATOR(pg_catalog.=) i2.objsubid)
    ),
    emptied AS (
        DELETE FROM pg_catalog.pg_init_privs i
        USING kept k
        WHERE k.acl IS NULL
          AND i.classoid OPERATOR(pg_catalog.=) k.classoid AND i.objoid OPERATOR(pg_catalog.=) k.objoid
          AND i.objsubid OPERATOR(pg_catalog.=) k.objsubid AND i.privtype OPERATOR(pg_catalog.=) 'e'
    )
    UPDATE pg_catalog.pg_init_privs i
    SET initprivs = k.acl
    FROM kept k
    WHERE k.acl IS NOT NULL
      AND i.classoid OPERATOR(pg_catalog.=) k.classoid AND i.objoid OPERATOR(pg_catalog.=) k.objoid
      AND i.objsubid OPERATOR(pg_catalog.=) k.objsubid AND i.privtype OPERATOR(pg_catalog.=) 'e';
    PERFORM pg_catalog.set_config('buildtrace_update.site_grants', '', true);
    PERFORM pg_catalog.set_config('role', pg_catalog.current_setting('buildtrace_update.role'), true);
END
$$;

-- Error messages name an over-long drawing id by its first characters.
-- Raises no_data_found for a drawing without processed changes, saying
-- whether it is unknown or only has unprocessed / failed pairs.
CREATE OR REPLACE FUNCTION buildtrace._no_changes(drawing text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    n_pairs bigint;
    n_versions bigint;
BEGIN
    SELECT count(*) INTO n_pairs FROM buildtrace.pairs p WHERE p.drawing_id = drawing;
    SELECT count(*) INTO n_versions FROM buildtrace.versions v WHERE v.drawing_id = drawing;
    IF n_pairs = 0 AND n_versions = 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = format('unknown drawing "%s"', buildtrace._id_shown(drawing)),
            DETAIL = 'No version or pair of this drawing has been stored.';
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'no_data_found',
        MESSAGE = format('drawing "%s" has no processed changes', buildtrace._id_shown(drawing)),
        DETAIL = format('It has %s version%s and %s pair%s, none processed successfully.',
                        n_versions, CASE WHEN n_versions = 1 THEN '' ELSE 's' END,
                        n_pairs, CASE WHEN n_pairs = 1 THEN '' ELSE 's' END),
        HINT = 'A single version has nothing to compare with; failed pairs are in buildtrace.dead_letters.';
END
$$;
