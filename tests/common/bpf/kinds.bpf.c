// SPDX-License-Identifier: GPL-2.0
/*
 * The tests' own probe of what this kernel loads (tests/common/kernel_kinds.h),
 * written apart from bpf/ and src/: one small program per kind listenq's
 * programs use, each calling the helpers and reading the pointers the way
 * listenq's own programs of that kind do, since a kernel can load a kind and
 * still refuse a program of it (6.18 -fc-v1272: iter/task_file loads, but
 * bpf_sk_storage_get() on socket->sk is refused as untrusted_ptr_).
 * No global data: the same object probes 4.19.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

#define K_TCP_LISTEN 10

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u8);
} k_marks SEC(".maps");

/* iter/tcp: the listener as a tcp_sock, marked and keyed by cookie. */
SEC("iter/tcp")
int k_iter_tcp(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;

	if (!skc || skc->skc_state != K_TCP_LISTEN)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	bpf_sk_storage_get(&k_marks, tp, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return bpf_get_socket_cookie(tp) ? 0 : 0;
}

/* iter/tcp as a snapshot reads it: the listener as a tcp_sock, its fields
 * written out, no helper on it (a kernel without bpf_get_socket_cookie()
 * in iterators, 5.10, still dumps). */
SEC("iter/tcp")
int k_iter_tcp_dump(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	struct tcp_sock *tp;
	__u32 backlog;

	if (!skc || skc->skc_state != K_TCP_LISTEN)
		return 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	backlog = tp->inet_conn.icsk_inet.sk.sk_max_ack_backlog;
	bpf_seq_write(ctx->meta->seq, &backlog, sizeof(backlog));
	return 0;
}

/* iter/bpf_sk_storage_map over the marks, each listener keyed by cookie
 * (5.10 refuses bpf_get_socket_cookie() here: 5.12). */
SEC("iter/bpf_sk_storage_map")
int k_iter_tracked(struct bpf_iter__bpf_sk_storage_map *ctx)
{
	struct sock *sk = ctx->sk;
	__u8 *mark = ctx->value;

	if (!sk || !mark || sk->__sk_common.skc_state != K_TCP_LISTEN)
		return 0;
	return bpf_get_socket_cookie(sk) && *mark ? 0 : 0;
}

static __always_inline struct sock *k_sock_of(struct file *file)
{
	struct socket *so;

	if (!file)
		return 0;
	so = bpf_sock_from_file(file);
	return so ? so->sk : 0;
}

/* iter/task_file: helpers on socket->sk (listenq's sample_files). */
SEC("iter/task_file")
int k_iter_files(struct bpf_iter__task_file *ctx)
{
	struct sock *sk = k_sock_of(ctx->file);

	if (sk && sk->__sk_common.skc_state == K_TCP_LISTEN)
		bpf_sk_storage_get(&k_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return 0;
}

/* iter/task_file: socket->sk only read (listenq's sample_files_raw). */
SEC("iter/task_file")
int k_iter_files_raw(struct bpf_iter__task_file *ctx)
{
	struct sock *sk = k_sock_of(ctx->file);

	return sk && BPF_CORE_READ(sk, sk_max_ack_backlog) ? 0 : 0;
}

/* raw_tp run by BPF_PROG_TEST_RUN, walking a hash map with
 * bpf_for_each_map_elem and reading a socket at an address kept there
 * (listenq's sample_busy). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4);
	__type(key, __u64);
	__type(value, __u64);
} k_addrs SEC(".maps");

static long k_read_one(struct bpf_map *map, __u64 *key, __u64 *addr, void *ctx)
{
	return BPF_CORE_READ((struct sock *)*addr, sk_max_ack_backlog) ? 0 : 0;
}

SEC("raw_tp")
int k_busy(__u64 *ctx)
{
	bpf_for_each_map_elem(&k_addrs, k_read_one, 0, 0);
	return ctx[0] ? 0 : 0;
}

/* The kernel's walk of /proc/net/tcp: kprobe on tcp4_seq_show(seq, v). */
SEC("kprobe/tcp4_seq_show")
int BPF_KPROBE(k_walk, struct seq_file *seq, void *v)
{
	if ((__u64)v <= 1)
		return 0;
	return BPF_CORE_READ((struct sock *)v, sk_ack_backlog) ? 0 : 0;
}

SEC("kprobe/inet_csk_listen_start")
int BPF_KPROBE(k_kprobe, struct sock *sk)
{
	return BPF_CORE_READ(sk, sk_max_ack_backlog) ? 0 : 0;
}

SEC("kretprobe/inet_csk_listen_start")
int BPF_KRETPROBE(k_kretprobe, int ret)
{
	return ret ? 0 : 0;
}

/* Function hooks keyed by cookie and marked, as listenq's tier 1 is. */
SEC("fexit/inet_csk_listen_start")
int BPF_PROG(k_fexit, struct sock *sk)
{
	bpf_sk_storage_get(&k_marks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return bpf_get_socket_cookie(sk) ? 0 : 0;
}

SEC("fentry/inet_csk_listen_stop")
int BPF_PROG(k_fentry, struct sock *sk)
{
	return bpf_get_socket_cookie(sk) ? 0 : 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(k_tp_btf, const struct sock *sk, int oldstate, int newstate)
{
	if (newstate != K_TCP_LISTEN)
		return 0;
	bpf_sk_storage_get(&k_marks, (void *)sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	return bpf_get_socket_cookie((void *)sk) ? 0 : 0;
}

SEC("raw_tp/inet_sock_set_state")
int k_raw_tp(struct bpf_raw_tracepoint_args *ctx)
{
	return BPF_CORE_READ((struct sock *)ctx->args[0], sk_max_ack_backlog) ? 0 : 0;
}

SEC("tracepoint/sock/inet_sock_set_state")
int k_tracepoint(void *ctx)
{
	return 0;
}
