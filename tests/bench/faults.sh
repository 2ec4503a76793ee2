#!/usr/bin/env bash
# The SIGKILL fault test at full size: 10 multi-container tasks, 20 kills (CI runs 4 and 6).
# Prints pytest's result; the seed is printed so that a failure can be replayed.
. "$(dirname "$0")/prepare.sh"
seed="${ECS_FAULT_SEED:-$(date +%s%N)}"
echo "fault test: tasks=${ECS_FAULT_TASKS:-10} kills=${ECS_FAULT_KILLS:-20} seed=$seed"
start=$(date +%s)
ECS_FAULT_TASKS="${ECS_FAULT_TASKS:-10}" ECS_FAULT_KILLS="${ECS_FAULT_KILLS:-20}" \
  ECS_FAULT_SEED="$seed" ECS_AGENT_BIN="$agent" \
  /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/integration/test_faults.py
echo "fault test: $(( $(date +%s) - start )) s"
