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
/* dump_files: the caller's netns (iter/task_file sees every netns). */
const volatile __u32 filter_netns = 0;
/* Set where the kernel refuses bpf_get_socket_cookie() here (before 5.12:
 * lq_socket_cookie() in core_fixes.bpf.h). */
const volatile bool no_cookie_helper = false;

static __always_inline int wanted(const struct sock_common *skc)
{
	if (skc->skc_state != TCP_LISTEN)
		return 0;
	if (filter_family && skc->skc_family != filter_family)
		return 0;
	return !filter_port || skc->skc_num == filter_port;
}

/*
 * lq_fill_listener() with plain loads: tp is a trusted BTF pointer here, so
 * the verifier checks each field access once and the walk does no helper
 * call per field: the walk of 15k listeners took 26 ms with
 * lq_fill_listener's probe reads, 21 ms with these (6.18). What plain
 * loads cannot reach stays a probe read: a bitfield, and the inode behind
 * the socket (struct socket_alloc, outside struct socket's BTF).
 */
static __always_inline void fill_from_btf(struct lq_listener_rec *r, struct tcp_sock *tp)
{
	struct inet_connection_sock *icsk = &tp->inet_conn;
	struct sock *sk = &icsk->icsk_inet.sk;
	struct sock___drop_counters *dc = (void *)sk;

	r->family = sk->__sk_common.skc_family;
	r->port = sk->__sk_common.skc_num;
	if (r->family == AF_INET6) {
		__u32 *a = (__u32 *)r->addr;

		a[0] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[0];
		a[1] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[1];
		a[2] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[2];
		a[3] = sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr32[3];
		r->ipv6only = BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_ipv6only);
	} else {
		*(__u32 *)r->addr = sk->__sk_common.skc_rcv_saddr;
	}
	r->netns = sk->__sk_common.skc_net.net->ns.inum;
	r->bound_dev_if = sk->__sk_common.skc_bound_dev_if;
	r->ack_backlog = sk->sk_ack_backlog;
	r->max_ack_backlog = sk->sk_max_ack_backlog;
	r->syn_qlen = icsk->icsk_accept_queue.qlen.counter;
	r->syn_young = icsk->icsk_accept_queue.young.counter;
	r->drops = sk->sk_drops.counter;
	/* lq_sk_drops() (core_fixes.bpf.h): per-NUMA counters when set */
	if (bpf_core_field_exists(dc->sk_drop_counters)) {
		struct numa_drop_counters___lq *c = dc->sk_drop_counters;

		if (c)
			r->drops = c->drops0.counter + c->drops1.counter;
	}
	r->reuseport = sk->sk_reuseport_cb != NULL;
	r->inode = lq_sock_ino(sk);
}

SEC("iter/tcp")
int dump_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct lq_listener_rec rec = {};
	struct tcp_sock *tp;

	if (!skc)
		return 0;
	/* iter/tcp shows every listener (listening hash) before any other
	 * socket (established hash: net/ipv4/tcp_ipv4.c bpf_iter_tcp_batch()),
	 * and a closing listener is skipped unhashed before it gets here. So
	 * the first other socket ends the pass: 1 makes the kernel end this
	 * read() (and the next with EAGAIN: kernel/bpf/bpf_iter.c
	 * bpf_seq_read()), and the rest of the established hash, which may
	 * hold a host's every connection, is not walked. */
	if (skc->skc_state != TCP_LISTEN)
		return 1;
	if (!wanted(skc))
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	fill_from_btf(&rec, tp);
	rec.uid = ctx->uid;
	rec.cookie = lq_socket_cookie(tp, no_cookie_helper);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}

/* Where iter/tcp is refused: every process's open sockets, this netns's
 * TCP listeners among them. A socket held by several descriptors comes
 * once per descriptor (user space keeps one per cookie); a listener no
 * process holds (an in-kernel server) is not found. */
SEC("iter/task_file")
int dump_files(struct bpf_iter__task_file *ctx)
{
	struct lq_listener_rec rec = {};
	struct sock *sk = lq_tcp_sock_of_file(ctx->file);

	if (!sk || !wanted(&sk->__sk_common) || sk->__sk_common.skc_net.net->ns.inum != filter_netns)
		return 0;
	lq_fill_listener(&rec, sk);
	rec.uid = BPF_CORE_READ(sk, sk_uid.val);
	rec.cookie = lq_socket_cookie(sk, no_cookie_helper);
	bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
	return 0;
}
