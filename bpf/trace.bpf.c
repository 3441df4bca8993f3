// SPDX-License-Identifier: GPL-2.0
/*
 * listenq tracer. Per-listener state lives in a hash keyed by socket cookie
 * and netns; rare events (listen, re-listen, clamp, close, first overflow
 * of an interval) go to a ringbuf. Nothing is sent per packet.
 *
 * Tier 3 (tracepoints only; kernels that refuse trampolines and kprobes):
 *   tp_btf/inet_sock_set_state   listen start (x -> LISTEN), close (LISTEN -> CLOSE)
 *   tp_btf/sys_enter, sys_exit   listen(), accept(), accept4(): fd -> sock via task->files
 *   tp_btf/kfree_skb             reason TCP_LISTEN_OVERFLOW (6.15+): ACK-path overflow
 *   tp_btf/tcp_retransmit_synack SYN-ACK retransmits
 *   iter/tcp sample_listeners    queue depth, SYN queue, sk_drops; seeds old listeners
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "listener.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define NR_LISTEN 50	/* x86_64 */
#define NR_ACCEPT 43
#define NR_ACCEPT4 288

/* Bumped by user space at each interval: peaks and "first overflow of the
 * interval" restart when an entry sees a new epoch. */
volatile __u32 interval_epoch = 0;

/* What an exact function hook (tier 1 fentry/fexit or tier 2 kprobe) covers,
 * set by user space after attach: the tier-3 handlers step aside for exactly
 * these, so nothing counts twice. */
volatile bool exact_listen = false;	  /* listen start/stop */
volatile bool exact_enqueue = false;	  /* inet_csk_reqsk_queue_add/complete_hashdance */
volatile bool exact_accept = false;	  /* inet_csk_accept: accepts, accept wait */
volatile bool exact_conn_request = false; /* tcp_conn_request: SYN-path overflow, SYN queue full */
volatile bool exact_ack_overflow = false; /* tcp_v{4,6}_syn_recv_sock */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);	/* set by user space (--max-listeners) */
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lq_listener_key);
	__type(value, struct lq_listener_state);
} listeners SEC(".maps");

/* Epoch each entry last saw (kept apart so the state stays an ABI record). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lq_listener_key);
	__type(value, __u32);
} epochs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LQ_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Child socket -> when it was queued (tier 1), for the accept wait. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} enqueue_ts SEC(".maps");

/* Marks the listeners being tracked, so that a sample walks only them
 * (iter/bpf_sk_storage_map) instead of every TCP hash bucket (iter/tcp:
 * 262144 ehash buckets on a 6.18 host, ~7 ms a walk). Freed with the socket. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} tracked SEC(".maps");

/* The mark's value: LQ_TRK_CLOSED once the listener closes (set before its
 * entry is deleted), so that a sample that raced with the close and seeded
 * it again deletes its own insert. */
#define LQ_TRK_CLOSED 1

static __always_inline __u8 *mark_tracked(struct sock *sk)
{
	return bpf_sk_storage_get(&tracked, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
}

/* listen()/accept() arguments between sys_enter and sys_exit. */
struct pending_call {
	__u32 nr;
	__s32 fd;
	__s64 arg;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct pending_call);
} pending SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The listener sk (a BTF pointer) is closing: called before its entry goes.
 * Creates the mark if no sample has yet, so that a first sample racing with
 * this close sees it. */
static __always_inline void mark_closed(struct sock *sk)
{
	__u8 *m = bpf_sk_storage_get(&tracked, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);

	if (m)
		*m |= LQ_TRK_CLOSED;
}

static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

	for (int i = 0; i < LQ_HIST_SLOTS - 1; i++) {
		if (v <= 1)
			break;
		v >>= 1;
		slot++;
	}
	return slot;
}

/* Peak bookkeeping for the current interval; returns 1 on a new epoch. */
static __always_inline int touch_epoch(const struct lq_listener_key *key)
{
	__u32 now = interval_epoch;
	__u32 *seen = bpf_map_lookup_elem(&epochs, key);

	if (seen && *seen == now)
		return 0;
	bpf_map_update_elem(&epochs, key, &now, BPF_ANY);
	return 1;
}

static __always_inline void observe_queues(const struct lq_listener_key *key, struct lq_listener_state *st,
					   __u32 acceptq, __u32 synq)
{
	if (touch_epoch(key)) {
		st->accept_queue_peak = acceptq;
		st->syn_queue_peak = synq;
		st->flags &= ~LQ_F_OVERFLOWED;
	}
	st->accept_queue = acceptq;
	st->syn_queue = synq;
	if (acceptq > st->accept_queue_peak)
		st->accept_queue_peak = acceptq;
	if (synq > st->syn_queue_peak)
		st->syn_queue_peak = synq;
}

