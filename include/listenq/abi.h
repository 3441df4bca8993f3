/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the BPF programs (bpf/) and user space (src/).
 * Plain C, fixed-width types, explicit padding. The C++ side
 * static_asserts every size and offset (src/bpf/record_decode.cpp), so a
 * change here that is not mirrored there fails the build.
 */
#ifndef LISTENQ_ABI_H
#define LISTENQ_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LQ_ABI_VERSION 1
#define LQ_ADDR_LEN 16

/*
 * One listening socket, written by the iter/tcp program with
 * bpf_seq_write() (72 bytes, no header: the stream is an array).
 */
struct lq_listener_rec {
	__u64 cookie;		/* bpf_get_socket_cookie(); == inet_diag idiag_cookie */
	__u64 inode;		/* socket inode, as in /proc/net/tcp and /proc/PID/fd */
	__u32 netns;		/* network namespace inode (sk_net->ns.inum) */
	__u32 uid;		/* owner uid, from the iterator's ctx->uid */
	__u32 ack_backlog;	/* sk_ack_backlog: accept-queue length now */
	__u32 max_ack_backlog;	/* sk_max_ack_backlog: limit after somaxconn clamp */
	__u32 syn_qlen;		/* icsk_accept_queue.qlen: SYN queue (request socks) */
	__u32 syn_young;	/* icsk_accept_queue.young: requests never retransmitted */
	__u32 drops;		/* sk_drops (ListenDrops attributed to this socket) */
	__u32 bound_dev_if;	/* SO_BINDTODEVICE ifindex, 0 if none */
	__u16 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u16 port;		/* local port, host byte order */
	__u8 addr[LQ_ADDR_LEN];	/* local address, network order; IPv4 uses addr[0..3] */
	__u8 reuseport;		/* 1 if in a SO_REUSEPORT group (sk_reuseport_cb set) */
	__u8 ipv6only;		/* IPV6_V6ONLY, meaningful for AF_INET6 only */
	__u8 __pad[2];
};

#define LQ_COMM_LEN 16
#define LQ_HIST_SLOTS 32
#define LQ_BACKLOG_UNKNOWN (-2147483647 - 1) /* listen() not seen (seeded) */

/* Key of the per-listener state map: socket cookie plus netns inode. */
struct lq_listener_key {
	__u64 cookie;
	__u32 netns;
	__u32 __pad;
};

enum lq_listener_flags {
	LQ_F_SEEDED = 1,	/* found by iter/tcp, listen() not seen */
	LQ_F_FRESH = 2,		/* listen start seen, its listen() exit not yet */
	LQ_F_OVERFLOWED = 4,	/* an overflow event was sent this interval */
	LQ_F_GONE = 8,		/* the busy pass found another socket (or none) at sk_addr:
				 * a close no hook saw; left to user space's prune */
};

/* Per-listener state (BPF hash value). Counters only grow while the
 * listener lives; *_peak are reset by user space each interval. */
