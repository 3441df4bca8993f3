// When and where the sample passes of fact "queues" run, after the plan's
// way (src/plan/facts.cpp):
//  - the first sample walks every netns of the machine (a full pass in
//    each, or one iter/task_file pass), to seed listeners older than listenq;
//  - then the tracked listeners every sample (iter/bpf_sk_storage_map), and
//    a full pass of our own netns every 5 s, or at once when a listener
//    started under a raw hook waits to be seeded;
//  - without the tracked pass every sample is a full one: iter/tcp in our
//    netns and in each netns that has tracked listeners, or one
//    iter/task_file pass.
// Entries no pass visited for 5 s (a close no hook saw) are pruned.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "bpf/trace_program.h"
#include "sources/proc_net.h"
#include "util/result.h"

namespace listenq {

class Sampler {
public:
	explicit Sampler(TraceProgram &prog) : prog_(prog) {}

	// One sample. On the first, when start is given, every netns's TcpExt
	// counters are read into it as well (the SYN attribution's baseline).
	Result<void> sample(std::map<std::uint32_t, ListenCounters> *start = nullptr);

	// The nsfs file of a netns (cached; listed again when one is missing).
	std::optional<std::string> netns_path(std::uint32_t inode, bool relist = false);

	std::uint64_t samples = 0, netns_seeded = 0, netns_unseeded = 0;
	std::uint64_t untracked = 0, stale_removed = 0;
	std::uint32_t last_passes = 0;
	std::uint64_t last_us = 0;

private:
	Result<void> full_pass(bool first, bool every_tracked_netns, std::map<std::uint32_t, ListenCounters> *start);
	// One pass in a netns; its listeners the map had no room for are noted.
	Result<void> pass_in(std::uint32_t netns, PassKind k, bool *entered);
	std::uint64_t untracked_everywhere() const;
	void prune_stale();

	TraceProgram &prog_;
	std::uint64_t last_full_ns_ = 0, last_prune_ns_ = 0;
	std::map<std::uint64_t, std::uint64_t> samples_at_prune_;  // cookie -> samples at the last prune
	std::map<std::uint32_t, std::string> netns_paths_;
	// iter/tcp passes: listeners without a map slot, per netns. Without the
	// tracked pass, a netns that had some is walked every sample, so that
	// the count stays whole.
	std::map<std::uint32_t, std::uint64_t> untracked_in_;
};

}  // namespace listenq
