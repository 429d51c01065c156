-- bt_sketch's binary input (COPY … FORMAT binary, a driver's binary
-- parameters): any bytes a client sends reach bt_sketch_recv, so it must
-- refuse what its own send never writes with 22P03 and a detail, and store
-- what it accepts in the canonical form.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS buildtrace;
RESET client_min_messages;
SET search_path = buildtrace, public;

CREATE TEMP TABLE received (s bt_sketch);
\set copy_schema pg_temp
\i test/data/binary_copy.sql

-- Receive the bytes as one bt_sketch field of a binary COPY: the sketch as
-- text and as sent back, or the error's SQLSTATE, message and detail.
CREATE FUNCTION pg_temp.receive(payload bytea) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    detail text;
    result text;
BEGIN
    TRUNCATE received;
    PERFORM pg_temp.copy_binary_field('received', payload);
    SELECT format('%s | %s', s, bt_sketch_send(s)) INTO result FROM received;
    RETURN result;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN format('%s: %s (%s)', SQLSTATE, SQLERRM, detail);
END
$$;

-- What send writes, recv reads back unchanged: -2, 0 and 5 at 1 %, and
-- 14,001 values of both signs at 20 % that collapse once.
SELECT bt_sketch_send(bt_sketch(x, 0.01)) AS sent FROM unnest('{-2,0,5}'::float8[]) x;
SELECT pg_temp.receive(bt_sketch_send(bt_sketch(x, 0.01))) FROM unnest('{-2,0,5}'::float8[]) x;
SELECT substring(s::text FROM 'level=[0-9]+') AS level,
       pg_temp.receive(bt_sketch_send(s)) = s::text || ' | ' || bt_sketch_send(s)::text AS round_trip
FROM (SELECT bt_sketch(exp(x / 10.0)::float8 * (x % 7 + 1), 0.2) s
      FROM generate_series(-7000, 7000) x) t;

-- The same sketch written by hand, field by field (network byte order):
-- version, level, alpha, count, zero count, min, max, then the positive
-- and the negative store, each its first bucket, its number of buckets
-- and one LEB128 count per bucket.
CREATE TEMP TABLE part (name text PRIMARY KEY, bytes bytea);
INSERT INTO part VALUES
    ('head', '\x0100'::bytea || float8send(0.01)),
    ('counts', int8send(3) || int8send(1) || float8send(-2) || float8send(5)),
    ('pos', int4send(82) || int4send(1) || '\x01'::bytea),
    ('neg', int4send(35) || int4send(1) || '\x01'::bytea);
CREATE FUNCTION pg_temp.p(name text) RETURNS bytea
LANGUAGE sql RETURN (SELECT bytes FROM part WHERE part.name = p.name);
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts') || pg_temp.p('pos') || pg_temp.p('neg'))
    AS by_hand;

-- A count written in more bytes than it needs (0x81 0x00 is 1) is read and
-- stored in its one-byte form.
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts')
                       || int4send(82) || int4send(1) || '\x8100'::bytea || pg_temp.p('neg'))
    AS padded_count;

-- A count of ten bytes whose last carries more than the 64th bit.
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts')
                       || int4send(82) || int4send(1) || '\xffffffffffffffffff02'::bytea
                       || pg_temp.p('neg')) AS count_past_64_bits;
-- 2^64 - 1 fits the varint, and then cannot add up to the total.
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts')
                       || int4send(82) || int4send(1) || '\xffffffffffffffffff01'::bytea
                       || pg_temp.p('neg')) AS count_of_64_bits;
-- A count whose continuation bits run to the end of the data.
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts')
                       || int4send(82) || int4send(1) || '\xffff'::bytea) AS count_unterminated;

-- Cut short at every field, and one byte too many.
SELECT pg_temp.receive(substr(pg_temp.p('head'), 1, 1)) AS no_level;
SELECT pg_temp.receive(pg_temp.p('head') || substr(pg_temp.p('counts'), 1, 30)) AS short_max;
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts') || pg_temp.p('pos')
                       || int4send(35)) AS no_negative_length;
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts') || pg_temp.p('pos')
                       || pg_temp.p('neg') || '\x00'::bytea) AS trailing_byte;

-- Fields that text input cannot express: another format version, a level
-- of 255, a store with more buckets than bytes follow.
SELECT pg_temp.receive('\x0200'::bytea || float8send(0.01) || pg_temp.p('counts')
                       || pg_temp.p('pos') || pg_temp.p('neg')) AS version_2;
SELECT pg_temp.receive('\x01ff'::bytea || float8send(0.01) || pg_temp.p('counts')
                       || pg_temp.p('pos') || pg_temp.p('neg')) AS level_255;
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts')
                       || int4send(82) || int4send(1000) || '\x01'::bytea) AS buckets_past_data;
SELECT pg_temp.receive(pg_temp.p('head') || pg_temp.p('counts')
                       || int4send(82) || int4send(1)) AS bucket_past_data;
-- A NaN minimum and a count past 2^53.
SELECT pg_temp.receive(pg_temp.p('head') || int8send(3) || int8send(1) || float8send('NaN')
                       || float8send(5) || pg_temp.p('pos') || pg_temp.p('neg')) AS nan_min;
SELECT pg_temp.receive(pg_temp.p('head') || int8send((2::numeric ^ 53)::int8 + 1) || int8send(1)
                       || float8send(-2) || float8send(5) || pg_temp.p('pos') || pg_temp.p('neg'))
    AS count_past_2_53;
