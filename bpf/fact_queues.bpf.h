/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "queues": each listener's accept queue, SYN queue and sk_drops now,
 * read by sample passes that user space runs every --sample-ms. They also
 * seed listeners older than listenq (and those started under raw hooks).
 *   regular pass  iter/bpf_sk_storage_map over the tracked marks: only the
 *                 tracked listeners, in every netns
 *   full pass     iter/tcp, in each netns (every TCP hash bucket), else
 *                 the kprobe walk of /proc/net/tcp{,6} in each netns, else
 *                 iter/task_file (every process's sockets, all netns)
 * Without the tracked-marks iterator every pass is a full one.
 */
#ifndef LISTENQ_FACT_QUEUES_BPF_H
#define LISTENQ_FACT_QUEUES_BPF_H

/* A listener this pass found that is not in the map yet: seeded, or taken
 * over from `fresh` (started under a raw hook). 0: skip it. */
static __always_inline struct lq_listener_state *seed(void *ctx, struct sock *sk, const __u8 *mark,
						      const struct lq_listener_key *key, int btf)
{
	struct lq_listener_state *st;
	__u64 ptr = (__u64)sk;
	struct lq_fresh *f;

	if (insert_zero_state(&listeners, key, BPF_NOEXIST)) {
		st = bpf_map_lookup_elem(&listeners, key);
		if (!st)  /* map full: user space zeroes this before each pass */
			stat_inc(LQ_STAT_UNTRACKED);
		return st;  /* or another program made it meanwhile */
	}
	st = bpf_map_lookup_elem(&listeners, key);
	if (!st)
		return 0;
	/* A close that ran meanwhile deleted before this insert: undo it. The
	 * close marks first, and sets the state to CLOSE before listen_stop
	 * (fentry tier), so one of the two shows. */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN || (mark && (*mark & LQ_TRK_CLOSED)) ||
	    (btf && !mark && sk_storage_on())) {
		bpf_map_delete_elem(&listeners, key);
		return 0;
	}
	st->effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	st->queue_base = BPF_CORE_READ(sk, sk_ack_backlog);
	st->drops = lq_sk_drops(sk);
	st->requested_backlog = LQ_BACKLOG_UNKNOWN;
	st->flags = LQ_F_SEEDED;
	f = bpf_map_lookup_elem(&fresh, &ptr);
	if (f && f->netns == key->netns) {
		st->owner_tgid = f->tgid;
		__builtin_memcpy(st->owner_comm, f->comm, sizeof(st->owner_comm));
		st->listen_ts_ns = f->ts_ns;
		st->requested_backlog = f->requested;
		/* its listen() has not returned yet: that return is no re-listen */
		st->flags = f->requested == LQ_BACKLOG_UNKNOWN ? LQ_F_FRESH : 0;
		/* seen starting: its drops since then are its own */
		st->drops = 0;
	}
	fill_identity(st, sk);
	if (st->flags & LQ_F_SEEDED)
		return st;
	bpf_map_delete_elem(&fresh, &ptr);
	emit(ctx, LQ_EV_LISTEN, key, st, LQ_BACKLOG_UNKNOWN, 0, 0, st->listen_ts_ns, 1);
	if (st->requested_backlog != LQ_BACKLOG_UNKNOWN && (__u32)st->requested_backlog > st->effective_backlog)
		emit(ctx, LQ_EV_CLAMP, key, st, st->requested_backlog, 0, 0, 0, 1);
	return st;
}

/* Head-of-line wait. The accept queue is a FIFO (rskq_accept_head, linked
 * by dl_next): its head has waited longest. snt_synack is the head's first
 * SYN-ACK time in us on the TCP clock (tcp_clock_us(): ktime_get_ns(), the
 * clock of bpf_ktime_get_ns(); tests compare it with a known wait on every
 * kernel). So the wait counts from the SYN-ACK: the handshake's round trip
 * is in it. A syncookie request has no SYN-ACK time (0): the enqueue time
 * that tiers 1-2 record stands in, else the head's wait is unknown. Read
 * without the queue's lock: a head accepted meanwhile reads as a stale or
 * failed probe read, never a fault. */
