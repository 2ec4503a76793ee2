#!/usr/bin/env bash
# awsvpc benchmark: awsvpc task launch time against bridge, and the agent's netlink setup
# time alone, on simulated ENIs. Usage: tests/bench/awsvpc.sh [N] (default 10). Prints
# figures only.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash scripts/deps.sh >/dev/null
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
ECS_AGENT_BIN="${ECS_AGENT_BIN:-$top/build/ecs-agent}" exec /usr/bin/python3 tests/bench/awsvpc.py "$@"
