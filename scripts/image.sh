#!/usr/bin/env bash
# Builds listenq's container image offline with podman: FROM scratch, the
# static binary (scripts/build-static.sh) and nothing else; `listenq export`
# is the entrypoint, on 127.0.0.1:9464 unless given `--listen 0.0.0.0:9464`
# (the DaemonSet does). Saves it as build-image/listenq-VERSION.tar (an OCI
# archive: `podman load -i` on the target). Nothing is pulled.
# Usage: scripts/image.sh [--keep]   (--keep: leave the image in podman's
# store; by default only the .tar stays)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = --keep ] && keep=1
command -v podman >/dev/null || { echo "image: podman is not installed (scripts/deps.sh installs it)"; exit 1; }
[ -x build-static/listenq ] || scripts/build-static.sh >/dev/null
version=$(build-static/listenq --version | awk '{print $2}')
tag=localhost/listenq:$version
# Where it was built from: the clone's origin and commit (no public URL is
# made up).
source=$(git remote get-url origin 2>/dev/null || pwd)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp build-static/listenq "$ctx/listenq"
cat > "$ctx/Containerfile" <<CF
FROM scratch
COPY listenq /listenq
LABEL org.opencontainers.image.title="listenq" \\
      org.opencontainers.image.description="TCP listen queues, backlogs and overflows, for Prometheus" \\
      org.opencontainers.image.version="$version" \\
      org.opencontainers.image.source="$source" \\
      org.opencontainers.image.revision="$revision" \\
      org.opencontainers.image.licenses="GPL-2.0-only"
EXPOSE 9464
ENTRYPOINT ["/listenq", "export"]
CF
# podman 4.3 on hybrid-cgroup hosts runs build steps only with runc; a
# FROM scratch COPY runs none, but the default runtime is checked anyway.
podman rmi -f "$tag" >/dev/null 2>&1 || true  # no older image left without its tag
podman build -q --runtime runc -t "$tag" "$ctx" >/dev/null
mkdir -p build-image
out=build-image/listenq-$version.tar
rm -f "$out"
podman save -q --format oci-archive -o "$out" "$tag"
bin=$(stat -c %s build-static/listenq)
size=$(podman image inspect -f '{{.Size}}' "$tag")
tar=$(stat -c %s "$out")
echo "image: $tag, $size bytes (the static binary: $bin, $((size - bin)) more); saved as $out ($tar bytes)"
[ $keep = 1 ] || podman rmi -f "$tag" >/dev/null
