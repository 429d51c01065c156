#!/usr/bin/env bash
# Do two builds of buildtrace give the same outputs?  Builds the git
# revision BASE and the working tree (uncommitted changes included), each
# into a library of its own, and runs bt_diff, bt_try_diff and bt_svg of
# both on about 5,700 pairs in a throwaway cluster: cases.sql generates
# them from SEED, edge_cases.sql adds hand-made ones at the edges of the
# diff's fast paths.  Results must match byte for byte, errors by SQLSTATE,
# message and detail.  Prints a table per category of pair, the first pairs
# that differ and what the valid results exercised; exits 1 if any pair
# differs.  For changes meant to keep every output (speed work, clean-ups);
# not part of the pass/fail suite, whose expected files pin the outputs of
# chosen pairs.  BASE must have bt_svg and bt_diff's five arguments (0.2.0
# and later).  BT_COMPARE_SETTINGS (e.g. '-c buildtrace.units=m') runs both
# builds with other settings.  About 75 s on 2 cores; not while
# another throwaway cluster of this machine's tests runs.
#
#   bash test/compare_builds/run.sh BASE [SEED]    e.g. HEAD~3 0.4242
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
base=$1
seed=${2:-0.4242}
[[ $seed =~ ^-?(0(\.[0-9]+)?|1(\.0*)?)$ ]] || { echo "SEED must be a number from -1 to 1" >&2; exit 2; }
dir=test/compare_builds

if [ -n "${BT_COMPARE_IN_CLUSTER:-}" ]; then
    db=buildtrace_compare
    q() { PGOPTIONS="${BT_COMPARE_SETTINGS:-}" psql -qX -v ON_ERROR_STOP=1 -d "$db" "$@"; }
    createdb "$db"
    q -v seed="$seed" -f "$dir/cases.sql"
    q -f "$dir/edge_cases.sql"
    # one session per build: never both libraries in one backend
    q -v lib="$BT_COMPARE_BASE_LIB" -v side=base -f "$dir/outputs.sql"
    q -v lib="$BT_COMPARE_TREE_LIB" -v side=tree -f "$dir/outputs.sql"
    q -f "$dir/compare.sql"
    differing=$(q -At -c "SELECT count(*) FROM cmp.compared WHERE diff_differs OR try_differs OR svg_differs")
    if [ "$differing" != 0 ]; then
        echo "compare_builds: $differing pairs differ between $base and the working tree"
        exit 1
    fi
    echo "compare_builds: every output of the working tree equals $base's (seed $seed)"
    exit 0
fi

git rev-parse -q --verify "$base^{commit}" >/dev/null || { echo "unknown revision: $base" >&2; exit 2; }
bt_install_deps
work=$(mktemp -d)
libdir=$("$PG_CONFIG" --pkglibdir)
export BT_COMPARE_BASE_LIB=bt_compare_base_$$ BT_COMPARE_TREE_LIB=bt_compare_tree_$$
cleanup() {
    rm -f "$libdir/$BT_COMPARE_BASE_LIB.so" "$libdir/$BT_COMPARE_TREE_LIB.so"
    git worktree remove --force "$work/base" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

bt_log "building $base and the working tree"
git worktree add -q --detach "$work/base" "$base"
# The working tree as it is: tracked files that exist and untracked ones
# git does not ignore.
mkdir "$work/tree"
git ls-files -z -co --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar --null -T - -cf - | tar -xf - -C "$work/tree"
for side in base tree; do
    make -s -C "$work/$side" -j"$(nproc)" PG_CONFIG="$PG_CONFIG" >/dev/null
done
install -m 755 "$work/base/buildtrace.so" "$libdir/$BT_COMPARE_BASE_LIB.so"
install -m 755 "$work/tree/buildtrace.so" "$libdir/$BT_COMPARE_TREE_LIB.so"

bt_log "diffing every pair with both builds (seed $seed)"
BT_COMPARE_IN_CLUSTER=1 pg_virtualenv -v "$BT_PG_MAJOR" bash "$0" "$@"
