#!/usr/bin/env bash
# Installs, builds and runs every test: unit (no root), the same under
# ASan/UBSan plus a bounded libFuzzer run (scripts/fuzz.sh), privileged
# integration tests (root; each in a private network namespace; they
# include the static binary's, scripts/build-static.sh, compared with the
# dynamic one), the container image (scripts/image.sh) and the fleet path
# (tests/e2e/fleet.sh: Prometheus, Alertmanager, a webhook), the Debian package (scripts/package.sh: lintian, then
# installed, run and removed), the docs' captures (scripts/captures.sh
# --check), a smoke run of the benchmarks (bench/run.sh
# --smoke), then the kernel matrix in qemu guests (scripts/vmtest.sh;
# LISTENQ_SKIP_VM=1 skips it outside CI).
# Under CI=true the privileged tier must run: a skip there is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = true ] && [ -n "${LISTENQ_UPDATE_GOLDEN:-}" ]; then
  echo "test.sh: LISTENQ_UPDATE_GOLDEN is refused under CI=true (CI compares with the golden files; it never rewrites them)"; exit 1
fi
scripts/deps.sh
scripts/build.sh

# Each step's outcome is kept and printed again at the end: a CI page that
# shows only the last lines (the matrix) must still name a host step that
# failed, and which of its tests.
status=0 step_name="" step_start=$SECONDS
summary=()
step() {  # step NAME: start timing a step
  step_name=$1 step_start=$SECONDS
}
done_step() {  # done_step ok|FAILED|SKIP [DETAIL]
  local d=""
  [ -n "${2:-}" ] && d=": $2"
  summary+=("$(printf '%-10s %-7s %4d s%s' "$step_name" "$1" $((SECONDS - step_start)) "$d")")
  [ "$1" = FAILED ] && status=1
  return 0
}
# ctest_failed LOG: the names ctest listed as failed, on one line
ctest_failed() {
  sed -n '/The following tests FAILED:/,$p' "$1" | sed -nE 's/^[[:space:]]+[0-9]+ - ([^ ]+) .*/\1/p' | tr '\n' ' '
}

echo "== unit tests"
step unit
if (cd build && ctest -L unit --output-on-failure) 2>&1 | tee build/unit.log &&
   grep -qE '^100% tests passed' build/unit.log; then done_step ok
else done_step FAILED "$(ctest_failed build/unit.log)"; fi

echo "== install (cmake --install into a scratch prefix: binary, listenq(8), bash completion, examples, the unit naming the binary)"
step install
inst=$(mktemp -d) nroff_err=$(mktemp)
if cmake --install build --prefix "$inst" >/dev/null &&
   "$inst/sbin/listenq" --version >/dev/null &&
   nroff -man -ww "$inst/share/man/man8/listenq.8" >/dev/null 2>"$nroff_err" && [ ! -s "$nroff_err" ] &&
   bash -c "source '$inst/share/bash-completion/completions/listenq' && complete -p listenq" >/dev/null &&
   [ -s "$inst/share/doc/listenq/examples/listenq.json" ] &&
   grep -qx "ExecStart=$inst/sbin/listenq export --listen 127.0.0.1:9464" "$inst/lib/systemd/system/listenq-export.service"; then
  echo "install: ok ($(cd "$inst" && find . -type f | sort | tr '\n' ' '))"; done_step ok
else
  echo "install: FAILED"; cat "$nroff_err"; done_step FAILED
fi
rm -rf "$inst" "$nroff_err"

# 15 s per target: four targets (proc, inet_diag, bpf_records, http) in 1 min
# of the suite's 45 (fresh-clone CI here took 43.5 and 45.5 min with 30 s
# each). Each starts from its seed corpus of real captures (tests/fuzz).
# FUZZ_SECONDS=300 scripts/fuzz.sh for a longer run.
export FUZZ_SECONDS=${FUZZ_SECONDS:-15}
echo "== sanitizers and fuzzing (scripts/fuzz.sh: ASan/UBSan unit tests, ${FUZZ_SECONDS} s per libFuzzer target)"
step fuzz
if scripts/fuzz.sh 2>&1 | tee build/fuzz.log; then done_step ok
else done_step FAILED "$(grep -E '^(FAIL|\[  FAILED  \])' build/fuzz.log | head -5 | tr '\n' ' ')"; fi

