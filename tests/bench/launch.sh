#!/usr/bin/env bash
# Launch benchmark: agent RunTask -> RUNNING vs raw Docker create + start, and agent RSS.
# Usage: tests/bench/launch.sh [N ...]   (default 1 10 50). Prints figures; asserts nothing.
. "$(dirname "$0")/prepare.sh"
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/launch.py "$@"
