/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tier 1: fentry/fexit on the kernel functions of DESIGN ("Kernel facts").
 * Included at the end of trace.bpf.c (shares its maps and helpers). User
 * space turns autoload off for a function the kernel lacks, and sets the
 * t1_* flags only for programs that attached.
 */
#ifndef LISTENQ_TRACE_FENTRY_BPF_H
#define LISTENQ_TRACE_FENTRY_BPF_H

/* int inet_csk_listen_start(struct sock *sk): the listener exists on 0. */
SEC("fexit/inet_csk_listen_start")
int fx_listen_start(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	__u64 ret = 0;

	if (!t1_listen || bpf_get_func_ret(ctx, &ret) || (int)ret)
		return 0;
	start_listener(sk);
	return 0;
}

SEC("fentry/inet_csk_listen_stop")
int BPF_PROG(fn_listen_stop, struct sock *sk)
{
	if (t1_listen)
		stop_listener(sk);
	return 0;
}

/* A child reached the accept queue: count it once (the enqueue timestamp
 * map de-duplicates the two hooks below when both see the same child). */
static __always_inline void enqueued(struct sock *sk, struct sock *child)
{
	struct lq_listener_key key = {};
	struct lq_listener_state *st;
	__u64 now = bpf_ktime_get_ns(), c = (__u64)child;
	__u32 q;

	if (bpf_map_update_elem(&enqueue_ts, &c, &now, BPF_NOEXIST))
		return;
	key_of(&key, sk);
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	q = BPF_CORE_READ(sk, sk_ack_backlog);
	__sync_fetch_and_add(&st->enqueued, 1);
	st->depth_hist[log2_slot(q) & (LQ_HIST_SLOTS - 1)]++;
	observe_queues(&key, st, q, BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.qlen.counter));
}

/* struct sock *inet_csk_reqsk_queue_add(sk, req, child): syncookie and TFO
 * children (callers in other files). */
SEC("fexit/inet_csk_reqsk_queue_add")
int BPF_PROG(fx_queue_add, struct sock *sk, struct request_sock *req, struct sock *child, struct sock *ret)
{
	if (t1_enqueue && ret)
		enqueued(sk, child);
	return 0;
}

/* The regular path: tcp_check_req -> inet_csk_complete_hashdance, whose
 * call to inet_csk_reqsk_queue_add is inlined (same file), so the fexit
 * above never sees it. Returns the child once it is queued. */
SEC("fexit/inet_csk_complete_hashdance")
int BPF_PROG(fx_hashdance, struct sock *sk, struct sock *child, struct request_sock *req, bool own_req,
	     struct sock *ret)
{
	if (t1_enqueue && own_req && ret)
		enqueued(sk, ret);
	return 0;
}

/* inet_csk_accept(sk, flags, err, kern) up to 6.9, (sk, struct
 * proto_accept_arg *) since 6.10: only arg 0 and the return value are
 * used, so one program fits both. */
SEC("fexit/inet_csk_accept")
int fx_accept(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	__u64 child = 0;

	if (!t1_accept || bpf_get_func_ret(ctx, &child) || !child)
		return 0;
	accepted(sk, child);
	return 0;
}

static __always_inline int acceptq_full(const struct sock *sk)
{
	/* sk_acceptq_is_full(): strictly greater */
	return BPF_CORE_READ(sk, sk_ack_backlog) > BPF_CORE_READ(sk, sk_max_ack_backlog);
}

static __always_inline void overflow_at(const struct sock *sk, __u32 path)
{
	struct lq_listener_key key = {};
	struct lq_listener_state *st;

	key_of(&key, sk);
	st = bpf_map_lookup_elem(&listeners, &key);
	if (st)
		count_overflow(&key, st, path);
}

/* SYN path: tcp_conn_request drops the SYN when the accept queue is full. */
SEC("fentry/tcp_conn_request")
int BPF_PROG(fn_conn_request, struct request_sock_ops *rsk_ops, const struct tcp_request_sock_ops *af_ops,
	     struct sock *sk, struct sk_buff *skb)
{
	if (t1_syn_overflow && acceptq_full(sk))
		overflow_at(sk, 1);
	return 0;
}

/* ACK path: tcp_v{4,6}_syn_recv_sock returns NULL via exit_overflow. 7
 * arguments on 6.1.192 and 6.18: only arg 0 and the return are read. */
SEC("fexit/tcp_v4_syn_recv_sock")
int fx_syn_recv_v4(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	__u64 child = 1;

	if (t1_ack_overflow && !bpf_get_func_ret(ctx, &child) && !child && acceptq_full(sk))
		overflow_at(sk, 2);
	return 0;
}

SEC("fexit/tcp_v6_syn_recv_sock")
int fx_syn_recv_v6(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	__u64 child = 1;

	if (t1_ack_overflow && !bpf_get_func_ret(ctx, &child) && !child && acceptq_full(sk))
		overflow_at(sk, 2);
	return 0;
}

#endif /* LISTENQ_TRACE_FENTRY_BPF_H */
