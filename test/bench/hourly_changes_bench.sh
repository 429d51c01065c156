#!/usr/bin/env bash
# Benchmark of the hourly_changes view, which sums the hourly rollups, against
# a peer in the same run: the same view computed from the change sets (the
# definition it had before, grouping changes by their hour). History: DAYS
# days of DRAWINGS drawings with one processed pair per drawing and hour,
# each change set holding the diff of a 100-object pair with 30 % moved (as
# the pipeline stores it), stored as a restore would, then rollups rebuilt
# from it. Two queries, each ROUNDS times interleaved: the last 24 hours (the
# README's example) and every hour kept. Both views must return the same rows
# (in a UTC session, where the two hours agree); medians are printed with the
# ratios. Not part of the pass/fail suite; test/bench/smoke.sh runs it on two
# days of five drawings, once, for the equality check.
#
#   bash test/bench/hourly_changes_bench.sh [DAYS [DRAWINGS [ROUNDS]]]    default 90 100 5
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
days=${1:-90}
drawings=${2:-100}
rounds=${3:-5}
db=buildtrace_hourly_changes_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q -c "CREATE EXTENSION buildtrace"
bt_bench_moved_pair "$db" "$work"
q -v days="$days" -v drawings="$drawings" -v a="$(cat "$work/a.json")" -v b="$(cat "$work/b.json")" <<'SQL'
CREATE TEMP TABLE moved_diff AS SELECT buildtrace.bt_diff(:'a', :'b') AS diff;
SET session_replication_role = replica;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, submitted_at, status, processed_at)
SELECT 'hc-' || d, '[]', '[]', t, 'done', t
FROM generate_series(0, :days * 24 - 1) h, generate_series(1, :drawings) d,
     LATERAL (SELECT date_trunc('hour', now()) - h * interval '1 hour' + d * interval '1 second' AS t) s;
INSERT INTO buildtrace.changes (pair_id, drawing_id, diff, summary, added, removed, moved, resized,
                                retyped, modified, unchanged, processing_us, computed_at)
SELECT p.pair_id, p.drawing_id, m.diff, m.diff ->> 'summary', 0, 0, 30, 0, 0, 0, 70, 150,
       p.processed_at
FROM buildtrace.pairs p, moved_diff m;
RESET session_replication_role;
SELECT buildtrace.rebuild_rollups() > 0 AS rebuilt;
VACUUM ANALYZE;
CREATE SCHEMA bench;
-- The peer: the view as computed from the change sets.
CREATE VIEW bench.hourly_changes_from_changes AS
SELECT date_trunc('hour', c.computed_at) AS hour,
       count(*) AS pairs,
       count(DISTINCT c.drawing_id) AS drawings,
       sum(c.added)::bigint AS added,
       sum(c.removed)::bigint AS removed,
       sum(c.moved)::bigint AS moved,
       sum(c.resized)::bigint AS resized,
       sum(c.retyped)::bigint AS retyped,
       sum(c.modified)::bigint AS modified,
       sum(c.rotated)::bigint AS rotated,
       sum(c.reidentified)::bigint AS reidentified
FROM buildtrace.changes c
GROUP BY 1;
-- Milliseconds a query over the view takes, and a digest of every row it
-- returned (which also makes every column be computed).
CREATE FUNCTION bench.timed(view_name text, filter text, OUT ms float8, OUT digest text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE format('SELECT md5(string_agg(v::text, '','' ORDER BY v.hour DESC)) FROM %s v %s',
                   view_name, filter) INTO digest;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SQL
rows=$(q -c "SELECT count(*) FROM buildtrace.changes")
echo "hourly_changes: $days days of $drawings drawings, $rows change sets, $(q -c "SELECT count(*) FROM buildtrace.hourly_rollups") rollup rows"

# timed VIEW FILTER: "ms|digest" of the query, run twice in a session of its
# own and timed the second time, when the session's caches are warm.
timed() {
    local call="SELECT ms || '|' || digest FROM bench.timed('$1', \$\$$2\$\$)"
    PGOPTIONS="-c timezone=UTC" q -c "$call" -c "$call" | tail -n 1
}
declare -A filter=([day]="WHERE v.hour >= now() - interval '24 hours'" [all]="")
for r in $(seq 1 "$rounds"); do
    for k in day all; do
        new=$(timed buildtrace.hourly_changes "${filter[$k]}")
        peer=$(timed bench.hourly_changes_from_changes "${filter[$k]}")
        [ "${new#*|}" = "${peer#*|}" ] || { echo "hourly_changes: FAILED: the view and its peer differ ($k, round $r)"; exit 1; }
        echo "${new%%|*}" >> "$work/new-$k"
        echo "${peer%%|*}" >> "$work/peer-$k"
    done
done
echo "hourly_changes: the view and its peer returned the same rows"
echo
echo "| median of $rounds, ms | hourly_changes (rollups) | peer (change sets) | peer / view |"
echo "|---|---|---|---|"
for k in day all; do
    label="the last 24 hours"; [ "$k" = day ] || label="every hour ($days days)"
    awk -v l="$label" -v a="$(bt_median < "$work/new-$k")" -v b="$(bt_median < "$work/peer-$k")" \
        'BEGIN { printf "| %s | %.2f | %.2f | %.1f |\n", l, a, b, b / a }'
done
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
