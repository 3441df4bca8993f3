/* SPDX-License-Identifier: GPL-2.0 */
/*
 * listen(), accept() and accept4() at syscall entry and exit: tier 3 of
 * fact "accept", and the only source of fact "backlog" in every tier. As
 * tp_btf, else raw_tp, else the classic raw_syscalls tracepoints. The fd
 * becomes a socket through the current task's file table.
 *
 * Hot: every syscall of every task. The number is tested first.
 */
#ifndef LISTENQ_SYSCALLS_BPF_H
#define LISTENQ_SYSCALLS_BPF_H

#include <listenq/syscall_nr.h>

/*
 * The target's numbers, its syscall arguments (libbpf's PT_REGS_*_SYSCALL:
 * di and si on x86_64; orig_x0 and x1 on arm64) and where the number stays
 * for sys_exit (orig_ax; arm64's syscallno). cmake/Bpf.cmake builds for x86
 * or arm64 only.
 */
#if defined(__TARGET_ARCH_x86)
#define NR_LISTEN LQ_NR_X86_64_LISTEN
#define NR_ACCEPT LQ_NR_X86_64_ACCEPT
#define NR_ACCEPT4 LQ_NR_X86_64_ACCEPT4
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#define SYSCALL_NR_CORE(regs) BPF_CORE_READ(regs, orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_LISTEN LQ_NR_ARM64_LISTEN
#define NR_ACCEPT LQ_NR_ARM64_ACCEPT
#define NR_ACCEPT4 LQ_NR_ARM64_ACCEPT4
#define SYSCALL_NR(regs) ((regs)->syscallno)
#define SYSCALL_NR_CORE(regs) BPF_CORE_READ(regs, syscallno)
#else
#error "listenq: no syscall table for this architecture (x86 and arm64 only)"
#endif

/* listen()/accept() arguments between sys_enter and sys_exit. */
struct pending_call {
	__u32 nr;
	__s32 fd;
	__s64 arg;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);	/* pid_tgid */
	__type(value, struct pending_call);
} pending SEC(".maps");

static __always_inline int nr_wanted(long nr)
{
	return nr == NR_LISTEN || nr == NR_ACCEPT || nr == NR_ACCEPT4;
}

static __always_inline void call_entered(long nr, __s64 fd, __s64 arg)
{
	struct pending_call call = {.nr = nr, .fd = fd, .arg = arg};
	__u64 tid = bpf_get_current_pid_tgid();

	if (nr != NR_LISTEN && exact(LQ_EXACT_ACCEPT))
		return;
	bpf_map_update_elem(&pending, &tid, &call, BPF_ANY);
}

/* fd of the current task -> struct sock, or NULL if not a socket. */
static __always_inline struct sock *sock_of_fd(int fd)
{
	struct task_struct *task = (void *)bpf_get_current_task();
	struct file **fds;
	struct file *f = NULL;
	struct socket *so;

	if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(task, files, fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	if (!f)
		return NULL;
	so = BPF_CORE_READ(f, private_data);
	/* A socket's file points back at it (net/socket.c sock_alloc_file). */
	if (!so || BPF_CORE_READ(so, file) != f)
		return NULL;
	return BPF_CORE_READ(so, sk);
}

static __always_inline void call_returned(void *ctx, long nr_now, long ret)
{
	struct pending_call *call;
	struct sock *sk;
	__u64 tid = bpf_get_current_pid_tgid();
	__u32 nr;
	__s32 fd;
	__s64 arg;

	if (nr_now != NR_LISTEN && exact(LQ_EXACT_ACCEPT)) {
		/* A kretprobe/inet_csk_accept that missed left kp_accept's stash
		 * (fentry leaves none): without CONFIG_PREEMPTION a kretprobe has
		 * num_possible_cpus() instances (kernel/kprobes.c
		 * register_kretprobe, before rethook), which threads blocked in
		 * accept() hold (5.10: an HTTP server's accept threads). The
		 * accept is counted here, its child from the new fd. */
		struct kp_args a;

		if (unstash(KP_ACCEPT, &a) && a.sk && ret >= 0)
			accepted((struct sock *)a.sk, (__u64)sock_of_fd(ret));
		return;
	}
	call = bpf_map_lookup_elem(&pending, &tid);
	if (!call)
		return;
	nr = call->nr;
	fd = call->fd;
	arg = call->arg;
	bpf_map_delete_elem(&pending, &tid);
	if (ret < 0 || (nr != NR_LISTEN && exact(LQ_EXACT_ACCEPT)))
		return;
	sk = sock_of_fd(fd);
	if (!sk)
		return;
	if (nr == NR_LISTEN)
		listen_returned(ctx, sk, (__s32)arg);
	else
		accepted(sk, 0);
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	if (nr_wanted(id))
		call_entered(id, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs));
	return 0;
}

/* The number is in the registers (SYSCALL_NR): no map lookup unless it
 * is one of ours. */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	if (nr_wanted(SYSCALL_NR(regs)))
		call_returned(ctx, SYSCALL_NR(regs), ret);
	return 0;
}

SEC("raw_tp/sys_enter")
int BPF_PROG(raw_sys_enter, struct pt_regs *regs, long id)
{
	if (nr_wanted(id))
		call_entered(id, PT_REGS_PARM1_CORE_SYSCALL(regs), PT_REGS_PARM2_CORE_SYSCALL(regs));
	return 0;
}

SEC("raw_tp/sys_exit")
int BPF_PROG(raw_sys_exit, struct pt_regs *regs, long ret)
{
	long nr = SYSCALL_NR_CORE(regs);

	if (nr_wanted(nr))
		call_returned(ctx, nr, ret);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int tp_sys_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (nr_wanted(ctx->id))
		call_entered(ctx->id, ctx->args[0], ctx->args[1]);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int tp_sys_exit(struct trace_event_raw_sys_exit *ctx)
{
	if (nr_wanted(ctx->id))
		call_returned(ctx, ctx->id, ctx->ret);
	return 0;
}

#endif /* LISTENQ_SYSCALLS_BPF_H */
