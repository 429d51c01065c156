#!/usr/bin/env bash
# Benchmark of sharding with PL/Proxy: one pair per call, as an ingestion
# service sends them, PAIRS calls (pgbench, one client, autocommit) through
# the proxy to two shard clusters, against the very call the proxy makes on
# a shard (buildtrace.process() of one pair) made straight to one server in
# the same run, and a plain single-row insert. 100-object pairs with 30 % of
# the objects moved, spread over 500 drawings. Prints microseconds per pair,
# the proxy's overhead, and checks that every pair arrived. Not part of the
# pass/fail suite.
#
#   bash test/bench/proxy_bench.sh [PAIRS [ROUNDS]]     default 1000 3
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_install_deps "postgresql-$BT_PG_MAJOR-plproxy"
bt_in_cluster "$0" "$@"
. test/sharding/lib.sh
pairs=${1:-1000}
rounds=${2:-3}
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
work=$(mktemp -d)
trap 'bt_drop_shards; rm -rf "$work"' EXIT

bt_start_shards 2
bt_make_proxy bt_proxy_bench
dropdb --if-exists bt_direct_bench >/dev/null 2>&1
createdb bt_direct_bench
q -d bt_direct_bench -c "CREATE EXTENSION buildtrace" -c "CREATE TABLE plain (LIKE buildtrace.pairs INCLUDING ALL)"

# The pair as JSON text: 100 objects, then the same with 30 % moved.
q -d bt_direct_bench -c "SELECT jsonb_agg(jsonb_build_object('id', 'O' || i, 'type', 'wall', 'x', i, 'y', i % 7,
                                                             'width', 1 + i % 5, 'height', 1) ORDER BY i)
                         FROM generate_series(1, 100) i" > "$work/a.json"
q -d bt_direct_bench -c "SELECT jsonb_agg(CASE WHEN ord % 10 < 3 THEN e || jsonb_build_object('x', (e ->> 'x')::numeric + 2.5) ELSE e END ORDER BY ord)
                         FROM jsonb_array_elements('$(cat "$work/a.json")'::jsonb) WITH ORDINALITY x(e, ord)" > "$work/b.json"
a=$(cat "$work/a.json") b=$(cat "$work/b.json")
printf '\\set d random(1, 500)\nSELECT buildtrace_proxy.insert_pair(%s, %s, %s);\n' \
    "'drawing-' || :d" "'$a'" "'$b'" > "$work/proxy.sql"
printf '\\set d random(1, 500)\nSELECT buildtrace.process(jsonb_build_object(%s, jsonb_build_array(jsonb_build_object(%s, %s, %s, %s::jsonb, %s, %s::jsonb))));\n' \
    "'version_pairs'" "'drawing_id'" "'drawing-' || :d" "'version_a'" "'$a'" "'version_b'" "'$b'" > "$work/direct.sql"
printf '\\set d random(1, 500)\nINSERT INTO plain (drawing_id, version_a, version_b) VALUES (%s, %s, %s);\n' \
    "'drawing-' || :d" "'$a'" "'$b'" > "$work/plain.sql"

q -d bt_direct_bench -c "CREATE TABLE timing (variant text, round int, us_per_pair float8)"
for r in $(seq 1 "$rounds"); do
    for v in plain direct proxy; do
        db=bt_direct_bench; [ "$v" != proxy ] || db=bt_proxy_bench
        q -d bt_direct_bench -c "CHECKPOINT"
        pgbench -n -M extended -c 1 -t "$pairs" -f "$work/$v.sql" "$db" > "$work/out" 2>&1 ||
            { cat "$work/out"; echo "pgbench failed"; exit 1; }
        lat=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$work/out")
        q -d bt_direct_bench -c "INSERT INTO timing VALUES ('$v', $r, $lat * 1000)"
    done
done

stored=0
for i in 0 1; do stored=$((stored + $(bt_shard_psql "$i" -c "SELECT count(*) FROM buildtrace.pairs WHERE status = 'done'"))); done
direct=$(q -d bt_direct_bench -c "SELECT count(*) FROM buildtrace.pairs WHERE status = 'done'")
[ "$stored" = $((pairs * rounds)) ] && [ "$direct" = $((pairs * rounds)) ] ||
    { echo "proxy_bench: FAILED: $stored pairs on the shards, $direct direct, of $((pairs * rounds)) each"; exit 1; }
echo "proxy_bench: $stored pairs through the proxy, all on the shards and done; $direct direct"
echo
echo "Microseconds per pair (one call each), median of $rounds rounds of $pairs calls:"
psql -qX -d bt_direct_bench <<'SQL'
WITH m AS (SELECT variant, percentile_cont(0.5) WITHIN GROUP (ORDER BY us_per_pair) AS us FROM timing GROUP BY 1)
SELECT m.variant, round(m.us::numeric) AS us_per_pair, round((m.us / d.us)::numeric, 2) AS "x direct",
       round((m.us - d.us)::numeric) AS "us over direct"
FROM m, m d WHERE d.variant = 'direct'
ORDER BY m.us;
SQL
for db in bt_proxy_bench bt_direct_bench; do dropdb "$db"; done
