/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "enqueue": a child reaches the accept queue.
 *   tier 1  fexit/inet_csk_complete_hashdance (the regular path, whose call
 *           to inet_csk_reqsk_queue_add is inlined) and
 *           fexit/inet_csk_reqsk_queue_add (syncookie and TFO children)
 *   tier 2  their kprobe+kretprobe twins
 *   floor   the queue depth and its peak are sampled; enqueues and the
 *           accept wait are not measured
 */
#ifndef LISTENQ_FACT_ENQUEUE_BPF_H
#define LISTENQ_FACT_ENQUEUE_BPF_H

/* Count a child once (the enqueue timestamp map de-duplicates queue_add
 * and complete_hashdance when both see it). */
static __always_inline void enqueued(const struct sock *sk, __u64 child, const struct lq_listener_key *key)
{
	struct lq_listener_state *st;
	__u64 now = bpf_ktime_get_ns();
	__u32 q;

	if (bpf_map_update_elem(&enqueue_ts, &child, &now, BPF_NOEXIST))
		return;
	st = bpf_map_lookup_elem(&listeners, key);
	if (!st)
		return;
	q = BPF_CORE_READ(sk, sk_ack_backlog);
	__sync_fetch_and_add(&st->enqueued, 1);
	st->depth_hist[log2_slot(q) & (LQ_HIST_SLOTS - 1)]++;
	observe_queues(key, st, q, syn_qlen(sk));
}

/* struct sock *inet_csk_reqsk_queue_add(sk, req, child) */
SEC("fexit/inet_csk_reqsk_queue_add")
int BPF_PROG(fx_queue_add, struct sock *sk, struct request_sock *req, struct sock *child, struct sock *ret)
{
	struct lq_listener_key key = {};

	if (!exact(LQ_EXACT_ENQUEUE) || !ret)
		return 0;
	key_of(&key, sk);
	enqueued(sk, (__u64)child, &key);
	return 0;
}

/* Returns the child once it is queued. */
SEC("fexit/inet_csk_complete_hashdance")
int BPF_PROG(fx_hashdance, struct sock *sk, struct sock *child, struct request_sock *req, bool own_req,
	     struct sock *ret)
{
	struct lq_listener_key key = {};

	if (!exact(LQ_EXACT_ENQUEUE) || !own_req || !ret)
		return 0;
	key_of(&key, sk);
	enqueued(sk, (__u64)ret, &key);
	return 0;
}

SEC("kprobe/inet_csk_reqsk_queue_add")
int BPF_KPROBE(kp_queue_add, struct sock *sk, struct request_sock *req, struct sock *child)
{
	if (exact(LQ_EXACT_ENQUEUE))
		stash(KP_QUEUE_ADD, (__u64)sk, (__u64)child, 0);
	return 0;
}

SEC("kretprobe/inet_csk_reqsk_queue_add")
int BPF_KRETPROBE(krp_queue_add, struct sock *ret)
{
	struct lq_listener_key key;
	struct kp_args a;

	if (unstash(KP_QUEUE_ADD, &a) && ret && key_of_raw(&key, (struct sock *)a.sk))
		enqueued((struct sock *)a.sk, a.child, &key);
	return 0;
}

SEC("kprobe/inet_csk_complete_hashdance")
int BPF_KPROBE(kp_hashdance, struct sock *sk, struct sock *child, struct request_sock *req, bool own_req)
{
	if (exact(LQ_EXACT_ENQUEUE))
		stash(KP_HASHDANCE, (__u64)sk, (__u64)child, own_req);
	return 0;
}

SEC("kretprobe/inet_csk_complete_hashdance")
int BPF_KRETPROBE(krp_hashdance, struct sock *ret)
{
	struct lq_listener_key key;
	struct kp_args a;

	if (unstash(KP_HASHDANCE, &a) && a.own_req && ret && key_of_raw(&key, (struct sock *)a.sk))
		enqueued((struct sock *)a.sk, (__u64)ret, &key);
	return 0;
}

#endif /* LISTENQ_FACT_ENQUEUE_BPF_H */
