#!/usr/bin/env bash
# Installs listenq's build and test dependencies from Debian 12's apt.
# Idempotent: apt is only called when something is missing.
set -euo pipefail

# The static build (scripts/build-static.sh) links the .a files of
# libbpf-dev, libelf-dev, zlib1g-dev, libc6-dev and libstdc++-12-dev (the
# last two come with build-essential); `file` checks the result.
# The Debian package (scripts/package.sh): dpkg-dev's dpkg-shlibdeps and
# dpkg-buildflags, lintian; its test runs systemd-analyze verify on the unit,
# which asks man-db for listenq(8).
# podman, runc and catatonit: the RealContainer test plays a real pod
# (podman 4.3 runs containers only with runc here; catatonit is the pod's
# pause process). prometheus-alertmanager: tests/e2e/fleet.sh sends the
# alerts of deploy/prometheus to a webhook through it.
# gcc/g++-aarch64-linux-gnu: the arm64 static binary (scripts/build-static.sh
# --arch arm64; its libraries come from Debian's arm64 archive, unpacked
# apart); qemu-user-static runs it here (test.sh's arm64 step), and
# qemu-system-arm boots Debian's arm64 kernel with it (scripts/vmtest-arm64.sh).
PKGS=(
  build-essential cmake pkg-config file ccache
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user-static qemu-system-arm
  clang llvm bpftool
  libbpf-dev libelf-dev zlib1g-dev
  libcli11-dev libgtest-dev nlohmann-json3-dev
  iproute2 util-linux hping3
  libclang-rt-14-dev
  libcpp-httplib-dev prometheus curl groff-base
  podman runc catatonit prometheus-alertmanager
  dpkg-dev lintian systemd man-db
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "deps: all ${#PKGS[@]} packages present"
fi