echo "== static binary (scripts/build-static.sh: build-static/listenq; the privileged StaticBinary tests run it)"
# has OUTPUT PATTERN: grep on text already read. Never `prog | grep -q`
# under pipefail: grep exits at its first match, and a program still
# writing (listenq --help is over 4 KiB: two writes) dies of SIGPIPE, which
# failed this step at random.
has() { grep -q -- "$2" <<<"$1"; }
# static_binary_ok LABEL DIR ARCH [RUNNER...]: DIR/listenq is ARCH's (as
# `file` names it), statically linked (file, ldd), and runs --version,
# --help and export --help, through RUNNER (qemu-aarch64-static) if given.
# Prints "LABEL: FAILED: ..." on the first check that fails.
static_binary_ok() {
  local label=$1 bin=$2/listenq arch=$3 f l v h e
  shift 3
  f=$(file -b "$bin") || { echo "$label: FAILED: file $bin"; return 1; }
  l=$(ldd "$bin" 2>&1 || true)
  v=$("$@" "$bin" --version) || { echo "$label: FAILED: --version exit $?"; return 1; }
  h=$("$@" "$bin" --help) || { echo "$label: FAILED: --help exit $?"; return 1; }
  e=$("$@" "$bin" export --help) || { echo "$label: FAILED: export --help exit $?"; return 1; }
  has "$f" "$arch" && has "$f" "statically linked" || { echo "$label: FAILED: file says: $f"; return 1; }
  has "$l" "not a dynamic executable" || { echo "$label: FAILED: ldd says: $l"; return 1; }
  has "$v" "^listenq " || { echo "$label: FAILED: --version printed: $v"; return 1; }
  has "$h" "^EXAMPLES:" || { echo "$label: FAILED: --help has no EXAMPLES"; return 1; }
  has "$e" "^Usage: export" || { echo "$label: FAILED: export --help has no Usage line"; return 1; }
}
static_check() {
  scripts/build-static.sh || { echo "static: FAILED: scripts/build-static.sh"; return 1; }
  # This machine's architecture, as file names it.
  static_binary_ok static build-static "$(file -bL /bin/sh | grep -oE 'x86-64|ARM aarch64')" || return 1
  echo "static: ok (file: statically linked; ldd: not a dynamic executable; --version, --help, export --help run)"
}
step static
if static_check 2>&1 | tee build/static.log; then done_step ok
else done_step FAILED "$(grep -m1 'static: FAILED' build/static.log)"; fi

echo "== container image (scripts/image.sh: FROM scratch, the static binary; its labels, its size, it runs; removed after)"
image_check() {
  local msg v tag labels size bin ran
  [ "$(id -u)" -eq 0 ] || { echo "SKIP: podman's store needs root here"; return 2; }
  msg=$(scripts/image.sh --keep) || { echo "image: FAILED: scripts/image.sh: $msg"; return 1; }
  echo "$msg"
  v=$(build-static/listenq --version | awk '{print $2}') tag=localhost/listenq:$v
  labels=$(podman image inspect -f '{{json .Labels}}' "$tag")
  size=$(podman image inspect -f '{{.Size}}' "$tag") bin=$(stat -c %s build-static/listenq)
  ran=$(podman run --rm --runtime runc --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --network none \
        --entrypoint /listenq "$tag" --version 2>&1) || { echo "image: FAILED: podman run: $ran"; podman rmi -f "$tag" >/dev/null; return 1; }
  podman rmi -f "$tag" >/dev/null
  has "$labels" "\"org.opencontainers.image.version\":\"$v\"" && has "$labels" 'org.opencontainers.image.licenses":"GPL-2.0-only' &&
    has "$labels" 'org.opencontainers.image.source' || { echo "image: FAILED: labels $labels"; return 1; }
  [ $((size - bin)) -lt 65536 ] || { echo "image: FAILED: $size bytes, the binary $bin: over 64 KiB more"; return 1; }
  has "$ran" "^listenq $v" || { echo "image: FAILED: it printed $ran"; return 1; }
  echo "image: ok (labels $labels; $size bytes, the binary + $((size - bin)); podman run printed: $ran; removed)"
}
step image
set +e; image_check 2>&1 | tee build/image.log; rc=${PIPESTATUS[0]}; set -e
case $rc in 0) done_step ok ;; 2) done_step SKIP "not root" ;; *) done_step FAILED "$(grep -m1 'FAILED' build/image.log)" ;; esac