static __always_inline void sample_hol(struct lq_listener_state *st, struct sock *sk)
{
	struct request_sock *req;
	__u64 sent = 0, now_us = bpf_ktime_get_ns() / 1000, child;
	__u64 *ts;
	__u32 wait = 0;

	req = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.rskq_accept_head);
	if (req) {
		sent = BPF_CORE_READ((struct tcp_request_sock *)req, snt_synack);
		if (!sent) {
			child = (__u64)BPF_CORE_READ(req, sk);
			ts = bpf_map_lookup_elem(&enqueue_ts, &child);
			if (ts)
				sent = *ts / 1000;
		}
		if (!sent)
			st->hol_unknown++;
		else if (now_us > sent)
			wait = now_us - sent > 0xffffffffULL ? 0xffffffffU : (__u32)(now_us - sent);
	}
	st->hol_wait_us = wait;
	if (wait > st->hol_wait_peak_us)
		st->hol_wait_peak_us = wait;
}

/* The counters the event hooks raise (each with mark_busy): unchanged
 * across a read that saw both queues empty, the listener is idle. */
static __always_inline __u64 activity(const struct lq_listener_state *st)
{
	return *(volatile __u64 *)&st->enqueued + st->accepted + st->overflow_syn + st->overflow_ack +
	       st->synack_retrans + st->synq_full_drops + st->synq_full_cookies;
}

/* One listener's sample: queue depth, SYN queue and sk_drops, into its
 * entry st (key: its key, on this stack). btf: a BTF program (a
 * compile-time constant); the kprobe walk has no marks, and its keys are
 * socket pointers (LQ_CFG_PTR_KEYS). */
static __always_inline void sample_state(void *ctx, struct sock *sk, const struct lq_listener_key *key,
					 struct lq_listener_state *st, __u32 pass, int btf)
{
	__u32 acceptq, backlog, prev, tick = cur_sample_tick(), skipped;
	__u64 enq;

	st->sample_pass = pass;
	/* With the busy pass, every sample reads the busy map's listeners:
	 * the samples a listener was not read in saw it idle, and empty. */
	if ((LQ_CONFIG & LQ_CFG_BUSY_PASS) && st->last_tick && tick > st->last_tick + 1) {
		skipped = tick - st->last_tick - 1;
		if (!exact(LQ_EXACT_ENQUEUE))
			st->depth_hist[0] += skipped;
		st->samples += skipped;
	}
	st->last_tick = tick;
	if (btf)
		mark_parent(sk, key);
	/* Enqueues before the queue: a child is queued before it is counted,
	 * so accepts derived from the two are never ahead of the truth. */
	enq = *(volatile __u64 *)&st->enqueued;
	acceptq = BPF_CORE_READ(sk, sk_ack_backlog);
	observe_queues(key, st, acceptq, syn_qlen(sk));
	sample_hol(st, sk);
	if (exact(LQ_EXACT_ENQUEUE | LQ_TP_ENQUEUE)) {
		/* Every child counted is in the queue or was accepted (a closing
		 * listener's entry goes with its queue). */
		__s64 derived = (__s64)enq + st->queue_base - acceptq;

		if (derived > (__s64)st->accepted_derived)
			st->accepted_derived = derived;
	}
	/* Without listen()'s exit (--syscalls), a re-listen shows as a changed
	 * backlog; one with the same backlog changes nothing and is not seen. */
	backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	/* Read once: a hook on another CPU may write it meanwhile, and the
	 * event must carry the value compared. */
	prev = *(volatile __u32 *)&st->effective_backlog;
	if (backlog != prev && !exact(LQ_EXACT_BACKLOG)) {
		st->effective_backlog = backlog;  /* the event carries the new one */
		emit(ctx, LQ_EV_RELISTEN, key, st, LQ_BACKLOG_UNKNOWN, prev, 0, 0, 1);
	} else {
		st->effective_backlog = backlog;
	}
	if (!exact(LQ_EXACT_ENQUEUE))
		st->depth_hist[hist_slot(acceptq)]++;
	st->samples++;
	absorb_drops(ctx, key, st, lq_sk_drops(sk));
	if (acceptq || st->syn_queue)
		mark_busy(key, st);  /* read each sample until both are empty */
}

