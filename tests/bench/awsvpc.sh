#!/usr/bin/env bash
# awsvpc benchmark: awsvpc task launch time against bridge, and the agent's netlink setup
# time alone, on simulated ENIs. Usage: tests/bench/awsvpc.sh [N] (default 10). Prints
# figures only.
. "$(dirname "$0")/prepare.sh"
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/awsvpc.py "$@"
