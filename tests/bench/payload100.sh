#!/usr/bin/env bash
# One-payload benchmark: N tasks (default 100) in one ACS payload -> all reported RUNNING,
# against raw Docker creating + starting the same N containers at once; agent RSS.
# Usage: tests/bench/payload100.sh [N]. Prints figures; asserts nothing.
. "$(dirname "$0")/prepare.sh"
ECS_AGENT_BIN="$agent" exec /usr/bin/python3 tests/bench/payload100.py "$@"
