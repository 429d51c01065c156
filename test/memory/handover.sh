#!/usr/bin/env bash
# Memory of one big statement: INSERT ... SELECT of PAIRS pairs (default
# 200,000) whose diffs add up to hundreds of megabytes. The results wait
# between the row and statement triggers in tuplestores bounded by work_mem,
# so the backend's peak anonymous memory (RssAnon, sampled from /proc) must
# stay under BOUND_MB (default 256) whatever the statement's size. Prints
# the peak, the diff bytes the statement stored, and the time. Runs against
# the server in the PG* environment, or standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
pairs=${1:-200000}
bound_mb=${BOUND_MB:-256}
db=buildtrace_memory
dropdb --if-exists "$db" >/dev/null
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION buildtrace'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Ten walls, all moved: a diff of about 1.4 kB per pair.
start=$(date +%s.%N)
psql -qX -v ON_ERROR_STOP=1 -d "$db" >"$work/insert.out" 2>&1 <<SQL &
SET application_name = 'bt_memory_test';
SET work_mem = '4MB';
WITH v AS MATERIALIZED (
    SELECT jsonb_agg(jsonb_build_object('id', 'W' || i, 'type', 'wall', 'x', i * 10, 'y', 0,
                                        'width', 8, 'height', 1)) AS a,
           jsonb_agg(jsonb_build_object('id', 'W' || i, 'type', 'wall', 'x', i * 10 + 5, 'y', 0,
                                        'width', 8, 'height', 1)) AS b
    FROM generate_series(1, 10) i)
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b)
SELECT 'mem-' || (g % 100), v.a, v.b FROM v, generate_series(1, $pairs) g;
SQL
client=$!
pid=
for _ in $(seq 1 100); do
    pid=$(psql -qXAt -d "$db" -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'bt_memory_test'")
    [ -n "$pid" ] && break
    sleep 0.1
done
[ -n "$pid" ] || { cat "$work/insert.out"; echo "memory: FAILED: the inserting backend was not found"; exit 1; }
peak_kb=0
while kill -0 "$client" 2>/dev/null; do
    kb=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
    [ "${kb:-0}" -gt "$peak_kb" ] && peak_kb=$kb
    sleep 0.05
done
wait "$client" || { cat "$work/insert.out"; echo "memory: FAILED: the insert failed"; exit 1; }
seconds=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")
read -r stored diff_mb < <(psql -qXAt -F' ' -d "$db" -c "
    SELECT count(*), round(sum(octet_length(diff::text)) / 1048576.0) FROM buildtrace.changes")
peak_mb=$((peak_kb / 1024))
echo "memory: $stored of $pairs pairs stored in one statement in $seconds s; their diffs are $diff_mb MB as text;" \
     "peak backend anonymous memory $peak_mb MB (bound $bound_mb MB, work_mem 4MB)"
[ "$stored" -eq "$pairs" ] || { echo "memory: FAILED: $stored of $pairs pairs stored"; exit 1; }
[ "$peak_mb" -gt 0 ] || { echo "memory: FAILED: no memory sample was read"; exit 1; }
[ "$peak_mb" -le "$bound_mb" ] || { echo "memory: FAILED: peak $peak_mb MB over $bound_mb MB"; exit 1; }
dropdb "$db"
