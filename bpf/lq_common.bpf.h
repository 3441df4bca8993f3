/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The tracer's maps, settings and shared helpers: included first by
 * trace.bpf.c, then one file per fact (fact_*.bpf.h), each holding its
 * tier-3 handler with its fentry and kprobe twins (the libbpf-tools
 * tcpsynbl pattern). Every program is optional: user space turns off what
 * the kernel refuses (src/plan/facts.cpp names them all).
 *
 * Program kinds differ in what they may call:
 *  - BTF programs (tp_btf, fentry/fexit, iter) call bpf_get_socket_cookie()
 *    and bpf_sk_storage_get();
 *  - raw programs (raw_tp, tracepoint, kprobe) may call neither: they read
 *    skc_cookie (key_of_raw), which exists once anything asked for it.
 * Shared handlers take a compile-time `btf` flag for that.
 */
#ifndef LISTENQ_LQ_COMMON_BPF_H
#define LISTENQ_LQ_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "listener.bpf.h"

#ifndef LQ_LEGACY
/* Load-time settings (enum lq_config): rodata, so the verifier prunes the
 * code of a refused map kind. */
const volatile __u32 lq_config = 0;
#define LQ_CONFIG lq_config

/* The plan's exact facts (enum lq_exact), written by user space once all
 * of the plan's programs are attached. */
volatile __u32 exact_mask = 0;

/* Bumped by user space at each interval: peaks and "first overflow of the
 * interval" restart when an entry sees a new epoch. */
volatile __u32 interval_epoch = 0;

/* Bumped by user space before each sample pass: a pass visits a listener
 * once even when it is found several times (iter/task_file: one socket,
 * many file descriptors). */
volatile __u32 sample_pass = 0;

/* The process whose reads of /proc/net/tcp{,6} are sample passes (the
 * kprobe walk: fact_queues.bpf.h). */
const volatile __u32 walk_tgid = 0;

/* Bumped by user space once per sample (the busy pass counts the samples
 * an idle listener was not read in). */
volatile __u32 sample_tick = 0;

/* A new entry is inserted as this, then filled in place: a listener state
 * is too big for a program's stack. User space skips an entry whose family
 * is still 0. */
const struct lq_listener_state lq_zero_state = {};

static __always_inline __u32 cur_exact_mask(void) { return exact_mask; }
static __always_inline __u32 cur_interval_epoch(void) { return interval_epoch; }
static __always_inline __u32 cur_sample_pass(void) { return sample_pass; }
static __always_inline __u32 cur_walk_tgid(void) { return walk_tgid; }
static __always_inline __u32 cur_sample_tick(void) { return sample_tick; }

static __always_inline long insert_zero_state(void *map, const void *key, __u64 flags)
{
	return bpf_map_update_elem(map, key, &lq_zero_state, flags);
}
#else
/* trace_legacy.bpf.c: no global data before 5.2. The load-time settings
 * are compiled in (perf buffer, no sk_storage, pointer keys), the others
 * live in a map (struct lq_settings). */
#define LQ_CONFIG (LQ_CFG_PERF_BUFFER | LQ_CFG_NO_SK_STORAGE | LQ_CFG_PTR_KEYS)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lq_settings);
} lq_settings SEC(".maps");

/* One zeroed listener state: what a new entry is inserted as. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lq_listener_state);
} lq_zero_state SEC(".maps");

static __always_inline struct lq_settings *settings(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&lq_settings, &zero);
}

static __always_inline __u32 cur_exact_mask(void)
{
	struct lq_settings *s = settings();

	return s ? s->exact_mask : 0;
}

static __always_inline __u32 cur_interval_epoch(void)
{
	struct lq_settings *s = settings();

	return s ? s->interval_epoch : 0;
}

static __always_inline __u32 cur_sample_pass(void)
{
	struct lq_settings *s = settings();

	return s ? s->sample_pass : 0;
}

static __always_inline __u32 cur_walk_tgid(void)
{
	struct lq_settings *s = settings();

	return s ? s->walk_tgid : 0;
}

static __always_inline __u32 cur_sample_tick(void) { return 0; }  /* no busy pass here */

/* A map value as the value argument: 4.19 takes it (not only stack). */
static __always_inline long insert_zero_state(void *map, const void *key, __u64 flags)
{
	__u32 zero = 0;
	struct lq_listener_state *z = bpf_map_lookup_elem(&lq_zero_state, &zero);

	if (!z)
		return -1;
	return bpf_map_update_elem(map, key, z, flags);
}
#endif

