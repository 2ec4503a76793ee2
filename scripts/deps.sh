#!/usr/bin/env bash
# Installs the Debian packages needed to build and test ecs-agent.
# Idempotent: packages already present are not fetched again.
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang clang-format dpkg-dev
  libcurl4-openssl-dev libjson-c-dev libcgroup-dev libnl-3-dev
  libnl-route-3-dev libsystemd-dev libwslay-dev libmicrohttpd-dev libssl-dev
)
TEST_PKGS=(
  libcmocka-dev libclang-rt-14-dev python3-pytest python3-botocore python3-websockets awscli
  docker.io busybox-static docker-registry tinyproxy-bin iproute2 procps curl debootstrap
)

missing=()
for p in "${BUILD_PKGS[@]}" "${TEST_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "deps: all packages present"
  exit 0
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
