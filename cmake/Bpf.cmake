# Compiles bpf/NAME.bpf.c into a BTF-carrying object and a libbpf skeleton.
#
# vmlinux.h: with LISTENQ_VMLINUX_H=auto (default) it is generated at build
# time from /sys/kernel/btf/vmlinux when the build machine has it, else the
# checked-in bpf/vmlinux/vmlinux.h (dumped from Debian's 6.18 kernel) is
# used. =kernel or =checked-in forces one. CO-RE makes either portable.

find_program(CLANG_BPF NAMES clang-14 clang REQUIRED)
find_program(LLVM_STRIP NAMES llvm-strip-14 llvm-strip REQUIRED)
find_program(BPFTOOL NAMES bpftool PATHS /usr/sbin /sbin REQUIRED)

set(LISTENQ_VMLINUX_H "auto" CACHE STRING "vmlinux.h source: auto, kernel or checked-in")
set(_kernel_btf /sys/kernel/btf/vmlinux)
set(VMLINUX_DIR ${CMAKE_BINARY_DIR}/vmlinux)
if(LISTENQ_VMLINUX_H STREQUAL "kernel" OR (LISTENQ_VMLINUX_H STREQUAL "auto" AND EXISTS ${_kernel_btf}))
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
    COMMAND ${CMAKE_COMMAND} -E copy ${CMAKE_SOURCE_DIR}/bpf/vmlinux/vmlinux.h ${VMLINUX_DIR}/vmlinux.h
    DEPENDS ${CMAKE_SOURCE_DIR}/bpf/vmlinux/vmlinux.h
    COMMENT "vmlinux.h: checked-in copy (bpf/vmlinux/vmlinux.h)")
  set(LISTENQ_VMLINUX_FROM "bpf/vmlinux/vmlinux.h (checked in)")
endif()
message(STATUS "listenq: vmlinux.h from ${LISTENQ_VMLINUX_FROM}")

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
    COMMAND ${CLANG_BPF} -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror
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
endfunction()
