#!/usr/bin/env bash
# The short load test run by the suite: 32 clients x 40 transactions.
exec bash "$(dirname "$0")/run.sh" 40 32
