// Tier 3 cannot see tcp_conn_request, so a listener's SYN-path outcomes
// (SYN-queue-full drops and cookies, SYN-path accept-queue overflows) exist
// only as netns totals: TcpExt in that netns's /proc/net/netstat. Every one
// of them happens to a listener under SYN pressure: a drop raises its
// sk_drops, a cookie means its SYN queue was full. So when exactly one
// listener of a netns was under SYN pressure in an interval, the netns's
// deltas of that interval are that listener's, exactly. When several were,
// the deltas stay with the netns as "not attributed"; nothing is dropped.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "model/trace_model.h"
#include "model/counters.h"

namespace listenq {

struct SynCounts {
	std::uint64_t overflow_syn = 0, synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0;
	bool any() const { return overflow_syn || synq_full_drops || synq_full_cookies || syncookies_sent; }
	SynCounts &operator+=(const SynCounts &o);
};

// Counts of a netns that no single listener can be given (yet).
struct Unattributed {
	std::uint32_t netns = 0;
	SynCounts counts;
	std::uint32_t listeners_under_pressure = 0;  // in the last ambiguous interval; 0: none seen yet
};

class SynAttributor {
public:
	// ack_exact: overflow_ack is measured per listener (hook or kfree_skb
	// reason), so ListenOverflows minus those is the SYN path. Otherwise
	// overflow_syn gets ListenOverflows whole (both paths).
	explicit SynAttributor(bool ack_exact) : ack_exact_(ack_exact) {}

	// stats: the tracer's listeners now, where overflow_syn holds the
	// sk_drops rise no exact hook explained (tier 3's raw count). mibs: the
	// TcpExt counters of each netns now (a netns missing here is left as
	// it is). Rewrites overflow_syn and the synq_* counts of stats with what
	// has been attributed to each listener so far. Call once per interval,
	// before peaks restart.
	void apply(std::vector<ListenerStat> &stats, const std::map<std::uint32_t, ListenCounters> &mibs);
	void apply(std::deque<ListenerStat> &stats, const std::map<std::uint32_t, ListenCounters> &mibs);

	// The counters of every netns when listenq started. A netns first seen
	// later, with no listener older than listenq, was created later: its
	// counters started at 0. Without this call, a netns's baseline is its
	// first apply().
	void set_start(const std::map<std::uint32_t, ListenCounters> &mibs);

	// Whether a netns's SYN-path counters rose since the last apply(), or
	// counts wait for a listener under pressure: every listener's queues
	// should then be read (the busy pass reads only those a hook counted
	// for, and no tier-3 hook sees a SYN).
	bool rose(const std::map<std::uint32_t, ListenCounters> &mibs) const;

	// Per netns with counts not given to a listener, in netns order.
	std::vector<Unattributed> unattributed() const;

private:
	template <class Stats>
	void apply_to(Stats &stats, const std::map<std::uint32_t, ListenCounters> &mibs);

	// Kept only for listeners with a count (all zeros otherwise): idle
	// listeners cost nothing.
	struct PerListener {
		std::uint64_t raw_drops = 0, ack = 0;  // last seen raw overflow_syn and overflow_ack
		SynCounts given;
		std::uint64_t seen = 0;  // the apply() that last saw it
	};
	struct PerNetns {
		ListenCounters last;
		SynCounts pending;  // no listener under pressure yet (counted between sample and read)
		SynCounts unattributed;
		std::uint32_t ambiguous_with = 0;
	};
	bool ack_exact_;
	bool started_ = false;
	std::uint64_t applies_ = 0;
	std::map<std::uint64_t, PerListener> listeners_;  // by ListenerStat::key
	std::map<std::uint32_t, PerNetns> netns_;
};

}  // namespace listenq
