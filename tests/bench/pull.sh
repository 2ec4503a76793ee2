#!/usr/bin/env bash
# Pull and image-cleanup benchmark: payload -> RUNNING of a task whose image is pulled from a
# local registry with ECR auth, against docker pull + create + start by hand; one image
# cleanup cycle with 200 tracked images, against docker rmi by hand.
# Usage: tests/bench/pull.sh [K] [N]   (default 10 runs, 200 images). Prints figures;
# asserts nothing. Everything it makes is labelled ecs-bench-pull=<run> and removed on exit.
. "$(dirname "$0")/prepare.sh"
run="ecs-bench-pull-$(od -An -N5 -tx1 /dev/urandom | tr -d ' \n')"
state=$(mktemp -d /tmp/ecs-bench-pull.XXXXXX)
py=
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$py" ] && kill -0 "$py" 2>/dev/null; then
    kill -TERM "$py" 2>/dev/null || true
    wait "$py" 2>/dev/null || true
  fi
  # What pull.py could not remove itself (it was killed): its processes, containers, images.
  if [ -f "$state/pids" ]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$state/pids"
  fi
  for f in "label=ecs-bench-pull=$run" "label=com.amazonaws.ecs.cluster=$run"; do
    docker ps -aq --filter "$f" | xargs -r docker rm -f -v >/dev/null 2>&1 || true
  done
  docker images -q --filter "label=ecs-bench-pull=$run" | sort -u |
    xargs -r docker rmi -f >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 143' INT TERM
ECS_AGENT_BIN="$agent" ECS_BENCH_PULL_RUN="$run" ECS_BENCH_PULL_STATE="$state" \
  /usr/bin/python3 tests/bench/pull.py "$@" &
py=$!
rc=0
wait "$py" || rc=$?
py=
exit "$rc"
