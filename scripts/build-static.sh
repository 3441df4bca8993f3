#!/usr/bin/env bash
# Builds a fully static listenq into build-static/listenq (README "Static
# binary"): libbpf, libelf, zlib, libstdc++ and glibc inside, for old
# userlands and initramfs guests with no libraries. Stripped; its DWARF is
# in build-static/listenq.debug. Fails on any linker warning that glibc
# would need its shared libraries at run time (NSS, dlopen).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cmake-flags.sh
cmake -S . -B build-static -DLISTENQ_STATIC=ON "${LQ_CMAKE_FLAGS[@]}" >/dev/null
rm -f build-static/listenq  # always relink, so the link's warnings are seen
log=build-static/build.log
if ! cmake --build build-static -j"$(nproc)" --target listenq > "$log" 2>&1; then
  tail -40 "$log"; echo "build-static: FAILED (whole log: $log)"; exit 1
fi
if grep -q "in statically linked applications requires at runtime" "$log"; then
  grep -B2 -A2 "in statically linked applications" "$log"
  echo "build-static: FAILED: glibc would need its shared libraries at run time (see above)"; exit 1
fi
echo "build-static: build-static/listenq, $(du -h build-static/listenq | cut -f1): $(file -b build-static/listenq | cut -d, -f1,2,4)"
