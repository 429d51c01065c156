#!/usr/bin/env bash
# Monitoring with what people already run: starts Debian's
# prometheus-postgres-exporter with monitoring/postgres-exporter-queries.yaml
# against a test database, as a login that has only buildtrace_monitor,
# scrapes it over loopback and checks the buildtrace series against what SQL
# says; then `promtool check rules` and `promtool test rules` on the
# alerting rules. Runs against the server in the PG* environment (the
# suite), or standalone in a throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
[ -n "${BT_IN_CLUSTER:-}" ] || bt_install_deps "${BT_TEST_PACKAGES[@]}"
bt_in_cluster "$0" "$@"
db=buildtrace_exporter
port=${BT_EXPORTER_PORT:-19187}
work=$(mktemp -d)
exporter_pid=
cleanup() {
    [ -z "$exporter_pid" ] || kill "$exporter_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "exporter: FAILED: $*"; [ ! -f "$work/exporter.log" ] || head -20 "$work/exporter.log"; exit 1; }
q() { psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "$@"; }

promtool check rules monitoring/buildtrace-alerts.yml
(cd monitoring && promtool test rules buildtrace-alerts.test.yml)

PGOPTIONS="-c client_min_messages=warning" dropdb --if-exists "$db"
createdb "$db"
q <<'SQL'
CREATE EXTENSION buildtrace;
DROP ROLE IF EXISTS bt_exporter_test;
CREATE ROLE bt_exporter_test LOGIN PASSWORD 'exporter-test' IN ROLE buildtrace_monitor;
-- 40 pairs, some failing; two open anomalies of another kind.
INSERT INTO buildtrace.pairs (drawing_id, version_a, version_b, latency_ms)
SELECT drawing_id, version_a, version_b, 10 FROM buildtrace.generate_pairs(40, 20, 0.2, 3, 0.1);
INSERT INTO buildtrace.anomalies (kind, severity, drawing_id)
VALUES ('missing_upload', 'medium', 'EXP-1'), ('missing_upload', 'medium', 'EXP-2');
SQL

# The exporter connects over loopback TCP as the monitor-only login, with a
# clean environment: its driver refuses some PG* variables (PGSYSCONFDIR).
env -i PATH="$PATH" \
    DATA_SOURCE_NAME="host=127.0.0.1 port=${PGPORT:-5432} user=bt_exporter_test password=exporter-test dbname=$db sslmode=disable" \
    prometheus-postgres-exporter --web.listen-address="127.0.0.1:$port" \
        --extend.query-path=monitoring/postgres-exporter-queries.yaml \
        --disable-default-metrics --disable-settings-metrics > "$work/exporter.log" 2>&1 &
exporter_pid=$!
for _ in $(seq 1 50); do
    curl -sf "http://127.0.0.1:$port/metrics" > "$work/metrics" 2>/dev/null && break
    sleep 0.2
done
[ -s "$work/metrics" ] || fail "no answer from the exporter on 127.0.0.1:$port"

# sample NAME_AND_LABELS: the value scraped for that series (without the
# server label the exporter adds), or empty.
sample() {
    sed -e 's/server="[^"]*",\{0,1\}//' -e 's/,}/}/' -e 's/{}//' "$work/metrics" |
        awk -v s="$1" '$1 == s { print $2 }'
}
expect() {
    local series=$1 want=$2 got
    got=$(sample "$series")
    [ -n "$got" ] || fail "no series $series"
    awk -v a="$got" -v b="$want" 'BEGIN { exit !(a + 0 == b + 0) }' || fail "$series is $got, SQL says $want"
    echo "exporter: $series = $got"
}
expect 'buildtrace_pairs_last_hour{outcome="done"}' "$(q -c "SELECT count(*) FROM buildtrace.pairs WHERE status = 'done'")"
expect 'buildtrace_pairs_last_hour{outcome="failed"}' "$(q -c "SELECT count(*) FROM buildtrace.pairs WHERE status = 'failed'")"
expect 'buildtrace_objects_changed_last_hour{kind="added"}' "$(q -c "SELECT sum(added) FROM buildtrace.changes")"
expect 'buildtrace_objects_changed_last_hour{kind="moved"}' "$(q -c "SELECT sum(moved) FROM buildtrace.changes")"
expect 'buildtrace_dead_letters' "$(q -c "SELECT count(*) FROM buildtrace.dead_letters")"
expect 'buildtrace_open_anomalies{kind="missing_upload"}' 2
expect 'buildtrace_open_anomalies{kind="invalid_input"}' "$(q -c "SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'invalid_input' AND resolved_at IS NULL")"
expect 'buildtrace_anomalies_last_hour{kind="missing_upload"}' \
    "$(q -c "SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'missing_upload' AND detected_at >= buildtrace._window_start('1 hour')")"
expect 'buildtrace_anomalies_last_hour{kind="invalid_input"}' \
    "$(q -c "SELECT count(*) FROM buildtrace.anomalies WHERE kind = 'invalid_input' AND detected_at >= buildtrace._window_start('1 hour')")"
expect 'buildtrace_pending_pairs' 0
expect 'buildtrace_health_status' 2
p95=$(q -c "SELECT p95 FROM buildtrace.latency WHERE period = 'last hour'")
expect 'buildtrace_processing_latency_ms{quantile="0.95"}' "$p95"
[ "$(q -c "SELECT count(*) FROM buildtrace.dead_letters")" -gt 0 ] || fail "the test data has no dead letter"
! grep -q "level=error" "$work/exporter.log" || fail "the exporter logged errors"
echo "exporter: every buildtrace series matches SQL; the rules pass promtool"
kill "$exporter_pid"; exporter_pid=
dropdb "$db"
psql -qXc "DROP ROLE IF EXISTS bt_exporter_test" -d postgres
