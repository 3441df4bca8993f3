// SPDX-License-Identifier: GPL-2.0
/*
 * listenq walk: the listeners of a netns on kernels without iter/tcp
 * (before 5.9, or where it is refused). The kernel walks its own TCP hash
 * tables when a process reads /proc/net/tcp{,6}: tcp4_seq_show() and
 * tcp6_seq_show() (net/ipv4/tcp_ipv4.c, net/ipv6/tcp_ipv6.c; both since
 * 2.6, address-taken in tcp{4,6}_seq_ops, so never inlined) get every
 * socket of the table. A kprobe there copies each LISTEN socket's fields
 * into `walked`, for the reads of one process only.
 *
 * Written for 4.19's verifier: no global data (settings in a map), no
 * loops, only kprobe helpers 4.19 has (libbpf turns probe_read_kernel
 * into probe_read on kernels without it), no socket cookie from a kprobe
 * (skc_cookie is read: 0 until something asked for it).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "listener.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Key 0: the reading process (struct lq_walk_config). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lq_walk_config);
} walk_config SEC(".maps");

/* Socket pointer -> its record: a row shown twice (seq_file retries a row
 * that overflowed its buffer) is kept once. Never leaves the kernel as a
 * pointer: user space reads the values only. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* 4.6+: not 8 MiB per snapshot */
	__type(key, __u64);
	__type(value, struct lq_listener_rec);
} walked SEC(".maps");

#define SEQ_START_TOKEN_PTR 1	/* include/linux/seq_file_net.h SEQ_START_TOKEN */

static __always_inline int walk_one(struct sock *sk)
{
	struct lq_listener_rec rec = {};
	struct lq_walk_config *cfg;
	__u64 ptr = (__u64)sk;
	__u32 zero = 0;

	cfg = bpf_map_lookup_elem(&walk_config, &zero);
	if (!cfg || cfg->tgid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	if (ptr == SEQ_START_TOKEN_PTR || !sk || cfg->last == ptr)
		return 0;
	cfg->last = ptr;
	/* sock_common's state: also right for timewait and request socks */
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_LISTEN)
		return 0;
	lq_fill_listener(&rec, sk);
	rec.uid = BPF_CORE_READ(sk, sk_uid.val);
	rec.cookie = BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
	if (bpf_map_update_elem(&walked, &ptr, &rec, BPF_ANY))
		__sync_fetch_and_add(&cfg->dropped, 1);
	return 0;
}

SEC("kprobe/tcp4_seq_show")
int BPF_KPROBE(walk_tcp4, struct seq_file *seq, void *v)
{
	return walk_one(v);
}

SEC("kprobe/tcp6_seq_show")
int BPF_KPROBE(walk_tcp6, struct seq_file *seq, void *v)
{
	return walk_one(v);
}
