#!/bin/bash
# Builds a guest kernel for the matrix (x86_64, for qemu -kernel with an
# initramfs) from a kernel.org tarball, in the layout scripts/vmtest.sh reads
# from $LISTENQ_VM_KERNELS (an unpacked linux-image package):
#
#   tests/vm/kernels/build-guest-kernel.sh SRC_DIR OUT_DIR
#
# SRC_DIR: an unpacked kernel.org tarball (linux-4.19.48, linux-5.4.286).
# OUT_DIR gets
#   boot/vmlinuz-<release>  boot/config-<release>  boot/System.map-<release>
#   lib/modules/<release>/kernel/...  (inet_diag, tcp_diag, veth as modules,
#                                      so a guest boots without tcp_diag)
#   btf/vmlinux-<release>.btf  (raw BTF from pahole -J of the DWARF, as
#                               BTFHub makes it: these kernels have no BTF
#                               in sysfs, and listenq gets it by --btf)
# Config: x86_64_defconfig plus lq.config-fragment (BPF, kprobes, ftrace,
# namespaces, DWARF4, the modules above; LOCALVERSION -lq). Patches: the
# linux-<version>-*.patch files beside this script for that version:
#   4.19.48  force-order    the duplicate __force_order link fix later
#                           4.19.y stables carry (newer toolchains)
#            nx-trampolines "x86/kprobes: Set instruction page as executable"
#                           and "x86/ftrace: Set trampoline pages as
#                           executable": 4.19.48 as released oopses on the
#                           first kprobe that fires (NX module pages)
# Needs: build-essential flex bison bc libelf-dev libssl-dev dwarves. gcc 12
# builds 4.19.48 once RETPOLINE and STACK_VALIDATION are off (the fragment).
# About 25 minutes on 2 cores.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$1" && pwd)
out=$2
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$src"
version=$(make -s kernelversion)
for p in "$here"/linux-"$version"-*.patch; do
  [[ -e $p ]] || continue
  if patch -p1 -N --dry-run < "$p" > /dev/null; then patch -p1 -N < "$p"; else echo "already applied: $p"; fi
done
make x86_64_defconfig > /dev/null
scripts/kconfig/merge_config.sh -m .config "$here/lq.config-fragment" > /dev/null
make olddefconfig > /dev/null
make -j"$(nproc)" bzImage modules
rel=$(make -s kernelrelease)
mkdir -p "$out/boot" "$out/btf"
cp arch/x86/boot/bzImage "$out/boot/vmlinuz-$rel"
cp .config "$out/boot/config-$rel"
cp System.map "$out/boot/System.map-$rel"
make -s modules_install INSTALL_MOD_PATH="$out" INSTALL_MOD_STRIP=1 > /dev/null
rm -f "$out/lib/modules/$rel/build" "$out/lib/modules/$rel/source"
tmp=$(mktemp)
cp vmlinux "$tmp"
pahole -J "$tmp"
objcopy --dump-section .BTF="$out/btf/vmlinux-$rel.btf" "$tmp" "$tmp.o"
rm -f "$tmp" "$tmp.o"
echo "$out: $rel"
