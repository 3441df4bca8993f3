#include "tracing/sampler.h"

#include <algorithm>
#include <cstdio>

#include "listenq/abi.h"
#include "sources/kernel_info.h"
#include "sources/netns.h"
#include "util/clock.h"

namespace listenq {

namespace {

constexpr std::uint64_t kFullEveryNs = 5'000'000'000ULL;
// With the busy pass (busy_sample): every listener read every 5 s, and a
// walk that seeds each minute.
constexpr std::uint64_t kAllEveryNs = 5'000'000'000ULL;
constexpr std::uint64_t kSeedEveryNs = 60'000'000'000ULL;

}  // namespace

void Sampler::busy_pass_stopped(const Error &why)
{
	std::fprintf(stderr, "listenq: %s; the plan's walk samples from now on\n", why.message.c_str());
}

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

// One iter/tcp pass in a netns: ours directly, another through setns.
// entered: whether the netns could be entered (it may be gone).
Result<void> Sampler::pass_in(std::uint32_t netns, bool *entered)
{
	*entered = true;
	prog_.stat(LQ_STAT_UNTRACKED, /*zero=*/true);
	auto noted = [&](Result<void> r) {
		if (r) {
			last_passes++;
			if (auto n = prog_.stat(LQ_STAT_UNTRACKED))
				untracked_in_[netns] = n;
			else
				untracked_in_.erase(netns);
		}
		return r;
	};
	if (netns == current_netns_inode())
		return noted(prog_.run_pass(PassKind::tcp));
	for (bool relist : {false, true}) {
		auto path = netns_path(netns, relist);
		if (!path)
			break;
		auto r = in_netns(*path, [&] { return prog_.run_pass(PassKind::tcp); });
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

std::set<std::uint32_t> Sampler::tracked_netns()
{
	std::set<std::uint32_t> netns = prog_.fresh_netns();
	netns.insert(current_netns_inode());
	prog_.each_listener([&](const lq_listener_key &k, const lq_listener_state &) { netns.insert(k.netns); });
	for (const auto &[ns, count] : untracked_in_)
		netns.insert(ns);
	return netns;
}

Result<void> Sampler::tcp_walk(const std::set<std::uint32_t> &netns)
{
	const std::uint64_t t0 = monotonic_ns();
	for (std::uint32_t ns : netns) {
		bool entered;
		if (auto r = pass_in(ns, &entered); !r)
			return r;
	}
	untracked = untracked_everywhere();
	tcp_walk_ns_ = monotonic_ns() - t0;
	return {};
}

Result<void> Sampler::files_walk()
{
	const std::uint64_t t0 = monotonic_ns();
	prog_.stat(LQ_STAT_UNTRACKED, /*zero=*/true);
	if (auto r = prog_.run_pass(PassKind::files); !r)
		return r;
	last_passes++;
	untracked = prog_.stat(LQ_STAT_UNTRACKED);
	files_walk_ns_ = monotonic_ns() - t0;
	return {};
}

// Every netns of the machine: an iterator walks the netns of the thread
// that opens it (iter/task_file sees them all at once). The SYN
// attribution's baseline is read in each on the way: its counters now.
Result<void> Sampler::first_walk(std::map<std::uint32_t, ListenCounters> *start)
{
	const std::uint32_t own = current_netns_inode();
	const bool tcp = prog_.can_run(PassKind::tcp);
	auto read_start = [&](std::uint32_t inode) {
		if (start)
			if (auto c = read_listen_counters("/proc/thread-self"))
				(*start)[inode] = *c;
	};
	read_start(own);
	bool entered;
	if (tcp)
		if (auto r = pass_in(own, &entered); !r)
			return r;
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
		entered = true;
		if (tcp)
			if (auto r = pass_in(ns.inode, &entered); !r)
				return r;
		(entered ? netns_seeded : netns_unseeded)++;
	}
	if (tcp) {
		untracked = untracked_everywhere();
		return {};
	}
	return files_walk();
}

// Entries whose listener no pass has visited since the last prune (5 s or
// more ago) are ghosts (a close that no hook saw, e.g. a missed kprobe).
void Sampler::prune_stale()
{
	// Sorted (cookie, samples): 16 bytes a listener, not a tree node.
	std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
	std::vector<lq_listener_key> stale;
	// The busy pass reads an idle listener only every 5 s, and says which
	// entries hold no listener any more.
	const bool busy = prog_.can_run(PassKind::busy);
	prog_.each_listener(
		[&](const lq_listener_key &k, const lq_listener_state &st) {
			if (busy) {
				if (st.flags & LQ_F_GONE)
					stale.push_back(k);
				return;
			}
			auto it = std::lower_bound(samples_at_prune_.begin(), samples_at_prune_.end(),
						   std::pair<std::uint64_t, std::uint64_t>{k.cookie, 0});
			if (it != samples_at_prune_.end() && it->first == k.cookie && it->second == st.samples)
				stale.push_back(k);
			else
				seen.emplace_back(k.cookie, st.samples);
		},
		/*unfilled=*/true);
	std::sort(seen.begin(), seen.end());
	for (const lq_listener_key &k : stale) {
		prog_.remove_listener(k);
		stale_removed++;
	}
	samples_at_prune_ = std::move(seen);
}

// A sample by the plan's walk (no busy pass).
Result<void> Sampler::walk_sample(std::map<std::uint32_t, ListenCounters> *start, std::uint64_t t0, bool first,
				  bool periodic, bool fresh)
{
	const bool tracked = prog_.can_run(PassKind::tracked), tcp = prog_.can_run(PassKind::tcp),
		   files = prog_.can_run(PassKind::files);
	Result<void> r;
	if (first) {
		r = first_walk(start);
		last_seed_ns_ = last_all_ns_ = t0;
	} else if (tracked) {
		// The tracked walk counts untracked listeners of every netns; a
		// periodic full walk of our netns only seeds.
		const std::uint64_t keep = untracked;
		if (periodic || fresh) {
			std::set<std::uint32_t> netns = prog_.fresh_netns();
			netns.insert(current_netns_inode());
			r = tcp ? tcp_walk(netns) : files ? files_walk() : Result<void>{};
			untracked = keep;
		} else {
			prog_.stat(LQ_STAT_UNTRACKED, /*zero=*/true);
			r = prog_.run_pass(PassKind::tracked);
			last_passes = 1;
			untracked = prog_.stat(LQ_STAT_UNTRACKED);
		}
	} else if (tcp && files) {
		// The tcp walk of each tracked netns every 5 s in any case, and
		// while the map is full (it counts, per netns, the listeners left
		// without a slot, and seeds them as slots free up); between, the
		// cheaper walk (the files walk's time is learnt once).
		// A listener that started under a raw hook (fresh) is seeded by the
		// tcp walk too: sample_files_raw (no helpers on socket->sk) skips a
		// socket with no cookie yet.
		const bool by_tcp =
			periodic || fresh || untracked > 0 || (files_walk_ns_ && tcp_walk_ns_ < files_walk_ns_);
		r = by_tcp ? tcp_walk(tracked_netns()) : files_walk();
	} else if (tcp) {
		r = tcp_walk(tracked_netns());
	} else if (files) {
		r = files_walk();
	} else {
		prog_.stat(LQ_STAT_UNTRACKED, /*zero=*/true);
		r = prog_.run_pass(PassKind::tracked);
		last_passes = 1;
		untracked = prog_.stat(LQ_STAT_UNTRACKED);
	}
	return r;
}

// The busy pass each sample: the listeners of the busy map (a hook
// counted something for them, or a queue was not empty at their last
// read), and every listener of the map every 5 s or when the busy map was
// full. A walk before it where one must seed (each minute, and each sample
// while a listener started under a raw hook waits or the listeners map has
// no room for some): iter/tcp of every tracked netns, else the files walk.
// The busy pass reads a listener once a sample: not again what the walk
// read.
Result<void> Sampler::busy_sample(std::uint64_t t0, bool fresh)
{
	const bool tcp = prog_.can_run(PassKind::tcp), files = prog_.can_run(PassKind::files);
	if (fresh || untracked > 0 || t0 - last_seed_ns_ >= kSeedEveryNs) {
		// The walk counts the listeners the map has no room for (untracked)
		// anew, and seeds them as slots free up.
		Result<void> r;
		if (tcp)
			r = tcp_walk(tracked_netns());
		else if (files)
			r = files_walk();
		if (!r)
			return r;
		last_seed_ns_ = t0;
	}
	const bool all = t0 - last_all_ns_ >= kAllEveryNs || prog_.stat(LQ_STAT_BUSY_FULL, /*zero=*/true) > 0;
	if (auto r = prog_.run_busy_pass(all); !r)
		return r;
	if (all)
		last_all_ns_ = t0;
	last_passes++;
	return {};
}

Result<void> Sampler::sample(std::map<std::uint32_t, ListenCounters> *start)
{
	const std::uint64_t t0 = monotonic_ns();
	const bool first = !samples;
	const bool fresh = prog_.stat(LQ_STAT_FRESH, /*zero=*/true) > 0;
	const bool periodic = first || t0 - last_full_ns_ >= kFullEveryNs;
	last_passes = 0;
	Result<void> r;
	prog_.next_sample_tick();
	if (!first && prog_.can_run(PassKind::busy)) {
		r = busy_sample(t0, fresh);
		if (!r && !prog_.can_run(PassKind::busy)) {
			// The kernel refused the test run: the plan's walk from now on.
			busy_pass_stopped(r.error());
			r = walk_sample(nullptr, t0, false, periodic, fresh);
		}
	} else {
		r = walk_sample(start, t0, first, periodic, fresh);
	}
	if (!r)
		return r;
	if (periodic)
		last_full_ns_ = t0;
	if (first) {
		last_prune_ns_ = t0;
	} else if (t0 - last_prune_ns_ >= kFullEveryNs) {
		prune_stale();
		last_prune_ns_ = t0;
	}
	samples++;
	last_us = (monotonic_ns() - t0) / 1000;
	return {};
}

}  // namespace listenq
