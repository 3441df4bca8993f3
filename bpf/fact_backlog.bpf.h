/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fact "backlog": listen()'s requested backlog, re-listens and the
 * somaxconn clamp.
 *   tiers 1-3  listen() at syscall exit (syscalls.bpf.h): inet_listen and
 *              __inet_listen_sk see the backlog after __sys_listen's
 *              somaxconn clamp, so only the syscall has the requested value
 *   floor      not measured: the effective backlog is still sampled
 */
#ifndef LISTENQ_FACT_BACKLOG_BPF_H
#define LISTENQ_FACT_BACKLOG_BPF_H

/* listen() returned 0 on sk (a raw pointer): record requested/effective,
 * tell a re-listen from the first listen, flag the somaxconn clamp. */
static __always_inline void listen_returned(void *ctx, struct sock *sk, __s32 backlog)
{
	struct lq_listener_key key;
	struct lq_listener_state *st;
	__u32 prev;

	if (!key_of_raw(&key, sk)) {
		/* started under a raw hook: the seeding pass takes it over */
		__u64 ptr = (__u64)sk;
		struct lq_fresh *f = bpf_map_lookup_elem(&fresh, &ptr);

		if (f)
			f->requested = backlog;
		return;
	}
	st = bpf_map_lookup_elem(&listeners, &key);
	if (!st)
		return;
	prev = st->effective_backlog;
	st->requested_backlog = backlog;
	st->effective_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	if (st->flags & LQ_F_FRESH)
		st->flags &= ~LQ_F_FRESH;
	else
		emit(ctx, LQ_EV_RELISTEN, &key, st, backlog, prev, 0, 0, 0);
	/* __sys_listen: (unsigned)backlog > somaxconn -> somaxconn */
	if ((__u32)backlog > st->effective_backlog)
		emit(ctx, LQ_EV_CLAMP, &key, st, backlog, prev, 0, 0, 0);
}

#endif /* LISTENQ_FACT_BACKLOG_BPF_H */
