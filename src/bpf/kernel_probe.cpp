// Live probe of the running kernel: tiny programs are really loaded and
// attached (and detached at once), the way libbpf-tools' fentry_can_attach
// does, because the answer depends on policy (lockdown, LSMs), on the
// function's BTF and on trampoline limits (7-arg functions on 6.1 fail at
// attach with ENOTSUPP), none of which shows up front.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "bpf/features.h"
#include "bpf/libbpf_raii.h"
#include "bpf/tiers.h"
#include "util/files.h"
#include "util/unique_fd.h"

namespace listenq {

namespace {

constexpr const char *kKernelBtf = "/sys/kernel/btf/vmlinux";
constexpr const char *kKprobePmu = "/sys/bus/event_source/devices/kprobe/type";
constexpr const char *kKretprobeBit = "/sys/bus/event_source/devices/kprobe/format/retprobe";

// r0 = 0; exit
const bpf_insn kReturnZero[] = {
	{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
	{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
};

Capability load_and_attach_tracing(bpf_attach_type type, int btf_id, const char *what)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	o.expected_attach_type = type;
	o.attach_btf_id = static_cast<__u32>(btf_id);
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "lq_probe", "GPL", kReturnZero, 2, &o));
	if (!prog.valid())
		return Capability::no(std::string("load ") + what + ": " + errno_text(errno));
	UniqueFd link(type == BPF_TRACE_ITER ? bpf_link_create(prog.get(), 0, type, nullptr)
					     : bpf_raw_tracepoint_open(nullptr, prog.get()));
	if (!link.valid())
		return Capability::no(std::string("attach ") + what + ": " + errno_text(errno));
	return Capability::yes(what);
}

Capability probe_fentry(const btf *vmlinux, const std::string &fn, bool fexit)
{
	std::string what = (fexit ? "fexit/" : "fentry/") + fn;
	int id = btf__find_by_name_kind(vmlinux, fn.c_str(), BTF_KIND_FUNC);
	if (id < 0)
		return Capability::no(fn + " not in kernel BTF");
	return load_and_attach_tracing(fexit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY, id, what.c_str());
}

// kprobe PMU type and the retprobe config bit, or an explanation.
struct KprobePmu {
	int type = -1;
	int retprobe_bit = 0;
	std::string why;
};

KprobePmu read_kprobe_pmu()
{
	KprobePmu p;
	auto t = read_first_line(kKprobePmu);
	if (!t) {
		p.why = std::string("no kprobe PMU (") + kKprobePmu + " missing)";
		return p;
	}
	p.type = std::stoi(*t);
	if (auto b = read_first_line(kKretprobeBit); b && b->rfind("config:", 0) == 0)
		p.retprobe_bit = std::stoi(b->substr(7));
	return p;
}

Capability probe_kprobe(const KprobePmu &pmu, const std::string &fn, bool ret)
{
	std::string what = (ret ? "kretprobe/" : "kprobe/") + fn;
	if (pmu.type < 0)
		return Capability::no(pmu.why);
	perf_event_attr attr{};
	attr.size = sizeof(attr);
	attr.type = static_cast<__u32>(pmu.type);
	attr.config1 = reinterpret_cast<__u64>(fn.c_str());
	if (ret)
		attr.config |= 1ULL << pmu.retprobe_bit;
	UniqueFd fd(static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
	if (!fd.valid())
		return Capability::no("perf_event_open " + what + ": " + errno_text(errno));
	return Capability::yes(what);
}

Capability probe_tp_btf(const btf *vmlinux)
{
	int id = btf__find_by_name_kind(vmlinux, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF);
	if (id < 0)
		return Capability::no("btf_trace_inet_sock_set_state not in kernel BTF");
	return load_and_attach_tracing(BPF_TRACE_RAW_TP, id, "tp_btf/inet_sock_set_state");
}

Capability probe_raw_tp()
{
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "lq_probe", "GPL", kReturnZero, 2, nullptr));
	if (!prog.valid())
		return Capability::no("load raw_tp: " + errno_text(errno));
	UniqueFd link(bpf_raw_tracepoint_open("inet_sock_set_state", prog.get()));
	if (!link.valid())
		return Capability::no("attach raw_tp/inet_sock_set_state: " + errno_text(errno));
	return Capability::yes("raw_tp/inet_sock_set_state");
}