struct lq_listener_state {
	__u8 addr[LQ_ADDR_LEN];	/* local address, network order */
	__u16 family;
	__u16 port;		/* host order */
	__u32 netns;
	__u32 owner_tgid;	/* process that called listen(); 0 if seeded */
	char owner_comm[LQ_COMM_LEN];
	__s32 requested_backlog; /* listen()'s argument, LQ_BACKLOG_UNKNOWN if unseen */
	__u32 effective_backlog; /* sk_max_ack_backlog */
	__u32 accept_queue;	/* sk_ack_backlog, last seen */
	__u32 accept_queue_peak;
	__u32 syn_queue;	/* icsk_accept_queue.qlen, last seen */
	__u32 syn_queue_peak;
	__u32 drops;		/* sk_drops, last seen */
	__u32 flags;		/* enum lq_listener_flags */
	__u32 sample_pass;	/* the last sample pass that saw it (a pass visits it once) */
	__u64 listen_ts_ns;	/* bpf_ktime_get_ns() at listen (0 if seeded) */
	__u64 enqueued;		/* children added to the accept queue (tiers 1-2) */
	__u64 accepted;		/* children taken by accept() */
	__u64 overflow_syn;	/* SYN dropped: accept queue full */
	__u64 overflow_ack;	/* final ACK dropped: accept queue full */
	__u64 synack_retrans;	/* tcp_retransmit_synack */
	__u64 samples;		/* iter/tcp samples that saw this listener */
	__u64 known_seen;	/* drops the exact hooks had counted at the last sample (sampler bookkeeping) */
	__u64 wait_sum_ns;	/* sum of accept waits (tiers 1-2) */
	__u64 synq_full_drops;	 /* SYN dropped, SYN queue full, no syncookies (TCPReqQFullDrop; tiers 1-2) */
	__u64 synq_full_cookies; /* SYN queue full -> syncookie (TCPReqQFullDoCookies; tiers 1-2) */
	__u64 syncookies_sent;	 /* SYN-ACK carried a syncookie (SyncookiesSent; tiers 1-2) */
	__u32 depth_hist[LQ_HIST_SLOTS]; /* log2 accept-queue depth at enqueue/sample */
	__u32 wait_hist[LQ_HIST_SLOTS];	 /* log2 accept wait in us (tiers 1-2) */
	__u64 sock_ino;		/* socket inode: finds the owners of seeded listeners in /proc */
	__u32 hol_wait_us;	/* head-of-line wait: age of the accept queue's oldest
				 * connection (since its SYN-ACK), at the last sample; 0: empty */
	__u32 hol_wait_peak_us;	/* its peak this interval (sampled) */
	__u32 queue_base;	/* accept queue when tracking began */
	__u32 hol_unknown;	/* samples whose queue head had no SYN-ACK time (syncookie) */
	__u64 accepted_derived;	/* accepts as enqueued + queue_base - accept queue, at the last
				 * sample: a lower bound, like accepted (user space shows the larger) */
	__u64 sk_addr;		/* the listener's struct sock (kernel address): the busy pass
				 * reads it there, after checking its cookie and netns */
	__u32 busy;		/* in the busy map (LQ_CFG_BUSY_PASS): a hook counted something, or
				 * a queue was not empty at its last sample */
	__u32 last_tick;	/* sample tick of its last read (busy pass; 0: never read) */
};

enum lq_event_type {
	LQ_EV_LISTEN = 1,	/* a socket started listening */
	LQ_EV_RELISTEN = 2,	/* listen() again: only the backlog changes */
	LQ_EV_CLAMP = 3,	/* listen(): requested backlog > somaxconn */
	LQ_EV_CLOSE = 4,	/* listener closed; carries its final counters */
	LQ_EV_OVERFLOW = 5,	/* first overflow of the interval */
};

/* Ringbuf record for rare events (never per packet). */
struct lq_event {
	__u64 ts_ns;
	__u64 cookie;
	__u32 netns;
	__u32 tgid;
	char comm[LQ_COMM_LEN];
	__u8 addr[LQ_ADDR_LEN];
	__u16 family;
	__u16 port;
	__u32 type;		/* enum lq_event_type */
	__s32 requested;	/* listen()'s argument (LISTEN/RELISTEN/CLAMP) */
	__u32 effective;	/* backlog limit now */
	__u32 prev_effective;	/* RELISTEN: the limit before */
	__u32 queue;		/* accept queue now */
	__u32 overflow_path;	/* OVERFLOW: enum lq_overflow_path */
	__u32 __pad;
	__u64 accepted;		/* CLOSE: final counters */
	__u64 overflows;
};

/* Where an accept-queue overflow happened. */
enum lq_overflow_path {
	LQ_PATH_UNKNOWN = 0,	/* a listen drop no exact hook explained (tier 3) */
	LQ_PATH_SYN = 1,	/* tcp_conn_request: the SYN was dropped */
	LQ_PATH_ACK = 2,	/* tcp_v{4,6}_syn_recv_sock: the final ACK was dropped */
};

