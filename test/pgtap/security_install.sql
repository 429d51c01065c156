-- Install safety against a hostile role with CREATE on the database: a
-- schema "buildtrace" made in advance stops CREATE EXTENSION, an overload
-- planted beside buildtrace's functions is never called by them, and hostile
-- objects in public change nothing. Runs in a transaction that is rolled
-- back, so the database keeps its installed extension.
BEGIN;
SELECT plan(15);

CREATE ROLE bt_attacker;
GRANT CREATE ON DATABASE buildtrace_test TO bt_attacker;
DROP EXTENSION buildtrace CASCADE;
DROP SCHEMA buildtrace;

-- The attack: the schema is made by the attacker before the superuser
-- installs into it.
SET LOCAL ROLE bt_attacker;
CREATE SCHEMA buildtrace;
RESET ROLE;
SELECT throws_ok('CREATE EXTENSION buildtrace', '42501',
                 'schema "buildtrace" is owned by role bt_attacker, not by the installing role ' || current_user,
                 'CREATE EXTENSION refuses a schema another role owns');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'buildtrace'), 'nothing was installed');

-- Owned by the installer, but the attacker may create in it.
ALTER SCHEMA buildtrace OWNER TO CURRENT_USER;
GRANT CREATE ON SCHEMA buildtrace TO bt_attacker;
SELECT throws_ok('CREATE EXTENSION buildtrace', '42501', 'other roles may create objects in schema "buildtrace"',
                 'CREATE EXTENSION refuses a schema others may create in');
REVOKE CREATE ON SCHEMA buildtrace FROM bt_attacker;

-- Owned by the installer, but not empty.
CREATE FUNCTION buildtrace.bt_sketch_quantile(s text, q numeric) RETURNS float8
LANGUAGE sql AS 'SELECT 0::float8';
SELECT throws_ok('CREATE EXTENSION buildtrace', '55000', 'schema "buildtrace" is not empty',
                 'CREATE EXTENSION refuses a schema with objects in it');
DROP SCHEMA buildtrace CASCADE;

-- Hostile objects in public, with the signatures of what buildtrace calls,
-- each recording that it ran. None may run, at install or later, even with
-- public searched first.
CREATE TABLE public.bt_hostile_calls (what text);
GRANT INSERT ON public.bt_hostile_calls TO PUBLIC;
CREATE FUNCTION public.bt_hostile(what text) RETURNS boolean
LANGUAGE sql AS $$ INSERT INTO public.bt_hostile_calls VALUES (what); SELECT true $$;
CREATE FUNCTION public.texteq(a text, b text) RETURNS boolean
LANGUAGE sql AS $$ SELECT public.bt_hostile('text =') AND a OPERATOR(pg_catalog.=) b $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq);
CREATE FUNCTION public.int8eq(a bigint, b bigint) RETURNS boolean
LANGUAGE sql AS $$ SELECT public.bt_hostile('bigint =') AND a OPERATOR(pg_catalog.=) b $$;
CREATE OPERATOR public.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.int8eq);
CREATE FUNCTION public.now() RETURNS timestamptz
LANGUAGE sql AS $$ SELECT public.bt_hostile('now') AND true; SELECT pg_catalog.now() $$;
CREATE FUNCTION public.date_trunc(text, timestamptz, text) RETURNS timestamptz
LANGUAGE sql AS $$ SELECT public.bt_hostile('date_trunc'); SELECT pg_catalog.date_trunc($1, $2, $3) $$;
CREATE FUNCTION public.jsonb_array_length(jsonb) RETURNS integer
LANGUAGE sql AS $$ SELECT public.bt_hostile('jsonb_array_length'); SELECT pg_catalog.jsonb_array_length($1) $$;
CREATE FUNCTION public.setting(text) RETURNS text
LANGUAGE sql AS $$ SELECT public.bt_hostile('setting'); SELECT '1' $$;
CREATE FUNCTION public.bt_sketch_quantile(s text, q numeric) RETURNS float8
LANGUAGE sql AS $$ SELECT public.bt_hostile('bt_sketch_quantile'); SELECT 0::float8 $$;
CREATE TABLE public.pairs (x int);
CREATE TABLE public.drawing_state (x int);

