
-- ---------------------------------------------------------------------------
-- The JSON API, in the shapes of the original service's endpoints:
-- process() (POST /process), changes() (GET /changes), report() (GET
-- /report/{job_id}).
-- ---------------------------------------------------------------------------

-- A version as sent to process(): a JSON value, or JSON text in a JSON string
-- (as an HTTP client's curl sends it). A string that is not JSON text is kept as the
-- string, so the pipeline flags it instead of process() losing the request.
CREATE FUNCTION buildtrace._json_value(v jsonb)
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

-- Whether v is a latency process() can store: absent, null, or a number of
-- milliseconds as a JSON number or string. One that is no duration (NaN,
-- negative) is stored, and its pair fails in the pipeline. PARALLEL UNSAFE,
-- as are _json_value and the checks that call it: an exception block starts
-- a subtransaction, which parallel mode forbids.
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

-- Counts of a set of pairs after processing, for process()'s message; the
-- pending ones (deferred processing) only if there are any.
CREATE FUNCTION buildtrace._outcome(ids bigint[])
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
CREATE FUNCTION buildtrace.process(request jsonb)
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
COMMENT ON FUNCTION buildtrace.process(jsonb) IS
    'POST /process: stores a list of version pairs or of build job states and returns {"job_id", "message", "tasks_created"}.';

-- Raises no_data_found for a drawing without processed changes, saying
-- whether it is unknown or only has unprocessed / failed pairs.
CREATE FUNCTION buildtrace._no_changes(drawing text)
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

-- A stored change set as the API shows it: the diff's keys, plus drawing_id,
-- pair_id, job_id and computed_at.
CREATE FUNCTION buildtrace._change_set(c buildtrace.changes)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
RETURN c.diff || jsonb_build_object('drawing_id', c.drawing_id, 'pair_id', c.pair_id,
                                    'job_id', c.job_id, 'computed_at', c.computed_at);

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

-- GET /changes?drawing_id=…: the latest change set of a drawing (the diff's
-- keys, plus drawing_id, pair_id, job_id and computed_at).
--
-- Like every read function it runs with the caller's rights, so row-level
-- security (69_tenants.sql) shows it the caller's tenant's drawings only.
CREATE FUNCTION buildtrace.changes(drawing_id text)
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
COMMENT ON FUNCTION buildtrace.changes(text) IS
    'GET /changes: the latest change set of a drawing, with its drawing_id, pair_id, job_id and computed_at.';

-- "3 (A1, B2, C3)" from one list of a diff; at most ten ids are named.
CREATE FUNCTION buildtrace._id_list(objs jsonb)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN n = 0 THEN '0'
                ELSE format('%s (%s%s)', n,
                            (SELECT string_agg(e ->> 'id', ', ' ORDER BY o)
                             FROM jsonb_array_elements(objs) WITH ORDINALITY AS x(e, o) WHERE o <= 10),
                            CASE WHEN n > 10 THEN format(' and %s more', n - 10) ELSE '' END) END
    FROM (SELECT coalesce(jsonb_array_length(objs), 0) AS n) s
$$;

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
COMMENT ON FUNCTION buildtrace.report(text, integer) IS
    'GET /report/{job_id}: a readable report of a job: its totals, then what changed in each of its first max_pairs pairs.';

REVOKE ALL ON FUNCTION buildtrace.process(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace.changes(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION buildtrace.report(text, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION buildtrace.process(jsonb) TO buildtrace_writer;
GRANT EXECUTE ON FUNCTION buildtrace.changes(text), buildtrace.report(text, integer)
    TO buildtrace_reader;
