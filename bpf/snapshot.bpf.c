// SPDX-License-Identifier: GPL-2.0
/*
 * listenq snapshot: one lq_listener_rec per TCP listening socket of the
 * caller's network namespace, written to the iterator's seq_file.
 * Model: tools/testing/selftests/bpf/progs/bpf_iter_tcp4.c.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "listener.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Filters, set between open and load; 0 means "any". */
const volatile __u16 filter_family = 0;
const volatile __u16 filter_port = 0;

SEC("iter/tcp")
int dump_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct lq_listener_rec rec = {};
	struct tcp_sock *tp;

	if (!skc || skc->skc_state != TCP_LISTEN)
		return 0;
	if (filter_family && skc->skc_family != filter_family)
		return 0;
	if (filter_port && skc->skc_num != filter_port)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	lq_fill_listener(&rec, (struct sock *)tp);
	rec.uid = ctx->uid;
	rec.cookie = bpf_get_socket_cookie(tp);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
