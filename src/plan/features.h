// What the running kernel lets listenq do, probed once and cached: every
// program kind and map kind the plan uses, and each hooked function.
// Plain data: unit tests build a KernelFeatures by hand or from a probe
// captured on a real kernel (the mock).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plan/facts.h"

namespace listenq {

struct Capability {
	bool ok = false;
	std::string detail;  // why not (when !ok), or what was used (when ok)
	int err = 0;         // the kernel's errno when it refused (0: absent, not refused)

	static Capability yes(std::string d = {}) { return {true, std::move(d), 0}; }
	static Capability no(std::string why, int err = 0) { return {false, std::move(why), err}; }
	// Refused by the kernel (or LISTENQ_REFUSE), rather than missing.
	bool refused() const { return !ok && err != 0; }
};

// A kernel function hooked in tiers 1-2.
struct FunctionFeatures {
	std::string function;
	bool present = false;              // in the kernel BTF (assumed without BTF)
	std::string absent_why;            // "not in kernel BTF", "skipped (LISTENQ_SKIP_FUNCTIONS)"
	std::optional<Capability> fentry;  // a real fentry/fexit attach (probe only)
	std::optional<Capability> kprobe;  // a real kprobe/kretprobe attach (probe only)
};

struct KernelFeatures {
	Capability btf;           // kernel BTF (/sys/kernel/btf/vmlinux)
	Capability prog_tracing;  // libbpf_probe_bpf_prog_type(TRACING): shown, never used
	std::map<ProgKind, Capability> kinds;
	std::map<MapKind, Capability> maps;
	Capability drop_reason;   // SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (6.15+)
	// A raw_tp program run by BPF_PROG_TEST_RUN (5.10) may call
	// bpf_for_each_map_elem (5.13): the busy pass (fact queues).
	Capability test_run_for_each;
	std::vector<FunctionFeatures> functions;  // every function of fact_specs()

	const Capability &kind(ProgKind k) const;
	const Capability &map(MapKind k) const;
	const FunctionFeatures *function(std::string_view name) const;
};

// What a live probe does (the tracer's start skips the per-function
// attach tests: each costs a trampoline or a kprobe, seconds under
// emulation; a failed attach is then found when the tracer attaches).
struct ProbeScope {
	bool function_attach = true;
	std::vector<std::string> skip_functions;  // LISTENQ_SKIP_FUNCTIONS: treated as absent
	std::vector<std::string> refuse;          // LISTENQ_REFUSE: kinds treated as refused
};

// The live probe itself (src/bpf/kernel_probe.cpp).
KernelFeatures probe_kernel_features(const ProbeScope &scope = {});

}  // namespace listenq
