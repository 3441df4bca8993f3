// SPDX-License-Identifier: GPL-2.0
/*
 * The tracer for kernels without global data (before 5.2; 4.14-5.1 with
 * kprobes): trace.bpf.c with its settings in a map (lq_common.bpf.h,
 * LQ_LEGACY). Events go to the perf buffer, listeners are keyed by socket
 * pointer, and the kprobe walk of /proc/net/tcp samples them.
 */
#define LQ_LEGACY 1
#include "trace.bpf.c"
