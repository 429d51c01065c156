#!/usr/bin/env bash
# Benchmark of the upload checks and of what retention added to uploads.
#  1. EXPECTATIONS expected drawings (half hourly, half every two days), each
#     with 30 pairs sent directly and 10 versions, stored as a restore would;
#     then, ROUNDS times, an hour later each time: check_uploads() whole
#     (committed, so each run checks what arrived since the one before), and
#     its missing-upload step, buildtrace._check_missing(), against a peer in
#     the same run, rolled back: the same statements with each drawing's due
#     times computed for every statement (as they were before being computed
#     once a run). Both must record and resolve the same anomalies.
#  2. 10,000 versions inserted in one INSERT ... SELECT, with and without
#     versions_uploaded_idx (the index purge() finds old versions by; dropped
#     in a transaction rolled back), interleaved ROUNDS times.
# Medians are printed with the ratios. Not part of the pass/fail suite.
#
#   bash test/bench/uploads_bench.sh [EXPECTATIONS [ROUNDS]]    default 10000 5
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
expectations=${1:-10000}
rounds=${2:-5}
db=buildtrace_uploads_bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q -v n="$expectations" <<'SQL'
CREATE EXTENSION buildtrace;
SET session_replication_role = replica;
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, submitted_at, status, processed_at)
SELECT 'u-' || (i % :n), '[]', '[]', now() - interval '30 days' + (i / :n) * interval '1 day', 'done', now()
FROM generate_series(1, 30 * :n) i;
INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
SELECT 'u-' || (i % :n), '[]', now() - interval '30 days' + (i / :n) * interval '3 days'
FROM generate_series(1, 10 * :n) i;
INSERT INTO buildtrace.drawing_state (drawing_id) SELECT 'u-' || i FROM generate_series(0, :n - 1) i;
INSERT INTO buildtrace.upload_expectations (drawing_id, every, since)
SELECT 'u-' || i, CASE WHEN i % 2 = 0 THEN interval '1 hour' ELSE interval '2 days' END,
       now() - interval '31 days'
FROM generate_series(0, :n - 1) i;
RESET session_replication_role;
VACUUM ANALYZE;
-- the peer: _check_missing's statements, each computing the due times anew
CREATE SCHEMA bench_peer;
CREATE FUNCTION bench_peer.check_missing(as_of timestamptz, OUT recorded int, OUT resolved int)
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n int;
BEGIN
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, d.last_upload),
        details = a.details || jsonb_build_object('resolved_by_upload_at', d.last_upload)
    FROM buildtrace._upload_due(as_of) d
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.drawing_id = d.drawing_id
      AND d.last_upload IS NOT NULL
      AND d.last_upload > coalesce((a.details ->> 'last_upload_at')::timestamptz, '-infinity');
    GET DIAGNOSTICS resolved = ROW_COUNT;
    UPDATE buildtrace.anomalies a
    SET resolved_at = greatest(a.detected_at, as_of),
        details = a.details || jsonb_build_object('resolved_because', 'no longer expected')
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM buildtrace.upload_expectations e WHERE e.drawing_id = a.drawing_id);
    GET DIAGNOSTICS n = ROW_COUNT;
    resolved := resolved + n;
    UPDATE buildtrace.anomalies a
    SET severity = 'high', details = a.details || jsonb_build_object('overdue_by', as_of - d.due_at)
    FROM buildtrace._upload_due(as_of) d
    WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.severity <> 'high'
      AND a.drawing_id = d.drawing_id AND as_of > d.late_at + d.every;
    INSERT INTO buildtrace.anomalies (kind, severity, drawing_id, details, detected_at, tenant)
    SELECT 'missing_upload', CASE WHEN as_of > d.late_at + d.every THEN 'high' ELSE 'medium' END,
           d.drawing_id,
           jsonb_build_object('last_upload_at', d.last_upload, 'due_at', d.due_at,
                              'late_at', d.late_at, 'overdue_by', as_of - d.due_at),
           as_of, buildtrace._drawing_tenant(d.drawing_id, e.tenant)
    FROM buildtrace._upload_due(as_of) d
    JOIN buildtrace.upload_expectations e ON e.drawing_id = d.drawing_id
    WHERE as_of > d.late_at
      AND NOT EXISTS (SELECT 1 FROM buildtrace.anomalies a
                      WHERE a.kind = 'missing_upload' AND a.resolved_at IS NULL AND a.drawing_id = d.drawing_id)
    ORDER BY d.drawing_id;
    GET DIAGNOSTICS recorded = ROW_COUNT;
