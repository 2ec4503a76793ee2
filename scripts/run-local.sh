#!/usr/bin/env bash
# Runs ECS tasks on this host with no AWS account: builds the agent, starts dockerd if
# needed, the local control plane (scripts/ecs-local) and the agent, then runs a sample
# task with awscli and follows it until RUNNING. Ctrl-C stops the sample task, the agent
# and the control plane.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
port="${ECS_LOCAL_PORT:-8080}"
cluster="${ECS_LOCAL_CLUSTER:-local}"
work="$top/.run-local"
export AWS_ACCESS_KEY_ID=AKIAECSLOCALEXAMPLE AWS_SECRET_ACCESS_KEY=ecs-local-secret-key
export AWS_DEFAULT_REGION=us-west-2 AWS_CONFIG_FILE=/dev/null AWS_PAGER=""
endpoint="http://127.0.0.1:$port"
aws() { /usr/bin/aws --endpoint-url "$endpoint" --output text "$@"; }

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "run-local: needs root (it installs packages, starts dockerd and runs containers)" >&2
  exit 1
fi

say "Installing dependencies"
bash scripts/deps.sh
say "Building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ecs-agent >/dev/null
say "Docker"
bash scripts/start-dockerd.sh
bash scripts/test-images.sh

mkdir -p "$work"
cp_pid="" agent_pid="" task=""
cleanup() {
  trap - INT TERM EXIT
  echo
  if [ -n "$task" ]; then
    say "Stopping the sample task"
    aws ecs stop-task --cluster "$cluster" --task "$task" >/dev/null 2>&1 || true
    for _ in $(seq 1 40); do
      s=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
            --query 'tasks[0].lastStatus' 2>/dev/null || true)
      [ "$s" = STOPPED ] && break
      sleep 0.5
    done
  fi
  say "Stopping the agent and the control plane"
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  [ -n "$cp_pid" ] && kill "$cp_pid" 2>/dev/null && wait "$cp_pid" 2>/dev/null || true
  ids=$(docker ps -aq --filter "label=com.amazonaws.ecs.cluster=$cluster")
  [ -n "$ids" ] && docker rm -f $ids >/dev/null
  say "Done. Logs are in $work/"
}
trap cleanup INT TERM EXIT

say "Starting the local control plane on $endpoint"
# Own sessions: Ctrl-C reaches only this script, which then stops things in order.
setsid /usr/bin/python3 scripts/ecs-local --listen "127.0.0.1:$port" --state "$work/ecs-local.json" \
  >"$work/ecs-local.log" 2>&1 &
cp_pid=$!
for _ in $(seq 1 50); do
  curl -sf "$endpoint/_ecslocal/health" >/dev/null 2>&1 && break
  sleep 0.2
done
aws ecs create-cluster --cluster-name "$cluster" >/dev/null

cat >"$work/ecs.config" <<CFG
ECS_CLUSTER=$cluster
ECS_BACKEND_HOST=$endpoint
ECS_DATADIR=$work/data
ECS_EXTERNAL=true
AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
ECS_IMAGE_PULL_BEHAVIOR=prefer-cached
CFG
say "Starting the agent (log: $work/agent.log)"
setsid build/ecs-agent --config "$work/ecs.config" >"$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 100); do
  n=$(aws ecs list-container-instances --cluster "$cluster" --query 'length(containerInstanceArns)')
  [ "$n" != 0 ] && break
  kill -0 "$agent_pid" 2>/dev/null || { tail -20 "$work/agent.log"; exit 1; }
  sleep 0.2
done
say "Registered: $(aws ecs list-container-instances --cluster "$cluster" --query 'containerInstanceArns[0]')"

aws ecs register-task-definition --family hello --container-definitions '[{
  "name": "web", "image": "ecs-test/busybox:latest", "essential": true, "memory": 32,
  "entryPoint": ["sh", "-c"],
  "command": ["echo \"hello from ECS task $HOSTNAME\" > /tmp/index.html; httpd -f -p 8080 -h /tmp & trap \"kill $!; exit 0\" TERM; wait"],
  "portMappings": [{"containerPort": 8080, "hostPort": 0}]}]' >/dev/null
task=$(aws ecs run-task --cluster "$cluster" --task-definition hello --launch-type EXTERNAL \
  --query 'tasks[0].taskArn')
say "RunTask: $task"
last=""
for _ in $(seq 1 240); do
  s=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" --query 'tasks[0].lastStatus')
  [ "$s" != "$last" ] && echo "    $(date +%T) lastStatus=$s" && last=$s
  [ "$s" = RUNNING ] || [ "$s" = STOPPED ] && break
  sleep 0.1
done
[ "$last" = RUNNING ] || { echo "the task did not reach RUNNING; see $work/agent.log" >&2; exit 1; }
port_out=$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
  --query 'tasks[0].containers[0].networkBindings[0].hostPort')
say "The task is RUNNING; its container answers on 127.0.0.1:$port_out:"
curl -s "http://127.0.0.1:$port_out/" || true
cat <<EOT

Try it yourself (in another shell):
  export AWS_ACCESS_KEY_ID=$AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY=$AWS_SECRET_ACCESS_KEY AWS_DEFAULT_REGION=$AWS_DEFAULT_REGION
  aws --endpoint-url $endpoint ecs describe-tasks --cluster $cluster --tasks $task
  aws --endpoint-url $endpoint ecs run-task --cluster $cluster --task-definition hello --launch-type EXTERNAL
  docker ps --filter label=com.amazonaws.ecs.cluster=$cluster

Press Ctrl-C to stop everything.
EOT
wait "$agent_pid"
