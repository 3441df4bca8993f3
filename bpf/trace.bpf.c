// SPDX-License-Identifier: GPL-2.0
/*
 * listenq tracer. Per-listener state lives in a hash keyed by socket cookie
 * and netns; rare events (listen, re-listen, clamp, close, first overflow
 * of an interval) go to a ringbuf or a perf buffer. Nothing is sent per
 * packet.
 *
 * One file per fact, each with its tier-3 handler and its fentry and
 * kprobe twins; the hooks that several facts share dispatch from files of
 * their own (set_state.bpf.h, syscalls.bpf.h). User space loads and attaches the programs of one plan
 * (src/plan/), which the kernel may cut down program by program.
 */
#include "lq_common.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#include "fact_enqueue.bpf.h"
#include "fact_listen.bpf.h"
#include "set_state.bpf.h"
#include "fact_accept.bpf.h"
#include "fact_backlog.bpf.h"
#include "syscalls.bpf.h"
#include "fact_syn_path.bpf.h"
#include "fact_ack_path.bpf.h"
#include "fact_synack.bpf.h"
#include "fact_queues.bpf.h"
