/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "enqueue": a child reaches the accept queue.
 *   tier 1  fexit/inet_csk_complete_hashdance (the regular path, whose call
 *           to inet_csk_reqsk_queue_add is inlined) and
 *           fexit/inet_csk_reqsk_queue_add (syncookie and TFO children)
 *   tier 2  their kprobe+kretprobe twins
 *   tier 3  tp_btf/inet_sock_set_state: a child's SYN_RECV -> ESTABLISHED,
 *           which tcp_check_req (or the syncookie path) runs right after
 *           queueing it; the listener is named by the `parents` sk_storage
 *           value its children inherit (BPF_F_CLONE). Counts only: no
 *           per-child timestamp, so no accept-wait histogram (the sampler
 *           measures the head-of-line wait in every tier)
 *   floor   the queue depth and its peak are sampled; enqueues not measured
 * Where enqueues are counted, the sampler derives accepts from them and
 * the queue (fact_queues.bpf.h).
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
	mark_busy(key, st);
	st->depth_hist[hist_slot(q)]++;
	observe_queues(key, st, q, syn_qlen(sk));
}

/* Tier 3. A TFO child is queued at its SYN and counted when its handshake
 * completes; one reset before that is never counted (accepts derived from
 * enqueues stay a lower bound). Hot: once per passive connection, so the
 * cloned value is the listener's key as it is, and the child keeps it (the
 * kernel frees it with the socket): a delete here cost ~370 ns per
 * connection, three times the rest of this path. */
static __always_inline void child_established(struct sock *sk)
{
	struct lq_listener_key *parent;
	struct lq_listener_state *st;

	if (!sk_storage_on() || !exact(LQ_TP_ENQUEUE))
		return;
	parent = bpf_sk_storage_get(&parents, sk, 0, 0);
	if (!parent)
		return;
	st = bpf_map_lookup_elem(&listeners, parent);
	if (!st)
		return;
	__sync_fetch_and_add(&st->enqueued, 1);
	mark_busy(parent, st);
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
