#!/usr/bin/env bash
# Metrics benchmark: the agent's CPU and RSS with 0, 20 and 100 running containers, metrics
# on against ECS_DISABLE_METRICS=true in the same run.
# Usage: tests/bench/metrics.sh [--minutes M] [--counts 0,20,100]. Prints figures only.
. "$(dirname "$0")/prepare.sh"
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/metrics.py "$@"