Capability probe_iter_tcp(const btf *vmlinux)
{
	int id = btf__find_by_name_kind(vmlinux, "bpf_iter_tcp", BTF_KIND_FUNC);
	if (id < 0)
		return Capability::no("bpf_iter_tcp not in kernel BTF (needs 5.9+)");
	return load_and_attach_tracing(BPF_TRACE_ITER, id, "iter/tcp");
}

Capability probe_map(bpf_map_type t, const char *name)
{
	int r = libbpf_probe_bpf_map_type(t, nullptr);
	if (r == 1)
		return Capability::yes(name);
	return Capability::no(std::string(name) + (r == 0 ? ": not supported" : ": probe failed: " + errno_text(-r)));
}

Capability probe_drop_reason(const btf *vmlinux)
{
	int id = btf__find_by_name_kind(vmlinux, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0)
		return Capability::no("enum skb_drop_reason not in kernel BTF");
	const btf_type *t = btf__type_by_id(vmlinux, id);
	const struct btf_enum *e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, e++)
		if (!std::strcmp(btf__name_by_offset(vmlinux, e->name_off), "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW"))
			return Capability::yes("SKB_DROP_REASON_TCP_LISTEN_OVERFLOW = " + std::to_string(e->val));
	return Capability::no("no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (added in 6.15)");
}

}  // namespace

KernelFeatures probe_kernel_features(bool hooks)
{
	KernelFeatures f;
	const std::string no_btf = std::string("no kernel BTF at ") + kKernelBtf;
	BtfPtr vmlinux(path_exists(kKernelBtf) ? btf__parse(kKernelBtf, nullptr) : nullptr);
	f.btf = vmlinux ? Capability::yes(kKernelBtf) : Capability::no(no_btf);

	int pt = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, nullptr);
	f.prog_tracing = pt == 1 ? Capability::yes("BPF_PROG_TYPE_TRACING")
				 : Capability::no(pt == 0 ? "libbpf_probe_bpf_prog_type(TRACING) = 0"
							  : "probe failed: " + errno_text(-pt));
	KprobePmu pmu = read_kprobe_pmu();
	f.kprobe_pmu = pmu.type >= 0 ? Capability::yes("PMU type " + std::to_string(pmu.type))
				     : Capability::no(pmu.why);
	f.raw_tp = probe_raw_tp();
	f.ringbuf = probe_map(BPF_MAP_TYPE_RINGBUF, "ringbuf");
	f.sk_storage = probe_map(BPF_MAP_TYPE_SK_STORAGE, "sk_storage");
	if (vmlinux) {
		f.tp_btf = probe_tp_btf(vmlinux.get());
		f.iter_tcp = probe_iter_tcp(vmlinux.get());
		f.kfree_skb_listen_overflow = probe_drop_reason(vmlinux.get());
	} else {
		f.tp_btf = f.iter_tcp = f.kfree_skb_listen_overflow = Capability::no(no_btf);
	}

	for (const HookSpec &s : hook_specs()) {
		if (!hooks)
			break;
		HookFeatures h;
		h.hook = std::string(s.name);
		for (auto fn : s.functions) {
			if (vmlinux && btf__find_by_name_kind(vmlinux.get(), std::string(fn).c_str(), BTF_KIND_FUNC) >= 0) {
				h.function = std::string(fn);
				break;
			}
		}
		if (h.function.empty() && !vmlinux)
			h.function = std::string(s.functions.back());  // kprobes need no BTF
		if (h.function.empty()) {
			h.fentry = h.kprobe = Capability::no("none of the candidate functions is in kernel BTF");
		} else {
			h.fentry = vmlinux ? probe_fentry(vmlinux.get(), h.function, s.needs_return)
					   : Capability::no(no_btf);
			h.kprobe = probe_kprobe(pmu, h.function, s.needs_return);
		}
		f.hooks.push_back(std::move(h));
	}
	return f;
}

const KernelFeatures &LiveFeatureSource::features()
{
	if (!cache_)
		cache_ = probe_kernel_features(hooks_);
	return *cache_;
}

}  // namespace listenq
