#!/usr/bin/env bash
# The simulator's re-export options (reidentify_rate, reidentify_jitter,
# rotate_rate, shift_dx, shift_dy) against their truth: bt_diff on each pair
# with the re-identified ids mapped back and the shift taken off must report
# exactly the truth's other lists; ids stay unique, rotations change by 5 to
# 175 degrees, pairs are the consecutive versions of the chains.  Fails
# (exit 3) when a check does not hold.
#
#   bash test/quality/simulator_reexport.sh
#
# Standalone it installs the current build into a throwaway cluster (waits
# for the install lock); inside one (BT_IN_CLUSTER set) it just runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
. test/lib.sh
bt_in_cluster "$0" "$@"
db=buildtrace_quality_sim
dropdb --if-exists "$db"
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -f test/quality/simulator_reexport.sql
