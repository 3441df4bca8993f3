# Compiles bpf/NAME.bpf.c into a BTF-carrying object and a libbpf skeleton,
# for the target's architecture (LISTENQ_BPF_ARCH: x86 or arm64, from
# CMAKE_SYSTEM_PROCESSOR; a cross build's toolchain file sets that).
#
# vmlinux.h: with LISTENQ_VMLINUX_H=auto (default) it is generated at build
# time from /sys/kernel/btf/vmlinux when the build machine has it and runs
# the target's architecture, else the checked-in bpf/vmlinux/<arch>/vmlinux.h
# is used (x86: Debian's 6.18 kernel; arm64: Debian's 6.1, from
# scripts/vmlinux-h.sh). =kernel or =checked-in forces one. CO-RE makes
# either portable across kernels, not across architectures: struct pt_regs,
# the syscall numbers (bpf/syscalls.bpf.h) and libbpf's PT_REGS macros are
# the architecture's.

find_program(CLANG_BPF NAMES clang-14 clang REQUIRED)
find_program(LLVM_STRIP NAMES llvm-strip-14 llvm-strip REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

# The architectures listenq's BPF programs are written for. Another one
# would load programs that read the wrong registers and syscall numbers.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|amd64|AMD64)$")
  set(LISTENQ_BPF_ARCH x86)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(LISTENQ_BPF_ARCH arm64)
else()
  message(FATAL_ERROR "listenq: unsupported target architecture ${CMAKE_SYSTEM_PROCESSOR}: its BPF programs are written for x86_64 and aarch64 only (bpf/syscalls.bpf.h)")
endif()
set(_host_arch ${CMAKE_HOST_SYSTEM_PROCESSOR})
set(_native FALSE)
if((LISTENQ_BPF_ARCH STREQUAL "x86" AND _host_arch MATCHES "^(x86_64|amd64)$") OR
   (LISTENQ_BPF_ARCH STREQUAL "arm64" AND _host_arch MATCHES "^(aarch64|arm64)$"))
  set(_native TRUE)
endif()

set(LISTENQ_VMLINUX_H "auto" CACHE STRING "vmlinux.h source: auto, kernel or checked-in")
set(_kernel_btf /sys/kernel/btf/vmlinux)
set(VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
set(_checked_in ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${LISTENQ_BPF_ARCH}/vmlinux.h)
if(LISTENQ_VMLINUX_H STREQUAL "kernel" AND NOT _native)
  message(FATAL_ERROR "listenq: LISTENQ_VMLINUX_H=kernel: this machine's kernel is ${_host_arch}, the target ${CMAKE_SYSTEM_PROCESSOR}")
endif()
if(LISTENQ_VMLINUX_H STREQUAL "kernel" OR (LISTENQ_VMLINUX_H STREQUAL "auto" AND _native AND EXISTS ${_kernel_btf}))
  add_custom_command(
    OUTPUT ${VMLINUX_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMLINUX_DIR}
    COMMAND ${BPFTOOL} btf dump file ${_kernel_btf} format c > ${VMLINUX_DIR}/vmlinux.h
    COMMENT "vmlinux.h from ${_kernel_btf}")
  set(LISTENQ_VMLINUX_FROM "${_kernel_btf}")
else()
  add_custom_command(
    OUTPUT ${VMLINUX_DIR}/vmlinux.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${VMLINUX_DIR}
    COMMAND ${CMAKE_COMMAND} -E copy ${_checked_in} ${VMLINUX_DIR}/vmlinux.h
    DEPENDS ${_checked_in}
    COMMENT "vmlinux.h: checked-in copy (bpf/vmlinux/${LISTENQ_BPF_ARCH}/vmlinux.h)")
  set(LISTENQ_VMLINUX_FROM "bpf/vmlinux/${LISTENQ_BPF_ARCH}/vmlinux.h (checked in)")
endif()
message(STATUS "listenq: BPF for ${LISTENQ_BPF_ARCH}, vmlinux.h from ${LISTENQ_VMLINUX_FROM}")

# One target makes vmlinux.h: a custom command's output that several
# targets depend on would be run by each of them, in parallel builds at once
# (a torn vmlinux.h).
add_custom_target(vmlinux_h DEPENDS ${VMLINUX_DIR}/vmlinux.h)

set(SKEL_DIR ${CMAKE_BINARY_DIR}/skel)
file(MAKE_DIRECTORY ${SKEL_DIR})

# bpf_skeleton(NAME): bpf/NAME.bpf.c -> ${SKEL_DIR}/NAME.skel.h (struct NAME_bpf);
# the object is listed in the global property LISTENQ_BPF_OBJECTS.
function(bpf_skeleton name)
  set(src ${CMAKE_SOURCE_DIR}/bpf/${name}.bpf.c)
  set(obj ${SKEL_DIR}/${name}.bpf.o)
  set(skel ${SKEL_DIR}/${name}.skel.h)
  # trace_legacy.bpf.c includes trace.bpf.c: every object depends on every source.
  file(GLOB bpf_headers ${CMAKE_SOURCE_DIR}/bpf/*.h ${CMAKE_SOURCE_DIR}/bpf/*.bpf.c ${CMAKE_SOURCE_DIR}/include/listenq/*.h)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_${LISTENQ_BPF_ARCH} -Wall -Werror
            -I${VMLINUX_DIR} -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
            -c ${src} -o ${obj}
    # Drop DWARF, keep .BTF and .BTF.ext (CO-RE relocations live there).
    COMMAND ${LLVM_STRIP} -g ${obj}
    DEPENDS ${src} ${bpf_headers} ${VMLINUX_DIR}/vmlinux.h
    COMMENT "BPF ${name}.bpf.c")
  add_custom_command(
    OUTPUT ${skel}
    COMMAND ${BPFTOOL} gen skeleton ${obj} name ${name}_bpf > ${skel}
    DEPENDS ${obj}
    COMMENT "skeleton ${name}.skel.h")
  add_custom_target(${name}_skel DEPENDS ${skel})
  add_dependencies(${name}_skel vmlinux_h)
  set_property(GLOBAL APPEND PROPERTY LISTENQ_BPF_OBJECTS ${obj})
  # The other architecture's object too, compiled only, with its checked-in
  # vmlinux.h (the main tree; not the static, package or fuzz trees): a
  # change that breaks arm64's programs fails the x86 build, and the reverse.
  if(NOT LISTENQ_STATIC AND NOT LISTENQ_DEB AND NOT LISTENQ_FUZZ)
    if(LISTENQ_BPF_ARCH STREQUAL "x86")
      set(other arm64)
    else()
      set(other x86)
    endif()
    set(other_obj ${SKEL_DIR}/${other}/${name}.bpf.o)
    add_custom_command(
      OUTPUT ${other_obj}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${SKEL_DIR}/${other}
      COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_${other} -Wall -Werror
              -I${CMAKE_SOURCE_DIR}/bpf/vmlinux/${other} -I${CMAKE_SOURCE_DIR}/include -I${CMAKE_SOURCE_DIR}/bpf
              -c ${src} -o ${other_obj}
      DEPENDS ${src} ${bpf_headers} ${CMAKE_SOURCE_DIR}/bpf/vmlinux/${other}/vmlinux.h
      COMMENT "BPF ${name}.bpf.c for ${other} (compile check)")
    add_custom_target(${name}_bpf_${other} ALL DEPENDS ${other_obj})
  endif()
endfunction()