/*
 * The plan, as the BPF side sees it: the facts an exact function hook
 * (tier 1 fentry/fexit or tier 2 kprobe) delivers. Written by user space
 * once every program of the plan is attached; the tier-3 handlers step
 * aside for these bits, so nothing counts twice.
 */
enum lq_exact {
	LQ_EXACT_LISTEN = 1,	/* inet_csk_listen_start/stop */
	LQ_EXACT_ENQUEUE = 2,	/* inet_csk_reqsk_queue_add, inet_csk_complete_hashdance */
	LQ_EXACT_ACCEPT = 4,	/* inet_csk_accept: accepts, accept wait */
	LQ_EXACT_SYN_PATH = 8,	/* tcp_conn_request: SYN-path overflow, SYN queue full */
	LQ_EXACT_ACK_PATH = 16,	/* tcp_v{4,6}_syn_recv_sock: ACK-path overflow */
	LQ_EXACT_BACKLOG = 32,	/* listen() seen at syscall exit (--syscalls): else
				 * the sampler reports a changed backlog as a re-listen */
	LQ_TP_ENQUEUE = 64,	/* tier 3: a child's SYN_RECV -> ESTABLISHED, its
				 * listener named by a cloned sk_storage value */
};

/*
 * Load-time settings (rodata, so the verifier prunes what they turn off:
 * a refused map kind is replaced by a placeholder that is never used).
 */
enum lq_config {
	LQ_CFG_PERF_BUFFER = 1,	/* events go to the perf buffer (ringbuf refused) */
	LQ_CFG_NO_SK_STORAGE = 2, /* sk_storage refused: no tracked marks */
	LQ_CFG_PTR_KEYS = 4,	/* no program can make socket cookies (the
				 * kprobe walk samples): a key's cookie is
				 * the socket pointer, never shown */
	LQ_CFG_BUSY_PASS = 8,	/* the busy pass samples (sample_busy): hooks put
				 * the listeners they count for in the busy map */
};

enum lq_stat {
	LQ_STAT_EVENTS_LOST = 0,	/* ringbuf full */
	LQ_STAT_UNTRACKED = 1,		/* listeners a sample pass found no room for (zeroed per pass) */
	LQ_STAT_FRESH = 2,		/* listeners started with no cookie yet (raw hooks): a full pass seeds them */
	LQ_STAT_CLOSED_LOST = 3,	/* closed listeners the closed map had no room for */
	LQ_STAT_BUSY_FULL = 4,		/* busy listeners the busy map had no room for (an all-pass reads them) */
	LQ_STAT_MAX = 5,
};

/*
 * A listener that a hook without bpf_get_socket_cookie() (raw_tp,
 * tracepoint, kprobe) saw start before anything gave it a cookie: kept by
 * socket pointer until the next full sample pass seeds it.
 */
struct lq_fresh {
	__u64 ts_ns;		/* listen start */
	__u32 tgid;
	__u32 netns;
	char comm[LQ_COMM_LEN];
	__s32 requested;	/* listen()'s argument, LQ_BACKLOG_UNKNOWN until its exit */
	__u32 __pad;
};

/*
 * The run-time settings of trace_legacy.bpf.o (key 0 of its lq_settings
 * array map), for kernels without global data (before 5.2): trace.bpf.o
 * keeps them in .bss and .rodata. Its load-time settings (enum lq_config)
 * are compiled in: perf buffer, no sk_storage, pointer keys.
 */
struct lq_settings {
	__u32 exact_mask;	/* enum lq_exact */
	__u32 interval_epoch;
	__u32 sample_pass;
	__u32 walk_tgid;	/* whose /proc/net/tcp reads are walk passes */
};

/*
 * Settings of walk.bpf.c (key 0 of its walk_config array map: no global
 * data before 5.2). Only reads of /proc/net/tcp{,6} by this process are
 * recorded.
 */
struct lq_walk_config {
	__u32 tgid;		/* the reading process */
	__u32 dropped;		/* listeners the walked map had no room for */
	__u64 last;		/* the socket shown last: seq_file shows a row
				 * again when it did not fit the page */
};

#endif /* LISTENQ_ABI_H */
