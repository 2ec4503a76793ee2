#!/usr/bin/env bash
# Churn benchmark: short tasks started at an even rate (default 40/min for 10 min) with a
# short cleanup wait; agent RSS (VmRSS, RssAnon) over the run, tasks tracked, containers
# left. Usage: tests/bench/churn.sh [--minutes M] [--rate R] [...]. Prints figures only.
. "$(dirname "$0")/prepare.sh"
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/churn.py "$@"
