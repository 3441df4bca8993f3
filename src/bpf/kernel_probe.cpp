// Live probe of the running kernel: a tiny program of every kind the plan
// uses is really loaded (and attached where that is cheap), the way
// libbpf-tools' fentry_can_attach does, because the answer depends on
// policy (lockdown, LSMs, vendor builds that refuse one iterator kind), on
// the function's BTF and on trampoline limits (7-arg functions on 6.1 fail
// at attach with ENOTSUPP), none of which shows up front. A generic probe
// such as libbpf_probe_bpf_prog_type(TRACING) says "no" on kernels where
// iter/tcp and tp_btf load, so each kind is probed on its own.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>

#include "bpf/libbpf_raii.h"
#include "plan/features.h"
#include "sources/kernel_info.h"
#include "sources/tracefs.h"
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

bool refused_by_user(const ProbeScope &s, std::string_view kind)
{
	return std::find(s.refuse.begin(), s.refuse.end(), kind) != s.refuse.end();
}

Capability user_refusal()
{
	return Capability::no("refused by LISTENQ_REFUSE", EPERM);
}

// Kind probes say only what failed ("load: Operation not permitted (1)"):
// the plan names the program; a function probe names its hook too.
Capability failure(const char *stage, const std::string &what, bool name_it, int err)
{
	return Capability::no(std::string(stage) + (name_it ? " " + what : std::string()) + ": " + errno_text(err), err);
}

Capability load_failure(const std::string &what, int err) { return failure("load", what, false, err); }

// Loads a BTF-attached tracing program; attaches it too when attach.
Capability tracing_prog(bpf_attach_type type, int btf_id, const std::string &what, bool attach, bool name_it)
{
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	o.expected_attach_type = type;
	o.attach_btf_id = static_cast<__u32>(btf_id);
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "lq_probe", "GPL", kReturnZero, 2, &o));
	if (!prog.valid())
		return failure("load", what, name_it, errno);
	if (!attach)
		return Capability::yes(what);
	UniqueFd link(type == BPF_TRACE_ITER ? bpf_link_create(prog.get(), 0, type, nullptr)
					     : bpf_raw_tracepoint_open(nullptr, prog.get()));
	if (!link.valid())
		return failure("attach", what, name_it, errno);
	return Capability::yes(what);
}

int btf_func(const btf *vmlinux, const char *name, __u32 kind = BTF_KIND_FUNC)
{
	return vmlinux ? btf__find_by_name_kind(vmlinux, name, kind) : -ENOENT;
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

Capability probe_kprobe_attach(const KprobePmu &pmu, const std::string &fn, bool ret)
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
		return Capability::no("perf_event_open " + what + ": " + errno_text(errno), errno);
	return Capability::yes(what);
}

// kprobe programs load and a kprobe PMU exists.
Capability probe_kprobe_kind(const KprobePmu &pmu, bool ret)
{
	const char *name = ret ? "kretprobe" : "kprobe";
	if (pmu.type < 0)
		return Capability::no(pmu.why);
	// kern_version as libbpf sets it for the objects' kprobes: before 5.0
	// the kernel refuses a kprobe program without it (EINVAL).
	LIBBPF_OPTS(bpf_prog_load_opts, o);
	o.kern_version = running_version_code();
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_KPROBE, "lq_probe", "GPL", kReturnZero, 2, &o));
	if (!prog.valid())
		return load_failure(name, errno);
	return Capability::yes(std::string(name) + " (PMU type " + std::to_string(pmu.type) + ")");
}

Capability probe_raw_tp()
{
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "lq_probe", "GPL", kReturnZero, 2, nullptr));
	if (!prog.valid())
		return load_failure("raw_tp", errno);
	UniqueFd link(bpf_raw_tracepoint_open("inet_sock_set_state", prog.get()));
	if (!link.valid())
		return failure("attach", "raw_tp/inet_sock_set_state", false, errno);
	return Capability::yes("raw_tp/inet_sock_set_state");
}

// bpf_for_each_map_elem in a raw_tp program (libbpf's helper probe: the
// verifier knows the helper), and a raw_tp program run by
// BPF_PROG_TEST_RUN: what the busy pass needs.
Capability probe_test_run_for_each()
{
	const int h = libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_for_each_map_elem, nullptr);
	if (h == 0)
		return Capability::no("no bpf_for_each_map_elem for raw_tp (added in 5.13)");
	if (h < 0)
		return Capability::no("helper probe bpf_for_each_map_elem: " + errno_text(-h), -h);
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "lq_probe", "GPL", kReturnZero, 2, nullptr));
	if (!prog.valid())
		return load_failure("raw_tp", errno);
	__u64 args[1] = {0};
	LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof(args));
	if (bpf_prog_test_run_opts(prog.get(), &run) != 0)
		return failure("test run", "raw_tp", false, errno);
	return Capability::yes("bpf_for_each_map_elem, BPF_PROG_TEST_RUN of raw_tp");
}

