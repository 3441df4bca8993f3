#!/usr/bin/env bash
# Configures and builds listenq and its tests into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/cmake-flags.sh
cmake -S . -B build "${LQ_CMAKE_FLAGS[@]}" -DCMAKE_EXE_LINKER_FLAGS="$LQ_LDFLAGS" >/dev/null
cmake --build build -j"$(nproc)"
