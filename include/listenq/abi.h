/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Records shared by the BPF programs (bpf/) and user space (src/).
 * Plain C, fixed-width types, explicit padding. The C++ side
 * static_asserts every size and offset (src/bpf/record_decode.cpp), so a
 * change here that is not mirrored there fails the build.
 */
#ifndef LISTENQ_ABI_H
#define LISTENQ_ABI_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define LQ_ABI_VERSION 1
#define LQ_ADDR_LEN 16

/*
 * One listening socket, written by the iter/tcp program with
 * bpf_seq_write() (72 bytes, no header: the stream is an array).
 */
struct lq_listener_rec {
	__u64 cookie;		/* bpf_get_socket_cookie(); == inet_diag idiag_cookie */
	__u64 inode;		/* socket inode, as in /proc/net/tcp and /proc/PID/fd */
	__u32 netns;		/* network namespace inode (sk_net->ns.inum) */
	__u32 uid;		/* owner uid, from the iterator's ctx->uid */
	__u32 ack_backlog;	/* sk_ack_backlog: accept-queue length now */
	__u32 max_ack_backlog;	/* sk_max_ack_backlog: limit after somaxconn clamp */
	__u32 syn_qlen;		/* icsk_accept_queue.qlen: SYN queue (request socks) */
	__u32 syn_young;	/* icsk_accept_queue.young: requests never retransmitted */
	__u32 drops;		/* sk_drops (ListenDrops attributed to this socket) */
	__u32 bound_dev_if;	/* SO_BINDTODEVICE ifindex, 0 if none */
	__u16 family;		/* AF_INET (2) or AF_INET6 (10) */
	__u16 port;		/* local port, host byte order */
	__u8 addr[LQ_ADDR_LEN];	/* local address, network order; IPv4 uses addr[0..3] */
	__u8 reuseport;		/* 1 if in a SO_REUSEPORT group (sk_reuseport_cb set) */
	__u8 ipv6only;		/* IPV6_V6ONLY, meaningful for AF_INET6 only */
	__u8 __pad[2];
};

#endif /* LISTENQ_ABI_H */
