// What the running kernel lets listenq do, probed once and cached.
// Plain data: unit tests build a KernelFeatures by hand (the mock).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace listenq {

struct Capability {
	bool ok = false;
	std::string detail;  // why not (when !ok), or what was used (when ok)

	static Capability yes(std::string d = {}) { return {true, std::move(d)}; }
	static Capability no(std::string why) { return {false, std::move(why)}; }
};

// Per kernel function hooked in tiers 1 and 2.
struct HookFeatures {
	std::string hook;      // HookSpec::name
	std::string function;  // resolved kernel function ("" if none of the candidates exists)
	Capability fentry;     // fentry/fexit loaded and attached
	Capability kprobe;     // kprobe/kretprobe attachable
};

struct KernelFeatures {
	Capability btf;           // kernel BTF (/sys/kernel/btf/vmlinux)
	Capability prog_tracing;  // libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_TRACING)
	Capability kprobe_pmu;    // perf kprobe PMU, or legacy kprobe_events
	Capability tp_btf;        // tp_btf/inet_sock_set_state loads and attaches
	Capability raw_tp;        // raw_tp/inet_sock_set_state loads and attaches
	Capability iter_tcp;      // iter/tcp loads and attaches
	Capability ringbuf;
	Capability sk_storage;
	Capability kfree_skb_listen_overflow;  // SKB_DROP_REASON_TCP_LISTEN_OVERFLOW (6.15+)
	std::vector<HookFeatures> hooks;       // one per kHooks entry, same order

	const HookFeatures *hook(const std::string &name) const;
};

class FeatureSource {
public:
	virtual ~FeatureSource() = default;
	virtual const KernelFeatures &features() = 0;
};

// Probes the running kernel on first use; later calls return the cache.
class LiveFeatureSource : public FeatureSource {
public:
	explicit LiveFeatureSource(bool hooks = true) : hooks_(hooks) {}
	const KernelFeatures &features() override;

private:
	bool hooks_;
	std::optional<KernelFeatures> cache_;
};

// Returns a fixed, hand-written feature set (tests, --features-from).
class FixedFeatureSource : public FeatureSource {
public:
	explicit FixedFeatureSource(KernelFeatures f) : f_(std::move(f)) {}
	const KernelFeatures &features() override { return f_; }

private:
	KernelFeatures f_;
};

// The live probe itself (src/bpf/kernel_probe.cpp). Without hooks, the
// per-hook fentry/kprobe attach tests are skipped (each costs a trampoline
// or a kprobe; seconds under emulation) and hooks stays empty.
KernelFeatures probe_kernel_features(bool hooks = true);

}  // namespace listenq