static __always_inline int exact(__u32 fact)
{
	return cur_exact_mask() & fact;
}

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

/* The socket the kprobe walk saw last (fact_queues.bpf.h): seq_file shows
 * a /proc/net/tcp row again when it did not fit the page, and a listener
 * the map has no room for must be counted once. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} walk_last SEC(".maps");

/* Rare events (never per packet): the ringbuf, or the perf buffer where the
 * kernel refuses ringbufs (LQ_CFG_PERF_BUFFER; events is then a placeholder). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LQ_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* Listeners closed since user space last read them: the final state, kept
 * for that one read (Tracer::read_listeners deletes what it read), so that
 * the counts of a listener's last interval are not lost with it. Full:
 * LQ_STAT_CLOSED_LOST. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lq_listener_key);
	__type(value, struct lq_listener_state);
} closed SEC(".maps");

/* Child socket -> when it was queued (tiers 1-2), for the accept wait. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} enqueue_ts SEC(".maps");

/* Marks the listeners being tracked, so that a sample walks only them
 * (iter/bpf_sk_storage_map) instead of every TCP hash bucket. Freed with
 * the socket. The value: LQ_TRK_CLOSED once the listener closes (set before
 * its entry is deleted), so that a sample that raced with the close and
 * seeded it again deletes its own insert. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} tracked SEC(".maps");

#define LQ_TRK_CLOSED 1

/* Tier 3's enqueue count (fact_enqueue.bpf.h): each tracked listener holds
 * its own key here (cookie and netns: the child looks its listener up with
 * the value as it is). BPF_F_CLONE: sk_clone_lock() copies it into every
 * child the listener makes (bpf_sk_storage_clone, before the child's
 * LISTEN -> SYN_RECV), so the child names its listener, reuseport groups
 * included. The child's copy is deleted when it is counted. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, struct lq_listener_key);
} parents SEC(".maps");

/* Listeners started before anything gave them a cookie (raw hooks), by
 * socket pointer, until a full sample pass seeds them (struct lq_fresh). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, struct lq_fresh);
} fresh SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

/* The busy listeners (LQ_CFG_BUSY_PASS): the ones the busy pass reads.
 * Small: its walk visits every bucket (8192 cost ~80 us a pass); more busy
 * at once than it holds, and the pass reads every listener. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lq_listener_key);
	__type(value, __u8);
} busy SEC(".maps");

/* A hook counted something for this listener: the next busy pass reads it.
 * A load and a test when it is in the set already (the hot path). */
static __always_inline void mark_busy(const struct lq_listener_key *key, struct lq_listener_state *st)
{
	__u8 one = 1;

	if (!(LQ_CONFIG & LQ_CFG_BUSY_PASS) || *(volatile __u32 *)&st->busy)
		return;
	st->busy = 1;
	if (bpf_map_update_elem(&busy, key, &one, BPF_ANY))
		stat_inc(LQ_STAT_BUSY_FULL);
}

static __always_inline int sk_storage_on(void)
{
	return !(LQ_CONFIG & LQ_CFG_NO_SK_STORAGE);
}

