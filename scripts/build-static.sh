#!/usr/bin/env bash
# Builds a fully static listenq into build-static/listenq (README "Static
# binary"): libbpf, libelf, zlib, libstdc++ and glibc inside, for old
# userlands and initramfs guests with no libraries. Stripped; its DWARF is
# in build-static/listenq.debug. Fails on any linker warning that glibc
# would need its shared libraries at run time (NSS, dlopen).
#
#   scripts/build-static.sh               this machine's architecture
#   scripts/build-static.sh --arch arm64  cross-built: build-static-arm64/listenq
#
# arm64 uses Debian's aarch64-linux-gnu gcc (scripts/deps.sh) and a
# sysroot of Debian's arm64 libbpf-dev, libelf-dev and zlib1g-dev (with the
# header-only CLI11 and nlohmann-json) that it unpacks under
# $LISTENQ_CROSS_CACHE (default /var/cache/listenq-cross) with apt-get
# download and dpkg -x: the host's apt and dpkg stay as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=native
case "${1:-}" in
  "") ;;
  --arch) arch=${2:-}; [ "$arch" = arm64 ] || [ "$arch" = "$(dpkg --print-architecture)" ] ||
            { echo "build-static: --arch $arch: only arm64 is cross-built (and $(dpkg --print-architecture), natively)" >&2; exit 2; }
          [ "$arch" = "$(dpkg --print-architecture)" ] && arch=native ;;
  *) echo "usage: scripts/build-static.sh [--arch arm64]" >&2; exit 2 ;;
esac
# dpkg-buildflags for the target (DEB_HOST_ARCH: no x86-only -fcf-protection on arm64).
[ "$arch" = arm64 ] && export DEB_HOST_ARCH=arm64
. scripts/lib/cmake-flags.sh
dir=build-static
cross=()
if [ "$arch" = arm64 ]; then
  dir=build-static-arm64
  cache=${LISTENQ_CROSS_CACHE:-/var/cache/listenq-cross}
  sysroot=$cache/sysroot-arm64
  . scripts/lib/private-apt.sh
  arm64_apt "$cache"
  debs=$(arm64_download "$cache" libbpf-dev libelf-dev zlib1g-dev libcli11-dev nlohmann-json3-dev)
  stamp=$(echo "$debs" | xargs -n1 basename | sort | tr '\n' ' ')
  if [ "$(cat "$sysroot/.debs" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$sysroot" && mkdir -p "$sysroot"
    for d in $debs; do dpkg -x "$d" "$sysroot"; done
    echo "$stamp" > "$sysroot/.debs"
  fi
  cross=(-DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake -DLISTENQ_SYSROOT="$sysroot")
fi
cmake -S . -B "$dir" -DLISTENQ_STATIC=ON "${LQ_CMAKE_FLAGS[@]}" "${cross[@]}" >/dev/null
rm -f "$dir/listenq"  # always relink, so the link's warnings are seen
log=$dir/build.log
if ! cmake --build "$dir" -j"$(nproc)" --target listenq > "$log" 2>&1; then
  tail -40 "$log"; echo "build-static: FAILED (whole log: $log)"; exit 1
fi
if grep -q "in statically linked applications requires at runtime" "$log"; then
  grep -B2 -A2 "in statically linked applications" "$log"
  echo "build-static: FAILED: glibc would need its shared libraries at run time (see above)"; exit 1
fi
echo "build-static: $dir/listenq, $(du -h "$dir/listenq" | cut -f1): $(file -b "$dir/listenq" | cut -d, -f1,2,4)"
