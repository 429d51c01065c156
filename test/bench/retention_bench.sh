#!/usr/bin/env bash
# Benchmark of retention: loads PAIRS pairs (default 1,000,000, small
# drawings) through the pipeline, then measures one-pair INSERTs (pgbench, 1
# client) alone and while purge() removes every loaded pair, and the space
# of pairs + changes before, after the purge, after VACUUM, and after as many
# pairs again as one tenth of the load (to see freed space reused). Not part
# of the pass/fail suite.
#
#   bash test/bench/retention_bench.sh [PAIRS [SECONDS]]    default 1000000 15
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
pairs=${1:-1000000}
seconds=${2:-15}
db=buildtrace_retention_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }
size() { q -c "SELECT pg_total_relation_size('buildtrace.pairs') + pg_total_relation_size('buildtrace.changes')"; }
mb() { awk -v b="$1" 'BEGIN { printf "%.0f MB", b / 1048576 }'; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q -c "CREATE EXTENSION buildtrace"
# load_pairs N: N pairs of one-object drawings, 50,000 a transaction
load_pairs() {
    q <<SQL
CREATE PROCEDURE pg_temp.load(n integer) LANGUAGE plpgsql AS \$\$
BEGIN
    FOR s IN 0 .. (n - 1) / 50000 LOOP
        INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
        SELECT 'R-' || i % 1000, '[{"id":"A","x":0,"y":0,"width":1,"height":1}]',
               ('[{"id":"A","x":' || i % 7 || ',"y":0,"width":1,"height":1}]')::jsonb
        FROM generate_series(s * 50000 + 1, least(n, (s + 1) * 50000)) i;
        COMMIT;
    END LOOP;
END \$\$;
CALL pg_temp.load($1);
SQL
}
start=$SECONDS
load_pairs "$pairs"
echo "retention: loaded $pairs pairs in $((SECONDS - start)) s"
q -c "VACUUM ANALYZE buildtrace.pairs, buildtrace.changes"
before=$(size)

printf '\\set d random(1, 1000)\nINSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES (%s, %s, %s);\n' \
    "'N-' || :d" "'[{\"id\":\"A\",\"x\":0,\"y\":0,\"width\":1,\"height\":1}]'" \
    "'[{\"id\":\"A\",\"x\":1,\"y\":0,\"width\":1,\"height\":1}]'" > "$work/insert.sql"
# p50 and p99 of one pgbench run's per-transaction latencies (ms)
run_pgbench() {
    rm -f "$work"/log.*
    (cd "$work" && pgbench -n -M extended -c 1 -T "$seconds" -l --log-prefix=log -f insert.sql "$db" > pgbench.out 2>&1)
    cat "$work"/log.* | awk '{ print $3 / 1000 }' | sort -n |
        awk '{ v[NR] = $1 } END { printf "%d %.3f %.3f\n", NR, v[int(NR * 0.5)], v[int(NR * 0.99)] }'
}
read -r n_alone p50_alone p99_alone <<<"$(run_pgbench)"

# purge() of everything loaded (keep 1 s), with the same inserts alongside.
sleep 2
purge_start=$SECONDS
PGOPTIONS="-c buildtrace.keep_pairs=1" psql -qXAt -d "$db" -c "CALL buildtrace.purge(10000)" > "$work/purged" &
purge_pid=$!
read -r n_during p50_during p99_during <<<"$(run_pgbench)"
wait "$purge_pid"
purge_s=$((SECONDS - purge_start))
after=$(size)
q -c "VACUUM buildtrace.pairs, buildtrace.changes"
vacuumed=$(size)
load_pairs $((pairs / 10))
reloaded=$(size)
left=$(q -c "SELECT count(*) FROM buildtrace.pairs WHERE drawing_id LIKE 'R-%'")
# the reload and each loaded drawing's latest pair (its last upload, kept)
drawings=$((pairs < 1000 ? pairs : 1000))
[ "$left" = "$((pairs / 10 + drawings))" ] ||
    { echo "retention: FAILED: $left loaded pairs left, expected the reload and $drawings drawings' last uploads"; exit 1; }

echo
echo "purge() removed $(cut -d'|' -f1 "$work/purged") pairs (with their change sets) in $purge_s s while pgbench inserted"
echo
echo "| one-pair INSERT, 1 client | inserts | p50 ms | p99 ms |"
echo "|---|---|---|---|"
echo "| alone | $n_alone | $p50_alone | $p99_alone |"
echo "| while purge() runs | $n_during | $p50_during | $p99_during |"
echo
echo "| pairs + changes | size |"
echo "|---|---|"
echo "| after loading $pairs pairs | $(mb "$before") |"
echo "| after purge() | $(mb "$after") |"
echo "| after VACUUM | $(mb "$vacuumed") |"
echo "| after $((pairs / 10)) pairs more | $(mb "$reloaded") |"
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