static __always_inline void fill_identity(struct lq_listener_state *st, const struct sock *sk)
{
	st->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	st->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	st->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	st->sock_ino = lq_sock_ino(sk);
	if (st->family == AF_INET6)
		BPF_CORE_READ_INTO(&st->addr, sk, __sk_common.skc_v6_rcv_saddr);
	else
		BPF_CORE_READ_INTO((__u32 *)st->addr, sk, __sk_common.skc_rcv_saddr);
}

static __always_inline void emit(__u32 type, const struct lq_listener_key *key, const struct lq_listener_state *st,
				 __s32 requested, __u32 prev_effective, __u32 path)
{
	struct lq_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e) {
		stat_inc(LQ_STAT_EVENTS_LOST);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->cookie = key->cookie;
	e->netns = key->netns;
	if (type == LQ_EV_OVERFLOW) {
		/* Overflows happen in softirq or are found by the sampler: name
		 * the listener's owner, not whoever runs now. */
		e->tgid = st->owner_tgid;
		__builtin_memcpy(e->comm, st->owner_comm, sizeof(e->comm));
	} else {
		e->tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	}
	__builtin_memcpy(e->addr, st->addr, sizeof(e->addr));
	e->family = st->family;
	e->port = st->port;
	e->type = type;
	e->requested = requested;
	e->effective = st->effective_backlog;
	e->prev_effective = prev_effective;
	e->queue = st->accept_queue;
	e->overflow_path = path;
	e->accepted = st->accepted;
	e->overflows = st->overflow_syn + st->overflow_ack;
	bpf_ringbuf_submit(e, 0);
}

/* Key of a socket held as a BTF pointer; generates the cookie if needed. */
static __always_inline void key_of(struct lq_listener_key *key, const struct sock *sk)
{
	key->cookie = bpf_get_socket_cookie((void *)sk);
	key->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	key->__pad = 0;
}

/* The cookie of a socket we only hold as a raw pointer: it was generated
 * when the listener was first seen (set_state or iter), so skc_cookie is set. */
static __always_inline int key_of_raw(struct lq_listener_key *key, const struct sock *sk)
{
	key->cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	key->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	key->__pad = 0;
	return key->cookie != 0;
}

/* A listener the map has no room for is counted by the next sample. */
static __always_inline void start_listener(const struct sock *sk, const struct lq_listener_key *kp)
{
	struct lq_listener_key key = *kp;
	struct lq_listener_state init = {};

	fill_identity(&init, sk);
	init.owner_tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(init.owner_comm, sizeof(init.owner_comm));
	init.requested_backlog = LQ_BACKLOG_UNKNOWN;
	init.effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	init.flags = LQ_F_FRESH;
	init.listen_ts_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&listeners, &key, &init, BPF_ANY))
		return;
	emit(LQ_EV_LISTEN, &key, &init, LQ_BACKLOG_UNKNOWN, 0, 0);
}

/* The final counters leave with the CLOSE event. */
static __always_inline void stop_listener(const struct sock *sk, const struct lq_listener_key *kp)
{
	struct lq_listener_key key = *kp;
	struct lq_listener_state *st;

	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	st->accept_queue = BPF_CORE_READ(sk, sk_ack_backlog);
	emit(LQ_EV_CLOSE, &key, st, st->requested_backlog, 0, 0);
	bpf_map_delete_elem(&listeners, &key);
	bpf_map_delete_elem(&epochs, &key);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, const struct sock *sk, int oldstate, int newstate)
{
	struct lq_listener_key key = {};

	/* Hot: every TCP state change of every socket. States first (arguments,
	 * no memory read), so nearly all calls end here. */
	if (newstate != TCP_LISTEN && !(oldstate == TCP_LISTEN && newstate == TCP_CLOSE))
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP)
		return 0;
	if (newstate == TCP_LISTEN)
		mark_tracked((struct sock *)sk);
	else
		mark_closed((struct sock *)sk);
	if (exact_listen) {
		/* Tier 2 keys listeners by skc_cookie (kprobes cannot call
		 * bpf_get_socket_cookie): generate it here, before the
		 * kretprobe on inet_csk_listen_start reads it. */
		if (newstate == TCP_LISTEN)
			bpf_get_socket_cookie((void *)sk);
		return 0;
	}
	/* A child is cloned from its listener in state LISTEN and then moves
	 * LISTEN -> SYN_RECV (with the listener's cookie on 6.1/6.12): only
	 * LISTEN -> CLOSE is the listener itself going away. */
	if (newstate == TCP_LISTEN) {
		key_of(&key, sk);
		start_listener(sk, &key);
	} else if (oldstate == TCP_LISTEN && newstate == TCP_CLOSE) {
		key_of(&key, sk);
		stop_listener(sk, &key);
	}
	return 0;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct pending_call call = {};
	__u64 tid;

	if (id != NR_LISTEN && id != NR_ACCEPT && id != NR_ACCEPT4)
		return 0;
	tid = bpf_get_current_pid_tgid();
	call.nr = id;
	call.fd = BPF_CORE_READ(regs, di);
	call.arg = BPF_CORE_READ(regs, si);
	bpf_map_update_elem(&pending, &tid, &call, BPF_ANY);
	return 0;
}

