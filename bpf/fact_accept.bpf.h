/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "accept": accept() takes a child off the accept queue.
 *   tier 1  fexit/inet_csk_accept (accepts and, with fact enqueue, the wait)
 *   tier 2  kprobe+kretprobe/inet_csk_accept
 *   tier 3  accept()/accept4() at syscall exit (syscalls.bpf.h): accepts,
 *           no wait
 *   floor   not measured
 */
#ifndef LISTENQ_FACT_ACCEPT_BPF_H
#define LISTENQ_FACT_ACCEPT_BPF_H

/* accept() took a child off sk's queue; child is 0 when unknown (tier 3).
 * sk is a raw pointer in every caller: the listener's cookie exists since
 * it was first seen. */
static __always_inline void accepted(struct sock *sk, __u64 child)
{
	struct lq_listener_key key;
	struct lq_listener_state *st;
	__u64 *ts;

	if (!key_of_raw(&key, sk))
		return;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	__sync_fetch_and_add(&st->accepted, 1);
	mark_busy(&key, st);
	observe_queues(&key, st, BPF_CORE_READ(sk, sk_ack_backlog), syn_qlen(sk));
	if (!child)
		return;
	ts = bpf_map_lookup_elem(&enqueue_ts, &child);
	if (!ts)
		return;
	__u64 wait = bpf_ktime_get_ns() - *ts;

	bpf_map_delete_elem(&enqueue_ts, &child);
	st->wait_sum_ns += wait;
	st->wait_hist[hist_slot(wait / 1000)]++;
}

/* inet_csk_accept(sk, flags, err, kern) up to 6.9, (sk, struct
 * proto_accept_arg *) since 6.10: only arg 0 and the return value are
 * used, so one program fits both. */
SEC("fexit/inet_csk_accept")
int fx_accept(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	__u64 child = 0;

	if (!exact(LQ_EXACT_ACCEPT) || bpf_get_func_ret(ctx, &child) || !child)
		return 0;
	accepted(sk, child);
	return 0;
}

SEC("kprobe/inet_csk_accept")
int BPF_KPROBE(kp_accept, struct sock *sk)
{
	if (exact(LQ_EXACT_ACCEPT))
		stash(KP_ACCEPT, (__u64)sk, 0, 0);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(krp_accept, struct sock *ret)
{
	struct kp_args a;

	if (unstash(KP_ACCEPT, &a) && ret)
		accepted((struct sock *)a.sk, (__u64)ret);
	return 0;
}

#endif /* LISTENQ_FACT_ACCEPT_BPF_H */