-- With public searched first, install and exercise everything that runs
-- with definer rights, and the pipeline, in plain statements (pgTAP's own
-- functions would call the hostile operators).
SET LOCAL search_path = public, pg_catalog;
CREATE EXTENSION buildtrace;
-- Even an overload a superuser planted is not what the definer functions
-- call: their calls name float8, which the numeric overload is not.
CREATE FUNCTION buildtrace.bt_sketch_quantile(s buildtrace.bt_sketch, q numeric) RETURNS float8
LANGUAGE sql AS $$ SELECT public.bt_hostile('numeric overload'); SELECT 0::float8 $$;
CREATE FUNCTION buildtrace.bt_sketch_quantile_bounds(s buildtrace.bt_sketch, q numeric,
    OUT estimate float8, OUT lower float8, OUT upper float8)
LANGUAGE sql AS $$ SELECT public.bt_hostile('numeric overload'); SELECT 0::float8, 0::float8, 0::float8 $$;
INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
VALUES ('hostile', 'hostile-job', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]', 3),
       ('hostile', 'hostile-job', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]', '7', 4);
INSERT INTO buildtrace.versions (drawing_id, payload) VALUES ('hostile-v', '[]'), ('hostile-v', '[]');
CREATE TEMP TABLE answers AS
SELECT buildtrace.metrics('1 hour') AS metrics, buildtrace.health() AS health,
       buildtrace.changes('hostile') AS changes, buildtrace.report('hostile-job') AS report,
       (SELECT count(*) FROM buildtrace.retry_failed()) AS retried,
       (SELECT count(*) FROM buildtrace.latency) AS latency_rows,
       (SELECT count(*) FROM buildtrace.changes c) AS change_rows;
-- A statement of its own, to see what the calls above wrote.
CREATE TEMP TABLE hostile_calls AS
SELECT ARRAY(SELECT what FROM public.bt_hostile_calls ORDER BY what) AS calls;
-- The probe: the same kind of query, written without pinning, does call them.
CREATE TEMP TABLE probe AS
SELECT count(*) AS n FROM buildtrace.pairs WHERE drawing_id = 'hostile'::text;
CREATE TEMP TABLE probe_calls AS SELECT count(*) AS n FROM public.bt_hostile_calls;
SET LOCAL search_path = pg_catalog, public;

SELECT is((SELECT n.nspowner::regrole::text FROM pg_namespace n WHERE n.nspname = 'buildtrace'),
          current_user::text, 'the schema CREATE EXTENSION made is the installer''s');
SELECT is((SELECT calls FROM hostile_calls), '{}'::text[], 'no hostile object ran, at install or after');
SELECT is((SELECT change_rows FROM answers), 2::bigint, 'the pipeline worked with public searched first');
SELECT ok((SELECT (metrics ->> 'latency_p95')::float8 > 0 FROM answers), 'metrics() reported a latency');
SELECT ok((SELECT health ? 'status' FROM answers), 'health() answered');
SELECT ok((SELECT changes ? 'summary' FROM answers), 'changes() answered');
SELECT ok((SELECT report LIKE 'BuildTrace report%' FROM answers), 'report() answered');
SELECT is((SELECT retried FROM answers), 1::bigint, 'retry_failed() answered');
SELECT is((SELECT latency_rows FROM answers), 4::bigint, 'the latency view answered');
SELECT ok((SELECT n > 0 FROM probe_calls), 'the hostile objects are live: an unpinned query ran them');

-- A role with CREATE on the database cannot add to the schema now.
SET LOCAL ROLE bt_attacker;
SELECT throws_ok($$CREATE FUNCTION buildtrace.bt_diff(a text, b text)
                   RETURNS jsonb LANGUAGE sql AS 'SELECT NULL::jsonb'$$,
                 '42501', NULL, 'the attacker cannot plant an overload after the install');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
