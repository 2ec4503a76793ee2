#!/usr/bin/env bash
# Builds the local images the tests use; there is no registry access here, so they are made
# from Debian's busybox-static (installed by scripts/deps.sh) and `docker import`ed.
# Idempotent: an image that already exists is left alone (FORCE=1 rebuilds it).
set -euo pipefail

IMAGE="${ECS_TEST_BUSYBOX_IMAGE:-ecs-test/busybox:latest}"
BUSYBOX="${BUSYBOX:-/bin/busybox}"
DOCKER="${DOCKER:-docker}"

# The Debian image with the AWS clients: its own script, cached by content.
bash "$(dirname "$0")/debian-image.sh"

if [ "${FORCE:-0}" != 1 ] && "$DOCKER" image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "test-images: $IMAGE present"
  exit 0
fi

if [ ! -x "$BUSYBOX" ]; then
  echo "test-images: $BUSYBOX missing (install busybox-static: scripts/deps.sh)" >&2
  exit 1
fi
# A dynamically linked busybox would not run inside an empty rootfs.
if command -v ldd >/dev/null && ldd "$BUSYBOX" 2>&1 | grep -q '=>'; then
  echo "test-images: $BUSYBOX is not statically linked (need busybox-static)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{bin,etc,tmp,proc,sys,dev,root,var/www}
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
# Every applet busybox knows, as a symlink in /bin (sh, sleep, echo, cat, dd, wget, nc, ...).
while read -r applet; do
  [ -n "$applet" ] && [ "$applet" != busybox ] && ln -sf busybox "$root/bin/$applet"
done < <("$BUSYBOX" --list)
for a in sh sleep echo cat true false yes dd wget nc httpd env ls head kill; do
  [ -e "$root/bin/$a" ] || { echo "test-images: busybox lacks applet $a" >&2; exit 1; }
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

tar -C "$root" --numeric-owner --owner=0 --group=0 -cf "$work/rootfs.tar" .
"$DOCKER" import \
  --change 'CMD ["sh"]' \
  --change 'ENV PATH=/bin' \
  --change 'LABEL ecs-test-image=1' \
  "$work/rootfs.tar" "$IMAGE" >/dev/null
echo "test-images: built $IMAGE"
