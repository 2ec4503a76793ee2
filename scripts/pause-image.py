#!/usr/bin/python3
"""Writes the awsvpc pause image as a `docker save` tarball (what POST /images/load takes):
one layer holding the static pause program as /pause, tagged amazon/amazon-ecs-pause:0.1.0
like the official agent's. The output depends only on the program's bytes (fixed times,
owners and order), so rebuilding the same program gives the same image ID.

Usage: pause-image.py PAUSE_BINARY OUTPUT_TAR"""
import hashlib
import io
import json
import os
import platform
import sys
import tarfile

TAG = "amazon/amazon-ecs-pause:0.1.0"


def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data, mode in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        program = f.read()
    layer = tar_bytes([("pause", program, 0o755)])
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({
        "architecture": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(),
                                                                    platform.machine()),
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {"Entrypoint": ["/pause"], "Labels": {"com.amazonaws.ecs.pause": "true"}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": "1970-01-01T00:00:00Z", "created_by": "pause-image.py"}],
    }, sort_keys=True, separators=(",", ":")).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_dir = diff_id[7:]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [TAG],
                            "Layers": [layer_dir + "/layer.tar"]}]).encode()
    image = tar_bytes([(config_name, config, 0o644),
                       (layer_dir + "/layer.tar", layer, 0o644),
                       ("manifest.json", manifest, 0o644)])
    with open(sys.argv[2] + ".tmp", "wb") as f:
        f.write(image)
    os.replace(sys.argv[2] + ".tmp", sys.argv[2])


if __name__ == "__main__":
    main()
