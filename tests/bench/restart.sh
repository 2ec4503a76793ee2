#!/usr/bin/env bash
# Restart benchmark: N running tasks (default 100), SIGKILL, restart, time to reconcile.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
ECS_AGENT_BIN="${ECS_AGENT_BIN:-$top/build/ecs-agent}" exec /usr/bin/python3 tests/bench/restart.py "$@"