END $$;
-- milliseconds a call takes, and what it recorded (rolled back by the caller)
CREATE FUNCTION bench_peer.timed(fn text, as_of timestamptz, OUT ms float8, OUT outcome text)
LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    EXECUTE format('SELECT %s($1)::text', fn) INTO outcome USING as_of;
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    -- (not anomaly_id: a rolled-back transaction keeps the ids it took)
    outcome := outcome || ' ' || (SELECT md5(string_agg(row(a.kind, a.severity, a.drawing_id, a.pair_id,
                                                            a.details, a.detected_at, a.resolved_at,
                                                            a.tenant)::text, ','
                                                        ORDER BY a.drawing_id, a.kind, a.detected_at,
                                                                 a.details::text))
                                  FROM buildtrace.anomalies a);
END $$;
-- milliseconds to insert 10,000 versions, each its own upload time
CREATE FUNCTION bench_peer.insert_versions(tag text) RETURNS float8 LANGUAGE plpgsql AS $$
DECLARE
    t0 timestamptz := clock_timestamp();
BEGIN
    INSERT INTO buildtrace.versions (drawing_id, payload, uploaded_at)
    SELECT 'vb-' || tag || '-' || (i % 2000), '[]', now() + i * interval '1 millisecond'
    FROM generate_series(1, 10000) i;
    RETURN extract(epoch FROM clock_timestamp() - t0) * 1000;
END $$;
SQL
echo "uploads: $expectations expectations, $((30 * expectations)) pairs, $((10 * expectations)) versions"

# 1. A run of the checks, and the missing-upload step against its peer.
start=$(q -c "SELECT now()")
q -c "SELECT buildtrace.check_uploads('$start') IS NOT NULL" > /dev/null   # the first run reads all
for r in $(seq 1 "$rounds"); do
    as_of="timestamptz '$start' + interval '$r hours'"
    new=$(q -c "BEGIN" -c "SELECT ms || '|' || outcome FROM bench_peer.timed('buildtrace._check_missing', $as_of)" -c "ROLLBACK")
    peer=$(q -c "BEGIN" -c "SELECT ms || '|' || outcome FROM bench_peer.timed('bench_peer.check_missing', $as_of)" -c "ROLLBACK")
    [ "${new#*|}" = "${peer#*|}" ] || { echo "uploads: FAILED: the step and its peer differ at round $r: ${new#*|} / ${peer#*|}"; exit 1; }
    echo "${new%%|*}" >> "$work/step"
    echo "${peer%%|*}" >> "$work/peer"
    q -c "\\timing on" -c "SELECT buildtrace.check_uploads($as_of) IS NOT NULL" |
        awk '/^Time:/ { print $2 }' >> "$work/whole"
done
m_new=$(bt_median < "$work/step"); m_peer=$(bt_median < "$work/peer"); m_whole=$(bt_median < "$work/whole")
echo
echo "| median of $rounds, ms | check_uploads() | missing-upload step | peer: due times per statement | peer / step |"
echo "|---|---|---|---|---|"
awk -v w="$m_whole" -v s="$m_new" -v p="$m_peer" \
    'BEGIN { printf "| %d expectations | %.1f | %.1f | %.1f | %.2f |\n", '"$expectations"', w, s, p, p / s }'

# 2. Versions inserted with and without the index purge() reads them by.
for r in $(seq 1 "$rounds"); do
    q -c "BEGIN" -c "SELECT bench_peer.insert_versions('w$r')" -c "ROLLBACK" >> "$work/with"
    q -c "BEGIN" -c "DROP INDEX buildtrace.versions_uploaded_idx" \
      -c "SELECT bench_peer.insert_versions('o$r')" -c "ROLLBACK" >> "$work/without"
done
m_with=$(bt_median < "$work/with"); m_without=$(bt_median < "$work/without")
echo
echo "| 10,000 versions, one INSERT ... SELECT, median of $rounds | ms | µs per version |"
echo "|---|---|---|"
awk -v a="$m_with" -v b="$m_without" 'BEGIN {
    printf "| with versions_uploaded_idx | %.1f | %.1f |\n", a, a / 10
    printf "| without it | %.1f | %.1f |\n", b, b / 10
    printf "| with / without | %.3f | %+.1f |\n", a / b, (a - b) / 10 }'
PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