/* fd of the current task -> struct sock, or NULL if not a socket. */
static __always_inline struct sock *sock_of_fd(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct file **fds;
	struct file *f = NULL;
	struct socket *so;

	if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	/* A socket's file points back at it (net/socket.c sock_alloc_file). */
	if (!so || BPF_CORE_READ(so, file) != f)
		return NULL;
	return BPF_CORE_READ(so, sk);
}

/* listen() returned 0 on a socket we track: record requested/effective,
 * tell a re-listen from the first listen, flag the somaxconn clamp. */
static __always_inline void listen_returned(struct sock *sk, __s32 backlog)
{
	struct lq_listener_key key;
	struct lq_listener_state *st;
	__u32 prev;

	if (!key_of_raw(&key, sk))
		return;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	prev = st->effective_backlog;
	st->requested_backlog = backlog;
	st->effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	if (st->flags & LQ_F_FRESH)
		st->flags &= ~LQ_F_FRESH;
	else
		emit(LQ_EV_RELISTEN, &key, st, backlog, prev, 0);
	/* __sys_listen: (unsigned)backlog > somaxconn -> somaxconn */
	if ((__u32)backlog > st->effective_backlog)
		emit(LQ_EV_CLAMP, &key, st, backlog, prev, 0);
}

/* accept() took a child off the queue; child is 0 when unknown (tier 3). */
static __always_inline void accepted(struct sock *sk, __u64 child)
{
	struct lq_listener_key key;
	struct lq_listener_state *st;
	__u64 *ts;

	/* raw cookie: sys_exit and kretprobe hold sk as a plain pointer; the
	 * listener's cookie exists since it was first seen */
	if (!key_of_raw(&key, sk))
		return;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	__sync_fetch_and_add(&st->accepted, 1);
	observe_queues(&key, st, BPF_CORE_READ(sk, sk_ack_backlog),
		       BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.qlen.counter));
	if (!child)
		return;
	ts = bpf_map_lookup_elem(&enqueue_ts, &child);
	if (!ts)
		return;
	__u64 wait = bpf_ktime_get_ns() - *ts;

	bpf_map_delete_elem(&enqueue_ts, &child);
	st->wait_sum_ns += wait;
	st->wait_hist[log2_slot(wait / 1000) & (LQ_HIST_SLOTS - 1)]++;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	struct pending_call *call;
	struct sock *sk;
	__u64 tid;
	__u32 nr;
	__s32 fd;
	__s64 arg;

	/* Hot: every syscall of every task. The number is in the registers
	 * (orig_ax on x86_64): no map lookup unless it is one of ours. */
	nr = regs->orig_ax;
	if (nr != NR_LISTEN && nr != NR_ACCEPT && nr != NR_ACCEPT4)
		return 0;
	tid = bpf_get_current_pid_tgid();
	call = bpf_map_lookup_elem(&pending, &tid);
	if (!call)
		return 0;
	nr = call->nr;
	fd = call->fd;
	arg = call->arg;
	bpf_map_delete_elem(&pending, &tid);
	/* listen() stays here in every tier: inet_listen/__inet_listen_sk get the
	 * backlog after __sys_listen's somaxconn clamp, so only the syscall
	 * argument is the requested value. */
	if (ret < 0 || (nr != NR_LISTEN && exact_accept))
		return 0;
	sk = sock_of_fd(fd);
	if (!sk)
		return 0;
	if (nr == NR_LISTEN)
		listen_returned(sk, (__s32)arg);
	else
		accepted(sk, 0);
	return 0;
}