/* The listener's tracked mark (BTF programs only), created if missing. */
static __always_inline __u8 *mark_tracked(struct sock *sk)
{
	if (!sk_storage_on())
		return 0;
	return bpf_sk_storage_get(&tracked, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
}

/* Tier 3 counts enqueues from the children: give the listener (a BTF
 * pointer) its cookie to pass on. */
static __always_inline void mark_parent(struct sock *sk, const struct lq_listener_key *key)
{
	struct lq_listener_key *v;

	if (!sk_storage_on() || !(cur_exact_mask() & LQ_TP_ENQUEUE))
		return;
	v = bpf_sk_storage_get(&parents, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (v && v->cookie != key->cookie) {
		v->cookie = key->cookie;
		v->netns = key->netns;
		v->__pad = 0;
	}
}

/* The listener sk is closing: called before its entry goes. Creates the
 * mark if no sample has yet, so that a first sample racing with this close
 * sees it. */
static __always_inline void mark_closed(struct sock *sk)
{
	__u8 *m = mark_tracked(sk);

	if (m)
		*m |= LQ_TRK_CLOSED;
}

/* floor(log2(v)), 0 for v <= 1, at most LQ_HIST_SLOTS - 1. No loop:
 * bounded loops need 5.3, and the kprobe tier runs on older kernels. */
static __always_inline __u32 log2_slot(__u64 v)
{
	__u32 slot = 0;

	if (v >> 32) {
		v >>= 32;
		slot += 32;
	}
	if (v >> 16) {
		v >>= 16;
		slot += 16;
	}
	if (v >> 8) {
		v >>= 8;
		slot += 8;
	}
	if (v >> 4) {
		v >>= 4;
		slot += 4;
	}
	if (v >> 2) {
		v >>= 2;
		slot += 2;
	}
	if (v >> 1)
		slot += 1;
	return slot < LQ_HIST_SLOTS - 1 ? slot : LQ_HIST_SLOTS - 1;
}

/* log2_slot(v) as an index the verifier can bound on every kernel. The
 * compiler knows log2_slot() <= LQ_HIST_SLOTS - 1 and drops a mask, leaving
 * only the clamp's branch; 4.19's verifier walks both arms of a branch on
 * constants (no is_branch_taken before 4.20) and then sees slot 62 index
 * the histogram. The barrier keeps the mask, which bounds it. */
static __always_inline __u32 hist_slot(__u64 v)
{
	__u32 slot = log2_slot(v);

	barrier_var(slot);
	return slot & (LQ_HIST_SLOTS - 1);
}

/* Peak bookkeeping for the current interval; returns 1 on a new epoch. */
static __always_inline int touch_epoch(const struct lq_listener_key *key)
{
	__u32 now = cur_interval_epoch();
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
		st->hol_wait_peak_us = 0;
		st->flags &= ~LQ_F_OVERFLOWED;
	}
	st->accept_queue = acceptq;
	st->syn_queue = synq;
	if (acceptq > st->accept_queue_peak)
		st->accept_queue_peak = acceptq;
	if (synq > st->syn_queue_peak)
		st->syn_queue_peak = synq;
}

static __always_inline __u32 syn_qlen(const struct sock *sk)
{
	return BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.qlen.counter);
}

static __always_inline void fill_identity(struct lq_listener_state *st, const struct sock *sk)
{
	st->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	st->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	st->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	st->sock_ino = lq_sock_ino(sk);
	st->sk_addr = (__u64)sk;
	if (st->family == AF_INET6)
		BPF_CORE_READ_INTO(&st->addr, sk, __sk_common.skc_v6_rcv_saddr);
	else
		BPF_CORE_READ_INTO((__u32 *)st->addr, sk, __sk_common.skc_rcv_saddr);
}

/* One event to user space. ts 0: now. owner: name the listener's owner
 * rather than the current task (softirq, the sampler). */
