#!/usr/bin/env bash
# Instructions per one-pair INSERT, counted rather than timed: the same
# statements as insert_bench.sh (an empty pair, and 100 objects with 30 %
# moved), one per transaction, into a plain table with the columns and
# indexes of buildtrace.pairs and into buildtrace.pairs, each run in a
# single-user backend under callgrind. A run of N1 and one of N2 INSERTs
# are counted, and (instructions(N2) - instructions(N1)) / (N2 - N1) is one
# INSERT's, start-up and shut-down cancelling out. Instructions are not
# time (they leave out cache misses, page faults and the disk), but they do
# not vary from run to run either: on a virtual machine whose timings move
# by a fifth between runs, they tell which of two builds does less, to a
# few hundred instructions. The drawings (500, chosen at random with a fixed
# seed) have their state and this hour's rollup rows before counting, so the
# pipeline's INSERTs take the direct store as in insert_bench.sh's runs.
# From the empty pair's profiles it also prints the relation locks one
# INSERT takes and the instructions spent taking and releasing locks.
# Installs valgrind if it is missing. Not part of the pass/fail suite.
#
#   bash test/bench/insert_instructions_bench.sh [N1 [N2]]    default 300 900
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
command -v valgrind >/dev/null || bt_install_deps valgrind
bt_in_cluster "$0" "$@"
n1=${1:-300}
n2=${2:-900}
db=buildtrace_insert_instructions
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q -c "CREATE EXTENSION buildtrace" -c "CREATE TABLE plain (LIKE buildtrace.pairs INCLUDING ALL)"
bt_bench_moved_pair "$db" "$work"
printf '[]' > "$work/empty_a.json"; printf '[]' > "$work/empty_b.json"
cp "$work/a.json" "$work/moved_a.json"; cp "$work/b.json" "$work/moved_b.json"
for t in plain buildtrace.pairs; do
    q -c "INSERT INTO $t (drawing_id, version_a, version_b)
          SELECT 'drawing-' || i, '[]', '[]' FROM generate_series(1, 500) i"
done

datadir=$(q -c "SHOW data_directory")
conf=$(q -c "SHOW config_file")
owner=$(stat -c %U "$datadir")
mkdir "$work/cg"
chown "$owner" "$work/cg"
as_owner() { if [ "$(id -un)" = "$owner" ]; then "$@"; else runuser -u "$owner" -- "$@"; fi; }
pg_ctlcluster "$BT_PG_MAJOR" regress stop
trap 'pg_ctlcluster "$BT_PG_MAJOR" regress start >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# count TABLE PAIR N: the instructions of N INSERTs, one per transaction.
count() {
    local out="$work/cg/$1.$2.$3"
    awk -v n="$3" -v t="$1" -v q="'" -v a="$(cat "$work/$2_a.json")" -v b="$(cat "$work/$2_b.json")" '
        BEGIN { srand(7); for (i = 0; i < n; i++)
                printf "INSERT INTO %s (drawing_id, version_a, version_b) VALUES (%sdrawing-%d%s, %s%s%s, %s%s%s);\n",
                       t, q, int(rand() * 500) + 1, q, q, a, q, q, b, q }' > "$work/in.sql"
    as_owner valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$("$PG_CONFIG" --bindir)/postgres" --single -D "$datadir" -c config_file="$conf" "$db" \
        < "$work/in.sql" > "$work/out.txt" 2> "$work/err.txt" ||
        { tail -20 "$work/err.txt"; echo "insert_instructions: the single-user backend failed"; exit 1; }
    if grep -q "ERROR:" "$work/out.txt" "$work/err.txt"; then
        grep -h -m3 "ERROR:" "$work/out.txt" "$work/err.txt"; echo "insert_instructions: an INSERT failed"; exit 1
    fi
    sed -n 's/^summary: *//p' "$out"
}

# locking FILE: of the callgrind profile FILE, the calls of LockRelationOid
# (every relation lock taken) and the instructions of LockAcquireExtended and
# LockRelease with what they call, as "CALLS INSTRUCTIONS".
locking() {
    callgrind_annotate --inclusive=yes --tree=caller --threshold=100 "$1" | awk '
        /^ *$/ { calls = 0; next }
        / < / { n = $0; sub(/.*\(/, "", n); sub(/x\).*/, "", n); gsub(/,/, "", n); calls += n; next }
        /\* .*:LockRelationOid \[/ { locks = calls }
        /\* .*:(LockAcquireExtended|LockRelease) \[/ { n = $1; gsub(/,/, "", n); instr += n }
        END { printf "%d %d\n", locks, instr }'
}

echo "Instructions per one-pair INSERT (callgrind, single-user backend, ($n2 - $n1) INSERTs):"
printf '%-28s %12s %12s %10s\n' pair plain pipeline "x plain"
for pair in empty moved; do
    declare -A per
    for t in plain buildtrace.pairs; do
        c1=$(count "$t" "$pair" "$n1")
        c2=$(count "$t" "$pair" "$n2")
        per[$t]=$(( (c2 - c1) / (n2 - n1) ))
    done
    label=$([ "$pair" = empty ] && echo "empty ([], [])" || echo "100 objects, 30 % moved")
    printf '%-28s %12d %12d %10s\n' "$label" "${per[plain]}" "${per[buildtrace.pairs]}" \
        "$(awk -v p="${per[buildtrace.pairs]}" -v b="${per[plain]}" 'BEGIN { printf "%.3f", p / b }')"
done

# The relation locks of an empty pair, from the same profiles: the
# pipeline's three tables, their indexes and the foreign keys' tables come
# on top of what the plain insert locks, and PostgreSQL keeps only 16 of a
# backend's relation locks in its fast path.
echo
echo "Relation locks per empty-pair INSERT (calls of LockRelationOid), and the instructions of taking and releasing locks:"
printf '%-28s %12s %12s\n' "" plain pipeline
declare -A locks instr
for t in plain buildtrace.pairs; do
    read -r l1 i1 < <(locking "$work/cg/$t.empty.$n1")
    read -r l2 i2 < <(locking "$work/cg/$t.empty.$n2")
    locks[$t]=$(awk -v a="$l1" -v b="$l2" -v n=$((n2 - n1)) 'BEGIN { printf "%.1f", (b - a) / n }')
    instr[$t]=$(( (i2 - i1) / (n2 - n1) ))
done
printf '%-28s %12s %12s\n' "relation locks" "${locks[plain]}" "${locks[buildtrace.pairs]}"
printf '%-28s %12d %12d\n' "instructions in locking" "${instr[plain]}" "${instr[buildtrace.pairs]}"

# The counted INSERTs went through: each table got its pairs, and the
# pipeline's were processed and stored directly or not, but stored.
pg_ctlcluster "$BT_PG_MAJOR" regress start
expected=$(( 500 + 2 * (n1 + n2) ))
q -c "SELECT CASE WHEN (SELECT count(*) FROM plain) = $expected
                   AND (SELECT count(*) FROM buildtrace.pairs WHERE status = 'done') = $expected
                   AND (SELECT count(*) FROM buildtrace.changes) = $expected
              THEN 'insert_instructions: every INSERT arrived, and every pair was diffed and stored'
              ELSE 'insert_instructions: FAILED: pairs missing' END"
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
