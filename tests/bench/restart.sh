#!/usr/bin/env bash
# Restart benchmark: N running tasks (default 100), SIGKILL, restart, time to reconcile.
. "$(dirname "$0")/prepare.sh"
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/restart.py "$@"