echo "== Debian package (scripts/package.sh: lintian-clean .deb; tests/package/deb_roundtrip.sh: dpkg -i, run it, systemd-analyze verify, dpkg -r leaves nothing)"
step package
if [ "$(id -u)" -ne 0 ]; then
  [ "${CI:-}" = "true" ] && { echo "FAIL: CI=true but not root: dpkg -i cannot be skipped"; exit 1; }
  echo "SKIP: dpkg -i needs root (sudo scripts/test.sh)"; done_step SKIP "not root"
elif ! scripts/package.sh > build/package.log 2>&1; then
  cat build/package.log; echo "package: FAILED"; done_step FAILED "scripts/package.sh: $(tail -1 build/package.log)"
elif deb=$(ls build-deb/listenq_*.deb) && msg=$(tests/package/deb_roundtrip.sh "$deb"); then
  echo "package: ok ($deb, lintian clean; dpkg -i, --version, snapshot, man, systemd-analyze verify, dpkg -r: $msg)"; done_step ok
else
  echo "package: FAILED: ${msg:-}"; done_step FAILED "deb_roundtrip: ${msg:-}"
fi

echo "== privileged integration tests (host kernel $(uname -r))"
step privileged
if [ "$(id -u)" -ne 0 ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: CI=true but not root: the host tier cannot be skipped"; exit 1
  fi
  echo "SKIP: privileged tests need root (sudo scripts/test.sh)"; done_step SKIP "not root"
else
  (cd build && ctest -L privileged --output-on-failure) 2>&1 | tee build/privileged.log || true
  # Each skip must be declared for this kernel (tests/expected-skips.txt).
  if sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: integration\.([^ ]+) .*(Passed|\*\*\*Skipped|\*\*\*Failed|\*\*\*Timeout|\*\*\*Exception).*/\2 \1/p' build/privileged.log |
     sed -E 's/^Passed /pass /; s/^\*\*\*Skipped /skip /; s/^\*\*\*[A-Za-z]+ /fail /' |
     scripts/check-skips.sh host "$(uname -r)" > build/skips.log 2>&1; then skips_ok=1; else skips_ok=0; fi
  cat build/skips.log
  if ! grep -qE '^100% tests passed|tests passed, 0 tests failed' build/privileged.log; then
    done_step FAILED "$(ctest_failed build/privileged.log)"
  elif [ $skips_ok = 0 ]; then done_step FAILED "$(tail -1 build/skips.log)"
  else done_step ok "$(grep -E 'tests passed' build/privileged.log)"; fi
fi

echo "== fleet (tests/e2e/fleet.sh: the image as the DaemonSet runs it, Prometheus with the rules, Alertmanager, a webhook; an overflow's alert must arrive)"
step fleet
set +e; tests/e2e/fleet.sh 2>&1 | tee build/fleet.log; rc=${PIPESTATUS[0]}; set -e
case $rc in 0) done_step ok ;; 2) done_step SKIP "not root" ;; *) done_step FAILED "$(grep -m1 'FAILED' build/fleet.log)" ;; esac

echo "== docs captures (scripts/captures.sh --check: every output in README.md and docs/ is what this binary prints now)"
step captures
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the captures' scenes need root (BPF, a network namespace)"; done_step SKIP "not root"
elif LISTENQ_BUILD="$PWD/build" scripts/captures.sh --check 2>&1 | tee build/captures.log; then done_step ok
else done_step FAILED "$(grep -iE 'differ|stale|FAIL' build/captures.log | head -3 | tr '\n' ' ')"; fi

echo "== benchmark smoke run (bench/run.sh --smoke: every benchmark runs; no time is asserted)"
step bench
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: benchmarks need root (BPF, network namespaces)"; done_step SKIP "not root"
elif bench/run.sh --smoke > build/bench-smoke.log 2>&1; then
  echo "bench smoke: ok (build/bench-smoke.md)"; done_step ok
else
  cat build/bench-smoke.log; done_step FAILED "$(tail -1 build/bench-smoke.log)"
fi

