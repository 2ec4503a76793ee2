# Sourced by the benchmark scripts: dependencies, dockerd, test images and a RelWithDebInfo
# agent in ./build; sets $top (the checkout) and $agent (ECS_AGENT_BIN or that build).
set -euo pipefail
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
bash scripts/deps.sh >/dev/null
bash scripts/start-dockerd.sh
bash scripts/test-images.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
agent="${ECS_AGENT_BIN:-$top/build/ecs-agent}"
