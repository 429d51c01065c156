#!/usr/bin/env bash
# Runs pg_regress tests against a server started under valgrind memcheck and
# reports any error whose stack passes through buildtrace.so. Slow (tens of
# times slower than normal), so not part of test/check.sh.
#
#   bash test/valgrind/regress.sh [TEST …]    default: the C-heavy tests
#
# Debian's postgres is not built with USE_VALGRIND, so misuse inside a live
# palloc'd chunk is not seen; invalid reads/writes outside chunks, use of
# uninitialised values and bad frees are.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_install_deps
command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(settings diff_errors diff_forms diff_kinds diff_order diff_reuse diff_sign diff_summary
                                 diff_tolerance percentile percentile_errors percentile_parallel
                                 pipeline_pairs pipeline_versions pipeline_spike_rule pipeline_bad_rows pipeline_handover_files
                                 diff_revisions diff_rules settings_owner svg svg_layout percentile_rules pipeline_rules
                                 percentile_binary)
exec 9>/tmp/buildtrace-check.lock
flock 9
bt_build_install

work=$(mktemp -d)
trap 'su postgres -c "pg_ctl -D $work/data -m immediate stop" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
chown postgres "$work"
su postgres -c "initdb -D $work/data -A trust" >/dev/null
port=54329
su postgres -c "valgrind --quiet --trace-children=yes --error-limit=no --num-callers=30 \
    --log-file=$work/vg.%p.log postgres -D $work/data -p $port -k $work \
    -c max_parallel_workers_per_gather=2 >$work/server.log 2>&1 &"
for _ in $(seq 1 120); do
    pg_isready -q -h "$work" -p "$port" && break
    sleep 1
done
status=0
PGHOST=$work PGPORT=$port PGUSER=postgres make -s installcheck REGRESS="${tests[*]}" ISOLATION= || status=$?
su postgres -c "pg_ctl -D $work/data -m fast stop" >/dev/null 2>&1 || true
sleep 2
reports=$(cat "$work"/vg.*.log | grep -c '^==[0-9]*== [A-Z]' || true)
ours=$( (grep -l 'buildtrace.so' "$work"/vg.*.log 2>/dev/null || true) | wc -l)
echo "valgrind: $reports report lines in all, $ours process logs with a buildtrace.so frame"
if [ "$ours" -gt 0 ]; then
    grep -l 'buildtrace.so' "$work"/vg.*.log | xargs cat
    exit 1
fi
exit "$status"
