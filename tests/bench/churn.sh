#!/usr/bin/env bash
# Churn benchmark: short tasks started at an even rate (default 40/min for 10 min) with a
# short cleanup wait; agent RSS (VmRSS, RssAnon) over the run, tasks tracked, containers
# left. Usage: tests/bench/churn.sh [--minutes M] [--rate R] [...]. Prints figures only.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash scripts/deps.sh >/dev/null
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
ECS_AGENT_BIN="${ECS_AGENT_BIN:-$top/build/ecs-agent}" exec /usr/bin/python3 tests/bench/churn.py "$@"
