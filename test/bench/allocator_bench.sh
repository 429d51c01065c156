#!/usr/bin/env bash
# What buildtrace.keep_freed_memory saves: the same work, in one throwaway
# cluster, with the setting at 0 (glibc's own rule: large freed blocks go
# back to the kernel at the end of each statement, and the next statement
# faults every page in again) and at KEEP, interleaved over ROUNDS rounds,
# each statement sent on its own as a client sends it:
#  - bt_diff of a heavy revision (30 % of 10k or 100k objects moved, 2 %
#    added, 2 % removed, stored with lz4 as buildtrace stores versions) and
#    of the same version with itself: pgbench, one client, SECONDS a run;
#    and the page faults a backend takes per statement (from
#    /proc/self/stat: the server runs on this machine);
#  - one-pair INSERTs of a 100-object pair (30 % moved) into
#    buildtrace.pairs, whose diff is small enough to fault little either way.
# Prints medians and ratios. Not part of the pass/fail suite.
#
#   bash test/bench/allocator_bench.sh [SECONDS [ROUNDS [KEEP]]]    default 3 3 128MB
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
seconds=${1:-3}
rounds=${2:-3}
keep=${3:-128MB}
db=buildtrace_allocator_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q <<'SQL'
CREATE EXTENSION buildtrace;
CREATE TABLE timing (work text, keep text, round int, latency_ms float8);
CREATE TABLE faults (work text, keep text, per_statement float8);
CREATE TABLE heavy (n int PRIMARY KEY, a jsonb COMPRESSION lz4, b jsonb COMPRESSION lz4);
\i test/bench/versions.sql
INSERT INTO heavy
SELECT s, pg_temp.bench_version(s)::text::jsonb, pg_temp.bench_heavy_revision(s)::text::jsonb
FROM unnest(ARRAY[10000, 100000]) s;
SQL
# Stored as buildtrace stores versions, or the comparison is of something else.
q -c "SELECT bool_and(pg_column_compression(a) = 'lz4' AND pg_column_compression(b) = 'lz4') FROM heavy" | grep -qx t ||
    { echo "allocator_bench: the versions are not stored with lz4"; exit 1; }

bt_bench_moved_pair "$db" "$work"

declare -A script
works="diff-10k same-10k diff-100k same-100k insert"
for n in 10k 100k; do
    size=${n%k}000
    script[diff-$n]="SELECT buildtrace.bt_diff(a, b) IS NOT NULL FROM heavy WHERE n = $size;"
    script[same-$n]="SELECT buildtrace.bt_diff(a, a) IS NOT NULL FROM heavy WHERE n = $size;"
done
script[insert]="INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b) VALUES ('drawing-' || :d, '$(cat "$work/a.json")', '$(cat "$work/b.json")');"
for w in $works; do
    printf '\\set d random(1, 500)\n%s\n' "${script[$w]}" > "$work/$w.sql"
done

# The page faults per statement of each work, the setting at 0 and at keep:
# one session, a warm-up, then 10 statements (3 for 100k objects). The
# server runs on this machine, so its backend's minor faults are readable.
minor_faults="split_part(pg_read_file('/proc/self/stat'), ' ', 10)::bigint"
for w in $works; do
    for k in 0 "$keep"; do
        reps=10; [[ "$w" != *100k ]] || reps=3
        {
            echo "SET buildtrace.keep_freed_memory = '$k';"
            echo "SELECT 1 AS d \\gset"
            echo "${script[$w]}"
            echo "SELECT $minor_faults AS f0 \\gset"
            for _ in $(seq "$reps"); do echo "${script[$w]}"; done
            echo "INSERT INTO faults SELECT '$w', '$k', ($minor_faults - :f0) / $reps.0;"
        } > "$work/faults.sql"
        q -f "$work/faults.sql" > /dev/null
    done
done

# pgbench runs, interleaved: each round runs every work with the setting at
# 0 and at keep, in alternating order.
for r in $(seq "$rounds"); do
    for w in $works; do
        order="0 $keep"; [ $((r % 2)) = 1 ] || order="$keep 0"
        for k in $order; do
            q -c "CHECKPOINT"
            PGOPTIONS="-c buildtrace.keep_freed_memory=$k" \
                pgbench -n -M extended -c 1 -j 1 -T "$seconds" -f "$work/$w.sql" "$db" > "$work/out" 2>&1 ||
                { cat "$work/out"; echo "pgbench failed"; exit 1; }
            lat=$(sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p' "$work/out")
            q -c "INSERT INTO timing VALUES ('$w', '$k', $r, $lat)"
        done
    done
done

# Every pair inserted was processed.
q -c "SELECT count(*) FILTER (WHERE status <> 'done') FROM buildtrace.pairs" | grep -qx 0 ||
    { echo "allocator_bench: a pair was not processed"; exit 1; }

echo "buildtrace.keep_freed_memory at 0 and at $keep, medians of $rounds runs of $seconds s"
psql -qX -v ON_ERROR_STOP=1 -v keep="$keep" -d "$db" <<'SQL'
CREATE TEMP VIEW m AS
  SELECT work, keep, percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) AS ms
  FROM timing GROUP BY work, keep;
SELECT z.work, round(z.ms::numeric, 3) AS at_0_ms, round(k.ms::numeric, 3) AS kept_ms,
       round((z.ms / k.ms)::numeric, 2) AS at_0_over_kept,
       round(fz.per_statement::numeric) AS faults_at_0, round(fk.per_statement::numeric) AS faults_kept
FROM m z JOIN m k ON k.work = z.work AND k.keep = :'keep'
JOIN faults fz ON fz.work = z.work AND fz.keep = '0'
JOIN faults fk ON fk.work = z.work AND fk.keep = :'keep'
WHERE z.keep = '0'
ORDER BY array_position(ARRAY['diff-10k', 'same-10k', 'diff-100k', 'same-100k', 'insert'], z.work);
-- The ratios the performance targets are about, with the setting at 0 and at keep.
SELECT keep,
       round((max(ms) FILTER (WHERE work = 'diff-10k') / max(ms) FILTER (WHERE work = 'same-10k'))::numeric, 2) AS diff_over_same_10k,
       round((max(ms) FILTER (WHERE work = 'diff-100k') / max(ms) FILTER (WHERE work = 'same-100k'))::numeric, 2) AS diff_over_same_100k,
       round((max(ms) FILTER (WHERE work = 'diff-100k') / max(ms) FILTER (WHERE work = 'diff-10k'))::numeric, 1) AS diff_100k_over_10k
FROM m GROUP BY keep ORDER BY keep = '0' DESC;
SQL
