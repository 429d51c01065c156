#!/usr/bin/env bash
# The short load test run by the suite: 32 clients for 8 seconds.
exec bash "$(dirname "$0")/run.sh" 8 32
