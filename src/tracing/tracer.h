// The tracer of watch, trace, hist, export and demo: the BPF programs of a
// plan (bpf/trace_program.h), sampled on a schedule (sampler.h), their
// events decoded, the listeners read with their owners and, where
// tcp_conn_request is not hooked, the SYN path attributed from the netns
// counters (model/syn_attribution.h).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/syn_attribution.h"
#include "model/trace_model.h"
#include "plan/features.h"
#include "plan/plan.h"
#include "sources/proc_net.h"
#include "util/result.h"

namespace listenq {

struct TracerOptions {
	std::string btf_path;
	AttachMode attach = AttachMode::automatic;
	std::uint32_t max_listeners = 65536;
	std::uint32_t ringbuf_bytes = 4u << 20;  // power of 2, >= page size
	std::vector<Refusal> refuse;             // LISTENQ_REFUSE: treated as refused by the kernel
	bool syscalls = false;                   // the raw syscall hooks may be used (make_plan)
};

struct TracerStats {
	std::uint64_t events_lost = 0;  // ringbuf/perf buffer full
	std::uint64_t events_late = 0;  // perf buffer: handed over out of time order
	// Hook runs the kernel skipped (bpf_prog_info.recursion_misses, 5.12+):
	// a kprobe that fires while another BPF program runs on that CPU is
	// not run, so what it would have counted is missing.
	std::uint64_t hook_runs_missed = 0;
	std::uint64_t untracked = 0;    // listeners the last sample found no room for (map full)
	std::uint64_t samples = 0;      // sample passes run
	// First full pass: network namespaces walked, and those that could not
	// be entered (listeners there that started before listenq are missed).
	std::uint64_t netns_seeded = 0, netns_unseeded = 0;
	// Map entries of listeners that had gone without a close being seen
	// (a missed hook), removed when no pass visited them for 5 s.
	std::uint64_t stale_removed = 0;
	// Closed listeners whose final counts had no room (bpf closed map full:
	// over 4096 closes between two reads): their last interval is lost.
	std::uint64_t closed_lost = 0;
	// What the last sample cost: its iterator passes and their time.
	std::uint32_t last_sample_passes = 0;
	std::uint64_t last_sample_us = 0;
};

class Tracer {
public:
	using EventFn = std::function<void(const TraceEvent &)>;

	// Carries out make_plan(features, opts.attach, opts.refuse), re-planning
	// around whatever the kernel refuses at load or attach. An error only
	// when no way to read the listeners remains (it names the programs and
	// the kernel's errno), or a forced --attach tier is impossible.
	static Result<std::unique_ptr<Tracer>> start(const TracerOptions &opts, const KernelFeatures &features,
						     EventFn on_event);
	~Tracer();

	// The plan carried out: what serves each fact, what was refused.
	const Plan &plan() const;
	std::string tier() const { return plan().tiers(); }
	// What is attached ("fexit/inet_csk_accept", "tp_btf/sys_exit", ...).
	const std::vector<std::string> &attached() const;

	// One sample: the tracked listeners, or full passes where needed
	// (sampler.h). The first walks every netns of the machine.
	Result<void> sample();
	// Waits up to timeout_ms for events, or for wake_fd (when >= 0) to
	// become readable; handles the events; returns how many.
	Result<int> poll(int timeout_ms, int wake_fd = -1);
	// Handles every event written so far, the perf buffer's reorder window
	// included: at the end of a run.
	void drain_events();
	// Reads the listeners now into listeners(), in place: the one copy in
	// user space. Only the histograms asked for are filled. Where the SYN
	// path is not hooked, its counts are attributed from each netns's
	// TcpExt counters, so call it once per interval.
	Result<void> read_listeners(HistKinds hists = {});
	// The listeners of the last read_listeners(), in no particular order.
	// Elements stay where they are until the next read.
	const std::deque<ListenerStat> &listeners() const;
	// Runs fn with this thread in the listeners' netns with this inode
	// (/proc/thread-self/net and /proc/sys/net then show that netns).
	// false: it cannot be entered (gone). An error only when the thread
	// could not come back.
	Result<bool> in_netns_of(std::uint32_t netns, const std::function<void()> &fn);
	// TcpExt's listen counters of that netns (nullopt: it cannot be read,
	// e.g. gone); the same read the SYN-path attribution makes.
	Result<std::optional<ListenCounters>> netns_counters(std::uint32_t netns);
	// SYN-path counts of a netns no single listener could be given.
	std::vector<Unattributed> unattributed() const;
	void next_interval();  // new epoch: peaks restart
	TracerStats stats() const;
	// When the last sample() ended (monotonic_ns), 0 before the first.
	std::uint64_t last_sample_ns() const;

	struct Impl;

private:
	explicit Tracer(std::unique_ptr<Impl> impl);
	std::unique_ptr<Impl> impl_;
};

}  // namespace listenq
