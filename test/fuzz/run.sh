#!/usr/bin/env bash
# Fuzz test: a seeded generator of hostile inputs (test/fuzz/fuzz.sql) feeds
# DRAWINGS mutated drawing versions, derived from test/data/fzk-haus.json and
# small drawings, to bt_validate, bt_diff both ways, bt_try_diff, bt_svg
# (whose documents must be well-formed XML) and the pairs pipeline (one row
# per statement and ~20-row statements, some with hostile latency), and
# SKETCHES mutated bt_sketch texts, and their binary form mutated as bytes
# through a binary COPY, to the type's input and readers. Every call runs in
# its own subtransaction; its outcome must be success or an allowed
# SQLSTATE, and every pipeline statement must store all
# its rows or none (test/fuzz/report.sql). A crash is caught per chunk of
# cases and narrowed down to one case. Same seed, same inputs. Runs against
# the server in the PG* environment (as inside pg_virtualenv), or standalone
# in a throwaway cluster, in a fresh database buildtrace_fuzz.
#
#   bash test/fuzz/run.sh [SEED [DRAWINGS [SKETCHES]]]   default 1, 2000, 1000
#   BT_FUZZ_VERBOSE=1 also prints a message for each target and SQLSTATE.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
seed=${1:-1}
drawings=${2:-2000}
sketches=${3:-1000}
for n in "$seed" "$drawings" "$sketches"; do
    [[ $n =~ ^[0-9]{1,9}$ ]] || { echo "usage: bash test/fuzz/run.sh [SEED [DRAWINGS [SKETCHES]]] (non-negative integers)" >&2; exit 2; }
done
db=buildtrace_fuzz
# Cases per CALL: one transaction each, so a crash loses and re-runs little.
chunk=100

dropdb --if-exists "$db" >/dev/null
# UTF8 whatever the cluster's locale: the unicode inputs must reach the code.
createdb -T template0 -E UTF8 --locale=C "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION buildtrace'
psql -qX -v ON_ERROR_STOP=1 -d "$db" -v fzk="$(cat test/data/fzk-haus.json)" -f test/fuzz/fuzz.sql

echo "fuzz seed: $seed ($drawings drawing versions, $sketches sketch texts; re-run: bash test/fuzz/run.sh $seed $drawings $sketches)"
start=$(date +%s.%N)

call() {
    psql -qX -v ON_ERROR_STOP=1 -d "$db" -c "SET statement_timeout = '300s'" -c "CALL fz.$1($seed, $2, $3)"
}

# Wait until the server takes queries again (after a crash it restarts).
wait_server() {
    for _ in $(seq 120); do
        psql -qXAt -d "$db" -c 'SELECT 1' >/dev/null 2>&1 && return 0
        sleep 1
    done
    echo "fuzz: the server did not come back"; exit 1
}

# After a failed CALL (an error escaping the generator, a timeout, or the
# connection lost when the server crashed): find the one case that fails
# alone and show its input, then fail the run.
chunk_failed() {
    local proc=$1 first=$2 last=$3
    echo "fuzz: FAILED: CALL fz.$proc($seed, $first, $last) did not complete (seed $seed; see the error above)"
    sleep 2     # let the postmaster notice a crash before we connect
    for ((c = first; c <= last; c++)); do
        wait_server
        if ! call "$proc" "$c" "$c" >/dev/null 2>&1; then
            echo "fuzz: case $c fails alone. Replay in a database with buildtrace:"
            echo "  psql -v fzk=\"\$(cat test/data/fzk-haus.json)\" -f test/fuzz/fuzz.sql -c 'CALL fz.$proc($seed, $c, $c)'"
            if [ "$proc" = drawings ]; then
                wait_server
                psql -qX -d "$db" -P pager=off -x <<SQL || true
\o /dev/null
SELECT setseed(fz.case_seed($seed, $c));
\o
SELECT shape, length(base_text) AS base_len, left(base_text, 200) AS base,
       length(v_text) AS v_len, left(v_text, 400) AS v
FROM fz.gen_case();
SQL
            fi
            exit 1
        fi
    done
    echo "fuzz: no single case of $first..$last fails alone (a multi-row statement, or state left by earlier cases)"
    exit 1
}

run_cases() {
    local proc=$1 total=$2 first last
    for ((first = 1; first <= total; first += chunk)); do
        last=$((first + chunk - 1 < total ? first + chunk - 1 : total))
        call "$proc" "$first" "$last" || chunk_failed "$proc" "$first" "$last"
    done
}

run_cases drawings "$drawings"
run_cases sketches "$sketches"
seconds=$(awk "BEGIN { printf \"%.1f\", $(date +%s.%N) - $start }")

verbose=()
[ -n "${BT_FUZZ_VERBOSE:-}" ] && verbose=(-v verbose=1)
if ! psql -qX -v ON_ERROR_STOP=1 -d "$db" -P pager=off "${verbose[@]}" -f test/fuzz/report.sql; then
    echo "fuzz: FAILED with seed $seed after $seconds s: disallowed outcomes or pipeline accounting failures (above)"
    exit 1
fi
echo "fuzz: seed $seed, $drawings drawing versions and $sketches sketch texts in $seconds s, every outcome allowed"
