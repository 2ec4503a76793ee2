#!/usr/bin/env bash
# Starts dockerd in the background unless a Docker engine already answers.
set -euo pipefail

if docker info >/dev/null 2>&1; then
  exit 0
fi
echo "dockerd: starting /usr/sbin/dockerd"
mkdir -p /var/log
nohup /usr/sbin/dockerd >/var/log/ecs-test-dockerd.log 2>&1 &
for _ in $(seq 1 120); do
  if docker info >/dev/null 2>&1; then
    echo "dockerd: ready"
    exit 0
  fi
  sleep 0.5
done
echo "dockerd: did not come up; last log lines:" >&2
tail -n 30 /var/log/ecs-test-dockerd.log >&2 || true
exit 1
