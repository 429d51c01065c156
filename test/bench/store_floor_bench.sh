#!/usr/bin/env bash
# The floor under a one-pair INSERT's store step: what writing the rows the
# pipeline writes for a pair costs in the inserting transaction, whatever
# computes them. pgbench, one client, autocommit, extended protocol, empty
# pairs ('[]', '[]'): (a) a plain table with the columns and indexes of
# pairs; (b) the same with an AFTER ROW trigger that inserts a changes row
# through a saved SPI plan, (c) one that writes that row as a heap tuple
# with its index entries, (d) one that also locks and updates the drawing's
# state row and its hour's rollup row that way, as the direct store does
# (test/bench/store_floor.c, built here, not part of the extension; its
# tables are LIKE the extension's, with the changes row's foreign key);
# (e) buildtrace.pairs, and (f) the same with buildtrace.store_directly =
# off. Medians of ROUNDS interleaved runs of SECONDS, with each one's ratio
# to the plain insert. Not part of the pass/fail suite.
#
#   bash test/bench/store_floor_bench.sh [SECONDS [ROUNDS]]    default 5 3
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
bt_keep_freed_memory
seconds=${1:-5}
rounds=${2:-3}
db=buildtrace_store_floor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

cp test/bench/store_floor.c "$work/"
printf 'MODULES = store_floor\nPGXS := $(shell $(PG_CONFIG) --pgxs)\ninclude $(PGXS)\n' > "$work/Makefile"
make -s -C "$work" PG_CONFIG="$PG_CONFIG" >/dev/null

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q <<SQL
CREATE EXTENSION buildtrace;
CREATE SCHEMA bench;
CREATE TABLE bench.plain (LIKE buildtrace.pairs INCLUDING ALL);
CREATE FUNCTION bench.floor_spi() RETURNS trigger LANGUAGE c AS '$work/store_floor', 'floor_spi';
CREATE FUNCTION bench.floor_heap() RETURNS trigger LANGUAGE c AS '$work/store_floor', 'floor_heap';
CREATE FUNCTION bench.floor_three() RETURNS trigger LANGUAGE c AS '$work/store_floor', 'floor_three';
CREATE TABLE bench.s_three (LIKE buildtrace.drawing_state INCLUDING ALL);
CREATE TABLE bench.r_three (LIKE buildtrace.hourly_rollups INCLUDING ALL);
-- LIKE copies no storage parameters; the copies take the extension's
-- (drawing_state's fillfactor), so that like is compared with like.
SELECT format('ALTER TABLE bench.%s SET (%s)', copy, array_to_string(c.reloptions, ', '))
FROM (VALUES ('s_three', 'buildtrace.drawing_state'::regclass),
             ('r_three', 'buildtrace.hourly_rollups'::regclass)) t(copy, original)
JOIN pg_class c ON c.oid = t.original
WHERE c.reloptions IS NOT NULL \gexec
-- The drawings' state rows, and their rollup rows of this hour and the next.
INSERT INTO bench.s_three (drawing_id, tenant) SELECT 'drawing-' || i, '' FROM generate_series(1, 500) i;
INSERT INTO bench.r_three (hour, drawing_id, tenant)
SELECT date_trunc('hour', now(), 'UTC') + h * interval '1 hour', 'drawing-' || i, ''
FROM generate_series(1, 500) i, generate_series(0, 1) h;
SQL
[ "$(q -c "SELECT c.reloptions IS NOT DISTINCT FROM s.reloptions
             FROM pg_class c, pg_class s
             WHERE c.oid = 'bench.s_three'::regclass AND s.oid = 'buildtrace.drawing_state'::regclass")" = t ] ||
    { echo "store_floor: the floor's state table is stored otherwise than drawing_state"; exit 1; }
for v in spi heap three; do
    q <<SQL
CREATE TABLE bench.p_$v (LIKE buildtrace.pairs INCLUDING ALL);
CREATE TABLE bench.c_$v (LIKE buildtrace.changes INCLUDING ALL);
ALTER TABLE bench.c_$v ADD FOREIGN KEY (pair_id) REFERENCES bench.p_$v ON DELETE CASCADE;
CREATE TRIGGER floor AFTER INSERT ON bench.p_$v FOR EACH ROW EXECUTE FUNCTION bench.floor_$v();
SQL
done

declare -A target=([plain]=bench.plain [spi]=bench.p_spi [heap]=bench.p_heap [three]=bench.p_three
                   [pipeline]=buildtrace.pairs [sqlstore]=buildtrace.pairs)
variants="plain spi heap three pipeline sqlstore"
for v in $variants; do
    printf '\\set d random(1, 500)\nINSERT INTO %s (drawing_id, version_a, version_b) VALUES (%s, %s, %s);\n' \
        "${target[$v]}" "'drawing-' || :d" "'[]'" "'[]'" > "$work/$v.sql"
done
q -c "CREATE TABLE bench.timing (variant text, round int, latency_ms float8)"
for r in $(seq 1 "$rounds"); do
    for v in $variants; do
        opts=""; [ "$v" != sqlstore ] || opts="-c buildtrace.store_directly=off"
        q -c "CHECKPOINT"
        PGOPTIONS="$opts" pgbench -n -M extended -c 1 -j 1 -T "$seconds" -f "$work/$v.sql" "$db" > "$work/out" 2>&1 ||
            { cat "$work/out"; echo "store_floor: pgbench failed"; exit 1; }
        q -c "INSERT INTO bench.timing VALUES ('$v', $r,
                $(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$work/out"))"
    done
done

# Every trigger wrote its rows: a changes row per pair, the rollups counted them.
q <<'SQL'
SELECT CASE WHEN (SELECT count(*) FROM bench.p_spi) = (SELECT count(*) FROM bench.c_spi)
             AND (SELECT count(*) FROM bench.p_heap) = (SELECT count(*) FROM bench.c_heap)
             AND (SELECT count(*) FROM bench.p_three) = (SELECT count(*) FROM bench.c_three)
             AND (SELECT count(*) FROM bench.p_three) = (SELECT sum(pairs) FROM bench.r_three)
             AND (SELECT count(*) FROM buildtrace.pairs) = (SELECT count(*) FROM buildtrace.changes)
            THEN 'store_floor: every pair has its changes row, and the floor''s rollups count its pairs'
            ELSE 'store_floor: FAILED: rows missing' END;
SQL
echo
echo "Average latency per empty-pair INSERT (ms), one client, median of $rounds rounds of $seconds s."
psql -qX -d "$db" <<'SQL'
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS ms
           FROM bench.timing GROUP BY 1)
SELECT m.variant, round(m.ms::numeric, 3) AS ms, round((m.ms / p.ms)::numeric, 2) AS "x plain",
       round(((m.ms - p.ms) * 1000)::numeric) AS "adds us"
FROM m, m p WHERE p.variant = 'plain'
ORDER BY array_position(ARRAY['plain', 'spi', 'heap', 'three', 'pipeline', 'sqlstore'], m.variant);
SQL
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
