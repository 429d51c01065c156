-- Hostile-input generator for test/fuzz/run.sh: creates schema fz in the
-- fuzz database with the mutators, the procedures that feed mutated drawing
-- versions and bt_sketch texts to buildtrace, and the tables that record every
-- outcome. run.sh then CALLs fz.drawings / fz.sketches in chunks and checks
-- the records with test/fuzz/report.sql.
--
-- Every case reseeds random() from (seed, case number), so one case can be
-- replayed alone: CALL fz.drawings(SEED, N, N).
SET client_min_messages = warning;
CREATE SCHEMA fz;

-- The SQLSTATEs a hostile input may raise. Anything else (XX000 internal
-- error, 23503 from a stale pipeline result, ...) is a violation.
CREATE TABLE fz.allow (sqlstate_like text PRIMARY KEY, why text NOT NULL);
INSERT INTO fz.allow VALUES
    ('22%',   'data exception: invalid drawing or sketch, bad JSON text, number out of range'),
    ('54000', 'program_limit_exceeded: a value too large'),
    ('54001', 'statement_too_complex: nesting deeper than the stack allows'),
    ('23514', 'check_violation: drawing_id = '''' or longer than 2000 bytes'),
    ('23502', 'not_null_violation: a NULL version or drawing_id');

-- Calls per target and SQLSTATE ('ok' for success), with one message each.
CREATE TABLE fz.outcome (
    seq      bigserial,
    target   text NOT NULL,
    sqlstate text NOT NULL,
    n        bigint NOT NULL,
    sample   text,
    PRIMARY KEY (target, sqlstate)
);
CREATE TABLE fz.violation (
    id        bigserial PRIMARY KEY,
    target    text NOT NULL,
    case_no   integer NOT NULL,
    shape     text,
    sqlstate  text,
    message   text,
    input_len integer,
    input     text
);
-- One row per pipeline statement: its job_id tags every row it submitted.
CREATE TABLE fz.stmt (
    job_id   text PRIMARY KEY,
    kind     text NOT NULL,
    case_no  integer NOT NULL,
    nrows    integer NOT NULL,
    sqlstate text,
    message  text
);
-- Time per drawing case, to keep the run short (printed by BT_FUZZ_VERBOSE).
CREATE TABLE fz.case_time (case_no integer PRIMARY KEY, shape text, ms float8);
CREATE TABLE fz.doc (name text PRIMARY KEY, doc jsonb NOT NULL);
INSERT INTO fz.doc VALUES ('fzk', :'fzk');

-- ---------------------------------------------------------------------------
-- Recording
-- ---------------------------------------------------------------------------

CREATE FUNCTION fz.allowed(st text) RETURNS boolean
LANGUAGE sql STABLE AS $$ SELECT EXISTS (SELECT 1 FROM fz.allow WHERE st LIKE sqlstate_like) $$;

-- One call's outcome; st NULL is success. A disallowed SQLSTATE (or the
-- pseudo-state MISMATCH of a failed consistency check) is a violation.
CREATE FUNCTION fz.note(target text, case_no integer, shape text, st text, msg text, input text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fz.outcome AS o (target, sqlstate, n, sample)
    VALUES (target, coalesce(st, 'ok'), 1, left(msg, 300))
    ON CONFLICT ON CONSTRAINT outcome_pkey DO UPDATE SET n = o.n + 1;
    IF st IS NOT NULL AND NOT fz.allowed(st) THEN
        INSERT INTO fz.violation (target, case_no, shape, sqlstate, message, input_len, input)
        VALUES (target, case_no, shape, st, msg, length(input), left(input, 400));
    END IF;
END
$$;

-- Run one query in its own subtransaction and record the outcome. The query
-- returns text, so the result's output function runs too. $1..$5 are a, b,
-- s, t, q.
CREATE FUNCTION fz.run(target text, case_no integer, shape text, input text, query text,
                       a jsonb DEFAULT NULL, b jsonb DEFAULT NULL,
                       s text DEFAULT NULL, t text DEFAULT NULL, q float8 DEFAULT NULL,
                       OUT ok boolean, OUT result text)
LANGUAGE plpgsql AS $$
DECLARE
    st  text;
    msg text;
    det text;
BEGIN
    BEGIN
        EXECUTE query INTO result USING a, b, s, t, q;
        ok := true;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
        msg := msg || coalesce(nullif(' (' || det || ')', ' ()'), '');
        ok := false;
    END;
    PERFORM fz.note(target, case_no, shape, st, msg, input);
END
$$;

-- ---------------------------------------------------------------------------
-- Randomness: random() is reseeded per case, so a case's inputs do not
-- depend on the cases before it.
-- ---------------------------------------------------------------------------

CREATE FUNCTION fz.case_seed(seed integer, case_no integer) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$ SELECT hashint8(seed::bigint * 1000003 + case_no) / 2147483648.0::float8 $$;
CREATE FUNCTION fz.rnd(n integer) RETURNS integer
LANGUAGE sql AS $$ SELECT floor(random() * n)::integer $$;
CREATE FUNCTION fz.chance(p float8) RETURNS boolean
LANGUAGE sql AS $$ SELECT random() < p $$;
CREATE FUNCTION fz.pick(a text[]) RETURNS text
LANGUAGE sql AS $$ SELECT a[1 + floor(random() * cardinality(a))::integer] $$;

-- ---------------------------------------------------------------------------
-- JSON fragments (as text: some are not valid JSON on purpose)
-- ---------------------------------------------------------------------------

CREATE FUNCTION fz.deep(n integer, leaf text, obj boolean) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN obj THEN repeat('{"a":', n) || leaf || repeat('}', n)
                ELSE repeat('[', n) || leaf || repeat(']', n) END
$$;

CREATE FUNCTION fz.long_string() RETURNS text
LANGUAGE sql AS $$
    SELECT to_json(repeat(fz.pick(ARRAY['a', 'é', '墙', '🧱', '\', '"', 'a b']),
                          1 + fz.rnd(fz.pick(ARRAY['100', '10000', '300000'])::integer)))::text
$$;

CREATE FUNCTION fz.rand_number() RETURNS text
LANGUAGE sql AS $$
    SELECT CASE fz.rnd(4)
        WHEN 0 THEN round((random() * 200 - 100)::numeric, fz.rnd(6))::text
        WHEN 1 THEN format('%se%s', fz.rnd(10), fz.rnd(800) - 400)
        WHEN 2 THEN format('-%s.%se%s', fz.rnd(10), fz.rnd(1000000), fz.rnd(40) - 20)
        ELSE repeat('9', 1 + fz.rnd(2000)) || '.' || repeat('1', fz.rnd(2000))
    END
$$;

CREATE FUNCTION fz.hostile_value() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    k integer := fz.rnd(100);
BEGIN
    IF k < 60 THEN
        RETURN fz.pick(ARRAY[
            -- huge, tiny and oddly spelt numbers (jsonb keeps them as numeric)
            '1e308', '-1e308', '1.7976931348623157e308', '1.8e308', '-1.8e308',
            '9e131071', '-9e131071', '9e131072', '1e-308', '5e-324', '1e-16383',
            '1e-16384', '0e-400', '0', '-0', '-0.0', '-1', '-0.5', '-1e-300', '1E2',
            '123456789012345678901234567890.123456789',
            -- not numbers
            '"NaN"', '"Infinity"', '"-Infinity"', '"1"', '""', '"x"', 'null', 'true',
            'false', '[]', '[1,2]', '{}', '{"x":1}', '[[[[1]]]]', '{"a":{"b":[null]}}',
            -- not JSON at all
            'NaN', 'Infinity', '-Infinity', 'nan', '01', '.5', '1.', '+1', '0x10', '',
            -- unicode: fine, lone surrogate, NUL, RTL override, escapes
            '"\u00e9\u4e2d\ud83d\ude00"', '"\ud800"', '"\u0000"', '"Ŵäłł 墙 🧱"',
            '"\u202e"', '"a\"b\\c"']);
    ELSIF k < 75 THEN
        RETURN fz.rand_number();
    ELSIF k < 85 THEN
        RETURN fz.long_string();
    ELSIF k < 93 THEN
        RETURN fz.deep(fz.pick(ARRAY['10', '100', '1000', '5000', '20000'])::integer,
                       fz.pick(ARRAY['1', 'null', '"s"', '[]', '{}']), fz.chance(0.5));
    ELSE
        -- wide: an object with thousands of keys or a long array
        RETURN CASE WHEN fz.chance(0.5)
            THEN (SELECT '{' || string_agg(format('"k%s":%s', g, g), ',') || '}'
                  FROM generate_series(1, 1 + fz.rnd(5000)) g)
            ELSE (SELECT '[' || string_agg(g::text, ',') || ']'
                  FROM generate_series(1, 1 + fz.rnd(20000)) g) END;
    END IF;
END
$$;

CREATE FUNCTION fz.hostile_id(ids text[]) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) > 0 AND fz.chance(0.3) THEN
        -- another element's id: a duplicate (also as a number when it is one)
        RETURN CASE WHEN fz.chance(0.5) THEN ids[1 + fz.rnd(cardinality(ids))]
                    ELSE regexp_replace(ids[1 + fz.rnd(cardinality(ids))], '^"([0-9]+)"$', '\1') END;
    END IF;
    RETURN fz.pick(ARRAY[
        '""', '7', '"7"', '7.0', '-0', '0', '1e308', '9e131071', 'null', 'true', '[]', '{}',
        '{"a":1}', '" "', '"Ωμέγα-墙-🧱"', '"\u0000"', '"\ud800"', '"\t\n"', '"a/b\\c"',
        to_json(repeat('i', 1 + fz.rnd(200000)))::text,
        to_json(repeat(md5(random()::text), 1 + fz.rnd(100)))::text]);
END
$$;

-- ---------------------------------------------------------------------------
-- Mutators
-- ---------------------------------------------------------------------------

CREATE FUNCTION fz.try_jsonb(t text) RETURNS jsonb
LANGUAGE plpgsql AS $$
BEGIN
    RETURN t::jsonb;
EXCEPTION WHEN OTHERS THEN
    RETURN NULL;
END
$$;

-- One drawing object, 1 to 3 mutations of its keys and values, as text
-- (keys are written in order, so a duplicated key reaches the jsonb parser).
CREATE FUNCTION fz.mutate_object(o jsonb, ids text[]) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    ks   text[];
    vs   text[];
    name text;
    idx  integer;
    pos  integer;
    m    integer;
BEGIN
    SELECT coalesce(array_agg(to_json(key)::text), '{}'), coalesce(array_agg(value::text), '{}')
    INTO ks, vs FROM jsonb_each(o);
    FOR step IN 1 .. 1 + fz.rnd(3) LOOP
        name := to_json(fz.pick(ARRAY['id', 'type', 'x', 'y', 'width', 'height', 'x', 'y',
                                      'width', 'height', 'name', 'level', 'rotation', 'meta']))::text;
        IF cardinality(ks) > 0 AND fz.chance(0.15) THEN
            name := ks[1 + fz.rnd(cardinality(ks))];
        END IF;
        idx := array_position(ks, name);
        IF idx IS NULL THEN
            ks := ks || name;
            vs := vs || 'null'::text;
            idx := cardinality(ks);
        END IF;
        m := fz.rnd(12);
        IF m < 5 THEN
            vs[idx] := fz.hostile_value();
        ELSIF m = 5 THEN                                    -- drop the key
            ks := ks[:idx - 1] || ks[idx + 1:];
            vs := vs[:idx - 1] || vs[idx + 1:];
        ELSIF m = 6 THEN                                    -- the key twice
            pos := 1 + fz.rnd(cardinality(ks) + 1);
            ks := ks[:pos - 1] || name || ks[pos:];
            vs := vs[:pos - 1] || CASE WHEN fz.chance(0.5) THEN fz.hostile_value() ELSE vs[idx] END
                  || vs[pos:];
        ELSIF m = 7 THEN                                    -- rename the key
            ks[idx] := fz.pick(ARRAY['"X"', '"x "', '" x"', '""', '"ｘ"', '"Id"', '"ID"',
                                     '"width"', '"type"', '"id"', '"\u0000"',
                                     to_json(repeat('k', 3000))::text]);
        ELSIF m = 8 THEN
            idx := coalesce(array_position(ks, '"id"'), idx);
            ks[idx] := '"id"';
            vs[idx] := fz.hostile_id(ids);
        ELSIF m = 9 THEN                                    -- type missing or odd
            idx := array_position(ks, '"type"');
            IF idx IS NOT NULL AND fz.chance(0.5) THEN
                ks := ks[:idx - 1] || ks[idx + 1:];
                vs := vs[:idx - 1] || vs[idx + 1:];
            ELSIF idx IS NOT NULL THEN
                vs[idx] := fz.pick(ARRAY['""', '1', 'null', '[]', '{}', '"WALL"', '"墙"', 'true',
                                         fz.long_string()]);
            END IF;
        ELSE                                                -- big extra attribute
            ks := ks || '"meta"'::text;
            vs := vs || fz.hostile_value();
        END IF;
    END LOOP;
    RETURN (SELECT '{' || coalesce(string_agg(k || ':' || v, ',' ORDER BY ord), '') || '}'
            FROM unnest(ks, vs) WITH ORDINALITY AS u(k, v, ord));
END
$$;

-- Random text damage: truncate, flip, delete, insert, repeat a slice.
CREATE FUNCTION fz.corrupt(t text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    p integer := 1 + fz.rnd(greatest(length(t), 1));
    c text := fz.pick(ARRAY['[', ']', '{', '}', ',', ':', '"', '\', '0', '-', 'e', ' ', 'é', 'x', '.']);
BEGIN
    RETURN CASE fz.rnd(5)
        WHEN 0 THEN left(t, p - 1)
        WHEN 1 THEN overlay(t PLACING c FROM p FOR 1)
        WHEN 2 THEN overlay(t PLACING '' FROM p FOR 1)
        WHEN 3 THEN overlay(t PLACING c FROM p FOR 0)
        ELSE t || substr(t, p, 100)
    END;
END
$$;

-- A valid drawing of n objects with ids E1..En (same ids, new coordinates
-- on every call, so two calls make a pair with moves and resizes).
CREATE FUNCTION fz.small_drawing(n integer) RETURNS jsonb
LANGUAGE sql AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'id', CASE WHEN g = 7 THEN to_jsonb(7) ELSE to_jsonb('E' || g) END,
               'type', fz.pick(ARRAY['wall', 'door', 'window', 'column', 'slab']),
               'x', round((random() * 20 - 5)::numeric, 2), 'y', round((random() * 20)::numeric, 2),
               'width', round((random() * 5)::numeric, 2), 'height', round((random() * 3)::numeric, 3),
               'name', 'n' || g) ORDER BY g), '[]')
    FROM generate_series(1, n) g
$$;

-- A drawing version derived from base by 1 to 4 (sometimes 20) element
-- mutations, written as an array, wrapper or map, sometimes text-damaged.
CREATE FUNCTION fz.mutate_drawing(base jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    elems text[];
    ids   text[];
    size  bigint;
    n     integer;
    j     integer;
    k     integer;
    r     integer;
    o     jsonb;
    tmp   text;
    body  text;
    res   text;
BEGIN
    IF jsonb_typeof(base) = 'object' THEN
        base := coalesce(base -> 'objects', '[]');
    END IF;
    elems := ARRAY(SELECT e::text FROM jsonb_array_elements(base) e);
    ids := ARRAY(SELECT (e -> 'id')::text FROM jsonb_array_elements(base) e WHERE e ? 'id');
    FOR step IN 1 .. CASE WHEN fz.chance(0.1) THEN 20 ELSE 1 + fz.rnd(4) END LOOP
        -- The generator's own time grows with the version: keep it a few MB.
        size := (SELECT sum(length(e)) FROM unnest(elems) e);
        n := cardinality(elems);
        j := 1 + fz.rnd(greatest(n, 1));
        r := fz.rnd(100);
        IF r < 55 AND n > 0 THEN
            o := fz.try_jsonb(elems[j]);
            elems[j] := CASE WHEN jsonb_typeof(o) = 'object' THEN fz.mutate_object(o, ids)
                             ELSE fz.hostile_value() END;
        ELSIF r < 62 AND n > 0 THEN                         -- delete an object
            elems := elems[:j - 1] || elems[j + 1:];
        ELSIF r < 69 AND n > 0 THEN                         -- duplicate an object
            k := 1 + fz.rnd(n + 1);
            elems := elems[:k - 1] || elems[j] || elems[k:];
        ELSIF r < 74 THEN                                   -- an element that is no object
            elems[j] := fz.hostile_value();
        ELSIF r < 78 THEN                                   -- a new valid object
            elems := elems || (fz.small_drawing(1) -> 0 || jsonb_build_object('id', 'N' || fz.rnd(1000)))::text;
        ELSIF r < 82 AND n > 1 THEN                         -- swap two
            k := 1 + fz.rnd(n);
            tmp := elems[j]; elems[j] := elems[k]; elems[k] := tmp;
        ELSIF r < 85 AND size < 1000000 THEN                -- everything twice
            elems := elems || elems;
        ELSIF r < 88 THEN                                   -- keep a few
            elems := elems[:fz.rnd(3)];
        ELSIF r < 90 AND n > 0 AND length(elems[j]) < 1000 THEN  -- many copies with new ids
            o := fz.try_jsonb(elems[j]);
            IF jsonb_typeof(o) = 'object' THEN
                elems := elems || ARRAY(SELECT (o || jsonb_build_object('id', 'C' || g))::text
                                        FROM generate_series(1, 1 + fz.rnd(3000)) g);
            END IF;
        ELSE                                                -- shuffle
            elems := ARRAY(SELECT e FROM unnest(elems) e ORDER BY random());
        END IF;
    END LOOP;

    body := array_to_string(elems, ',');
    r := fz.rnd(100);
    IF r < 75 THEN
        res := '[' || body || ']';
    ELSIF r < 85 THEN                                       -- wrapper form
        res := format('{"drawing": %s, "objects": [%s]%s}', fz.pick(ARRAY['"GF-01"', 'null', '1']), body,
                      fz.pick(ARRAY['', ', "objects": 5', ', "extra": [1]']));
    ELSIF r < 95 THEN                                       -- map form, keyed by id
        res := '{' || coalesce((
            SELECT string_agg(CASE
                WHEN jsonb_typeof(x.o) = 'object' AND jsonb_typeof(x.o -> 'id') = 'string'
                    THEN to_json(x.o ->> 'id')::text || ':' || x.e
                WHEN fz.chance(0.2) THEN to_json('h' || x.ord)::text || ':"9f2c' || x.ord || '"'
                ELSE to_json('k' || x.ord)::text || ':' || x.e END, ',' ORDER BY x.ord)
            FROM (SELECT e, ord, fz.try_jsonb(e) AS o
                  FROM unnest(elems) WITH ORDINALITY AS u(e, ord)) x), '') || '}';
    ELSE
        res := fz.corrupt('[' || body || ']');
    END IF;
    RETURN res;
END
$$;

-- A valid version with extreme coordinates and sizes (huge, tiny, -0, on the
-- tolerance), so the diff's arithmetic runs on them instead of a problem
-- being reported.
CREATE FUNCTION fz.numeric_drawing(base jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    elems jsonb[] := ARRAY(SELECT e FROM jsonb_array_elements(base) e);
    j     integer;
    key   text;
    val   text;
BEGIN
    FOR step IN 1 .. 1 + fz.rnd(10) LOOP
        j := 1 + fz.rnd(cardinality(elems));
        key := fz.pick(ARRAY['x', 'y', 'width', 'height']);
        IF fz.chance(0.3) THEN                              -- about the tolerance
            val := ((elems[j] ->> key)::numeric
                    + fz.pick(ARRAY['0.1', '0.0999999999', '0.1000000001', '0.01', '0.0100000001',
                                    '1e-300'])::numeric)::text;
        ELSE
            val := fz.pick(ARRAY['1e308', '1.7976931348623157e308', '1.8e308', '9e131071',
                                 '1e-308', '5e-324', '1e-16383', '0', '-0', '-0.0', '0e-400',
                                 '123456789012345678901234567890.123456789', '1e20', '1e-20']);
            IF key IN ('x', 'y') AND fz.chance(0.5) AND val !~ '^-' THEN
                val := '-' || val;
            END IF;
        END IF;
        elems[j] := jsonb_set(elems[j], ARRAY[key], val::jsonb);
    END LOOP;
    RETURN '[' || array_to_string(elems::text[], ',') || ']';
END
$$;

-- A whole version that is odd as a whole: scalars, empty, deep, wide.
CREATE FUNCTION fz.odd_version() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    n integer := fz.pick(ARRAY['64', '1000', '5000', '10000', '100000'])::integer;
BEGIN
    RETURN CASE fz.rnd(12)
        WHEN 0 THEN fz.pick(ARRAY['1', '"s"', 'null', 'true', 'false', '1e308', '9e131071',
                                  '"[]"', '-0', '""'])
        WHEN 1 THEN fz.pick(ARRAY['[]', '{}', '{"objects": []}', '{"objects": 5}',
                                  '{"objects": null}', '{"objects": {}}', '{"": {}}',
                                  '{"": "hash"}', '{"A": "hash", "A": {"type": "wall"}}',
                                  '{"A": {"id": "B", "type": "w", "x": 0, "y": 0, "width": 1, "height": 1}}'])
        WHEN 2 THEN fz.deep(n, '', false)
        WHEN 3 THEN fz.deep(n, '1', true)
        WHEN 4 THEN '[' || fz.deep(n, '{}', false) || ']'
        WHEN 5 THEN '{"objects": ' || fz.deep(n, '', false) || '}'
        WHEN 6 THEN fz.pick(ARRAY['[1,2,3]', '[null]', '[[]]', '[{}]', '[{},{}]', '["a","b"]',
                                  '[true, {"id": "A"}]'])
        WHEN 7 THEN '[' || repeat('{},', 1 + fz.rnd(3000)) || '{}]'
        WHEN 8 THEN (SELECT '[' || string_agg('{"id":"S","type":"w","x":0,"y":0,"width":1,"height":1}', ',')
                            || ']' FROM generate_series(1, 2 + fz.rnd(2000)))
        WHEN 9 THEN (SELECT '[{' || string_agg(format('"k%s":%s', g, g), ',')
                            || ',"id":"W","type":"w","x":0,"y":0,"width":1,"height":1}]'
                     FROM generate_series(1, 1 + fz.rnd(10000)) g)
        WHEN 10 THEN '[' || fz.long_string() || ']'
        ELSE fz.corrupt(fz.pick(ARRAY['[]', '{}', '[{"id":"A"}]']))
    END;
END
$$;

-- One case: a base version (valid, as text) and the hostile version derived
-- from it; shape says which generator made it.
CREATE FUNCTION fz.gen_case(OUT base_text text, OUT v_text text, OUT shape text)
LANGUAGE plpgsql AS $$
DECLARE
    r     integer := fz.rnd(100);
    base  jsonb;
    n     integer;
    obj   boolean;
BEGIN
    IF r < 38 THEN
        base := (SELECT doc FROM fz.doc WHERE name = 'fzk');
        shape := 'fzk-haus mutated';
    ELSIF r < 50 THEN
        base := CASE WHEN fz.chance(0.5) THEN (SELECT doc FROM fz.doc WHERE name = 'fzk')
                     ELSE fz.small_drawing(1 + fz.rnd(8)) END;
        base_text := base::text;
        v_text := fz.numeric_drawing(base);
        shape := 'valid, extreme numbers';
        RETURN;
    ELSIF r < 80 THEN
        base := fz.small_drawing(fz.rnd(9));
        shape := 'small mutated';
        IF fz.chance(0.2) THEN                              -- a valid base in another form
            base := CASE WHEN fz.chance(0.5) THEN jsonb_build_object('objects', base)
                         ELSE (SELECT coalesce(jsonb_object_agg(e ->> 'id', e - 'id'), '{}')
                               FROM jsonb_array_elements(base) e) END;
        END IF;
    ELSIF r < 90 THEN
        base := CASE WHEN fz.chance(0.5) THEN (SELECT doc FROM fz.doc WHERE name = 'fzk')
                     ELSE fz.small_drawing(fz.rnd(5)) END;
        base_text := base::text;
        v_text := fz.odd_version();
        shape := 'odd version';
        RETURN;
    ELSIF r < 95 THEN
        -- both versions deeply nested in one attribute, differing at the
        -- bottom, so the attribute comparison walks all the way down
        n := fz.pick(ARRAY['100', '1000', '3000', '6000', '20000'])::integer;
        obj := fz.chance(0.5);
        base_text := format('[{"id":"D","type":"wall","x":0,"y":0,"width":1,"height":1,"meta":%s}]',
                            fz.deep(n, '1', obj));
        v_text := format('[{"id":"D","type":"wall","x":%s,"y":0,"width":1,"height":1,"meta":%s}]',
                         fz.pick(ARRAY['0', '1', '9e131071']), fz.deep(n + fz.rnd(2), '2', obj));
        shape := 'deep pair ' || n;
        RETURN;
    ELSE
        -- many objects, all moved, some with huge coordinates
        n := 100 + fz.rnd(5000);
        base_text := (SELECT '[' || string_agg(format('{"id":"M%s","type":"w","x":%s,"y":0,"width":1,"height":1}', g, g), ',') || ']'
                      FROM generate_series(1, n) g);
        v_text := (SELECT '[' || string_agg(format('{"id":"M%s","type":"w","x":%s,"y":0,"width":1,"height":1}', g,
                                                   CASE WHEN g % 997 = 0 THEN fz.hostile_value() ELSE (g + 1)::text END), ',') || ']'
                   FROM generate_series(1, n) g);
        shape := 'many moved ' || n;
        RETURN;
    END IF;
    base_text := base::text;
    v_text := fz.mutate_drawing(base);
END
$$;

-- ---------------------------------------------------------------------------
-- Pipeline rows
-- ---------------------------------------------------------------------------

CREATE FUNCTION fz.latency(hostile boolean) RETURNS float8
LANGUAGE sql AS $$
    SELECT CASE
        WHEN hostile THEN fz.pick(ARRAY['NaN', 'Infinity', '-Infinity', '-1', '1e308', '-0',
                                        '5e-324', '1.7976931348623157e308', '-1e-300'])::float8
        WHEN fz.chance(0.1) THEN NULL
        ELSE round((random() * 5000)::numeric, 3)::float8 END
$$;

CREATE FUNCTION fz.drawing_id(hostile boolean) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE
        WHEN hostile THEN fz.pick(ARRAY['', NULL, ' ', '墙-🧱', repeat('d', 5000),
                                        (SELECT string_agg(md5(g::text || random()), '') FROM generate_series(1, 100) g)])
        ELSE 'fz-' || fz.rnd(8) END
$$;

-- One statement inserting rows into buildtrace.pairs, all tagged with job.
CREATE FUNCTION fz.insert_pairs(target text, kind text, case_no integer, shape text, job text,
                                ds text[], va jsonb[], vb jsonb[], ls float8[], reject boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    st   text;
    msg  text;
    mode text := current_setting('buildtrace.on_invalid');
BEGIN
    BEGIN
        IF reject THEN
            PERFORM set_config('buildtrace.on_invalid', 'reject', true);
        END IF;
        INSERT INTO buildtrace.pairs (drawing_id, job_id, version_a, version_b, latency_ms)
        SELECT d, job, a, b, l FROM unnest(ds, va, vb, ls) WITH ORDINALITY AS u(d, a, b, l, o)
        ORDER BY o;
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
    END;
    PERFORM set_config('buildtrace.on_invalid', mode, true);
    PERFORM fz.note(target, case_no, shape, st, msg, NULL);
    INSERT INTO fz.stmt VALUES (job, kind, case_no, cardinality(ds), st, msg);
END
$$;

-- ---------------------------------------------------------------------------
-- The drawing cases first .. last
-- ---------------------------------------------------------------------------

CREATE PROCEDURE fz.drawings(seed integer, first integer, last integer)
LANGUAGE plpgsql AS $$
DECLARE
    c        record;
    r        record;
    base     jsonb;
    v        jsonb;
    st       text;
    msg      text;
    invalid  boolean;
    bad      text;
    t0       timestamptz;
    tolq     text;
    -- the multi-row statement being collected: ~12 hostile rows per statement
    b_ds     text[] := '{}';
    b_va     jsonb[] := '{}';
    b_vb     jsonb[] := '{}';
    b_ls     float8[] := '{}';
    perm     integer[];
    g        jsonb;
    k        integer;
BEGIN
    PERFORM buildtrace.bt_validate('[]');                  -- loads the module and its settings
    FOR i IN first .. last LOOP
        PERFORM setseed(fz.case_seed(seed, i));
        t0 := clock_timestamp();
        c := fz.gen_case();

        -- Casting the texts is a target too: deep or malformed ones fail here.
        base := NULL; v := NULL;
        FOR side IN 1 .. 2 LOOP
            st := NULL;
            BEGIN
                IF side = 1 THEN base := c.base_text::jsonb; ELSE v := c.v_text::jsonb; END IF;
            EXCEPTION WHEN OTHERS THEN
                GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
            END;
            PERFORM fz.note('text -> jsonb', i, c.shape, st, msg,
                            CASE side WHEN 1 THEN c.base_text ELSE c.v_text END);
        END LOOP;
        CONTINUE WHEN base IS NULL OR v IS NULL;

        -- One checker serves bt_validate, bt_diff, bt_try_diff and bt_svg: a version
        -- with problems must never give a diff. (Errors beyond the problems,
        -- such as limits, may come on a valid version too, so the other
        -- direction is not checked.)
        bad := NULL;
        r := fz.run('bt_validate(v)', i, c.shape, c.v_text, 'SELECT buildtrace.bt_validate($1)::text', v);
        invalid := r.ok AND r.result <> '[]';
        IF r.ok AND left(r.result, 1) <> '[' THEN
            bad := 'bt_validate did not return an array';
        END IF;

        -- Tolerances are mostly the settings, sometimes hostile.
        tolq := CASE WHEN fz.chance(0.9) THEN ''
                     ELSE ', ' || fz.pick(ARRAY['0', '''NaN''', '-1', '''Infinity''', '1e308', 'NULL'])
                          || '::float8, ' || fz.pick(ARRAY['0', '''NaN''', '-1', '0.5', 'NULL']) || '::float8' END;
        r := fz.run('bt_diff(base, v)', i, c.shape, c.v_text, 'SELECT buildtrace.bt_diff($1, $2' || tolq || ')::text', base, v);
        IF invalid AND r.ok THEN
            bad := 'bt_diff(base, v) gave a diff for a version with problems';
        END IF;
        r := fz.run('bt_diff(v, base)', i, c.shape, c.v_text, 'SELECT buildtrace.bt_diff($2, $1)::text', base, v);
        IF invalid AND r.ok THEN
            bad := 'bt_diff(v, base) gave a diff for a version with problems';
        END IF;
        r := fz.run('bt_try_diff(base, v)', i, c.shape, c.v_text, 'SELECT buildtrace.bt_try_diff($1, $2)::text', base, v);
        IF invalid AND r.ok AND NOT (r.result::jsonb ? 'problems') THEN
            bad := 'bt_try_diff(base, v) gave a diff for a version with problems';
        END IF;
        -- Its picture: never of a version with problems, always well-formed.
        r := fz.run('bt_svg(base, v)', i, c.shape, c.v_text, 'SELECT buildtrace.bt_svg($1, $2)', base, v);
        IF invalid AND r.ok THEN
            bad := 'bt_svg(base, v) drew a version with problems';
        ELSIF r.ok AND NOT xml_is_well_formed_document(r.result) THEN
            bad := 'bt_svg(base, v) gave a document that is not well-formed XML';
        END IF;
        PERFORM fz.note('consistency', i, c.shape, CASE WHEN bad IS NOT NULL THEN 'MISMATCH' END, bad, c.v_text);

        -- The pipeline, one row; sometimes hostile latency or drawing id, a
        -- NULL version, the versions swapped, or on_invalid = reject.
        IF fz.chance(0.3) THEN g := base; base := v; v := g; END IF;
        PERFORM fz.insert_pairs('pairs INSERT, 1 row', 'single', i, c.shape, format('s%s-%s', seed, i),
                                ARRAY[fz.drawing_id(fz.chance(0.04))],
                                ARRAY[base], ARRAY[CASE WHEN fz.chance(0.02) THEN NULL ELSE v END],
                                ARRAY[fz.latency(fz.chance(0.15))], fz.chance(0.08));

        b_ds := b_ds || fz.drawing_id(false);
        b_va := b_va || base;
        b_vb := b_vb || v;
        b_ls := b_ls || fz.latency(false);

        -- Every 12 cases, and at the end: one statement of those rows mixed
        -- with valid pairs, in random order.
        IF cardinality(b_ds) >= 12 OR i = last THEN
            FOR n IN 1 .. 3 + fz.rnd(9) LOOP
                k := fz.rnd(7);
                g := fz.small_drawing(k);
                b_ds := b_ds || fz.drawing_id(false);
                b_va := b_va || g;
                b_vb := b_vb || fz.small_drawing(k);
                b_ls := b_ls || fz.latency(false);
            END LOOP;
            k := cardinality(b_ds);
            IF fz.chance(0.3) THEN b_ls[1 + fz.rnd(k)] := fz.latency(true); END IF;
            IF fz.chance(0.1) THEN b_ls[1 + fz.rnd(k)] := fz.latency(true); END IF;
            IF fz.chance(0.04) THEN b_ds[1 + fz.rnd(k)] := fz.drawing_id(true); END IF;
            IF fz.chance(0.03) THEN b_vb[1 + fz.rnd(k)] := NULL; END IF;
            perm := ARRAY(SELECT g2 FROM generate_series(1, k) g2 ORDER BY random());
            PERFORM fz.insert_pairs('pairs INSERT, multi-row', 'multi', i, 'multi-row', format('m%s-%s', seed, i),
                                    ARRAY(SELECT b_ds[p] FROM unnest(perm) p),
                                    ARRAY(SELECT b_va[p] FROM unnest(perm) p),
                                    ARRAY(SELECT b_vb[p] FROM unnest(perm) p),
                                    ARRAY(SELECT b_ls[p] FROM unnest(perm) p),
                                    fz.chance(0.05));
            b_ds := '{}'; b_va := '{}'; b_vb := '{}'; b_ls := '{}';
        END IF;
        INSERT INTO fz.case_time VALUES (i, c.shape, extract(epoch FROM clock_timestamp() - t0) * 1000);
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- bt_sketch texts
-- ---------------------------------------------------------------------------

-- A number token nudged: most texts stay well-formed, so the checks after
-- parsing (bucket ranges, counts adding up, min <= max ...) are reached.
CREATE FUNCTION fz.nudge(tok text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF tok ~ '^-?[0-9]+$' THEN
        RETURN (tok::numeric + fz.pick(ARRAY['-1', '1', '-2', '2', '1000', '-1000'])::numeric)::text;
    END IF;
    RETURN (tok::float8 * fz.pick(ARRAY['0.5', '1.0000001', '-1', '2', '0', '1e300'])::float8)::text;
EXCEPTION WHEN OTHERS THEN
    RETURN tok;
END
$$;

CREATE FUNCTION fz.mutate_sketch(t text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    numre text := '-?[0-9][0-9.e+-]*';
    f   text[] := string_to_array(t, ' ');
    nf  integer := cardinality(f);
    p   integer := 1 + fz.rnd(greatest(length(t), 1));
    j   integer := 1 + fz.rnd(greatest(nf, 1));
    nn  integer := regexp_count(t, numre);
    k   integer := 1 + fz.rnd(greatest(nn, 1));
    tok text := regexp_substr(t, numre, 1, k);
    at  integer := regexp_instr(t, numre, 1, k);
    num text := fz.pick(ARRAY['1e308', '-1', 'nan', 'NaN', 'inf', '-inf', 'infinity',
                              '18446744073709551615', '18446744073709551616',
                              '99999999999999999999999', '2147483647', '2147483648', '-2147483649',
                              '0', '-0', '1e-400', '0x1F', '1.5', '', '00000001', '1e5',
                              '4294967296', '-9223372036854775808', '5e-324', ' 1']);
    pos text := substring(t FROM 'pos=([^ ]*)');
    neg text := substring(t FROM 'neg=([^ ]*)');
BEGIN
    RETURN CASE fz.rnd(16)
        WHEN 0 THEN left(t, p - 1)                                          -- truncate
        WHEN 1 THEN overlay(t PLACING fz.pick(ARRAY['0', '9', '-', '=', ':', ';', ',', ' ', 'x',
                                                     'é', E'\t', '.', 'e', '+', '']) FROM p FOR 1)
        WHEN 2 THEN CASE WHEN nn > 0 THEN overlay(t PLACING num FROM at FOR length(tok)) ELSE t END
        WHEN 3 THEN CASE WHEN nn > 0 THEN overlay(t PLACING fz.nudge(tok) FROM at FOR length(tok)) ELSE t END
        WHEN 4 THEN CASE WHEN nn > 0 THEN overlay(t PLACING fz.nudge(tok) FROM at FOR length(tok)) ELSE t END
        WHEN 5 THEN CASE WHEN nn > 0 THEN overlay(t PLACING fz.nudge(tok) FROM at FOR length(tok)) ELSE t END
        WHEN 6 THEN array_to_string(f[:j - 1] || f[j + 1:], ' ')           -- drop a field
        WHEN 7 THEN array_to_string(f[:j] || f[j:], ' ')                    -- a field twice
        WHEN 8 THEN array_to_string(f[:j - 1] || f[j + 1:j + 1] || f[j:j] || f[j + 2:], ' ')  -- swap two
        WHEN 9 THEN regexp_replace(t, fz.pick(ARRAY['alpha', 'level', 'count', 'zero', 'min', 'max', 'pos', 'neg']) || '=',
                                   fz.pick(ARRAY['alpha', 'level', 'count', 'zero', 'min', 'max', 'pos', 'neg', 'ALPHA', '']) || '=')
        WHEN 10 THEN t || fz.pick(ARRAY[' extra', ' ', E'\t', ';', ',', ':1', ' pos=1:1', repeat(' ', 10000), '墙'])
        WHEN 11 THEN regexp_replace(t, '(pos|neg)=', '\1=' || fz.pick(ARRAY['0', '-5', '2147483647', '-2147483648', '100000'])
                                    || ':' || repeat('1,', fz.rnd(100000)) || '1;')
        WHEN 12 THEN regexp_replace(t, '(pos|neg)=', '\1=' || (SELECT string_agg((g * 5)::text || ':1', ';')
                                                               FROM generate_series(1, 1 + fz.rnd(3000)) g) || ';')
        -- well-formed but inconsistent: the stores swapped, another level or alpha
        WHEN 13 THEN regexp_replace(regexp_replace(t, 'pos=[^ ]*', 'pos=' || coalesce(neg, '')),
                                    'neg=[^ ]*', 'neg=' || coalesce(pos, ''))
        WHEN 14 THEN regexp_replace(t, fz.pick(ARRAY['level=[0-9]+', 'alpha=[^ ]+']),
                                    fz.pick(ARRAY['level=1', 'level=5', 'level=60', 'alpha=0.05', 'alpha=0.5', 'alpha=0.0001']))
        ELSE fz.pick(ARRAY['', ' ', 'alpha=', md5(random()::text), repeat('alpha=0.01 ', 1000), 'null',
                           'alpha=0.01 level=0 count=0 zero=0 min=0 max=0 pos= neg='])
    END;
END
$$;

-- bt_sketch's binary form mutated as bytes: cut short, a byte set or a bit
-- flipped, a byte dropped, a varint continuation byte put in, or bytes
-- appended (a long count among them).
CREATE FUNCTION fz.mutate_bytes(b bytea) RETURNS bytea
LANGUAGE plpgsql AS $$
DECLARE
    n integer := length(b);
    p integer := fz.rnd(greatest(n, 1));     -- a byte's offset
BEGIN
    IF n = 0 THEN
        RETURN '\x01'::bytea;
    END IF;
    RETURN CASE fz.rnd(6)
        WHEN 0 THEN substr(b, 1, p)
        WHEN 1 THEN set_byte(b, p, fz.rnd(256))
        WHEN 2 THEN set_byte(b, p, get_byte(b, p) # (1 << fz.rnd(8)))
        WHEN 3 THEN substr(b, 1, p) || substr(b, p + 2)
        WHEN 4 THEN substr(b, 1, p) || '\x80'::bytea || substr(b, p + 1)
        ELSE b || decode(fz.pick(ARRAY['00', 'ff', '8000', '01', 'ffffffffffffffffff7f',
                                       'ffffffffffffffffff01', '0000000100000001']), 'hex')
    END;
END
$$;

-- Bytes as one bt_sketch field of a binary COPY, the one way a client's
-- bytes reach bt_sketch_recv.
CREATE TABLE fz.received (s buildtrace.bt_sketch);
\set copy_schema fz
\i test/data/binary_copy.sql
CREATE FUNCTION fz.receive(payload bytea) RETURNS buildtrace.bt_sketch
LANGUAGE plpgsql AS $$
DECLARE
    result buildtrace.bt_sketch;
BEGIN
    DELETE FROM fz.received;
    PERFORM fz.copy_binary_field('fz.received', payload);
    SELECT r.s INTO result FROM fz.received r;
    RETURN result;
END
$$;

-- One binary case: send's bytes of a valid sketch, mutated (a tenth left
-- as they are), received; what is accepted must read back through its
-- text form and answer a quantile.
CREATE FUNCTION fz.binary_case(i integer, shape text, valid text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    b   bytea := buildtrace.bt_sketch_send(valid::buildtrace.bt_sketch);
    nm  integer := CASE WHEN fz.chance(0.1) THEN 0 ELSE 1 + fz.rnd(2) END;
    hex text;
    r   record;
    r2  record;
    bad text;
BEGIN
    FOR m IN 1 .. nm LOOP
        b := fz.mutate_bytes(b);
    END LOOP;
    hex := encode(b, 'hex');
    r := fz.run('binary -> bt_sketch', i, shape, hex,
                'SELECT fz.receive(decode($3, ''hex''))::text', s => hex);
    IF r.ok THEN
        r2 := fz.run('bt_sketch out -> in', i, shape, r.result, 'SELECT $3::buildtrace.bt_sketch::text', s => r.result);
        bad := CASE WHEN NOT r2.ok OR r2.result IS DISTINCT FROM r.result
                    THEN 'received bt_sketch does not read back: ' || coalesce(r2.result, 'error')
                    WHEN nm = 0 AND r.result IS DISTINCT FROM valid
                    THEN 'sent bt_sketch received as another: ' || r.result END;
        PERFORM fz.run('bt_sketch_quantile', i, shape, r.result,
                       'SELECT buildtrace.bt_sketch_quantile($3::buildtrace.bt_sketch, 0.5)::text', s => r.result);
    ELSIF nm = 0 THEN
        bad := 'sent bt_sketch bytes rejected';
    END IF;
    PERFORM fz.note('consistency', i, shape, CASE WHEN bad IS NOT NULL THEN 'MISMATCH' END, bad, hex);
END
$$;

CREATE PROCEDURE fz.sketches(seed integer, first integer, last integer)
LANGUAGE plpgsql AS $$
DECLARE
    shapes text[] := ARRAY[
        'SELECT buildtrace.bt_sketch(x)::text FROM generate_series(1, 100) x',
        'SELECT buildtrace.bt_sketch(x, 0.05)::text FROM generate_series(1, 1000) x',
        'SELECT buildtrace.bt_sketch(x - 50)::text FROM generate_series(1, 100) x',
        'SELECT buildtrace.bt_sketch(0)::text FROM generate_series(1, 10)',
        'SELECT buildtrace.bt_sketch(-x)::text FROM generate_series(1, 30) x',
        'SELECT buildtrace.bt_sketch(exp(x))::text FROM generate_series(-300, 300, 7) x',
        'SELECT buildtrace.bt_sketch(x, 0.0001)::text FROM generate_series(1, 10000, 97) x',
        'SELECT buildtrace.bt_sketch(x, 0.5)::text FROM unnest(ARRAY[1e-300, 1, 1e300]::float8[]) x',
        'SELECT buildtrace.bt_sketch(42)::text',
        'SELECT buildtrace.bt_sketch(power(10, x))::text FROM generate_series(-200, 200) x',
        'SELECT buildtrace.bt_sketch_merge(s)::text FROM (SELECT buildtrace.bt_sketch(x) s FROM generate_series(1, 10) x GROUP BY x % 3) t',
        'SELECT buildtrace.bt_sketch(random() * 1000 - 100)::text FROM generate_series(1, 500)'];
    others text[];
    shape  text;
    t      text;
    other  text;
    nm     integer;
    r      record;
    r2     record;
    bad    text;
    q      float8;
BEGIN
    FOR i IN first .. last LOOP
        PERFORM setseed(fz.case_seed(seed, -1 - i));
        shape := shapes[1 + fz.rnd(cardinality(shapes))];
        r := fz.run('bt_sketch aggregate', i, shape, shape, shape);
        CONTINUE WHEN NOT r.ok;
        t := r.result;
        PERFORM fz.binary_case(i, shape, t);
        -- a tenth unmutated: valid text must be read back unchanged
        nm := CASE WHEN fz.chance(0.1) THEN 0 ELSE 1 + fz.rnd(2) END;
        FOR m IN 1 .. nm LOOP
            t := fz.mutate_sketch(t);
        END LOOP;

        r := fz.run('text -> bt_sketch', i, shape, t, 'SELECT $3::buildtrace.bt_sketch::text', s => t);
        IF NOT r.ok AND nm = 0 THEN
            PERFORM fz.note('consistency', i, shape, 'MISMATCH', 'valid bt_sketch text rejected', t);
        END IF;
        CONTINUE WHEN NOT r.ok;
        -- Text out -> in must be lossless for whatever was accepted.
        r2 := fz.run('bt_sketch out -> in', i, shape, r.result, 'SELECT $3::buildtrace.bt_sketch::text', s => r.result);
        bad := CASE WHEN NOT r2.ok OR r2.result IS DISTINCT FROM r.result
                    THEN 'accepted bt_sketch does not read back: ' || coalesce(r2.result, 'error') END;

        q := fz.pick(ARRAY['0', '0.5', '1', '0.99', random()::text, 'NaN', '-0.1', '1.5', 'Infinity'])::float8;
        PERFORM fz.run('bt_sketch_quantile', i, shape, t,
                       'SELECT buildtrace.bt_sketch_quantile($3::buildtrace.bt_sketch, $5)::text', s => t, q => q);
        PERFORM fz.run('bt_sketch_count', i, shape, t,
                       'SELECT buildtrace.bt_sketch_count($3::buildtrace.bt_sketch)::text', s => t);
        PERFORM fz.run('bt_sketch other readers', i, shape, t,
                       'SELECT (buildtrace.bt_sketch_quantiles($3::buildtrace.bt_sketch, ARRAY[0, 0.25, 1]),
                                buildtrace.bt_sketch_relative_accuracy($3::buildtrace.bt_sketch),
                                buildtrace.bt_sketch_quantile_bounds($3::buildtrace.bt_sketch, $5, 0.95))::text',
                       s => t, q => q);

        -- Merge with a valid sketch: of the same accuracy or another one.
        other := CASE WHEN fz.chance(0.6) THEN (SELECT buildtrace.bt_sketch(x)::text FROM generate_series(1, 50) x)
                      WHEN fz.chance(0.5) THEN (SELECT buildtrace.bt_sketch(x, 0.05)::text FROM generate_series(-5, 5) x)
                      ELSE (SELECT buildtrace.bt_sketch(x * 1e6)::text FROM generate_series(1, 20) x) END;
        r := fz.run('bt_sketch_add', i, shape, t,
                    'SELECT buildtrace.bt_sketch_add($3::buildtrace.bt_sketch, $4::buildtrace.bt_sketch)::text',
                    s => t, t => other);
        IF r.ok THEN
            r2 := fz.run('bt_sketch out -> in', i, shape, r.result, 'SELECT $3::buildtrace.bt_sketch::text', s => r.result);
            IF NOT r2.ok OR r2.result IS DISTINCT FROM r.result THEN
                bad := 'merged bt_sketch does not read back: ' || coalesce(r2.result, 'error');
            END IF;
        END IF;
        PERFORM fz.run('bt_sketch_merge', i, shape, t,
                       'SELECT buildtrace.bt_sketch_merge(x)::text FROM unnest(ARRAY[$4, $3, $4]::buildtrace.bt_sketch[]) x',
                       s => t, t => other);
        PERFORM fz.note('consistency', i, shape, CASE WHEN bad IS NOT NULL THEN 'MISMATCH' END, bad, t);
    END LOOP;
END
$$;
