#!/usr/bin/env bash
# Runs inside the cluster made by test/check.sh (PG* variables set by
# pg_virtualenv). Prints a closing "N passed, N failed" line over the parts.
set -uo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh

passed=0 failed=0
createdb buildtrace_test 2>/dev/null || true
part() {
    local name=$1; shift
    bt_log "$name"
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAILED: $name"; fi
}

regress() {
    make -s installcheck PG_CONFIG="$PG_CONFIG" "$@" && return 0
    for f in regression.diffs output_iso/regression.diffs; do
        [ -f "$f" ] && head -c 20000 "$f"
    done
    return 1
}

# pg_cron's launcher waits for its database (cron.database_name), so make it
# first; pgTAP and the load test share it.
setup_tapdb() {
    psql -qX -v ON_ERROR_STOP=1 -d buildtrace_test \
            -c 'CREATE EXTENSION IF NOT EXISTS pgtap' -c 'CREATE EXTENSION IF NOT EXISTS pg_cron' \
            -c 'DROP EXTENSION IF EXISTS buildtrace CASCADE' -c 'CREATE EXTENSION buildtrace'
}

only_regress=() only_iso=() only_tap=()
for name in "$@"; do
    if [ -f "sql/$name.sql" ]; then only_regress+=("$name")
    elif [ -f "test/isolation/specs/$name.spec" ]; then only_iso+=("$name")
    elif [ -f "test/pgtap/$name.sql" ]; then only_tap+=("test/pgtap/$name.sql")
    else echo "no test named $name"; exit 2; fi
done

if [ $# -eq 0 ]; then
    part "pg_regress and isolation" regress
    part "pgTAP database" setup_tapdb
    part "pgTAP" pg_prove --ext .sql -d buildtrace_test test/pgtap/
    for smoke in test/load/smoke.sh test/bench/smoke.sh test/crash/run.sh test/fuzz/run.sh; do
        [ -f "$smoke" ] && part "$smoke" bash "$smoke"
    done
    part "C sources in pgindent's layout" bash test/meta/indent.sh
    part "upgrade from the previous release" bash test/upgrade/run.sh
    part "deferred processing by workers" bash test/deferred/run.sh
    part "backup and restore with pg_dump" bash test/backup/run.sh
    part "purge racing a retry" bash test/retention/race.sh
    part "sharding with PL/Proxy" bash test/sharding/run.sh
    part "memory of a 200,000-pair statement" bash test/memory/handover.sh
    part "cancel during a large diff" bash test/cancel/run.sh
    part "pictures in a real browser" bash test/browser/run.sh
    part "Prometheus exporter and alerting rules" bash test/monitoring/exporter.sh
else
    if [ ${#only_regress[@]} -gt 0 ] || [ ${#only_iso[@]} -gt 0 ]; then
        part "selected pg_regress and isolation" regress REGRESS="${only_regress[*]}" ISOLATION="${only_iso[*]}"
    fi
    if [ ${#only_tap[@]} -gt 0 ]; then
        part "pgTAP database" setup_tapdb
        part "selected pgTAP" pg_prove -d buildtrace_test "${only_tap[@]}"
    fi
fi

echo
echo "suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