# The arm64 static binary is cross-built at nice 19 while the matrix runs
# (its guests mostly wait on the tests' timers; a compile at nice 19 takes
# the CPU they leave), and checked after it: 5-6 minutes of compiling that
# would otherwise add to the suite's 45.
arm64_check() {
  local nr dis
  scripts/build-static.sh --arch arm64 || { echo "arm64: FAILED: scripts/build-static.sh --arch arm64"; return 1; }
  static_binary_ok arm64 build-static-arm64 "ARM aarch64" qemu-aarch64-static || return 1
  # Its syscall hook tests arm64's listen() number (the generic uapi
  # table's), not x86_64's.
  nr=$(sed -nE 's/^#define __NR_listen ([0-9]+)$/\1/p' /usr/include/asm-generic/unistd.h)
  [ -n "$nr" ] || { echo "arm64: FAILED: no __NR_listen in /usr/include/asm-generic/unistd.h"; return 1; }
  dis=$(llvm-objdump -d --section=tp_btf/sys_enter build-static-arm64/skel/trace.bpf.o) ||
    { echo "arm64: FAILED: llvm-objdump of build-static-arm64/skel/trace.bpf.o"; return 1; }
  has "$dis" "== $nr goto" || { echo "arm64: FAILED: trace.bpf.o's sys_enter does not test listen() = $nr"; return 1; }
  echo "arm64 binary: ok (file: ARM aarch64, statically linked; ldd: not a dynamic executable; --version, --help, export --help run under qemu-aarch64-static; sys_enter tests listen() = $nr, asm-generic/unistd.h's)"
}
arm64_pid="" arm64_start=$SECONDS
if [ "$(id -u)" -eq 0 ]; then
  ( renice -n 19 "$BASHPID" >/dev/null; arm64_check ) > build/arm64.log 2>&1 &
  arm64_pid=$!
fi

echo "== kernel matrix (qemu: Debian 5.10, 6.1 and 6.12 guests, and the unpacked kernels of \$LISTENQ_VM_KERNELS: 4.19, 5.4)"
step matrix
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: the kernel matrix needs root (apt-get download, initramfs with the test binaries)"; done_step SKIP "not root"
elif [ "${LISTENQ_SKIP_VM:-}" = 1 ] && [ "${CI:-}" != "true" ]; then
  echo "SKIP: LISTENQ_SKIP_VM=1"; done_step SKIP "LISTENQ_SKIP_VM=1"
else
  # -V: the matrix and the guests' outputs go to the log, pass or fail.
  if (cd build && ctest -L vm -V) 2>&1 | tee build/matrix.log; then done_step ok "$(grep -m1 '^[0-9]*: vmtest: ' build/matrix.log | sed 's/^[0-9]*: //')"
  else done_step FAILED "$(grep -m1 '^[0-9]*: vmtest: ' build/matrix.log | sed 's/^[0-9]*: //')"; fi
fi

echo "== arm64 (scripts/build-static.sh --arch arm64, cross-built at nice 19 during the matrix, run under qemu-aarch64-static; then scripts/vmtest-arm64.sh: Debian's arm64 6.1 in qemu-system-aarch64)"
step arm64
step_start=$arm64_start
if [ -z "$arm64_pid" ]; then
  echo "SKIP: the arm64 sysroot is unpacked under /var/cache (root)"; done_step SKIP "not root"
elif ! wait "$arm64_pid"; then tail -20 build/arm64.log; done_step FAILED "$(grep -m1 'arm64: FAILED' build/arm64.log)"
else
  cat build/arm64.log
  # Then on an arm64 kernel, after the matrix (its guest's timing is its
  # own): Debian's 6.1 under qemu-system-aarch64.
  if scripts/vmtest-arm64.sh 2>&1 | tee build/vmtest-arm64.log; then
    done_step ok "binary built beside the matrix; $(grep -m1 '^vmtest-arm64: .* passed' build/vmtest-arm64.log)"
  else done_step FAILED "$(grep -m1 -E '^vmtest-arm64: (FAILED|.* [1-9][0-9]* failed)' build/vmtest-arm64.log || tail -1 build/vmtest-arm64.log)"; fi
fi

echo "== summary (test.sh, ${SECONDS} s)"
printf '%s\n' "${summary[@]}"
if [ $status = 0 ]; then echo "test.sh: every step passed"
else echo "test.sh: FAILED: $(printf '%s\n' "${summary[@]}" | awk '$2 == "FAILED" {print $1}' | tr '\n' ' ')"; fi
exit $status