// A classic tracepoint program on sock/inet_sock_set_state, through
// perf_event_open (the event id from tracefs).
Capability probe_tracepoint()
{
	const std::string event = "sock/inet_sock_set_state";
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "lq_probe", "GPL", kReturnZero, 2, nullptr));
	if (!prog.valid())
		return load_failure("tracepoint", errno);
	auto ids = tracepoint_ids({event});
	if (!ids)
		return Capability::no(ids.error().message);
	if (!ids->count(event))
		return Capability::no("tracepoint " + event + " not in tracefs");
	perf_event_attr attr{};
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_TRACEPOINT;
	attr.config = static_cast<__u64>(ids->at(event));
	UniqueFd pfd(static_cast<int>(syscall(__NR_perf_event_open, &attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)));
	if (!pfd.valid())
		return failure("attach (perf_event_open)", event, false, errno);
	if (::ioctl(pfd.get(), PERF_EVENT_IOC_SET_BPF, prog.get()) != 0)
		return failure("attach", event, false, errno);
	return Capability::yes("tracepoint/" + event);
}

Capability probe_map(bpf_map_type t, const char *name)
{
	int r = libbpf_probe_bpf_map_type(t, nullptr);
	if (r == 1)
		return Capability::yes(name);
	if (r == 0)
		return Capability::no("not supported");
	return Capability::no("create: " + errno_text(-r), -r);
}

// Global variables (5.2): an instruction that addresses an array map's
// value directly (BPF_PSEUDO_MAP_VALUE), as libbpf's own probe does.
Capability probe_global_data()
{
	LIBBPF_OPTS(bpf_map_create_opts, mo);
	UniqueFd map(bpf_map_create(BPF_MAP_TYPE_ARRAY, "lq_probe_gd", sizeof(int), 32, 1, &mo));
	if (!map.valid())
		return Capability::no("create array map: " + errno_text(errno), errno);
	const bpf_insn insns[] = {
		// r1 = &map[0] + 16 (ld_imm64, two slots); *(u64 *)(r1 + 0) = 42
		{BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_VALUE, 0, map.get()},
		{0, 0, 0, 0, 16},
		{BPF_ST | BPF_MEM | BPF_DW, BPF_REG_1, 0, 0, 42},
		{BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
		{BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
	};
	UniqueFd prog(bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "lq_probe", "GPL", insns, 5, nullptr));
	if (!prog.valid())
		return load_failure("global data", errno);
	return Capability::yes("global_data");
}

Capability probe_drop_reason(const btf *vmlinux)
{
	int id = btf_func(vmlinux, "skb_drop_reason", BTF_KIND_ENUM);
	if (id < 0)
		return Capability::no("enum skb_drop_reason not in kernel BTF");
	const btf_type *t = btf__type_by_id(vmlinux, id);
	const struct btf_enum *e = btf_enum(t);
	for (int i = 0; i < btf_vlen(t); i++, e++)
		if (!std::strcmp(btf__name_by_offset(vmlinux, e->name_off), "SKB_DROP_REASON_TCP_LISTEN_OVERFLOW"))
			return Capability::yes("SKB_DROP_REASON_TCP_LISTEN_OVERFLOW = " + std::to_string(e->val));
	return Capability::no("no SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (added in 6.15)");
}

// A tiny tracing program on a BTF target (FUNC or TYPEDEF name). name_it:
// a function's probe (its messages name the hook).
Capability probe_btf_kind(const btf *vmlinux, bpf_attach_type type, const char *target, __u32 btf_kind,
			  const std::string &what, bool attach, bool name_it = false)
{
	if (!vmlinux)
		return Capability::no("no kernel BTF");
	int id = btf_func(vmlinux, target, btf_kind);
	if (id < 0)
		return Capability::no(std::string(target) + " not in kernel BTF");
	return tracing_prog(type, id, what, attach, name_it);
}

// The function whose fentry/fexit load stands for the kind (load only:
// the per-function attach is probed apart).
std::string first_present(const KernelFeatures &f)
{
	for (const auto &fn : f.functions)
		if (fn.present)
			return fn.function;
	return {};
}

}  // namespace

