#!/usr/bin/env bash
# A cancel and a statement_timeout land promptly at any point of a large
# diff: a pair of OBJECTS objects (default 300,000), every one moved, is
# diffed once to time it, then cancelled by statement_timeout and by
# pg_cancel_backend at several points of it.  Each must end the statement
# with 57014 within BOUND_MS (default 2000, generous for a shared CI
# machine; test/bench/large_bench.sh prints the exact figures for a
# million objects).  Runs against the server in the PG* environment, or
# standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
objects=${1:-300000}
bound_ms=${BOUND_MS:-2000}
db=buildtrace_cancel
dropdb --if-exists "$db" >/dev/null
createdb "$db"
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }
q -c 'CREATE EXTENSION buildtrace'
q -v objects="$objects" -f test/data/all_moved.sql
diff_sql="SELECT buildtrace.bt_diff(a, b) IS NULL FROM big"
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# the faster of two runs, so that every point falls inside the diff
total=
for _ in 1 2; do
    start=$(now_ms)
    q -c "$diff_sql" >/dev/null
    t=$(($(now_ms) - start))
    [ -z "$total" ] || [ "$t" -lt "$total" ] && total=$t
done
echo "bt_diff of $objects objects, every one moved: $total ms"
fail=0
landed=0

# statement_timeout at 20, 50 and 80 % of the diff
for frac in 20 50 80; do
    t=$((total * frac / 100))
    start=$(now_ms)
    if out=$(psql -qXAt -d "$db" -v VERBOSITY=verbose -c "SET statement_timeout = $t" -c "$diff_sql" 2>&1); then
        echo "statement_timeout $t ms: the diff finished first (not counted)"
        continue
    fi
    late=$(($(now_ms) - start - t))
    landed=$((landed + 1))
    echo "statement_timeout $t ms: error after $((late + t)) ms, late by $late ms"
    case "$out" in *57014*) ;; *) echo "FAIL: not a cancel: $out"; fail=1 ;; esac
    [ "$late" -le "$bound_ms" ] || { echo "FAIL: late by more than $bound_ms ms"; fail=1; }
done

# pg_cancel_backend at 20, 50 and 80 % of the diff
for frac in 20 50 80; do
    wait_ms=$((total * frac / 100))
    psql -qXAt -d "$db" -v VERBOSITY=verbose -c "SET application_name = 'bt_cancel_test'" -c "$diff_sql" \
        >"/tmp/bt_cancel.$$" 2>&1 &
    client=$!
    sleep "$(awk -v m="$wait_ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    sent=$(now_ms)
    q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'bt_cancel_test'" >/dev/null
    if wait "$client"; then
        echo "cancel at $wait_ms ms: the diff finished first (not counted)"
        continue
    fi
    late=$(($(now_ms) - sent))
    landed=$((landed + 1))
    echo "cancel at $wait_ms ms: ended $late ms after the cancel"
    grep -q 57014 "/tmp/bt_cancel.$$" || { echo "FAIL: not a cancel: $(cat /tmp/bt_cancel.$$)"; fail=1; }
    [ "$late" -le "$bound_ms" ] || { echo "FAIL: late by more than $bound_ms ms"; fail=1; }
done
rm -f "/tmp/bt_cancel.$$"
# a test where every cancel came too late to count would test nothing
[ "$landed" -ge 4 ] || { echo "FAIL: only $landed of 6 cancels landed during the diff"; fail=1; }
dropdb "$db"
[ "$fail" -eq 0 ] && echo "cancel: PASSED"
exit "$fail"
