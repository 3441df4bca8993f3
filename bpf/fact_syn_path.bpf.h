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
 * decisions (net/ipv4/tcp_input.c) on the listener's state:
 *
 *   if ((syncookies == 2 || inet_csk_reqsk_queue_is_full(sk)) && !isn) {
 *           want_cookie = tcp_syn_flood_action();  // DoCookies or ReqQFullDrop
 *           if (!want_cookie) goto drop;
 *   }
 *   if (sk_acceptq_is_full(sk)) { LISTENOVERFLOWS; goto drop; }
 *   ... if (want_cookie) cookie_init_sequence()     // SyncookiesSent
 *
 * inet_csk_reqsk_queue_is_full() is qlen > max_ack_backlog since "tcp/dccp:
 * allow a connection when sk_max_ack_backlog is zero" (6.14; stable
 * branches took it at sublevels no version check can know: Debian's 5.10,
 * 6.1.192 and 6.12.117 have it, 4.19.48 and 5.4.286 do not) and qlen >=
 * max_ack_backlog before. The two differ only at qlen == max_ack_backlog,
 * where a flood keeps a pre-fix kernel's queue. There the kprobe tier
 * reads the verdict from its outcome (krp_conn_request); tier 1 has no
 * return hook and takes the kernel for a fixed one.
 *
 * isn (a SYN that recycles a TIME_WAIT socket) is not read: such SYNs are
 * counted as if they were new ones.
 */
static __always_inline void conn_request_verdict(void *ctx, const struct lq_listener_key *key,
						 struct lq_listener_state *st, int synq_full, int syncookies,
						 int afull)
{
	int want_cookie = 0;

	if (syncookies == 2 || synq_full) {
		mark_busy(key, st);
		if (!syncookies) {
			__sync_fetch_and_add(&st->synq_full_drops, 1);
			return;
		}
		want_cookie = 1;
		__sync_fetch_and_add(&st->synq_full_cookies, 1);
	}
	if (afull) {
		count_overflow(ctx, key, st, LQ_PATH_SYN);
		return;
	}
	if (want_cookie)
		__sync_fetch_and_add(&st->syncookies_sent, 1);
}

static __always_inline int conn_syncookies(const struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ipv4.sysctl_tcp_syncookies);
}

static __always_inline void conn_request_at(void *ctx, const struct sock *sk, const struct lq_listener_key *key)
{
	struct lq_listener_state *st = bpf_map_lookup_elem(&listeners, key);

	if (!st)
		return;
	conn_request_verdict(ctx, key, st, syn_qlen(sk) > BPF_CORE_READ(sk, sk_max_ack_backlog),
			     conn_syncookies(sk), acceptq_full(sk));
}

/* This kernel's SYN-queue rule as its own verdicts showed it (kprobe tier):
 * 0 not seen yet, SYNQ_RULE_GT qlen > backlog is full, SYNQ_RULE_GE >=. */
enum { SYNQ_RULE_GT = 1, SYNQ_RULE_GE = 2 };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} synq_rule SEC(".maps");

static __always_inline __u32 *synq_rule_slot(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&synq_rule, &zero);
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
	int syncookies;
	__u32 synq;

	if (!exact(LQ_EXACT_SYN_PATH) || !key_of_raw(&key, sk))
		return 0;
	syncookies = conn_syncookies(sk);
	synq = syn_qlen(sk);
	if (syncookies != 2 && synq == BPF_CORE_READ(sk, sk_max_ack_backlog)) {
		/* The one case where the two rules differ: decided at return. */
		stash(KP_CONN_REQUEST, (__u64)sk, synq | ((__u64)lq_sk_drops(sk) << 32),
		      syncookies | (acceptq_full(sk) << 8));
		return 0;
	}
	conn_request_at(ctx, sk, &key);
	return 0;
}

/*
 * Return of a SYN that came at qlen == max_ack_backlog. With the accept
 * queue not full, the kernel's own outcome says which rule it follows: the
 * request was queued (qlen rose: not full, rule GT), or it was dropped
 * (sk_drops rose, syncookies 0) or answered with a cookie (neither rose,
 * syncookies 1): full, rule GE. The rule learnt is kept for the case the
 * outcome cannot tell: a full accept queue drops the SYN either way.
 */
SEC("kretprobe/tcp_conn_request")
int BPF_KRETPROBE(krp_conn_request)
{
	struct lq_listener_state *st;
	struct lq_listener_key key;
	struct kp_args a;
	struct sock *sk;
	__u32 *rule;
	int syncookies, afull, full;

	if (!unstash(KP_CONN_REQUEST, &a))
		return 0;
	sk = (struct sock *)a.sk;
	if (!key_of_raw(&key, sk))
		return 0;
	st = bpf_map_lookup_elem(&listeners, &key);
	rule = synq_rule_slot();
	if (!st || !rule)
		return 0;
	syncookies = a.own_req & 0xff;
	afull = (a.own_req >> 8) & 1;
	if (!afull && syn_qlen(sk) > (__u32)a.child) {
		full = 0;
		*rule = SYNQ_RULE_GT;
	} else if (!afull && (syncookies == 1 || lq_sk_drops(sk) != (__u32)(a.child >> 32))) {
		full = 1;
		*rule = SYNQ_RULE_GE;
	} else {
		full = *rule == SYNQ_RULE_GE;
	}
	conn_request_verdict(ctx, &key, st, full, syncookies, afull);
	return 0;
}

#endif /* LISTENQ_FACT_SYN_PATH_BPF_H */
