/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The numbers of listen(), accept() and accept4() on the architectures
 * listenq's BPF programs are built for (bpf/syscalls.bpf.h picks its
 * target's). x86_64: arch/x86/entry/syscalls/syscall_64.tbl (uapi
 * asm/unistd_64.h); arm64: the generic table, include/uapi/asm-generic/
 * unistd.h. tests/unit/syscall_nr_test.cpp checks both against the uapi
 * headers.
 */
#ifndef LISTENQ_SYSCALL_NR_H
#define LISTENQ_SYSCALL_NR_H

#define LQ_NR_X86_64_LISTEN 50
#define LQ_NR_X86_64_ACCEPT 43
#define LQ_NR_X86_64_ACCEPT4 288

#define LQ_NR_ARM64_LISTEN 201
#define LQ_NR_ARM64_ACCEPT 202
#define LQ_NR_ARM64_ACCEPT4 242

#endif
