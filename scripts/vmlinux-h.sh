#!/usr/bin/env bash
# Regenerates a checked-in bpf/vmlinux/<arch>/vmlinux.h from a Debian
# kernel's BTF, without installing that kernel: the linux-image package is
# fetched with apt-get download through a private apt directory under
# $LISTENQ_VM_CACHE (default /var/cache/listenq-vm; the host's sources stay
# as they are) and unpacked there; the BTF is cut from the kernel image
# (the .BTF section's bytes sit in it whole, found by the BTF header's
# magic and sizes) and dumped as C by bpftool.
#
#   scripts/vmlinux-h.sh arm64         Debian 12's newest 6.1 arm64 kernel
#   scripts/vmlinux-h.sh x86           the running kernel's /sys/kernel/btf/vmlinux
#
# The build never runs this: cmake/Bpf.cmake copies the checked-in file.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-}
out=bpf/vmlinux/$arch/vmlinux.h
case "$arch" in
x86)
  [ "$(uname -m)" = x86_64 ] || { echo "vmlinux-h: this machine is $(uname -m), not x86_64" >&2; exit 1; }
  bpftool btf dump file /sys/kernel/btf/vmlinux format c > "$out"
  echo "vmlinux-h: $out from /sys/kernel/btf/vmlinux ($(uname -r))"; exit 0 ;;
arm64) ;;
*) echo "usage: scripts/vmlinux-h.sh arm64|x86" >&2; exit 2 ;;
esac

cache=${LISTENQ_VM_CACHE:-/var/cache/listenq-vm}
. scripts/lib/private-apt.sh
arm64_apt "$cache"
dir=$(arm64_kernel "$cache")
pkg=${dir##*/}
image=$(ls "$dir"/boot/vmlinuz-*)
btf=$(mktemp)
trap 'rm -f "$btf"' EXIT
python3 - "$image" "$btf" <<'PY'
import struct, sys
data = open(sys.argv[1], 'rb').read()
# struct btf_header: magic 0xeB9F, version 1, flags 0, hdr_len 24, then
# type_off, type_len, str_off, str_len (include/uapi/linux/btf.h).
magic = struct.pack('<HBBI', 0xeB9F, 1, 0, 24)
best = None
i = data.find(magic)
while i >= 0:
    _, _, _, hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<HBBIIIII', data, i)
    size = hdr_len + max(type_off + type_len, str_off + str_len)
    if best is None or size > best[1]:
        best = (i, size)
    i = data.find(magic, i + 1)
if best is None:
    sys.exit('vmlinux-h: no BTF in ' + sys.argv[1])
open(sys.argv[2], 'wb').write(data[best[0]:best[0] + best[1]])
PY
bpftool btf dump file "$btf" format c > "$out"
echo "vmlinux-h: $out from $pkg ($(stat -c %s "$btf") bytes of BTF in $(basename "$image"))"
