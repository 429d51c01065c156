#!/usr/bin/env bash
# make bench: every benchmark under test/bench/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash test/bench/diff_bench.sh "$@"
