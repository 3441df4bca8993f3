/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "syn_path": what tcp_conn_request decides for a SYN: dropped because
 * the accept queue is full (SYN-path overflow), or because the SYN queue is
 * full (TCPReqQFullDrop), or answered with a syncookie.
 *   tier 1  fentry/tcp_conn_request
 *   tier 2  kprobe/tcp_conn_request
 *   floor   the netns TcpExt counters, given to the one listener under SYN
 *           pressure (src/model/syn_attribution.h)
 */
#ifndef LISTENQ_FACT_SYN_PATH_BPF_H
#define LISTENQ_FACT_SYN_PATH_BPF_H

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
static __always_inline void conn_request_at(void *ctx, const struct sock *sk, const struct lq_listener_key *key)
{
	struct lq_listener_state *st = bpf_map_lookup_elem(&listeners, key);
	int syncookies, want_cookie = 0;
	__u32 synq, max;

	if (!st)
		return;
	syncookies = BPF_CORE_READ(sk, __sk_common.skc_net.net, ipv4.sysctl_tcp_syncookies);
	synq = syn_qlen(sk);
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
		count_overflow(ctx, key, st, LQ_PATH_SYN);
		return;
	}
	if (want_cookie)
		__sync_fetch_and_add(&st->syncookies_sent, 1);
}

SEC("fentry/tcp_conn_request")
int BPF_PROG(fn_conn_request, struct request_sock_ops *rsk_ops, const struct tcp_request_sock_ops *af_ops,
	     struct sock *sk, struct sk_buff *skb)
{
	struct lq_listener_key key = {};

	if (!exact(LQ_EXACT_SYN_PATH))
		return 0;
	key_of(&key, sk);
	conn_request_at(ctx, sk, &key);
	return 0;
}

SEC("kprobe/tcp_conn_request")
int BPF_KPROBE(kp_conn_request, struct request_sock_ops *rsk_ops, const struct tcp_request_sock_ops *af_ops,
	       struct sock *sk)
{
	struct lq_listener_key key;

	if (exact(LQ_EXACT_SYN_PATH) && key_of_raw(&key, sk))
		conn_request_at(ctx, sk, &key);
	return 0;
}

#endif /* LISTENQ_FACT_SYN_PATH_BPF_H */
