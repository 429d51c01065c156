#!/usr/bin/env bash
# The whole test suite: install dependencies, build, install, then run
# pg_regress, isolation specs, pgTAP and the quick load/benchmark smoke runs
# in a throwaway cluster. Run as root on Debian 12.
#
#   bash test/check.sh              everything
#   bash test/check.sh diff percentile_tap   only the named tests (a name is
#                                   sql/NAME.sql, test/isolation/specs/NAME.spec
#                                   or test/pgtap/NAME.sql)
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
bt_install_deps "${BT_TEST_PACKAGES[@]}"
# One installed copy of the extension per machine: two checks at once from
# different checkouts would overwrite each other's install.
exec 9>/tmp/buildtrace-check.lock
flock 9
bt_build_install
export BT_IN_CLUSTER=1
bt_virtualenv buildtrace_test bash test/suite.sh "$@"
