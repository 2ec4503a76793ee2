#!/usr/bin/env bash
# One-payload benchmark: N tasks (default 100) in one ACS payload -> all reported RUNNING,
# against raw Docker creating + starting the same N containers at once; agent RSS.
# Usage: tests/bench/payload100.sh [N]. Prints figures; asserts nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash scripts/deps.sh >/dev/null
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
ECS_AGENT_BIN="${ECS_AGENT_BIN:-$top/build/ecs-agent}" exec /usr/bin/python3 tests/bench/payload100.py "$@"
