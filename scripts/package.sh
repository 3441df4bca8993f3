#!/usr/bin/env bash
# Builds the Debian package build-deb/listenq_<version>_<arch>.deb (README
# "Install as a Debian package") with CPack (cmake/Deb.cmake), from its own
# tree: prefix /usr, Debian's dpkg-buildflags, the checked-in vmlinux.h (the
# package does not depend on the build machine's kernel), the binary only.
# Then lintian, pedantic: any tag fails. The one override says why in
# contrib/debian/listenq.lintian-overrides.
set -euo pipefail
cd "$(dirname "$0")/.."

# hardening=+all (scripts/lib/cmake-flags.sh) adds bindnow to the default fortify, stack protector, relro
# and PIE (lintian: hardening-no-bindnow). CMake has no CPPFLAGS: they go with
# CFLAGS/CXXFLAGS, given on every configure (the environment is read once).
BUILD_TYPE=RelWithDebInfo
. scripts/lib/cmake-flags.sh
cmake -S . -B build-deb -DLISTENQ_DEB=ON -DLISTENQ_VMLINUX_H=checked-in "${LQ_CMAKE_FLAGS[@]}" \
  -DCMAKE_EXE_LINKER_FLAGS="$LQ_LDFLAGS" >/dev/null
log=build-deb/build.log
rm -f build-deb/listenq  # always relink, so the POST_BUILD strip (cmake/Deb.cmake) runs
if ! cmake --build build-deb -j"$(nproc)" > "$log" 2>&1; then
  tail -40 "$log"; echo "package: build FAILED (whole log: $log)"; exit 1
fi
rm -f build-deb/listenq_*.deb
if ! (cd build-deb && cpack -G DEB) >> "$log" 2>&1; then
  tail -40 "$log"; echo "package: cpack FAILED (whole log: $log)"; exit 1
fi
deb=$(ls build-deb/listenq_*.deb)

# --fail-on: lintian fails on errors only by default; info and pedantic
# tags are shown (--display-info, --pedantic) and fail too.
if ! lintian --info --display-info --pedantic --fail-on error,warning,info,pedantic "$deb"; then
  echo "package: lintian FAILED on $deb"; exit 1
fi
echo "package: $deb, $(du -h "$deb" | cut -f1), lintian clean (pedantic)"
