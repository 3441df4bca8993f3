/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tier 1: fentry/fexit on the kernel functions of DESIGN ("Kernel facts").
 * Included at the end of trace.bpf.c (shares its maps and helpers). User
 * space turns autoload off for a function the kernel lacks, and sets the
 * exact_* flags only for facts whose programs all attached.
 */
#ifndef LISTENQ_TRACE_FENTRY_BPF_H
#define LISTENQ_TRACE_FENTRY_BPF_H

/* int inet_csk_listen_start(struct sock *sk): the listener exists on 0. */
SEC("fexit/inet_csk_listen_start")
int fx_listen_start(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct lq_listener_key key = {};
	__u64 ret = 0;

	if (!exact_listen || bpf_get_func_ret(ctx, &ret) || (int)ret)
		return 0;
	mark_tracked(sk);
	key_of(&key, sk);
	start_listener(sk, &key);
	return 0;
}

SEC("fentry/inet_csk_listen_stop")
int BPF_PROG(fn_listen_stop, struct sock *sk)
{
	struct lq_listener_key key = {};

	if (!exact_listen)
		return 0;
	mark_closed(sk);  /* tp_btf/inet_sock_set_state is not attached in this tier */
	key_of(&key, sk);
	stop_listener(sk, &key);
	return 0;
}

/* struct sock *inet_csk_reqsk_queue_add(sk, req, child): syncookie and TFO
 * children (callers in other files). */
SEC("fexit/inet_csk_reqsk_queue_add")
int BPF_PROG(fx_queue_add, struct sock *sk, struct request_sock *req, struct sock *child, struct sock *ret)
{
	struct lq_listener_key key = {};

	if (!exact_enqueue || !ret)
		return 0;
	key_of(&key, sk);
	enqueued(sk, (__u64)child, &key);
	return 0;
}

/* The regular path: tcp_check_req -> inet_csk_complete_hashdance, whose
 * call to inet_csk_reqsk_queue_add is inlined (same file), so the fexit
 * above never sees it. Returns the child once it is queued. */
SEC("fexit/inet_csk_complete_hashdance")
int BPF_PROG(fx_hashdance, struct sock *sk, struct sock *child, struct request_sock *req, bool own_req,
	     struct sock *ret)
{
	struct lq_listener_key key = {};

	if (!exact_enqueue || !own_req || !ret)
		return 0;
	key_of(&key, sk);
	enqueued(sk, (__u64)ret, &key);
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

	if (!exact_accept || bpf_get_func_ret(ctx, &child) || !child)
		return 0;
	accepted(sk, child);
	return 0;
}

SEC("fentry/tcp_conn_request")
int BPF_PROG(fn_conn_request, struct request_sock_ops *rsk_ops, const struct tcp_request_sock_ops *af_ops,
	     struct sock *sk, struct sk_buff *skb)
{
	struct lq_listener_key key = {};

	if (!exact_conn_request)
		return 0;
	key_of(&key, sk);
	conn_request_at(sk, &key);
	return 0;
}

/* 7 arguments on 6.1.192 and 6.18 (the 6.1 trampoline takes 6: attach
 * fails there and the kprobe twin takes over); only args 0-1 are read. */
SEC("fentry/tcp_v4_syn_recv_sock")
int fn_syn_recv_v4(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct lq_listener_key key = {};

	if (!exact_ack_overflow)
		return 0;
	key_of(&key, sk);
	syn_recv_sock_at(sk, (void *)ctx[1], 0, &key);
	return 0;
}

SEC("fentry/tcp_v6_syn_recv_sock")
int fn_syn_recv_v6(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct lq_listener_key key = {};

	if (!exact_ack_overflow)
		return 0;
	key_of(&key, sk);
	syn_recv_sock_at(sk, (void *)ctx[1], 1, &key);
	return 0;
}

#endif /* LISTENQ_TRACE_FENTRY_BPF_H */