static __always_inline void emit(void *ctx, __u32 type, const struct lq_listener_key *key,
				 const struct lq_listener_state *st, __s32 requested, __u32 prev_effective,
				 __u32 path, __u64 ts, int owner)
{
	struct lq_event rec, *e = &rec;

	if (!(LQ_CONFIG & LQ_CFG_PERF_BUFFER))
		e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(LQ_STAT_EVENTS_LOST);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = ts ? ts : bpf_ktime_get_ns();
	e->cookie = key->cookie;
	e->netns = key->netns;
	if (owner) {
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
	if (LQ_CONFIG & LQ_CFG_PERF_BUFFER) {
		if (bpf_perf_event_output(ctx, &perf_events, BPF_F_CURRENT_CPU, e, sizeof(*e)))
			stat_inc(LQ_STAT_EVENTS_LOST);
	} else {
		bpf_ringbuf_submit(e, 0);
	}
}

static __always_inline int ptr_keys(void)
{
	return LQ_CONFIG & LQ_CFG_PTR_KEYS;
}

/* Key of a socket held as a BTF pointer; generates the cookie if needed. */
static __always_inline void key_of(struct lq_listener_key *key, const struct sock *sk)
{
	key->cookie = ptr_keys() ? (__u64)sk : bpf_get_socket_cookie((void *)sk);
	key->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	key->__pad = 0;
}

/* The cookie of a socket held as a raw pointer: it exists once something
 * asked for it (a BTF program, the sampler, inet_diag); 0 otherwise. */
static __always_inline int key_of_raw(struct lq_listener_key *key, const struct sock *sk)
{
	key->cookie = ptr_keys() ? (__u64)sk : BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	key->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	key->__pad = 0;
	return key->cookie != 0;
}

/* The key in a program of either kind (btf: a compile-time constant). */
static __always_inline int key_any(struct lq_listener_key *key, const struct sock *sk, int btf)
{
	if (btf) {
		key_of(key, sk);
		return 1;
	}
	return key_of_raw(key, sk);
}

/* path: enum lq_overflow_path. */
static __always_inline void count_overflow(void *ctx, const struct lq_listener_key *key,
					   struct lq_listener_state *st, __u32 path)
{
	__sync_fetch_and_add(path == LQ_PATH_SYN ? &st->overflow_syn : &st->overflow_ack, 1);
	mark_busy(key, st);
	touch_epoch(key);
	if (!(st->flags & LQ_F_OVERFLOWED)) {
		st->flags |= LQ_F_OVERFLOWED;
		emit(ctx, LQ_EV_OVERFLOW, key, st, st->requested_backlog, 0, path, 0, 1);
	}
}

/* The listener's sk_drops now (a sample, or its close). tcp_listendrop()
 * bumps sk_drops for every listener drop: ACK-path and SYN-path overflows,
 * SYN-queue-full drops. What the exact hooks counted is known; the rest of
 * a rise goes to the path no exact hook covers: the ACK path when
 * tcp_conn_request is hooked, else overflow_syn as a raw "unexplained
 * drops" count that user space splits with the netns counters
 * (model/syn_attribution.h); its event names no path. */
static __always_inline void absorb_drops(void *ctx, const struct lq_listener_key *key,
					 struct lq_listener_state *st, __u32 drops)
{
	__u64 known = st->overflow_ack + st->overflow_syn + st->synq_full_drops;

	if (drops > st->drops && !(exact(LQ_EXACT_SYN_PATH) && exact(LQ_EXACT_ACK_PATH))) {
		__u64 rise = drops - st->drops, seen = known - st->known_seen;

		if (rise > seen) {
			__u64 rest = rise - seen;
			__u32 path = exact(LQ_EXACT_SYN_PATH) ? LQ_PATH_ACK : LQ_PATH_UNKNOWN;

			__sync_fetch_and_add(path == LQ_PATH_ACK ? &st->overflow_ack : &st->overflow_syn, rest);
			known += rest;
			if (!(st->flags & LQ_F_OVERFLOWED)) {
				st->flags |= LQ_F_OVERFLOWED;
				emit(ctx, LQ_EV_OVERFLOW, key, st, st->requested_backlog, 0, path, 0, 1);
			}
		}
	}
	st->known_seen = known;
	st->drops = drops;
}

/* A kprobe/kretprobe pair stashes the entry's arguments for the return.
 * Key: the thread in process context; in softirq on an idle CPU (tid 0 on
 * every CPU) the CPU, which cannot nest the same softirq function. The
 * function id keeps nested hooks apart. */
struct kp_args {
	__u64 sk;
	__u64 child;
	__u64 own_req;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);  /* a missed kretprobe cannot leak */
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct kp_args);
} kp_stash SEC(".maps");

enum { KP_LISTEN_START = 1, KP_QUEUE_ADD, KP_HASHDANCE, KP_ACCEPT, KP_CONN_REQUEST };

static __always_inline __u64 stash_key(__u64 fn)
{
	__u64 id = bpf_get_current_pid_tgid();

	if (!(__u32)id)
		id = (1ULL << 55) | bpf_get_smp_processor_id();
	return (id & ((1ULL << 56) - 1)) | (fn << 56);
}

static __always_inline void stash(__u64 fn, __u64 sk, __u64 child, __u64 own_req)
{
	struct kp_args a = {.sk = sk, .child = child, .own_req = own_req};
	__u64 k = stash_key(fn);

	bpf_map_update_elem(&kp_stash, &k, &a, BPF_ANY);
}

static __always_inline int unstash(__u64 fn, struct kp_args *out)
{
	__u64 k = stash_key(fn);
	struct kp_args *a = bpf_map_lookup_elem(&kp_stash, &k);

	if (!a)
		return 0;
	*out = *a;
	bpf_map_delete_elem(&kp_stash, &k);
	return 1;
}

#endif /* LISTENQ_LQ_COMMON_BPF_H */
