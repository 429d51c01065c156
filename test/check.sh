#!/usr/bin/env bash
# The whole test suite: install dependencies, build, install, then run
# pg_regress, isolation specs, pgTAP and the quick load/benchmark smoke runs
# in a throwaway cluster. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
. test/lib.sh
bt_install_deps
bt_build_install
bt_virtualenv buildtrace_test bash test/suite.sh
