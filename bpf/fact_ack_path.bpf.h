/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "ack_path": the final ACK of a handshake is dropped because the
 * accept queue is full.
 *   tier 1  fentry/tcp_v4_syn_recv_sock, fentry/tcp_v6_syn_recv_sock
 *   tier 2  their kprobe twins
 *   tier 3  kfree_skb with reason TCP_LISTEN_OVERFLOW (6.15+) as tp_btf,
 *           else raw_tp, else the classic tracepoint
 *   floor   the sk_drops rise no exact hook explains (sampled), or, without
 *           fact syn_path either, not split from the SYN path
 */
#ifndef LISTENQ_FACT_ACK_PATH_BPF_H
#define LISTENQ_FACT_ACK_PATH_BPF_H

#define LQ_ETH_P_IP_BE 0x0008 /* htons(ETH_P_IP) */

/*
 * Entry of tcp_v{4,6}_syn_recv_sock(sk, skb, ...): its first statement is
 * "if (sk_acceptq_is_full(sk)) goto exit_overflow", so the entry sees the
 * overflow without the return value. tcp_v6_syn_recv_sock hands an IPv4
 * skb (v4-mapped peer on a dual-stack listener) to tcp_v4_syn_recv_sock
 * before its own check: that one is counted by the v4 hook only.
 */
static __always_inline void syn_recv_sock_at(void *ctx, const struct sock *sk, const struct sk_buff *skb, int v6,
					     const struct lq_listener_key *key)
{
	struct lq_listener_state *st;

	if (!acceptq_full(sk))
		return;
	if (v6 && BPF_CORE_READ(skb, protocol) == LQ_ETH_P_IP_BE)
		return;
	st = bpf_map_lookup_elem(&listeners, key);
	if (st)
		count_overflow(ctx, key, st, LQ_PATH_ACK);
}

/* 7 arguments on 6.1.192 and 6.18 (the 6.1 trampoline takes 6: attach
 * fails there and the kprobe twin takes over); only args 0-1 are read. */
SEC("fentry/tcp_v4_syn_recv_sock")
int fn_syn_recv_v4(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct lq_listener_key key = {};

	if (!exact(LQ_EXACT_ACK_PATH))
		return 0;
	key_of(&key, sk);
	syn_recv_sock_at(ctx, sk, (void *)ctx[1], 0, &key);
	return 0;
}

SEC("fentry/tcp_v6_syn_recv_sock")
int fn_syn_recv_v6(__u64 *ctx)
{
	struct sock *sk = (void *)ctx[0];
	struct lq_listener_key key = {};

	if (!exact(LQ_EXACT_ACK_PATH))
		return 0;
	key_of(&key, sk);
	syn_recv_sock_at(ctx, sk, (void *)ctx[1], 1, &key);
	return 0;
}

SEC("kprobe/tcp_v4_syn_recv_sock")
int BPF_KPROBE(kp_syn_recv_v4, struct sock *sk, struct sk_buff *skb)
{
	struct lq_listener_key key;

	if (exact(LQ_EXACT_ACK_PATH) && key_of_raw(&key, sk))
		syn_recv_sock_at(ctx, sk, skb, 0, &key);
	return 0;
}

SEC("kprobe/tcp_v6_syn_recv_sock")
int BPF_KPROBE(kp_syn_recv_v6, struct sock *sk, struct sk_buff *skb)
{
	struct lq_listener_key key;

	if (exact(LQ_EXACT_ACK_PATH) && key_of_raw(&key, sk))
		syn_recv_sock_at(ctx, sk, skb, 1, &key);
	return 0;
}

/* Tier 3: the ACK-path drop has its own reason since 6.15 (tcp_check_req),
 * with the listener as rx_sk. User space loads these only there. */
static __always_inline void skb_dropped(void *ctx, __u32 reason, const struct sock *rx_sk)
{
	struct lq_listener_key key;
	struct lq_listener_state *st;

	if (exact(LQ_EXACT_ACK_PATH) ||
	    !bpf_core_enum_value_exists(enum skb_drop_reason___lq, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW___lq) ||
	    reason != bpf_core_enum_value(enum skb_drop_reason___lq, SKB_DROP_REASON_TCP_LISTEN_OVERFLOW___lq) ||
	    !rx_sk)
		return;
	if (!key_of_raw(&key, rx_sk))
		return;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (st)
		count_overflow(ctx, &key, st, LQ_PATH_ACK);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	skb_dropped(ctx, reason, rx_sk);
	return 0;
}

SEC("raw_tp/kfree_skb")
int BPF_PROG(raw_kfree_skb, struct sk_buff *skb, void *location, enum skb_drop_reason reason, struct sock *rx_sk)
{
	skb_dropped(ctx, reason, rx_sk);
	return 0;
}

/* rx_sk joined the tracepoint's fields with it ("net: add rx_sk to
 * trace_kfree_skb", 6.11). */
struct trace_event_raw_kfree_skb___rx {
	void *rx_sk;
} __attribute__((preserve_access_index));

SEC("tracepoint/skb/kfree_skb")
int tp_kfree_skb(struct trace_event_raw_kfree_skb *ctx)
{
	struct trace_event_raw_kfree_skb___rx *rx = (void *)ctx;

	if (bpf_core_field_exists(rx->rx_sk))
		skb_dropped(ctx, ctx->reason, rx->rx_sk);
	return 0;
}

#endif /* LISTENQ_FACT_ACK_PATH_BPF_H */
