#!/usr/bin/env bash
# The arm64 guest (issue 26): Debian 12's arm64 6.1 kernel under
# qemu-system-aarch64 (TCG, -M virt), a busybox initramfs with the
# cross-built static listenq (scripts/build-static.sh --arch arm64), the
# seed's listener helper and tcp_diag's modules; tests/vm/guest-arm64.sh
# runs the core scenarios there and prints LQ-RESULT markers, which this
# script prints as rows. Kernel, busybox and modules come from Debian's
# arm64 archive through a private apt directory (nothing is installed on
# the host). Exit 0 when every scenario passed.
#
#   scripts/vmtest-arm64.sh              boot it (LISTENQ_VM_TIMEOUT, default 900 s)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${LISTENQ_VM_CACHE:-/var/cache/listenq-vm}
CROSS=${LISTENQ_CROSS_CACHE:-/var/cache/listenq-cross}
TIMEOUT=${LISTENQ_VM_TIMEOUT:-900}  # 56-75 s alone here, 485 s at nice 19 beside a build
command -v qemu-system-aarch64 >/dev/null || { echo "vmtest-arm64: qemu-system-aarch64 missing (scripts/deps.sh installs qemu-system-arm)" >&2; exit 1; }
[ -x build-static-arm64/listenq ] || scripts/build-static.sh --arch arm64

. scripts/lib/private-apt.sh
arm64_apt "$CACHE"
kdir=$(arm64_kernel "$CACHE")
kver=${kdir##*/linux-image-}
bb=$(arm64_download "$CROSS" busybox-static)

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,lq/modules,proc,sys,dev,tmp}
dpkg -x "$bb" "$stage/bbx"
cp "$stage/bbx/bin/busybox" "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"  # /init's interpreter, before it installs the rest
rm -rf "$stage/bbx"
cp build-static-arm64/listenq "$stage/lq/listenq"
aarch64-linux-gnu-gcc -static -O2 -o "$stage/lq/lq_listen" tests/vm/lq_listen.c
for m in inet_diag tcp_diag; do
  f=$(find "$kdir/lib/modules/$kver" -name "$m.ko*" | head -1)
  [ -n "$f" ] || { echo "vmtest-arm64: no $m module in $pkg" >&2; exit 1; }
  case "$f" in *.xz) xz -dc "$f" > "$stage/lq/modules/$m.ko" ;; *) cp "$f" "$stage/lq/modules/$m.ko" ;; esac
done
cp tests/vm/guest-arm64.sh "$stage/init"
cp tests/vm/guest-lib.sh "$stage/lq/guest-lib.sh"
initrd=$CACHE/initrd-$kver.gz
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1 > "$initrd")

log=$CACHE/console-$kver.log
start=$SECONDS
echo "vmtest-arm64: booting $kver (qemu-system-aarch64 -M virt -cpu cortex-a72, TCG), console in $log"
set +e
timeout "$TIMEOUT" qemu-system-aarch64 -M virt -cpu cortex-a72 -accel tcg,thread=single -smp 2 -m 1G \
  -nographic -no-reboot -kernel "$kdir/boot/vmlinuz-$kver" -initrd "$initrd" \
  -append "console=ttyAMA0 rdinit=/init panic=-1 quiet" > "$log" 2>&1
rc=$?
set -e
secs=$((SECONDS - start))
{ tr -d '\r' < "$log" | grep '^LQ-RESULT|' || true; } | awk -F'|' '{ printf "%-22s %-10s %-22s %-5s %s\n", $2, $3, $4, $5, $6 }'
pass=$(tr -d '\r' < "$log" | grep -c '^LQ-RESULT|.*|pass|' || true)
fail=$(tr -d '\r' < "$log" | grep -c '^LQ-RESULT|.*|fail|' || true)
skip=$(tr -d '\r' < "$log" | grep -c '^LQ-RESULT|.*|skip|' || true)
if ! tr -d '\r' < "$log" | grep -q '^LQ-DONE|'; then
  echo "vmtest-arm64: FAILED: the guest did not finish (qemu exit $rc after $secs s); last lines:"; tail -15 "$log"; exit 1
fi
# Skips against tests/expected-skips.txt, as the x86 guests'.
skips_ok=0
tr -d '\r' < "$log" | awk -F'|' '$1 == "LQ-RESULT" { print $5 " " $4 }' | scripts/check-skips.sh guest "$kver" && skips_ok=1
echo "vmtest-arm64: $kver: $pass passed, $fail failed, $skip skipped in $secs s"
[ "$fail" = 0 ] && [ "$pass" -gt 0 ] && [ $skips_ok = 1 ]