/* path: 1 SYN (tcp_conn_request), 2 ACK (syn_recv_sock). */
static __always_inline void count_overflow(const struct lq_listener_key *key, struct lq_listener_state *st,
					   __u32 path)
{
	__sync_fetch_and_add(path == 1 ? &st->overflow_syn : &st->overflow_ack, 1);
	touch_epoch(key);
	if (!(st->flags & LQ_F_OVERFLOWED)) {
		st->flags |= LQ_F_OVERFLOWED;
		emit(LQ_EV_OVERFLOW, key, st, st->requested_backlog, 0, path);
	}
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	struct lq_listener_key key;
	struct lq_listener_state *st;

	if (exact_ack_overflow ||
	    !bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) ||
	    reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW) || !rx_sk)
		return 0;
	if (!key_of_raw(&key, rx_sk))
		return 0;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return 0;
	count_overflow(&key, st, 2);
	return 0;
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	struct lq_listener_key key = {};
	struct lq_listener_state *st;

	key_of(&key, sk);
	st = bpf_map_lookup_elem(&listeners, &key);
	if (st)
		__sync_fetch_and_add(&st->synack_retrans, 1);
	return 0;
}

/* One listener's sample: queue depth, SYN queue and sk_drops; listeners
 * older than listenq are seeded here. */
static __always_inline void sample_one(struct sock *sk, __u8 *mark)
{
	struct lq_listener_key key = {};
	struct lq_listener_state *st;
	__u32 drops, acceptq;
	__u64 known;

	key_of(&key, sk);
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st) {
		struct lq_listener_state init = {};

		fill_identity(&init, sk);
		init.requested_backlog = LQ_BACKLOG_UNKNOWN;
		init.effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
		init.drops = lq_sk_drops(sk);
		init.flags = LQ_F_SEEDED;
		if (bpf_map_update_elem(&listeners, &key, &init, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&listeners, &key)) {
			/* map full: user space zeroes this before each pass */
			stat_inc(LQ_STAT_UNTRACKED);
			return;
		}
		/* A close that ran meanwhile deleted before this insert: undo
		 * it. The close marks first, and it sets the state to CLOSE
		 * before listen_stop (fentry tier), so one of the two shows. */
		if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN || !mark || (*mark & LQ_TRK_CLOSED)) {
			bpf_map_delete_elem(&listeners, &key);
			return;
		}
		st = bpf_map_lookup_elem(&listeners, &key);
		if (!st)
			return;
	}
	acceptq = BPF_CORE_READ(sk, sk_ack_backlog);
	observe_queues(&key, st, acceptq,
		       BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.qlen.counter));
	st->effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	if (!exact_enqueue)
		st->depth_hist[log2_slot(acceptq) & (LQ_HIST_SLOTS - 1)]++;
	st->samples++;
	drops = lq_sk_drops(sk);
	/* tcp_listendrop() bumps sk_drops for every listener drop: ACK-path and
	 * SYN-path overflows, SYN-queue-full drops. What the exact hooks counted
	 * is known; the rest of a rise goes to the path no exact hook covers:
	 * the ACK path when tcp_conn_request is hooked, else overflow_syn as a
	 * raw "unexplained drops" count that user space splits with the netns
	 * counters (model/syn_attribution.h); its event names no path (0). */
	known = st->overflow_ack + st->overflow_syn + st->synq_full_drops;
	if (drops > st->drops && !(exact_conn_request && exact_ack_overflow)) {
		__u64 rise = drops - st->drops, seen = known - st->known_seen;

		if (rise > seen) {
			__u64 rest = rise - seen;
			__u32 path = exact_conn_request ? 2 : 0;

			__sync_fetch_and_add(path == 2 ? &st->overflow_ack : &st->overflow_syn, rest);
			known += rest;
			if (!(st->flags & LQ_F_OVERFLOWED)) {
				st->flags |= LQ_F_OVERFLOWED;
				emit(LQ_EV_OVERFLOW, &key, st, st->requested_backlog, 0, path);
			}
		}
	}
	st->known_seen = known;
	st->drops = drops;
}

/* Full pass over the caller's netns (every TCP hash bucket): at start and
 * now and then, to find listeners that no hook saw start. */
SEC("iter/tcp")
int sample_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc || skc->skc_state != TCP_LISTEN)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sample_one((struct sock *)tp, mark_tracked((struct sock *)tp));
	return 0;
}

/* The regular pass, every --sample-ms: only the tracked listeners (any
 * netns), whatever the size of the TCP hash tables. */
SEC("iter/bpf_sk_storage_map")
int sample_tracked(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	__u8 *mark = ctx->value;

	if (!sk || !mark || sk->__sk_common.skc_state != TCP_LISTEN || (*mark & LQ_TRK_CLOSED))
		return 0;
	sample_one(sk, mark);
	return 0;
}

#include "trace_hooks.bpf.h"
#include "trace_fentry.bpf.h"
#include "trace_kprobe.bpf.h"
