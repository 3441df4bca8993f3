// When and where the sample passes of fact "queues" run, after the plan's
// way (src/plan/facts.cpp). Three walks exist:
//  - tracked: iter/bpf_sk_storage_map over the tracked listeners, in every
//    netns at once;
//  - tcp: iter/tcp, every TCP hash bucket, in one netns (entered by setns);
//  - files: iter/task_file, every process's open sockets, every netns.
// The first sample walks every netns of the machine (tcp in each, or one
// files walk), to seed listeners older than listenq. Then:
//  - with the tracked walk: it every sample, and a full walk of our own
//    netns every 5 s, or at once when a listener started under a raw hook
//    waits to be seeded;
//  - without it: a full walk every sample, the cheaper (as measured) of
//    files and tcp in each netns with tracked listeners, and the tcp walk
//    of each such netns every 5 s in any case (listeners no visible process
//    holds are sampled then) and while the map is full.
// Where the plan adds the busy pass (raw_tp sample_busy, run by
// BPF_PROG_TEST_RUN), it is the regular pass instead: it reads only the
// listeners a hook counted something for or whose queue was not empty
// (the busy map), and every listener every 5 s; a walk only seeds, each
// minute (busy_sample).
// Entries no walk visited for 5 s (a close no hook saw) are pruned; with
// the busy pass, those it found another socket at (LQ_F_GONE).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

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

	// The kernel refused a run of the busy pass (it is off from now on):
	// says so, once, on stderr.
	static void busy_pass_stopped(const Error &why);

	// The nsfs file of a netns (cached; listed again when one is missing).
	std::optional<std::string> netns_path(std::uint32_t inode, bool relist = false);

	std::uint64_t samples = 0, netns_seeded = 0, netns_unseeded = 0;
	std::uint64_t untracked = 0, stale_removed = 0;
	std::uint32_t last_passes = 0;  // iterator passes of the last sample
	std::uint64_t last_us = 0;      // and their time

private:
	Result<void> first_walk(std::map<std::uint32_t, ListenCounters> *start);
	// tcp in each of these netns; untracked counted per netns.
	Result<void> tcp_walk(const std::set<std::uint32_t> &netns);
	Result<void> files_walk();
	Result<void> walk_sample(std::map<std::uint32_t, ListenCounters> *start, std::uint64_t t0, bool first,
				 bool periodic, bool fresh);
	Result<void> busy_sample(std::uint64_t t0, bool fresh);
	// One pass in a netns; its listeners the map had no room for are noted.
	Result<void> pass_in(std::uint32_t netns, bool *entered);
	// Our netns, those with tracked listeners or with listeners the map had
	// no room for, and those where a listener waits to be seeded.
	std::set<std::uint32_t> tracked_netns();
	std::uint64_t untracked_everywhere() const;
	void prune_stale();

	TraceProgram &prog_;
	std::uint64_t last_full_ns_ = 0, last_prune_ns_ = 0;
	std::uint64_t last_all_ns_ = 0, last_seed_ns_ = 0;  // busy pass: see busy_sample
	// Without the tracked walk: the last time of each full walk, to take
	// the cheaper every sample (0: not measured yet).
	std::uint64_t tcp_walk_ns_ = 0, files_walk_ns_ = 0;
	// (cookie, samples at the last prune), sorted.
	std::vector<std::pair<std::uint64_t, std::uint64_t>> samples_at_prune_;
	std::map<std::uint32_t, std::string> netns_paths_;
	// tcp walks: listeners without a map slot, per netns; a netns that had
	// some is walked again, so that the count stays whole.
	std::map<std::uint32_t, std::uint64_t> untracked_in_;
};

}  // namespace listenq
