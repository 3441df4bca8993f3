/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handlers shared by tier 1 (fentry/fexit, trace_fentry.bpf.h) and tier 2
 * (kprobe/kretprobe, trace_kprobe.bpf.h): the libbpf-tools twin pattern.
 * Each takes the listener key from its caller, because the two tiers make
 * it differently: BTF programs call bpf_get_socket_cookie(), kprobes may
 * not and read skc_cookie (key_of_raw).
 */
#ifndef LISTENQ_TRACE_HOOKS_BPF_H
#define LISTENQ_TRACE_HOOKS_BPF_H

#define LQ_ETH_P_IP_BE 0x0008 /* htons(ETH_P_IP) */

/* A child reached the accept queue: count it once (the enqueue timestamp
 * map de-duplicates queue_add and complete_hashdance when both see it). */
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
	observe_queues(key, st, q, BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.qlen.counter));
}

static __always_inline int acceptq_full(const struct sock *sk)
{
	/* sk_acceptq_is_full(): strictly greater */
	return BPF_CORE_READ(sk, sk_ack_backlog) > BPF_CORE_READ(sk, sk_max_ack_backlog);
}

/*
 * Entry of tcp_conn_request(rsk_ops, af_ops, sk, skb): replays its first
 * decisions (net/ipv4/tcp_input.c, 6.1-6.18) on the listener's state:
 *
 *   if ((syncookies == 2 || inet_csk_reqsk_queue_is_full(sk)) && !isn) {
 *           // qlen > max_ack_backlog since "tcp/dccp: allow a connection
 *           // when sk_max_ack_backlog is zero" (6.14; stable 6.1.y and
 *           // 6.12.y, Debian's 6.1.192 and 6.12.117 included); kernels
 *           // without it use >=, where one SYN per overflow differs
 *           want_cookie = tcp_syn_flood_action();  // DoCookies or ReqQFullDrop
 *           if (!want_cookie) goto drop;
 *   }
 *   if (sk_acceptq_is_full(sk)) { LISTENOVERFLOWS; goto drop; }
 *   ... if (want_cookie) cookie_init_sequence()     // SyncookiesSent
 *
 * isn (a SYN that recycles a TIME_WAIT socket) is not read: such SYNs are
 * counted as if they were new ones.
 */
static __always_inline void conn_request_at(const struct sock *sk, const struct lq_listener_key *key)
{
	struct lq_listener_state *st = bpf_map_lookup_elem(&listeners, key);
	int syncookies, want_cookie = 0;
	__u32 synq, max;

	if (!st)
		return;
	syncookies = BPF_CORE_READ(sk, __sk_common.skc_net.net, ipv4.sysctl_tcp_syncookies);
	synq = BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_accept_queue.qlen.counter);
	max = BPF_CORE_READ(sk, sk_max_ack_backlog);
	if (syncookies == 2 || synq > max) {
		if (!syncookies) {
			__sync_fetch_and_add(&st->synq_full_drops, 1);
			return;
		}
		want_cookie = 1;
		__sync_fetch_and_add(&st->synq_full_cookies, 1);
	}
	if (acceptq_full(sk)) {
		count_overflow(key, st, 1);
		return;
	}
	if (want_cookie)
		__sync_fetch_and_add(&st->syncookies_sent, 1);
}

/*
 * Entry of tcp_v{4,6}_syn_recv_sock(sk, skb, ...): its first statement is
 * "if (sk_acceptq_is_full(sk)) goto exit_overflow", so the entry sees the
 * overflow without the return value. tcp_v6_syn_recv_sock hands an IPv4
 * skb (v4-mapped peer on a dual-stack listener) to tcp_v4_syn_recv_sock
 * before its own check: that one is counted by the v4 hook only.
 */
static __always_inline void syn_recv_sock_at(const struct sock *sk, const struct sk_buff *skb, int v6,
					     const struct lq_listener_key *key)
{
	struct lq_listener_state *st;

	if (!acceptq_full(sk))
		return;
	if (v6 && BPF_CORE_READ(skb, protocol) == LQ_ETH_P_IP_BE)
		return;
	st = bpf_map_lookup_elem(&listeners, key);
	if (st)
		count_overflow(key, st, 2);
}

#endif /* LISTENQ_TRACE_HOOKS_BPF_H */
