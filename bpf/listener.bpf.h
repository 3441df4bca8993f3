/* SPDX-License-Identifier: GPL-2.0 */
/* Fill an lq_listener_rec from a listening socket. Shared by every program
 * that reports listeners (snapshot iterator, tracer seeding). */
#ifndef LISTENQ_LISTENER_BPF_H
#define LISTENQ_LISTENER_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "listenq/abi.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif

/* sock_i_ino() without the lock: the inode sits next to the socket in
 * struct socket_alloc (include/net/sock.h SOCK_INODE()). */
static __always_inline __u64 lq_sock_ino(const struct sock *sk)
{
	struct socket *so = BPF_CORE_READ(sk, sk_socket);
	struct socket_alloc *sa;

	if (!so)
		return 0;
	sa = (void *)((char *)so - bpf_core_field_offset(struct socket_alloc, socket));
	return BPF_CORE_READ(sa, vfs_inode.i_ino);
}

/* The TCP socket behind an open file (iter/task_file), or NULL: where the
 * kernel refuses iter/tcp, processes' files are the way to the listeners. */
static __always_inline struct sock *lq_tcp_sock_of_file(struct file *file)
{
	struct socket *so;
	struct sock *sk;

	if (!file)
		return 0;
	so = bpf_sock_from_file(file);
	if (!so)
		return 0;
	sk = so->sk;
	if (!sk || sk->sk_protocol != IPPROTO_TCP)
		return 0;
	return sk;
}

static __always_inline void lq_fill_listener(struct lq_listener_rec *r, struct sock *sk)
{
	const struct inet_connection_sock *icsk = (void *)sk;

	r->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	r->port = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (r->family == AF_INET6) {
		BPF_CORE_READ_INTO(&r->addr, sk, __sk_common.skc_v6_rcv_saddr);
		r->ipv6only = BPF_CORE_READ_BITFIELD_PROBED(&sk->__sk_common, skc_ipv6only);
	} else {
		BPF_CORE_READ_INTO((__u32 *)r->addr, sk, __sk_common.skc_rcv_saddr);
	}
	r->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	r->bound_dev_if = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	r->ack_backlog = BPF_CORE_READ(sk, sk_ack_backlog);
	r->max_ack_backlog = BPF_CORE_READ(sk, sk_max_ack_backlog);
	r->syn_qlen = BPF_CORE_READ(icsk, icsk_accept_queue.qlen.counter);
	r->syn_young = BPF_CORE_READ(icsk, icsk_accept_queue.young.counter);
	r->drops = lq_sk_drops(sk);
	r->reuseport = BPF_CORE_READ(sk, sk_reuseport_cb) != NULL;
	r->inode = lq_sock_ino(sk);
}

#endif /* LISTENQ_LISTENER_BPF_H */
