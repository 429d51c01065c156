#!/usr/bin/env bash
# Re-identification quality of bt_diff: precision and recall of its
# "reidentified" list against the simulator's ground truth, for re-export
# shares of 10 %, 50 % and 100 % of the objects, each with and without
# position jitter below the move tolerance (up to 0.05 on x and y of the
# re-identified objects; tolerance 0.1), on simulated pairs and on the
# FZK-Haus (every id regenerated, order shuffled).  Prints a table and
# whether precision = 1.0 and recall >= 0.98 in every case.  Exits 0 either
# way unless the script itself fails; with --check, 1 when a target is missed.
#
#   bash test/quality/reidentify.sh [--check] [--pairs N] [--objects N]
#                                   [--change-rate R] [--seed S] [--fzk-pairs N]
#
# Defaults: 200 simulated pairs of 100 objects, change rate 0.1 (the other
# changes of the simulator: removals, additions, moves, resizes, retypes,
# attribute edits), seed 1, 20 re-exports of the FZK-Haus per case.
# Standalone it installs the current build into a throwaway cluster (waits
# for the install lock); inside one (BT_IN_CLUSTER set) it just runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh

args=("$@")
check=0 pairs=200 objects=100 change_rate=0.1 seed=1 fzk_pairs=20
usage() { sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case $1 in
        --check) check=1 ;;
        --pairs) [ $# -ge 2 ] || usage; pairs=$2; shift ;;
        --objects) [ $# -ge 2 ] || usage; objects=$2; shift ;;
        --change-rate) [ $# -ge 2 ] || usage; change_rate=$2; shift ;;
        --seed) [ $# -ge 2 ] || usage; seed=$2; shift ;;
        --fzk-pairs) [ $# -ge 2 ] || usage; fzk_pairs=$2; shift ;;
        *) usage ;;
    esac
    shift
done
for v in "$pairs" "$objects" "$fzk_pairs"; do
    [[ $v =~ ^[0-9]+$ ]] || usage
done
[[ $seed =~ ^-?[0-9]+$ ]] || usage
[[ $change_rate =~ ^[0-9]*\.?[0-9]+$ ]] || usage

bt_in_cluster "$0" "${args[@]}"

db=buildtrace_quality
dropdb --if-exists "$db"
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -v pairs="$pairs" -v objects="$objects" \
     -v change_rate="$change_rate" -v seed="$seed" -v fzk_pairs="$fzk_pairs" \
     -v fzk="$(cat test/data/fzk-haus.json)" -f test/quality/reidentify.sql

missed=$(psql -qXtA -v ON_ERROR_STOP=1 -d "$db" -c "
    SELECT string_agg(name, ', ' ORDER BY case_no) FROM reid_quality
    WHERE NOT (coalesce(precision = 1, found = 0) AND coalesce(recall >= 0.98, false))")
echo
if [ -z "$missed" ]; then
    echo "targets (precision = 1.0 and recall >= 0.98 in every case): met"
else
    echo "targets (precision = 1.0 and recall >= 0.98 in every case): missed in: $missed"
    [ "$check" = 1 ] && exit 1
fi
exit 0
