/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inet_sock_set_state, the one hook two facts share: a socket's state
 * change is the tier-3 source of fact "listen" (x -> LISTEN, LISTEN ->
 * CLOSE: fact_listen.bpf.h) and of fact "enqueue" (a child's SYN_RECV ->
 * ESTABLISHED: fact_enqueue.bpf.h). As tp_btf, else raw_tp, else the
 * classic tracepoint. This file only dispatches: what each fact does with
 * the change is in its own file.
 */
#ifndef LISTENQ_SET_STATE_BPF_H
#define LISTENQ_SET_STATE_BPF_H

/* Tier 3. A child is cloned from its listener in state LISTEN and then
 * moves LISTEN -> SYN_RECV: only LISTEN -> CLOSE is the listener itself
 * going away. Hot: every TCP state change of every socket, so the states
 * (arguments, no memory read) are tested first. */
static __always_inline void set_state(void *ctx, struct sock *sk, int oldstate, int newstate, int protocol, int btf)
{
	if (newstate != TCP_LISTEN && !(oldstate == TCP_LISTEN && newstate == TCP_CLOSE))
		return;
	if (protocol != IPPROTO_TCP)
		return;
	if (exact(LQ_EXACT_LISTEN)) {
		/* The function hooks have it. Tier 2 keys listeners by
		 * skc_cookie (kprobes cannot call bpf_get_socket_cookie):
		 * generate it here, before the kretprobe on
		 * inet_csk_listen_start reads it; keep the marks. */
		if (btf && newstate == TCP_LISTEN) {
			bpf_get_socket_cookie(sk);
			mark_tracked(sk);
		} else if (btf) {
			mark_closed(sk);
		}
		return;
	}
	if (newstate == TCP_LISTEN)
		listener_started(ctx, sk, btf);
	else
		listener_stopping(ctx, sk, btf);
}

/* Also tier 3 of fact "enqueue": a child completing its handshake. */
SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_set_state, struct sock *sk, int oldstate, int newstate)
{
	if (oldstate == TCP_SYN_RECV && newstate == TCP_ESTABLISHED) {
		child_established(sk);
		return 0;
	}
	if (newstate != TCP_LISTEN && !(oldstate == TCP_LISTEN && newstate == TCP_CLOSE))
		return 0;
	set_state(ctx, sk, oldstate, newstate, sk->sk_protocol, 1);
	return 0;
}

SEC("raw_tp/inet_sock_set_state")
int BPF_PROG(raw_set_state, struct sock *sk, int oldstate, int newstate)
{
	if (newstate != TCP_LISTEN && !(oldstate == TCP_LISTEN && newstate == TCP_CLOSE))
		return 0;
	set_state(ctx, sk, oldstate, newstate, BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol), 0);
	return 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int tp_set_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	set_state(ctx, (struct sock *)ctx->skaddr, ctx->oldstate, ctx->newstate, ctx->protocol, 0);
	return 0;
}

#endif /* LISTENQ_SET_STATE_BPF_H */
