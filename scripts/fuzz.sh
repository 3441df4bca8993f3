#!/usr/bin/env bash
# Sanitizers and fuzzing. Builds a clang tree (build-fuzz) with ASan and
# UBSan (any report aborts), runs the unit tests there, then each libFuzzer
# target (tests/fuzz) for SECONDS each from its seed corpus of real captures
# (tests/fuzz/corpus). A crash, a leak or a sanitizer report fails; the
# input that caused it is kept in build-fuzz/artifacts/.
# Usage: scripts/fuzz.sh [SECONDS]   (default $FUZZ_SECONDS or 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-${FUZZ_SECONDS:-60}}"
scripts/deps.sh >/dev/null
# OSS-Fuzz's flags: -O1 and line tables only (less to compile and link
# than RelWithDebInfo's -O2 -g: compiling is most of this step), asserts kept.
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DLISTENQ_FUZZ=ON -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_C_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" "${launcher[@]}" >/dev/null
targets=(proc inet_diag bpf_records http)
cmake --build build-fuzz -j"$(nproc)" --target listenq_unit "${targets[@]/#/fuzz_}" >/dev/null

echo "-- unit tests, ASan + UBSan (clang)"
build-fuzz/tests/listenq_unit --gtest_brief=1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p build-fuzz/artifacts
for t in "${targets[@]}"; do
  mkdir -p "$work/$t"
  if ! build-fuzz/fuzz_"$t" -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix=build-fuzz/artifacts/ "$work/$t" "tests/fuzz/corpus/$t" > "$work/$t.log" 2>&1; then
    tail -60 "$work/$t.log"
    echo "FAIL: fuzz_$t (input kept in build-fuzz/artifacts/)"
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: [0-9]*' "$work/$t.log" | awk '{print $2}')"
  echo "fuzz_$t: ${runs} runs in ${seconds} s, corpus $(ls "$work/$t" | wc -l) inputs, 0 crashes, 0 sanitizer reports"
done
