#!/usr/bin/env bash
# Benchmark of one very large diff: a pair of OBJECTS objects (default
# 1,000,000) with every object moved, by one of seven vectors (so that it is
# no whole-drawing shift). Prints bt_diff's time, the backend's
# peak memory (VmHWM) against the size of the two inputs plus the output,
# and how late a statement_timeout lands at several points of the diff.
# Not part of the pass/fail suite.
#
#   bash test/bench/large_bench.sh [OBJECTS]
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
objects=${1:-1000000}
db=buildtrace_large_bench
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q -c "CREATE EXTENSION buildtrace"
q -v objects="$objects" -f test/data/all_moved.sql
# One session: time the diff (its result made text, to measure it; the time
# includes that).  Another, fresh one: the diff alone, then the backend's
# peak memory (text output is PostgreSQL's and doubles its buffer as it
# grows, so it is left out of the peak).
out=$(psql -qXAt -v ON_ERROR_STOP=1 -d "$db" <<'SQL'
SELECT octet_length(a::text) + octet_length(b::text) AS inputs FROM big \gset
SELECT clock_timestamp() AS t0 \gset
SELECT octet_length(buildtrace.bt_diff(a, b)::text) AS output FROM big \gset
SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000) AS ms \gset
\echo inputs :inputs output :output ms :ms
SQL
)
hwm=$(psql -qXAt -v ON_ERROR_STOP=1 -d "$db" <<'SQL' | sed -n 's/^VmHWM:\s*\([0-9]*\) kB/\1/p'
SELECT pg_backend_pid() AS pid \gset
SELECT buildtrace.bt_diff(a, b) IS NULL FROM big;
SELECT pg_read_file('/proc/' || :pid || '/status');
SQL
)
inputs=$(echo "$out" | sed -n 's/^inputs \([0-9]*\) output \([0-9]*\) ms \([0-9]*\)$/\1/p')
output=$(echo "$out" | sed -n 's/^inputs \([0-9]*\) output \([0-9]*\) ms \([0-9]*\)$/\2/p')
ms=$(echo "$out" | sed -n 's/^inputs \([0-9]*\) output \([0-9]*\) ms \([0-9]*\)$/\3/p')
echo "bt_diff of $objects objects, every one moved, result as text: $ms ms"
awk -v h="$hwm" -v i="$inputs" -v o="$output" 'BEGIN {
    printf "peak backend memory of the diff (VmHWM) %.0f MB; inputs %.0f MB + output %.0f MB as text = %.0f MB; ratio %.1f (target <= 4)\n",
           h / 1024, i / 1048576, o / 1048576, (i + o) / 1048576, h * 1024 / (i + o) }'
# The timeouts are fractions of the time of the query they cancel (the diff
# without its conversion to text), measured on its own: the faster of two
# runs, so that every point falls inside the diff.
total=
for _ in 1 2; do
    start=$(date +%s%N)
    q -c "SELECT buildtrace.bt_diff(a, b) IS NULL FROM big" >/dev/null
    t=$((($(date +%s%N) - start) / 1000000))
    [ -z "$total" ] || [ "$t" -lt "$total" ] && total=$t
done
echo "bt_diff(a, b) IS NULL: $total ms"
echo
echo "| statement_timeout | error after | late by |"
echo "|---|---|---|"
for frac in 10 30 50 70 90; do
    t=$((total * frac / 100))
    start=$(date +%s%N)
    if psql -qXAt -d "$db" -c "SET statement_timeout = $t" -c "SELECT buildtrace.bt_diff(a, b) IS NULL FROM big" >/dev/null 2>&1; then
        echo "| $t ms | finished first | - |"
        continue
    fi
    el=$((($(date +%s%N) - start) / 1000000))
    echo "| $t ms | $el ms | $((el - t)) ms |"
done
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
