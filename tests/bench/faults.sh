#!/usr/bin/env bash
# The SIGKILL fault test at full size: 10 multi-container tasks, 20 kills (CI runs 4 and 6).
# Prints pytest's result; the seed is printed so that a failure can be replayed.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
seed="${ECS_FAULT_SEED:-$(date +%s%N)}"
echo "fault test: tasks=${ECS_FAULT_TASKS:-10} kills=${ECS_FAULT_KILLS:-20} seed=$seed"
start=$(date +%s)
ECS_FAULT_TASKS="${ECS_FAULT_TASKS:-10}" ECS_FAULT_KILLS="${ECS_FAULT_KILLS:-20}" \
  ECS_FAULT_SEED="$seed" ECS_AGENT_BIN="${ECS_AGENT_BIN:-$top/build/ecs-agent}" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_faults.py
echo "fault test: $(( $(date +%s) - start )) s"