static __always_inline void sample_one(void *ctx, struct sock *sk, __u8 *mark, int btf)
{
	struct lq_listener_key key = {};
	struct lq_listener_state *st;
	__u32 pass;

	if (!key_any(&key, sk, btf))
		return;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		st = seed(ctx, sk, mark, &key, btf);
	pass = cur_sample_pass();
	/* family 0: a listen hook on another CPU has inserted it and is filling
	 * it (its backlog not written yet): that hook has it, not this pass. */
	if (!st || !st->family || st->sample_pass == pass)
		return;
	sample_state(ctx, sk, &key, st, pass, btf);
}

/* Full pass over the caller's netns (every TCP hash bucket): at start and
 * now and then, to find listeners that no hook saw start. */
SEC("iter/tcp")
int sample_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	int state;

	if (!skc)
		return 0;
	/* The listening hash comes first (bpf_iter_tcp_batch): LISTEN, or
	 * CLOSE while one closes. The first other socket starts the
	 * established hash, which holds no listener: end the pass there (1:
	 * read() gets EAGAIN) rather than visit every connection and
	 * TIME_WAIT of the netns. */
	state = skc->skc_state;
	if (state != TCP_LISTEN)
		return state == TCP_CLOSE ? 0 : 1;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	sample_one(ctx, (struct sock *)tp, mark_tracked((struct sock *)tp), 1);
	return 0;
}

/* The regular pass: only the tracked listeners (any netns), whatever the
 * size of the TCP hash tables. */
SEC("iter/bpf_sk_storage_map")
int sample_tracked(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	__u8 *mark = ctx->value;

	if (!sk || !mark || sk->__sk_common.skc_state != TCP_LISTEN || (*mark & LQ_TRK_CLOSED))
		return 0;
	sample_one(ctx, sk, mark, 1);
	return 0;
}

/* Full pass over every process's open sockets, in every netns at once:
 * where iter/tcp is refused. A listener no process holds as a file (an
 * in-kernel server) is not found this way. */
SEC("iter/task_file")
int sample_files(struct bpf_iter__task_file *ctx)
{
	struct sock *sk = lq_tcp_sock_of_file(ctx->file);

	if (sk && sk->__sk_common.skc_state == TCP_LISTEN)
		sample_one(ctx, sk, mark_tracked(sk), 1);
	return 0;
}

/* sample_files for verifiers that take socket->sk as untrusted (6.18
 * -fc-v1272: "R2 type=untrusted_ptr_" at bpf_sk_storage_get, and no
 * bpf_get_socket_cookie or bpf_skc_to_tcp_sock on it either): the same
 * walk, read as the kprobe walk reads (the key from skc_cookie, no tracked
 * mark). A listener whose cookie nothing has asked for yet is skipped:
 * iter/tcp's passes (the first, then every 5 s) and the listen hooks give
 * every listener one, so the plan pairs this with sample_listeners. */
SEC("iter/task_file")
int sample_files_raw(struct bpf_iter__task_file *ctx)
{
	struct sock *sk = lq_tcp_sock_of_file(ctx->file);

	if (sk && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN)
		sample_one(ctx, sk, 0, 0);
	return 0;
}

#ifndef LQ_LEGACY
struct busy_walk {
	void *ctx;
	__u32 pass;
	__u32 tick;  /* a listener is read once a sample (a walk may have read it) */
};

/* The socket at the entry's address is still this listener. TCP sockets
 * are SLAB_TYPESAFE_BY_RCU: the memory of a closed one is a socket again
 * or unmapped, and a probe read of either is safe; the cookie and netns
 * tell them apart. Not so: the entry is flagged gone (a close no hook
 * saw), for user space to prune. */
static __always_inline struct sock *listener_at(const struct lq_listener_key *key, struct lq_listener_state *st)
{
	struct sock *sk = (struct sock *)st->sk_addr;
	struct lq_listener_key now = {};

	if (sk && BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN && key_of_raw(&now, sk) &&
	    now.cookie == key->cookie && now.netns == key->netns)
		return sk;
	st->flags |= LQ_F_GONE;
	return 0;
}

