#include "tracing/sampler.h"

#include <set>

#include "listenq/abi.h"
#include "sources/kernel_info.h"
#include "sources/netns.h"
#include "util/clock.h"

namespace listenq {

namespace {

constexpr std::uint64_t kFullEveryNs = 5'000'000'000ULL;

}  // namespace

std::optional<std::string> Sampler::netns_path(std::uint32_t inode, bool relist)
{
	if (relist || !netns_paths_.count(inode)) {
		netns_paths_.clear();
		for (const NetnsRef &ns : list_netns())
			netns_paths_[ns.inode] = ns.path;
	}
	auto it = netns_paths_.find(inode);
	if (it == netns_paths_.end())
		return std::nullopt;
	return it->second;
}

// One pass of kind k in a netns: ours directly, another through setns.
// entered: whether the netns could be entered (it may be gone).
Result<void> Sampler::pass_in(std::uint32_t netns, PassKind k, bool *entered)
{
	*entered = true;
	prog_.stat(LQ_STAT_UNTRACKED, /*zero=*/true);
	auto noted = [&](Result<void> r) {
		if (r) {
			if (auto n = prog_.stat(LQ_STAT_UNTRACKED))
				untracked_in_[netns] = n;
			else
				untracked_in_.erase(netns);
		}
		return r;
	};
	if (netns == current_netns_inode())
		return noted(prog_.run_pass(k));
	for (bool relist : {false, true}) {
		auto path = netns_path(netns, relist);
		if (!path)
			break;
		auto r = in_netns(*path, [&] { return prog_.run_pass(k); });
		if (r || r.error().err == ENOTRECOVERABLE)
			return noted(std::move(r));
	}
	*entered = false;
	untracked_in_.erase(netns);  // gone
	return {};
}

std::uint64_t Sampler::untracked_everywhere() const
{
	std::uint64_t n = 0;
	for (const auto &[ns, count] : untracked_in_)
		n += count;
	return n;
}

Result<void> Sampler::full_pass(bool first, bool every_tracked_netns, std::map<std::uint32_t, ListenCounters> *start)
{
	const std::uint32_t own = current_netns_inode();
	// The SYN attribution's baseline: each netns's counters at the start.
	auto read_start = [&](std::uint32_t inode) {
		if (start)
			if (auto c = read_listen_counters("/proc/thread-self"))
				(*start)[inode] = *c;
	};
	if (first) {
		// Every netns of the machine: an iterator walks the netns of the
		// thread that opens it (iter/task_file sees them all at once).
		const bool tcp = prog_.can_run(PassKind::tcp);
		read_start(own);
		bool entered;
		if (tcp) {
			if (auto r = pass_in(own, PassKind::tcp, &entered); !r)
				return r;
			last_passes++;
		}
		netns_seeded++;
		for (const NetnsRef &ns : tcp || start ? list_netns() : std::vector<NetnsRef>{}) {
			if (ns.inode == own)
				continue;
			netns_paths_[ns.inode] = ns.path;
			if (start) {
				auto r = in_netns(ns.path, [&]() -> Result<void> {
					read_start(ns.inode);
					return {};
				});
				if (!r && r.error().err == ENOTRECOVERABLE)
					return r;
			}
			if (tcp) {
				if (auto r = pass_in(ns.inode, PassKind::tcp, &entered); !r)
					return r;
				last_passes += entered;
			} else {
				entered = true;
			}
			(entered ? netns_seeded : netns_unseeded)++;
		}
		if (!tcp) {
			last_passes++;
			return prog_.run_pass(PassKind::files);
		}
		return {};
	}
	if (!prog_.can_run(PassKind::tcp)) {
		last_passes++;
		return prog_.run_pass(PassKind::files);
	}
	// iter/tcp: our netns, those with listeners waiting to be seeded, and,
	// without the tracked pass, every netns that has tracked listeners.
	std::set<std::uint32_t> netns = prog_.fresh_netns();
	netns.insert(own);
	if (every_tracked_netns) {
		prog_.each_listener([&](const lq_listener_key &k, const lq_listener_state &) { netns.insert(k.netns); });
		for (const auto &[ns, count] : untracked_in_)
			netns.insert(ns);
	}
	for (std::uint32_t ns : netns) {
		bool entered;
		if (auto r = pass_in(ns, PassKind::tcp, &entered); !r)
			return r;
		last_passes += entered;
	}
	return {};
}

// Entries whose listener no pass has visited since the last prune (5 s or
// more ago) are ghosts (a close that no hook saw, e.g. a missed kprobe).
void Sampler::prune_stale()
{
	std::map<std::uint64_t, std::uint64_t> seen;  // cookie -> samples
	std::vector<lq_listener_key> stale;
	prog_.each_listener(
		[&](const lq_listener_key &k, const lq_listener_state &st) {
			auto it = samples_at_prune_.find(k.cookie);
			if (it != samples_at_prune_.end() && it->second == st.samples)
				stale.push_back(k);
			else
				seen[k.cookie] = st.samples;
		},
		/*unfilled=*/true);
	for (const lq_listener_key &k : stale) {
		prog_.remove_listener(k);
		stale_removed++;
	}
	samples_at_prune_ = std::move(seen);
}

Result<void> Sampler::sample(std::map<std::uint32_t, ListenCounters> *start)
{
	const std::uint64_t t0 = monotonic_ns();
	const bool first = !samples;
	const bool tracked = prog_.can_run(PassKind::tracked);
	const bool fresh = prog_.stat(LQ_STAT_FRESH, /*zero=*/true) > 0;
	const bool periodic = first || t0 - last_full_ns_ >= kFullEveryNs;
	const bool can_full = prog_.can_run(PassKind::tcp) || prog_.can_run(PassKind::files);
	const bool full = can_full && (periodic || fresh || !tracked);
	last_passes = 0;
	prog_.stat(LQ_STAT_UNTRACKED, /*zero=*/true);
	if (full) {
		if (auto r = full_pass(first, !tracked, first ? start : nullptr); !r)
			return r;
		if (periodic)
			last_full_ns_ = t0;
	} else {
		if (auto r = prog_.run_pass(PassKind::tracked); !r)
			return r;
		last_passes = 1;
	}
	// Listeners the map had no room for. The tracked pass and an
	// iter/task_file pass see them all; iter/tcp passes, per netns, are
	// summed over every netns that has some (the first pass walked all, and
	// without the tracked pass those are walked every sample). A periodic
	// full pass beside the tracked pass walks only our netns: no count.
	const bool by_netns = full && prog_.can_run(PassKind::tcp);
	if (!full || !prog_.can_run(PassKind::tcp))
		untracked = prog_.stat(LQ_STAT_UNTRACKED);
	else if (by_netns && (first || !tracked))
		untracked = untracked_everywhere();
	if (!first && t0 - last_prune_ns_ >= kFullEveryNs) {
		prune_stale();
		last_prune_ns_ = t0;
	} else if (first) {
		last_prune_ns_ = t0;
	}
	samples++;
	last_us = (monotonic_ns() - t0) / 1000;
	return {};
}

}  // namespace listenq
