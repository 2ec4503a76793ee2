#!/usr/bin/env bash
# Launch benchmark: agent RunTask -> RUNNING vs raw Docker create + start, and agent RSS.
# Usage: tests/bench/launch.sh [N ...]   (default 1 10 50). Prints figures; asserts nothing.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash scripts/deps.sh >/dev/null
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
ECS_AGENT_BIN="${ECS_AGENT_BIN:-$top/build/ecs-agent}" exec /usr/bin/python3 tests/bench/launch.py "$@"
