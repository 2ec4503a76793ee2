#!/usr/bin/env bash
# Builds ecs-test/debian-tools: a Debian 12 image with the unmodified AWS clients
# (python3-botocore, awscli) and curl, from Debian's packages with debootstrap, so tests run
# real SDK credential chains inside task containers. There is no registry to pull from.
# Cached by content: the image carries a label with the hash of what it is built from, and
# the root file system tarball is kept in $CACHE, so a rebuild needs no download.
set -euo pipefail

IMAGE="${ECS_TEST_DEBIAN_IMAGE:-ecs-test/debian-tools:latest}"
SUITE=bookworm
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# debootstrap resolves no virtual packages: python3-cffi-backend provides the cffi API
# versions python3-cryptography (for awscli) depends on.
PACKAGES="python3-botocore,awscli,curl,ca-certificates,python3-cffi-backend"
CACHE="${ECS_TEST_IMAGE_CACHE:-/var/cache/ecs-agent-tests}"
DOCKER="${DOCKER:-docker}"

key=$(printf '%s\n' "$SUITE" "$PACKAGES" "$(sha256sum "$0" | cut -d' ' -f1)" | sha256sum | cut -c1-16)
have=$("$DOCKER" image inspect "$IMAGE" --format '{{index .Config.Labels "ecs-test-key"}}' 2>/dev/null || true)
if [ "$have" = "$key" ] && [ "${FORCE:-0}" != 1 ]; then
  echo "debian-image: $IMAGE present ($key)"
  exit 0
fi

mkdir -p "$CACHE"
tarball="$CACHE/debian-tools-$key.tar"
if [ ! -s "$tarball" ] || [ "${FORCE:-0}" = 1 ]; then
  command -v debootstrap >/dev/null || { echo "debian-image: debootstrap missing (scripts/deps.sh)" >&2; exit 1; }
  work=$(mktemp -d /var/tmp/ecs-debian-image.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  echo "debian-image: debootstrap $SUITE with $PACKAGES (a few minutes)"
  mkdir -p "$CACHE/debs"
  debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$PACKAGES" "$SUITE" \
    "$work/root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -30 "$work/debootstrap.log" >&2
    [ -f "$work/root/debootstrap/debootstrap.log" ] && tail -40 "$work/root/debootstrap/debootstrap.log" >&2
    exit 1
  }
  # What an image does not need: package lists and caches, documentation.
  rm -rf "$work/root/var/lib/apt/lists/"* "$work/root/var/cache/apt/"*.bin \
    "$work/root/var/cache/apt/archives/"*.deb "$work/root/usr/share/doc" "$work/root/usr/share/man"
  tar -C "$work/root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi
"$DOCKER" import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'LABEL ecs-test-image=1' \
  --change "LABEL ecs-test-key=$key" \
  "$tarball" "$IMAGE" >/dev/null
echo "debian-image: built $IMAGE ($key)"
