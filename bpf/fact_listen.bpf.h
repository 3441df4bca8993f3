/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "listen": a socket starts or stops listening.
 *   tier 1  fexit/inet_csk_listen_start, fentry/inet_csk_listen_stop
 *   tier 2  kprobe+kretprobe/inet_csk_listen_start, kprobe/inet_csk_listen_stop
 *   tier 3  inet_sock_set_state (x -> LISTEN, LISTEN -> CLOSE) as tp_btf,
 *           else raw_tp, else the classic tracepoint: set_state.bpf.h
 *           dispatches to listener_started() and listener_stopping()
 *   floor   the sampler's full passes find listeners (up to 5 s late)
 * A listener started with no cookie (raw hooks) waits in `fresh` until a
 * full sample pass seeds it with its owner and listen() argument.
 */
#ifndef LISTENQ_FACT_LISTEN_BPF_H
#define LISTENQ_FACT_LISTEN_BPF_H

/* A listener the map has no room for is counted by the next sample. */
static __always_inline void start_listener(void *ctx, const struct sock *sk, const struct lq_listener_key *key)
{
	struct lq_listener_state *st;

	if (insert_zero_state(&listeners, key, BPF_ANY))
		return;
	st = bpf_map_lookup_elem(&listeners, key);
	if (!st)
		return;
	st->owner_tgid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(st->owner_comm, sizeof(st->owner_comm));
	st->requested_backlog = LQ_BACKLOG_UNKNOWN;
	st->effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	st->flags = LQ_F_FRESH;
	st->listen_ts_ns = bpf_ktime_get_ns();
	fill_identity(st, sk);
	mark_busy(key, st);  /* its first read at the next sample */
	emit(ctx, LQ_EV_LISTEN, key, st, LQ_BACKLOG_UNKNOWN, 0, 0, st->listen_ts_ns, 0);
}

/* The final counters leave with the CLOSE event, and the final state in
 * the closed map for user space's next read: drops since the last sample
 * included. */
static __always_inline void stop_listener(void *ctx, const struct sock *sk, const struct lq_listener_key *key)
{
	struct lq_listener_state *st;

	st = bpf_map_lookup_elem(&listeners, key);
	if (!st)
		return;
	st->accept_queue = BPF_CORE_READ(sk, sk_ack_backlog);
	absorb_drops(ctx, key, st, lq_sk_drops(sk));
	emit(ctx, LQ_EV_CLOSE, key, st, st->requested_backlog, 0, 0, 0, 0);
	/* A listener that counted nothing has no last interval to give (a
	 * churn of short-lived listeners would fill the map for nothing). */
	if ((st->enqueued | st->accepted | st->overflow_syn | st->overflow_ack | st->synack_retrans |
	     st->synq_full_drops | st->synq_full_cookies | st->syncookies_sent | st->accepted_derived) &&
	    bpf_map_update_elem(&closed, key, st, BPF_ANY))
		stat_inc(LQ_STAT_CLOSED_LOST);
	if (st->busy)
		bpf_map_delete_elem(&busy, key);
	bpf_map_delete_elem(&listeners, key);
	bpf_map_delete_elem(&epochs, key);
}

/* No cookie yet: remember who started it until a full pass seeds it. */
static __always_inline void remember_fresh(const struct sock *sk)
{
	struct lq_fresh f = {};
	__u64 ptr = (__u64)sk;

	f.ts_ns = bpf_ktime_get_ns();
	f.tgid = bpf_get_current_pid_tgid() >> 32;
	f.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	bpf_get_current_comm(f.comm, sizeof(f.comm));
	f.requested = LQ_BACKLOG_UNKNOWN;
	bpf_map_update_elem(&fresh, &ptr, &f, BPF_ANY);
	stat_inc(LQ_STAT_FRESH);
}

static __always_inline void listener_started(void *ctx, struct sock *sk, int btf)
{
	struct lq_listener_key key;

	if (btf)
		mark_tracked(sk);
	if (key_any(&key, sk, btf)) {
		if (btf)
			mark_parent(sk, &key);
		start_listener(ctx, sk, &key);
	} else
		remember_fresh(sk);
}

static __always_inline void listener_stopping(void *ctx, struct sock *sk, int btf)
{
	struct lq_listener_key key;
	__u64 ptr = (__u64)sk;

	if (btf)
		mark_closed(sk);
	else
		bpf_map_delete_elem(&fresh, &ptr);
	if (key_any(&key, sk, btf))
		stop_listener(ctx, sk, &key);
}

/* Tier 1. int inet_csk_listen_start(struct sock *sk): listening on 0. */
SEC("fexit/inet_csk_listen_start")
int fx_listen_start(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	__u64 ret = 0;

	if (!exact(LQ_EXACT_LISTEN) || bpf_get_func_ret(ctx, &ret) || (int)ret)
		return 0;
	listener_started(ctx, sk, 1);
	return 0;
}

SEC("fentry/inet_csk_listen_stop")
int BPF_PROG(fn_listen_stop, struct sock *sk)
{
	if (exact(LQ_EXACT_LISTEN))
		listener_stopping(ctx, sk, 1);
	return 0;
}

/* Tier 2. The cookie comes from tp_btf/inet_sock_set_state where it runs;
 * without it the listener waits in `fresh` for the sampler. */
SEC("kprobe/inet_csk_listen_start")
int BPF_KPROBE(kp_listen_start, struct sock *sk)
{
	if (exact(LQ_EXACT_LISTEN))
		stash(KP_LISTEN_START, (__u64)sk, 0, 0);
	return 0;
}

SEC("kretprobe/inet_csk_listen_start")
int BPF_KRETPROBE(krp_listen_start, int ret)
{
	struct kp_args a;

	if (unstash(KP_LISTEN_START, &a) && !ret)
		listener_started(ctx, (struct sock *)a.sk, 0);
	return 0;
}

SEC("kprobe/inet_csk_listen_stop")
int BPF_KPROBE(kp_listen_stop, struct sock *sk)
{
	if (exact(LQ_EXACT_LISTEN))
		listener_stopping(ctx, sk, 0);
	return 0;
}

#endif /* LISTENQ_FACT_LISTEN_BPF_H */
