#!/usr/bin/env bash
# Endpoint benchmark: latency and throughput of the credentials and task metadata endpoints
# at 1, 50 and 500 loopback clients, Docker idle and busy, and the agent's RSS.
# Usage: tests/bench/endpoints.sh (ECS_BENCH_SECONDS per run, default 4). Prints figures only.
. "$(dirname "$0")/prepare.sh"
cc -O2 -Wall -Wextra -Werror -o build/httpload tests/bench/httpload.c
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/endpoints.py "$top/build/httpload"
