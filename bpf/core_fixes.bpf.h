/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CO-RE shims for kernel structs that differ across the kernels listenq
 * runs on. Each flavor (struct foo___x) cites why it exists.
 */
#ifndef LISTENQ_CORE_FIXES_BPF_H
#define LISTENQ_CORE_FIXES_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

/*
 * Since 6.15 the ACK-path overflow has a drop reason of its own
 * (tcp_check_req). A vmlinux.h from an older kernel (the
 * checked-in arm64 one is 6.1's) lacks it; the relocation still names the
 * kernel's enumerator (libbpf matches names without their ___ suffix), and
 * fact_ack_path asks whether it exists.
 */
enum skb_drop_reason___lq {
	SKB_DROP_REASON_TCP_LISTEN_OVERFLOW___lq = 1,
};

/*
 * v6.18 "net: add sk->sk_drop_counters" (Eric Dumazet): some protocols keep
 * drops in per-NUMA counters and sk_drops_read() sums them; sk->sk_drops
 * stays the counter when the pointer is NULL (TCP today). Older kernels
 * have no such field.
 */
struct numa_drop_counters___lq {
	atomic_t drops0;
	atomic_t drops1;
} __attribute__((preserve_access_index));

struct sock___drop_counters {
	struct numa_drop_counters___lq *sk_drop_counters;
} __attribute__((preserve_access_index));

static __always_inline __u32 lq_sk_drops(const struct sock *sk)
{
	__u32 drops = BPF_CORE_READ(sk, sk_drops.counter);
	struct sock___drop_counters *s = (void *)sk;

	if (bpf_core_field_exists(s->sk_drop_counters)) {
		struct numa_drop_counters___lq *c = BPF_CORE_READ(s, sk_drop_counters);

		if (c)
			drops = BPF_CORE_READ(c, drops0.counter) +
				BPF_CORE_READ(c, drops1.counter);
	}
	return drops;
}

/*
 * v5.12 "bpf: Expose bpf_get_socket_cookie to tracing programs" (Florent
 * Revest): before it, BTF programs (iter, tp_btf, fentry) may not call
 * bpf_get_socket_cookie() at all (5.10: "unknown func
 * bpf_get_socket_cookie#46"). There, the cookie is the one the kernel
 * already made (sock_gen_cookie(): inet_diag, SO_COOKIE), 0 when none did,
 * which user space takes as unknown. no_helper is a load-time constant
 * (rodata), so the verifier never sees the call it would refuse.
 */
static __always_inline __u64 lq_socket_cookie(void *sk, bool no_helper)
{
	if (no_helper)
		return BPF_CORE_READ((struct sock *)sk, __sk_common.skc_cookie.counter);
	return bpf_get_socket_cookie(sk);
}

#endif /* LISTENQ_CORE_FIXES_BPF_H */
