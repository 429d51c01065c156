-- ---------------------------------------------------------------------------
-- buildtrace across servers with PL/Proxy: the proxy database's functions.
--
-- Each shard is a database running buildtrace unchanged; the proxy holds no
-- data. A drawing lives on one shard, partition _drawing_key(drawing_id) &
-- (N - 1) of the N shards of server buildtrace_shards (PL/Proxy wants N a
-- power of two): the functions that name a drawing run there, the ones that
-- do not (metrics, health, a job's report) run on every shard and are
-- combined here.
-- Latency sketches are merged on the proxy with bt_sketch_merge, which is
-- exact, so the global P95/P99 carry the same error bound as on one server.
--
-- Load it into a database that has the plproxy and buildtrace extensions
-- (buildtrace for the bt_sketch type and its functions; its tables stay
-- empty), after sharding/setup.sh has made server buildtrace_shards.
--
-- Every function pins its search_path, the PL/Proxy ones too: PL/Proxy runs
-- the RUN ON function with the caller's search_path and rights, so an
-- unqualified hashtext could be anyone's. The queries sent to the shards
-- call schema-qualified functions and operators only, so a shard's own
-- search_path cannot change them.
-- ---------------------------------------------------------------------------

CREATE SCHEMA buildtrace_proxy;
REVOKE ALL ON SCHEMA buildtrace_proxy FROM PUBLIC;
GRANT USAGE ON SCHEMA buildtrace_proxy TO buildtrace_writer, buildtrace_reader;

-- The number of shards: the partitions of server buildtrace_shards.
CREATE FUNCTION buildtrace_proxy.shard_count()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN (SELECT count(*)::int FROM pg_foreign_server s, LATERAL unnest(s.srvoptions) o
        WHERE s.srvname = 'buildtrace_shards' AND o LIKE 'partition\_%=%');

-- The hash that places a drawing, for RUN ON. A NULL drawing id goes where
-- '' goes, so that changes() and history() of NULL answer as on one server.
CREATE FUNCTION buildtrace_proxy._drawing_key(drawing_id text)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN pg_catalog.hashtext(coalesce(drawing_id, ''));

-- The shard of a drawing: the partition its key picks.
CREATE FUNCTION buildtrace_proxy.shard_of(drawing_id text)
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN buildtrace_proxy._drawing_key(drawing_id) & (buildtrace_proxy.shard_count() - 1);

-- The tenant a call acts for on the shards. A shard sees the calling role
-- (see setup.sh), but not this session's settings: every function that
-- sends a query takes the tenant as its last argument, by default this
-- session's buildtrace.tenant, and its query sets it, for that query's
-- transaction only, before anything else runs there (in a subquery of its
-- own, which the rest of the query reads from or joins laterally, so that
-- no policy check runs first). The shard checks it as one server checks a
-- SET: the role must be a member of the tenant. An empty tenant leaves the
-- role's default on the shard.
CREATE FUNCTION buildtrace_proxy.session_tenant()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN coalesce(pg_catalog.current_setting('buildtrace.tenant', true), '');

-- A drawing's latest change set, one past change set, its history.
CREATE FUNCTION buildtrace_proxy.changes(drawing_id text,
                                         tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS jsonb
LANGUAGE plproxy STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON buildtrace_proxy._drawing_key(drawing_id);
    SELECT buildtrace.changes(drawing_id)
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant;
$$;

CREATE FUNCTION buildtrace_proxy.changes(drawing_id text, pair_id bigint,
                                         tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS jsonb
LANGUAGE plproxy STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON buildtrace_proxy._drawing_key(drawing_id);
    SELECT buildtrace.changes(drawing_id, pair_id)
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant;
$$;

-- PL/Proxy sends arguments as text, written with the proxy session's
-- settings and read with the shard's: times go as ISO 8601, which every
-- DateStyle reads alike, and floats with every digit.
CREATE FUNCTION buildtrace_proxy.history(drawing_id text, since timestamptz DEFAULT NULL,
                                         until timestamptz DEFAULT NULL,
                                         tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS SETOF buildtrace.drawing_history
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
SET DateStyle = 'ISO'
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON buildtrace_proxy._drawing_key(drawing_id);
    SELECT (h.entry).*
    FROM (SELECT buildtrace.history(drawing_id, since, until) AS entry
          FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                            THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
                OFFSET 0) AS as_tenant) h;
$$;

-- process(): the whole request is checked here first, as process() checks
-- it on one server, so that a bad element stores nothing anywhere; then a
-- pair list is split by drawing, each part sent to its drawing's shard; job
-- states go to the shard of their drawing ("default" when they name none).
-- Each part commits on its shard when it is sent (PL/Proxy has no two-phase
-- commit): a shard that fails a part, such as one that is down, leaves the
-- parts sent before it stored. Returns {"job_id", "message",
-- "tasks_created"}, the message listing each part's.

-- The items of a process() request, as process() reads it: its pairs, or
-- its job states.
CREATE FUNCTION buildtrace_proxy._request_items(request jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN CASE WHEN jsonb_typeof(request -> 'version_pairs') = 'array' THEN request -> 'version_pairs'
            WHEN jsonb_typeof(request) = 'array' THEN request
            ELSE request -> 'jobs' END;

-- The drawing of each item, by its ordinal (from 0) in the items.
CREATE FUNCTION buildtrace_proxy._request_drawings(request jsonb)
RETURNS TABLE (drawing_id text, ordinal integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN jsonb_typeof(request -> 'version_pairs') = 'array'
                THEN coalesce(x.e ->> 'drawing_id', '')
                ELSE coalesce(x.e ->> 'drawing_id', request ->> 'drawing_id', 'default') END,
           (x.o - 1)::integer
    FROM jsonb_array_elements(buildtrace_proxy._request_items(request)) WITH ORDINALITY x(e, o)
$$;

-- A process() request split by drawing: each part's drawing and its items,
-- in the order of their first item. A request of one drawing is one part
-- holding the items as they are: aggregating large versions again would
-- cost milliseconds a call.
CREATE FUNCTION buildtrace_proxy._request_parts(request jsonb)
RETURNS TABLE (drawing_id text, items jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH parts AS (
        SELECT d.drawing_id, array_agg(d.ordinal ORDER BY d.ordinal) AS ordinals
        FROM buildtrace_proxy._request_drawings(request) d
        GROUP BY d.drawing_id),
    whole AS (SELECT buildtrace_proxy._request_items(request) AS items)
    SELECT p.drawing_id,
           CASE WHEN (SELECT count(*) FROM parts) = 1 THEN w.items
                ELSE (SELECT jsonb_agg(w.items -> i ORDER BY i) FROM unnest(p.ordinals) i) END
    FROM parts p, whole w
    ORDER BY p.ordinals[1]
$$;

-- The shard key of a request of one drawing, or an error: the shard is
-- chosen from the request itself, so that no caller can send a drawing's
-- pairs to another drawing's shard.
CREATE FUNCTION buildtrace_proxy._request_shard_key(request jsonb)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    drawings text[] := ARRAY(SELECT DISTINCT d.drawing_id FROM buildtrace_proxy._request_drawings(request) d);
BEGIN
    IF cardinality(drawings) <> 1 THEN
        RAISE EXCEPTION 'a request for one shard must name one drawing' USING ERRCODE = '22023',
            DETAIL = format('It names %s drawings.', cardinality(drawings)),
            HINT = 'Call buildtrace_proxy.process(), which splits a request by drawing.';
    END IF;
    RETURN buildtrace_proxy._drawing_key(drawings[1]);
END
$$;

CREATE FUNCTION buildtrace_proxy._process_on(request jsonb,
                                             tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS jsonb
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON buildtrace_proxy._request_shard_key(request);
    SELECT buildtrace.process(request)
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant;
$$;

-- Job states whose "timestamp" is read as this session reads it (its
-- DateStyle and TimeZone, as process() on one server reads it) and written
-- as ISO 8601 with its offset, which the shard reads alike whatever its own.
CREATE FUNCTION buildtrace_proxy._states_in_utc(items jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT jsonb_agg(CASE WHEN jsonb_typeof(x.e -> 'timestamp') = 'string'
                          THEN jsonb_set(x.e, '{timestamp}', to_jsonb((x.e ->> 'timestamp')::timestamptz))
                          ELSE x.e END ORDER BY x.ord)
    FROM jsonb_array_elements(items) WITH ORDINALITY AS x(e, ord)
$$;

CREATE FUNCTION buildtrace_proxy.process(request jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job text := coalesce(request ->> 'job_id', gen_random_uuid()::text);
    part record;
    r jsonb;
    messages text[] := '{}';
    tasks bigint := 0;
BEGIN
    PERFORM buildtrace._check_request(request);
    FOR part IN SELECT * FROM buildtrace_proxy._request_parts(request) LOOP
        r := buildtrace_proxy._process_on(
                 CASE WHEN jsonb_typeof(request -> 'version_pairs') = 'array'
                      THEN jsonb_build_object('job_id', job, 'version_pairs', part.items)
                      ELSE jsonb_build_object('job_id', job, 'drawing_id', part.drawing_id,
                                              'jobs', buildtrace_proxy._states_in_utc(part.items)) END);
        messages := messages || (r ->> 'message');
        tasks := tasks + (r ->> 'tasks_created')::bigint;
    END LOOP;
    RETURN jsonb_build_object('job_id', job, 'message', array_to_string(messages, '; '),
                              'tasks_created', tasks);
END
$$;

-- Inserts, on the drawing's shard: one pair, or one version (paired there
-- with the drawing's previous one), as process() of it, which checks it
-- there. One call stores one part, so nothing needs checking ahead here.
CREATE FUNCTION buildtrace_proxy.insert_pair(drawing_id text, version_a jsonb, version_b jsonb,
                                             job_id text DEFAULT NULL, latency_ms float8 DEFAULT NULL,
                                             tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS jsonb
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 3
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON buildtrace_proxy._drawing_key(drawing_id);
    SELECT buildtrace.process(pg_catalog.jsonb_build_object(
               'job_id', coalesce(job_id, pg_catalog.gen_random_uuid()::pg_catalog.text),
               'version_pairs', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                   'drawing_id', drawing_id, 'version_a', version_a, 'version_b', version_b,
                   'latency_ms', latency_ms))))
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant;
$$;

CREATE FUNCTION buildtrace_proxy.insert_version(drawing_id text, payload jsonb,
                                                job_id text DEFAULT NULL, latency_ms float8 DEFAULT NULL,
                                                tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS jsonb
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
SET extra_float_digits = 3
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON buildtrace_proxy._drawing_key(drawing_id);
    SELECT buildtrace.process(pg_catalog.jsonb_build_object(
               'job_id', coalesce(job_id, pg_catalog.gen_random_uuid()::pg_catalog.text),
               'jobs', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                   'drawing_id', drawing_id, 'objects', payload, 'latency_ms', latency_ms))))
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant;
$$;

-- report(job_id): a job's pairs may sit on every shard; each shard that has
-- any reports its part, with its own totals and at most max_pairs pairs, and
-- the parts follow one line that says so. An unknown job is P0002, as on one
-- server; a NULL argument gives NULL, as there.
CREATE FUNCTION buildtrace_proxy._report_parts(job_id text, max_pairs integer,
                                               tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS SETOF text
LANGUAGE plproxy STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON ALL;
    SELECT r.part
    FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM buildtrace.pairs p WHERE p.job_id OPERATOR(pg_catalog.=) $1)
                        OR EXISTS (SELECT 1 FROM buildtrace.versions v WHERE v.job_id OPERATOR(pg_catalog.=) $1)
                      THEN buildtrace.report(job_id, max_pairs) END AS part
          FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                            THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
                OFFSET 0) AS as_tenant
          OFFSET 0) r
    WHERE r.part IS NOT NULL;
$$;

CREATE FUNCTION buildtrace_proxy.report(job_id text, max_pairs integer DEFAULT 50)
RETURNS text
LANGUAGE plpgsql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts text[];
BEGIN
    -- a part's pointer to the pairs it left out, made to work here
    SELECT array_agg(replace(t, 'buildtrace.report(', 'buildtrace_proxy.report(') ORDER BY t) INTO parts
    FROM buildtrace_proxy._report_parts(report.job_id, max_pairs) t;
    IF parts IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'no_data_found',
            MESSAGE = format('unknown job "%s"', report.job_id),
            DETAIL = 'No shard has a pair or version with this job_id.';
    END IF;
    RETURN format('Job %s is on %s shard%s; each part below is one shard''s, with at most %s pair%s.',
                  report.job_id, cardinality(parts), CASE WHEN cardinality(parts) = 1 THEN '' ELSE 's' END,
                  max_pairs, CASE WHEN max_pairs = 1 THEN '' ELSE 's' END)
           || E'\n\n' || array_to_string(parts, E'\n\n');
END
$$;

-- metrics(since): every shard's hourly totals and sketches over the window,
-- summed and merged here.
CREATE FUNCTION buildtrace_proxy._shard_hours(since interval,
    tenant text DEFAULT buildtrace_proxy.session_tenant(),
    OUT hour timestamptz, OUT pairs numeric, OUT failed numeric, OUT added numeric,
    OUT removed numeric, OUT moved numeric, OUT resized numeric, OUT retyped numeric,
    OUT modified numeric, OUT rotated numeric, OUT reidentified numeric, OUT unchanged numeric,
    OUT processing_ms buildtrace.bt_sketch, OUT reported_latency_ms buildtrace.bt_sketch)
RETURNS SETOF record
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON ALL;
    SELECT r.hour, pg_catalog.sum(r.pairs) AS pairs, pg_catalog.sum(r.failed) AS failed,
           pg_catalog.sum(r.added) AS added, pg_catalog.sum(r.removed) AS removed,
           pg_catalog.sum(r.moved) AS moved, pg_catalog.sum(r.resized) AS resized,
           pg_catalog.sum(r.retyped) AS retyped, pg_catalog.sum(r.modified) AS modified,
           pg_catalog.sum(r.rotated) AS rotated, pg_catalog.sum(r.reidentified) AS reidentified,
           pg_catalog.sum(r.unchanged) AS unchanged,
           buildtrace.bt_sketch_merge(r.processing_ms) AS processing_ms,
           buildtrace.bt_sketch_merge(r.reported_latency_ms) AS reported_latency_ms
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant,
         LATERAL (SELECT * FROM buildtrace.hourly_rollups h
                  WHERE h.hour OPERATOR(pg_catalog.>=)
                            buildtrace._checked_window_start($1, 'metrics'::text, 'since'::text)
                    AND as_tenant.tenant_set IS NOT DISTINCT FROM as_tenant.tenant_set
                  OFFSET 0) r
    GROUP BY r.hour;
$$;

-- Each shard's jobs and data quality over the window, as metrics() lists
-- them there: a job's pairs may be on every shard, a drawing's are on one.
CREATE FUNCTION buildtrace_proxy._shard_jobs_and_quality(since interval,
    tenant text DEFAULT buildtrace_proxy.session_tenant(),
    OUT jobs jsonb, OUT data_quality jsonb)
RETURNS SETOF record
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON ALL;
    SELECT buildtrace._metrics_jobs(w.start) AS jobs, buildtrace._metrics_data_quality(w.start) AS data_quality
    FROM (SELECT buildtrace._checked_window_start($1, 'metrics'::text, 'since'::text) AS start
          FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant
          OFFSET 0) w;
$$;

-- The shards' jobs as one server lists them: each job once, its pairs and
-- totals summed, its largest latency and its last processing time; oldest
-- first.
CREATE FUNCTION buildtrace_proxy._merge_jobs(parts jsonb[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'job_id', j.job_id, 'latency_ms', j.latency_ms, 'pairs', j.pairs,
               'total_added', j.total_added, 'total_removed', j.total_removed,
               'total_modified', j.total_modified, 'total_unchanged', j.total_unchanged,
               'processed_at', j.processed_at)
           ORDER BY j.processed_at, j.job_id), '[]')
    FROM (SELECT e ->> 'job_id' AS job_id, max((e ->> 'latency_ms')::float8) AS latency_ms,
                 sum((e ->> 'pairs')::numeric) AS pairs,
                 sum((e ->> 'total_added')::numeric) AS total_added,
                 sum((e ->> 'total_removed')::numeric) AS total_removed,
                 sum((e ->> 'total_modified')::numeric) AS total_modified,
                 sum((e ->> 'total_unchanged')::numeric) AS total_unchanged,
                 max((e ->> 'processed_at')::timestamptz) AS processed_at
          FROM unnest(parts) p, jsonb_array_elements(p) e
          GROUP BY 1) j
$$;

-- The shards' data quality as one server lists it: a drawing is on one
-- shard, so each shard's 50 lowest scores hold the 50 lowest of all.
CREATE FUNCTION buildtrace_proxy._merge_data_quality(parts jsonb[])
RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(q.e ORDER BY q.score, q.drawing_id), '[]')
    FROM (SELECT e, (e ->> 'score')::numeric AS score, e ->> 'drawing_id' AS drawing_id
          FROM unnest(parts) p, jsonb_array_elements(p) e
          ORDER BY 2, 3 LIMIT 50) q
$$;

CREATE FUNCTION buildtrace_proxy.metrics(since interval DEFAULT interval '24 hours')
RETURNS jsonb
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    proc     buildtrace.bt_sketch;
    reported buildtrace.bt_sketch;
    hourly   jsonb;
    n_failed numeric;
    jobs     jsonb;
    quality  jsonb;
BEGIN
    SELECT buildtrace_proxy._merge_jobs(array_agg(s.jobs)),
           buildtrace_proxy._merge_data_quality(array_agg(s.data_quality))
    INTO jobs, quality
    FROM buildtrace_proxy._shard_jobs_and_quality(since) s;
    WITH s AS MATERIALIZED (SELECT * FROM buildtrace_proxy._shard_hours(since)),
    h AS (SELECT s.hour, sum(s.pairs) AS pairs, sum(s.failed) AS failed, sum(s.added) AS added,
                 sum(s.removed) AS removed, sum(s.moved) AS moved, sum(s.resized) AS resized,
                 sum(s.retyped) AS retyped, sum(s.modified) AS modified, sum(s.rotated) AS rotated,
                 sum(s.reidentified) AS reidentified, sum(s.unchanged) AS unchanged
          FROM s GROUP BY s.hour)
    SELECT (SELECT jsonb_object_agg(to_char(h.hour AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                                    jsonb_build_object('pairs', h.pairs, 'failed', h.failed, 'added', h.added,
                                                       'removed', h.removed, 'moved', h.moved,
                                                       'resized', h.resized, 'retyped', h.retyped,
                                                       'modified', h.modified, 'rotated', h.rotated,
                                                       'reidentified', h.reidentified, 'unchanged', h.unchanged))
            FROM h),
           (SELECT sum(s.failed) FROM s),
           (SELECT buildtrace.bt_sketch_merge(s.processing_ms) FROM s),
           (SELECT buildtrace.bt_sketch_merge(s.reported_latency_ms) FROM s)
    INTO hourly, n_failed, proc, reported;
    RETURN jsonb_build_object(
        'since', buildtrace._window_start(since),
        'until', now(),
        'shards', buildtrace_proxy.shard_count(),
        'pairs', coalesce(buildtrace.bt_sketch_count(proc), 0),
        'hourly_stats', coalesce(hourly, '{}'),
        'data_quality_issues', coalesce(n_failed, 0),
        'jobs', jobs,
        'data_quality', quality,
        -- the merged sketch itself, for checks and for merging further
        'processing_ms', proc::text)
        || buildtrace._latency_fields(proc, reported);
END
$$;

-- health(): every shard's, the worst status with all warnings, the summed
-- backlogs, and the 50 newest anomalies of all shards (an anomaly_id is its
-- shard's).
CREATE FUNCTION buildtrace_proxy._shard_health(recent interval,
                                               tenant text DEFAULT buildtrace_proxy.session_tenant())
RETURNS SETOF jsonb
LANGUAGE plproxy
SET search_path = pg_catalog, pg_temp
AS $$
    CLUSTER 'buildtrace_shards';
    RUN ON ALL;
    SELECT buildtrace.health(recent)
    FROM (SELECT CASE WHEN tenant OPERATOR(pg_catalog.<>) ''
                      THEN pg_catalog.set_config('buildtrace.tenant', tenant, true) END AS tenant_set
          OFFSET 0) AS as_tenant;
$$;

CREATE FUNCTION buildtrace_proxy.health(recent interval DEFAULT interval '1 hour')
RETURNS jsonb
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH shard AS MATERIALIZED (SELECT h FROM buildtrace_proxy._shard_health(recent) h)
    SELECT jsonb_build_object(
               'status', (SELECT CASE max(CASE h ->> 'status' WHEN 'healthy' THEN 0
                                                              WHEN 'degraded' THEN 1 ELSE 2 END)
                                 WHEN 0 THEN 'healthy' WHEN 1 THEN 'degraded' ELSE 'unhealthy' END
                          FROM shard),
               'warnings', coalesce((SELECT jsonb_agg(w) FROM shard, jsonb_array_elements(h -> 'warnings') w), '[]'),
               'anomalies', coalesce((SELECT jsonb_agg(n.a ORDER BY n.at DESC)
                                      FROM (SELECT a, (a ->> 'detected_at')::timestamptz AS at
                                            FROM shard, jsonb_array_elements(h -> 'anomalies') a
                                            ORDER BY at DESC LIMIT 50) n), '[]'),
               'backlog', (SELECT jsonb_build_object(
                                      'pending', sum((h -> 'backlog' ->> 'pending')::bigint),
                                      'oldest_age_seconds', max((h -> 'backlog' ->> 'oldest_age_seconds')::numeric))
                           FROM shard),
               'shards', (SELECT count(*) FROM shard),
               'checked_at', now())
$$;

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA buildtrace_proxy FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace_proxy.insert_pair(text, jsonb, jsonb, text, float8, text),
                          buildtrace_proxy.insert_version(text, jsonb, text, float8, text),
                          buildtrace_proxy.process(jsonb), buildtrace_proxy._process_on(jsonb, text),
                          buildtrace_proxy._states_in_utc(jsonb),
                          buildtrace_proxy._request_shard_key(jsonb), buildtrace_proxy._request_parts(jsonb),
                          buildtrace_proxy._request_items(jsonb), buildtrace_proxy._request_drawings(jsonb),
                          buildtrace_proxy._drawing_key(text), buildtrace_proxy.shard_of(text),
                          buildtrace_proxy.shard_count(), buildtrace_proxy.session_tenant()
    TO buildtrace_writer;
GRANT EXECUTE ON FUNCTION buildtrace_proxy.changes(text, text), buildtrace_proxy.changes(text, bigint, text),
                          buildtrace_proxy.history(text, timestamptz, timestamptz, text),
                          buildtrace_proxy.report(text, integer), buildtrace_proxy._report_parts(text, integer, text),
                          buildtrace_proxy.metrics(interval), buildtrace_proxy._shard_hours(interval, text),
                          buildtrace_proxy._shard_jobs_and_quality(interval, text),
                          buildtrace_proxy._merge_jobs(jsonb[]), buildtrace_proxy._merge_data_quality(jsonb[]),
                          buildtrace_proxy.health(interval), buildtrace_proxy._shard_health(interval, text),
                          buildtrace_proxy.shard_of(text), buildtrace_proxy.shard_count(),
                          buildtrace_proxy._drawing_key(text), buildtrace_proxy.session_tenant()
    TO buildtrace_reader;
