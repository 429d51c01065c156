-- purge() and work() are procedures that commit, and so cannot pin
-- search_path. pg_cron runs them as a superuser, in a database whose owner
-- may be hostile: with the owner's objects searched first (a domain named
-- text, operators for the types they compare), they must call none of them.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
TRUNCATE buildtrace.pairs, buildtrace.versions, buildtrace.changes, buildtrace.anomalies,
         buildtrace.drawing_state, buildtrace.hourly_rollups RESTART IDENTITY CASCADE;

CREATE TABLE public.bt_hostile_calls (what text);
CREATE FUNCTION public.bt_hostile(what text) RETURNS boolean
LANGUAGE sql AS $$ INSERT INTO public.bt_hostile_calls VALUES (what); SELECT true $$;
CREATE DOMAIN public.text AS pg_catalog.text CHECK (public.bt_hostile('text domain'));
CREATE DOMAIN public.timestamptz AS pg_catalog.timestamptz CHECK (public.bt_hostile('timestamptz domain'));
CREATE FUNCTION public.hostile_texteq(a pg_catalog.text, b pg_catalog.text) RETURNS boolean
LANGUAGE sql AS $$ SELECT public.bt_hostile('text =') AND a OPERATOR(pg_catalog.=) b $$;
CREATE OPERATOR public.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text,
                          FUNCTION = public.hostile_texteq);
CREATE FUNCTION public.hostile_int4lt(a integer, b integer) RETURNS boolean
LANGUAGE sql AS $$ SELECT public.bt_hostile('integer <') AND a OPERATOR(pg_catalog.<) b $$;
CREATE OPERATOR public.< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.hostile_int4lt);

-- A pair to purge (not its drawing's last upload) and a deferred pair to
-- work on.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
VALUES ('H-1', '[]', '[{"id":"A","type":"wall","x":0,"y":0,"width":1,"height":1}]');
UPDATE buildtrace.pairs SET processed_at = now() - interval '100 days';
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('H-1', '[]', '[]');
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('H-2', '[]', '[]');
RESET buildtrace.processing;
SET buildtrace.keep_pairs = '30d';

SET search_path = public, pg_catalog;
-- The probe: unqualified names do run the hostile objects.
SELECT 'a'::text = 'a' AS probe, now()::timestamptz IS NOT NULL AS probe;
SELECT what, count(*) FROM public.bt_hostile_calls GROUP BY what ORDER BY what;
TRUNCATE public.bt_hostile_calls;
-- A deferred INSERT claims its drawing by the claim function's exact
-- signature, whatever "text" names on this search_path.
SET buildtrace.processing = deferred;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('H-3', '[]', '[]');
RESET buildtrace.processing;
CALL buildtrace.work();
CALL buildtrace.purge();
CALL buildtrace.purge(NULL);
CALL buildtrace.work(0);
CALL buildtrace.work(1, 1, -1);
RESET search_path;

SELECT what, count(*) FROM public.bt_hostile_calls GROUP BY what ORDER BY what;
SELECT pair_id, drawing_id, status FROM buildtrace.pairs ORDER BY pair_id;

RESET buildtrace.keep_pairs;
DROP OPERATOR public.< (integer, integer);
DROP OPERATOR public.= (pg_catalog.text, pg_catalog.text);
DROP FUNCTION public.hostile_int4lt(integer, integer), public.hostile_texteq(pg_catalog.text, pg_catalog.text);
DROP DOMAIN public.text, public.timestamptz;
DROP FUNCTION public.bt_hostile(text);
DROP TABLE public.bt_hostile_calls;
