/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "synack_retrans": SYN-ACKs sent again (the peer's ACK did not come,
 * or was dropped on the ACK path).
 *   tiers 1-3  tcp_retransmit_synack as tp_btf, else raw_tp, else the
 *              classic tracepoint
 *   floor      not measured
 */
#ifndef LISTENQ_FACT_SYNACK_BPF_H
#define LISTENQ_FACT_SYNACK_BPF_H

static __always_inline void synack_retransmitted(const struct sock *sk, int btf)
{
	struct lq_listener_key key = {};
	struct lq_listener_state *st;

	if (!key_any(&key, sk, btf))
		return;
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	__sync_fetch_and_add(&st->synack_retrans, 1);
	mark_busy(&key, st);
}

SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(on_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	synack_retransmitted(sk, 1);
	return 0;
}

SEC("raw_tp/tcp_retransmit_synack")
int BPF_PROG(raw_retransmit_synack, const struct sock *sk, const struct request_sock *req)
{
	synack_retransmitted(sk, 0);
	return 0;
}

SEC("tracepoint/tcp/tcp_retransmit_synack")
int tp_retransmit_synack(struct trace_event_raw_tcp_retransmit_synack *ctx)
{
	synack_retransmitted(ctx->skaddr, 0);
	return 0;
}

#endif /* LISTENQ_FACT_SYNACK_BPF_H */