/* One listener of the busy map: read; idle (both queues empty, nothing
 * counted meanwhile), it leaves the map. The hooks count before they test
 * st->busy, and this clears it before it looks again: a count in between
 * is seen here, or puts the listener back. */
static long sample_busy_one(struct bpf_map *map, const struct lq_listener_key *k, __u8 *v, struct busy_walk *w)
{
	struct lq_listener_key key = *k;
	struct lq_listener_state *st = bpf_map_lookup_elem(&listeners, &key);
	struct sock *sk;
	__u64 seen;

	if (!st || (st->flags & LQ_F_GONE)) {
		bpf_map_delete_elem(&busy, &key);
		if (st)
			st->busy = 0;
		return 0;
	}
	seen = activity(st);
	if (st->family && st->last_tick != w->tick) {
		sk = listener_at(&key, st);
		if (!sk) {
			bpf_map_delete_elem(&busy, &key);
			st->busy = 0;
			return 0;
		}
		sample_state(w->ctx, sk, &key, st, w->pass, 0);
	}
	if (st->accept_queue || st->syn_queue || activity(st) != seen)
		return 0;
	bpf_map_delete_elem(&busy, &key);
	*(volatile __u32 *)&st->busy = 0;
	if (activity(st) != seen)
		mark_busy(&key, st);
	return 0;
}

/* One listener of the listeners map, in the pass that reads them all. */
static long sample_any(struct bpf_map *map, const struct lq_listener_key *k, struct lq_listener_state *st,
		       struct busy_walk *w)
{
	struct lq_listener_key key = *k;
	struct sock *sk;

	if (!st->family || st->last_tick == w->tick || (st->flags & LQ_F_GONE))
		return 0;
	sk = listener_at(&key, st);
	if (sk)
		sample_state(w->ctx, sk, &key, st, w->pass, 0);
	return 0;
}

/* The regular pass where bpf_for_each_map_elem exists (5.13): user space
 * runs it by BPF_PROG_TEST_RUN each sample. ctx[0] 0: the busy map's
 * listeners (a hook counted something for them, or a queue was not empty
 * at their last read); 1: every listener of the map (every few seconds:
 * a re-listen or a drop no hook counts, a close no hook saw). */
SEC("raw_tp")
int sample_busy(__u64 *ctx)
{
	struct busy_walk w = {.ctx = ctx, .pass = cur_sample_pass(), .tick = cur_sample_tick()};

	if (ctx[0])
		bpf_for_each_map_elem(&listeners, sample_any, &w, 0);
	else
		bpf_for_each_map_elem(&busy, sample_busy_one, &w, 0);
	return 0;
}
#endif

/* Full pass of a netns where no iterator loads (before 5.9, no kernel BTF,
 * refused): the kernel walks its TCP tables while listenq reads
 * /proc/net/tcp{,6} (see walk.bpf.c); this process's reads only. */
static __always_inline void sample_walked(void *ctx, struct sock *sk)
{
	__u32 zero = 0;
	__u64 *last;

	if ((__u64)sk <= 1 || bpf_get_current_pid_tgid() >> 32 != cur_walk_tgid())
		return;  /* 1: SEQ_START_TOKEN, the header row */
	last = bpf_map_lookup_elem(&walk_last, &zero);
	if (!last || *last == (__u64)sk)
		return;  /* the same row shown again */
	*last = (__u64)sk;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) == TCP_LISTEN)
		sample_one(ctx, sk, 0, 0);
}

SEC("kprobe/tcp4_seq_show")
int BPF_KPROBE(sample_walk4, struct seq_file *seq, void *v)
{
	sample_walked(ctx, v);
	return 0;
}

SEC("kprobe/tcp6_seq_show")
int BPF_KPROBE(sample_walk6, struct seq_file *seq, void *v)
{
	sample_walked(ctx, v);
	return 0;
}

#endif /* LISTENQ_FACT_QUEUES_BPF_H */
