/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tier 2: kprobe/kretprobe twins of the tier-1 programs, for kernels with
 * kprobes but no trampolines (or a hook whose trampoline cannot attach:
 * 6.1's 7-argument tcp_v4_syn_recv_sock). kprobes cannot call
 * bpf_get_socket_cookie(): the key comes from skc_cookie (key_of_raw),
 * which tp_btf/inet_sock_set_state generates for new listeners and the
 * iter/tcp sampler for older ones.
 *
 * A kretprobe sees only the return value, so its kprobe stashes the
 * arguments. Stash key: the thread in process context; in softirq on an
 * idle CPU (tid 0 on every CPU) the CPU, which cannot nest the same
 * softirq function. The function id keeps nested hooks apart.
 */
#ifndef LISTENQ_TRACE_KPROBE_BPF_H
#define LISTENQ_TRACE_KPROBE_BPF_H

enum { KP_LISTEN_START = 1, KP_QUEUE_ADD, KP_HASHDANCE, KP_ACCEPT };

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

SEC("kprobe/inet_csk_listen_start")
int BPF_KPROBE(kp_listen_start, struct sock *sk)
{
	if (exact_listen)
		stash(KP_LISTEN_START, (__u64)sk, 0, 0);
	return 0;
}

SEC("kretprobe/inet_csk_listen_start")
int BPF_KRETPROBE(krp_listen_start, int ret)
{
	struct lq_listener_key key;
	struct kp_args a;

	if (!unstash(KP_LISTEN_START, &a) || ret)
		return 0;
	/* no cookie: nothing primed it (no tp_btf); the sampler seeds it */
	if (key_of_raw(&key, (struct sock *)a.sk))
		start_listener((struct sock *)a.sk, &key);
	return 0;
}

SEC("kprobe/inet_csk_listen_stop")
int BPF_KPROBE(kp_listen_stop, struct sock *sk)
{
	struct lq_listener_key key;

	if (exact_listen && key_of_raw(&key, sk))
		stop_listener(sk, &key);
	return 0;
}

SEC("kprobe/inet_csk_reqsk_queue_add")
int BPF_KPROBE(kp_queue_add, struct sock *sk, struct request_sock *req, struct sock *child)
{
	if (exact_enqueue)
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
	if (exact_enqueue)
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

SEC("kprobe/inet_csk_accept")
int BPF_KPROBE(kp_accept, struct sock *sk)
{
	if (exact_accept)
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

SEC("kprobe/tcp_conn_request")
int BPF_KPROBE(kp_conn_request, struct request_sock_ops *rsk_ops, const struct tcp_request_sock_ops *af_ops,
	       struct sock *sk)
{
	struct lq_listener_key key;

	if (exact_conn_request && key_of_raw(&key, sk))
		conn_request_at(sk, &key);
	return 0;
}

SEC("kprobe/tcp_v4_syn_recv_sock")
int BPF_KPROBE(kp_syn_recv_v4, struct sock *sk, struct sk_buff *skb)
{
	struct lq_listener_key key;

	if (exact_ack_overflow && key_of_raw(&key, sk))
		syn_recv_sock_at(sk, skb, 0, &key);
	return 0;
}

SEC("kprobe/tcp_v6_syn_recv_sock")
int BPF_KPROBE(kp_syn_recv_v6, struct sock *sk, struct sk_buff *skb)
{
	struct lq_listener_key key;

	if (exact_ack_overflow && key_of_raw(&key, sk))
		syn_recv_sock_at(sk, skb, 1, &key);
	return 0;
}

#endif /* LISTENQ_TRACE_KPROBE_BPF_H */