// Long: one probe per kernel feature in the order the plan reads them; each step is a few lines.
KernelFeatures probe_kernel_features(const ProbeScope &scope)
{
	KernelFeatures f;
	const std::string no_btf = std::string("no kernel BTF at ") + kKernelBtf;
	BtfPtr vmlinux(path_exists(kKernelBtf) ? btf__parse(kKernelBtf, nullptr) : nullptr);
	const btf *v = vmlinux.get();
	f.btf = v ? Capability::yes(kKernelBtf) : Capability::no(no_btf);

	int pt = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING, nullptr);
	f.prog_tracing = pt == 1 ? Capability::yes("BPF_PROG_TYPE_TRACING")
				 : Capability::no(pt == 0 ? "libbpf_probe_bpf_prog_type(TRACING) = 0"
							  : "probe failed: " + errno_text(-pt));

	// Functions first: the fentry kinds are probed on one of them.
	for (const FactSpec &fact : fact_specs())
		for (const HookFn &h : fact.hooks) {
			FunctionFeatures fn;
			fn.function = std::string(h.function);
			if (std::find(scope.skip_functions.begin(), scope.skip_functions.end(), fn.function) !=
			    scope.skip_functions.end())
				fn.absent_why = "skipped (LISTENQ_SKIP_FUNCTIONS)";
			else if (v && btf_func(v, fn.function.c_str()) < 0)
				fn.absent_why = "not in kernel BTF";
			fn.present = fn.absent_why.empty();  // kprobes need no BTF
			f.functions.push_back(std::move(fn));
		}

	const KprobePmu pmu = read_kprobe_pmu();
	const std::string some_fn = first_present(f);
	for (ProgKind k : kAllProgKinds) {
		const std::string name(prog_kind_name(k));
		Capability c;
		if (refused_by_user(scope, name)) {
			c = user_refusal();
		} else {
			switch (k) {
			case ProgKind::fentry:
			case ProgKind::fexit:
				c = some_fn.empty() ? Capability::no("no hooked function in kernel BTF")
						    : probe_btf_kind(v, k == ProgKind::fentry ? BPF_TRACE_FENTRY : BPF_TRACE_FEXIT,
								     some_fn.c_str(), BTF_KIND_FUNC, name + "/" + some_fn, false);
				break;
			case ProgKind::kprobe:
			case ProgKind::kretprobe: c = probe_kprobe_kind(pmu, k == ProgKind::kretprobe); break;
			case ProgKind::tp_btf:
				c = probe_btf_kind(v, BPF_TRACE_RAW_TP, "btf_trace_inet_sock_set_state", BTF_KIND_TYPEDEF,
						   "tp_btf/inet_sock_set_state", true);
				break;
			case ProgKind::raw_tp: c = probe_raw_tp(); break;
			case ProgKind::tracepoint: c = probe_tracepoint(); break;
			case ProgKind::iter_tcp:
				c = probe_btf_kind(v, BPF_TRACE_ITER, "bpf_iter_tcp", BTF_KIND_FUNC, "iter/tcp", true);
				break;
			case ProgKind::iter_sk_storage_map:
				// Attaching needs an sk_storage map with BTF: loading is the test.
				c = probe_btf_kind(v, BPF_TRACE_ITER, "bpf_iter_bpf_sk_storage_map", BTF_KIND_FUNC,
						   "iter/bpf_sk_storage_map", false);
				break;
			case ProgKind::iter_task_file:
				c = probe_btf_kind(v, BPF_TRACE_ITER, "bpf_iter_task_file", BTF_KIND_FUNC,
						   "iter/task_file", true);
				break;
			}
		}
		f.kinds[k] = std::move(c);
	}
	for (MapKind m : kAllMapKinds) {
		const std::string name(map_kind_name(m));
		f.maps[m] = refused_by_user(scope, name) ? user_refusal()
			    : m == MapKind::global_data
				    ? probe_global_data()
				    : probe_map(m == MapKind::ringbuf ? BPF_MAP_TYPE_RINGBUF : BPF_MAP_TYPE_SK_STORAGE,
						name.c_str());
	}
	f.drop_reason = v ? probe_drop_reason(v) : Capability::no(no_btf);
	f.test_run_for_each = probe_test_run_for_each();

	if (!scope.function_attach)
		return f;
	// Per function, a real attach of the hook each tier would use.
	for (const FactSpec &fact : fact_specs())
		for (const HookFn &h : fact.hooks) {
			auto it = std::find_if(f.functions.begin(), f.functions.end(),
					       [&](const FunctionFeatures &x) { return x.function == h.function; });
			if (it == f.functions.end() || !it->present)
				continue;
			const ProgramSpec *entry = find_program(h.fentry);
			const bool fexit = entry && entry->kind == ProgKind::fexit;
			const ProgKind fk = fexit ? ProgKind::fexit : ProgKind::fentry;
			it->fentry = !f.kind(fk).ok ? f.kind(fk)
						    : probe_btf_kind(v, fexit ? BPF_TRACE_FEXIT : BPF_TRACE_FENTRY,
								     it->function.c_str(), BTF_KIND_FUNC,
								     std::string(fexit ? "fexit/" : "fentry/") + it->function,
								     true, true);
			const bool ret = !h.kretprobe.empty();
			const ProgKind kk = ret ? ProgKind::kretprobe : ProgKind::kprobe;
			it->kprobe = !f.kind(kk).ok ? f.kind(kk) : probe_kprobe_attach(pmu, it->function, ret);
		}
	return f;
}

}  // namespace listenq
