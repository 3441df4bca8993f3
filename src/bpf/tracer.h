// Loads bpf/trace.bpf.c, attaches it per the tier decisions, polls events
// and reads the per-listener map. Order: open -> configure -> load ->
// attach -> poll. Destruction detaches everything (member order).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bpf/features.h"
#include "bpf/tiers.h"
#include "model/syn_attribution.h"
#include "model/trace_model.h"
#include "util/result.h"

namespace listenq {

struct TracerOptions {
	std::string btf_path;
	AttachMode attach = AttachMode::automatic;
	std::uint32_t max_listeners = 65536;
	std::uint32_t ringbuf_bytes = 4u << 20;  // power of 2, >= page size
};

struct TracerStats {
	std::uint64_t events_lost = 0;  // ringbuf full
	std::uint64_t untracked = 0;    // listeners the last sample found no room for (map full)
	std::uint64_t samples = 0;      // iter/tcp passes run
	// First full pass: network namespaces walked, and those that could not
	// be entered (listeners there that started before listenq are missed).
	std::uint64_t netns_seeded = 0, netns_unseeded = 0;
	// Map entries of listeners that had gone without a close being seen
	// (a missed hook), removed when no pass visited them for 5 s.
	std::uint64_t stale_removed = 0;
};

class Tracer {
public:
	using EventFn = std::function<void(const TraceEvent &)>;

	// Per fact (listen, enqueue, accept, conn_request, ACK overflow) and
	// function: tier 1 (fentry/fexit) where the kernel allows it, else tier 2
	// (kprobe/kretprobe), else tier 3 (tracepoints + iter/tcp sampling).
	// --attach=fentry or kprobe fails unless every function attaches there.
	static Result<std::unique_ptr<Tracer>> start(const TracerOptions &opts, const KernelFeatures &features,
						     EventFn on_event);
	~Tracer();

	// The tiers in use, best first: "fentry", "kprobe", "tracepoint",
	// "fentry+kprobe", "fentry+tracepoint", ... (tracepoint: some fact is not
	// covered by a function hook).
	std::string tier() const;
	// What is attached ("fexit/inet_csk_accept", "tp_btf/sys_exit", ...).
	const std::vector<std::string> &attached() const { return attached_; }
	// Function hooks that could not attach (or load), with the reason.
	const std::vector<std::string> &skipped() const;
	// Accept wait needs both the enqueue and the accept hook (tiers 1-2).
	bool measures_waits() const;
	// Names of the numbers that come from iter/tcp samples in this tier.
	std::vector<std::string> sampled_fields() const;
	// Names of the numbers this tier cannot measure at all (shown as null).
	std::vector<std::string> unmeasured_fields() const;

	// One sampling pass: the tracked listeners (iter/bpf_sk_storage_map), or
	// every listener of this netns (iter/tcp) every 5 s; the first call walks
	// every netns of the machine (iter/tcp in each, by setns).
	Result<void> sample();
	// Waits up to timeout_ms for ring buffer events, or for wake_fd (when
	// >= 0) to become readable; handles the events; returns how many.
	Result<int> poll(int timeout_ms, int wake_fd = -1);
	// The listeners now. In tier 3 the SYN-path counts (overflow_syn,
	// synq_*) are attributed from each netns's TcpExt counters
	// (model/syn_attribution.h), so call it once per interval.
	Result<std::vector<ListenerStat>> read_listeners();
	// Tier 3: SYN-path counts of a netns no single listener could be given.
	std::vector<Unattributed> unattributed() const;
	// Numbers derived from netns counters rather than measured per listener.
	std::vector<std::string> attributed_fields() const;
	void next_interval();                  // new epoch: peaks restart
	TracerStats stats() const;

	struct Impl;

private:
	explicit Tracer(std::unique_ptr<Impl> impl);
	Result<void> first_pass();
	void prune_stale();
	std::unique_ptr<Impl> impl_;
	std::vector<std::string> attached_;
	std::uint64_t samples_ = 0, full_samples_ = 0;
};

}  // namespace listenq
