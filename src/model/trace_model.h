// Plain data of the tracer: per-listener state and events, decoded from
// the BPF records (include/listenq/abi.h), and one watch interval.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/listener.h"

namespace listenq {

inline constexpr int kHistSlots = 32;
using Log2Hist = std::array<std::uint32_t, kHistSlots>;

// A Log2Hist that takes no memory while empty (most listeners' are, and
// the tracer fills them only for the commands that show them): reads as
// all zeros; the first write through operator[] allocates it.
class SparseHist {
public:
	SparseHist() = default;
	SparseHist(const SparseHist &o) : h_(o.h_ ? std::make_unique<Log2Hist>(*o.h_) : nullptr) {}
	SparseHist(SparseHist &&) noexcept = default;
	SparseHist &operator=(const SparseHist &o)
	{
		if (this != &o)
			assign(o.h_ ? *o.h_ : zeros());
		return *this;
	}
	SparseHist &operator=(SparseHist &&) noexcept = default;

	std::uint32_t operator[](std::size_t i) const { return h_ ? (*h_)[i] : 0; }
	std::uint32_t &operator[](std::size_t i) { return ensure()[i]; }
	const Log2Hist &get() const { return h_ ? *h_ : zeros(); }
	operator const Log2Hist &() const { return get(); }
	bool empty() const { return !h_; }
	// Copies the slots in; all zeros frees it.
	void assign(const Log2Hist &h);
	void assign(const std::uint32_t (&slots)[kHistSlots]);
	void clear() { h_.reset(); }

private:
	static const Log2Hist &zeros();
	Log2Hist &ensure();
	std::unique_ptr<Log2Hist> h_;
};

// Which histograms a reader of the listeners wants filled.
struct HistKinds {
	bool depth = false, wait = false;
};

struct ListenerStat {
	Listener id;  // family, addr, port, netns, cookie (queues below)
	// The tracer's identity of the listener: its cookie, or where no
	// program can make cookies (Plan::ptr_keys) an opaque per-socket id;
	// id.cookie is then 0. Never shown.
	std::uint64_t key = 0;
	std::uint32_t owner_pid = 0;
	bool seeded = false;  // listening before listenq started
	// Closed since the previous read: its final counts, shown this once.
	bool closed = false;
	std::string owner_comm;
	// The owner's cgroup, read from /proc once when the listener is first
	// seen with an owner, or its owner changes (sources/cgroup.h). Interned:
	// it points into the tracer's table and lives until the next
	// Tracer::read_listeners(). null: no owner, or not read yet.
	const CgroupInfo *cgroup = nullptr;
	std::optional<std::int32_t> requested_backlog;  // nullopt: listen() not seen (seeded)
	std::uint32_t backlog = 0;                      // effective (sk_max_ack_backlog)
	std::uint32_t accept_queue = 0, accept_queue_peak = 0;
	std::uint32_t syn_queue = 0, syn_queue_peak = 0;
	std::uint32_t drops = 0;
	std::uint64_t enqueued = 0, accepted = 0, overflow_syn = 0, overflow_ack = 0, synack_retrans = 0;
	std::uint64_t samples = 0, wait_sum_ns = 0;
	// tcp_conn_request's SYN-queue outcomes (tiers 1-2 only; see Tracer::unmeasured_fields)
	std::uint64_t synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0;
	// Head-of-line wait: how long the oldest connection in the accept
	// queue has waited (since its SYN-ACK: tcp_request_sock.snt_synack), in
	// us, at the last sample, and its peak this interval. 0: queue empty.
	// Sampled in every tier (the sampler reads rskq_accept_head).
	std::uint32_t hol_wait_us = 0, hol_wait_peak_us = 0;
	// Filled only for the commands that show them (Tracer::read_listeners).
	SparseHist depth_hist, wait_hist;
};

enum class EventType { listen, relisten, clamp, close, overflow, unknown };
std::string event_type_name(EventType t);

struct TraceEvent {
	std::uint64_t ts_ns = 0;
	EventType type = EventType::unknown;
	std::uint64_t cookie = 0;
	std::uint32_t netns = 0;
	std::uint32_t pid = 0;
	std::string comm;
	Listener where;  // family, addr, port, queue in accept_queue
	std::optional<std::int32_t> requested;
	std::uint32_t effective = 0, prev_effective = 0;
	std::string overflow_path;  // "syn", "ack", "" (OVERFLOW only)
	std::uint64_t accepted = 0, overflows = 0;  // CLOSE: final counters
};

// What a watch row's deltas need of the previous frame: one per listener
// (by key), not its whole state.
struct IntervalBase {
	std::uint64_t key = 0;
	std::uint64_t accepted = 0, overflow_syn = 0, overflow_ack = 0, synack_retrans = 0;
	std::uint64_t synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0;
	SparseHist wait_hist;
	static IntervalBase of(const ListenerStat &s);
};
// The previous frame: the keys of its listeners, and the bases of those
// with a count (an idle listener's base is all zeros), both sorted by key.
struct IntervalBases {
	std::vector<std::uint64_t> keys;
	std::vector<IntervalBase> counted;
};
// Refills out (its capacity reused) with the bases of these listeners.
void interval_bases(std::span<const ListenerStat> now, IntervalBases &out);
void interval_bases(const std::deque<ListenerStat> &now, IntervalBases &out);

// One row of `listenq watch`: the state now plus what changed in the
// interval. now points into the listeners compute_interval was given.
struct WatchRow {
	const ListenerStat *now = nullptr;
	std::uint64_t accepts = 0, overflow_syn = 0, overflow_ack = 0, synack_retrans = 0;
	std::uint64_t synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0;
	double accepts_per_s = 0;
	std::optional<double> wait_p50_us, wait_p99_us;  // tiers 1-2 only
	bool is_new = false;  // first interval it was seen
};

// Interval arithmetic: deltas against the previous interval (by key),
// sorted by pressure (peak/backlog, then overflows, then port). The rows
// point into now, which must outlive them; shown (when given) leaves out
// the listeners it refuses.
std::vector<WatchRow> compute_interval(const IntervalBases &prev, std::span<const ListenerStat> now, double seconds,
				       const std::function<bool(const ListenerStat &)> &shown = nullptr);
std::vector<WatchRow> compute_interval(const IntervalBases &prev, const std::deque<ListenerStat> &now, double seconds,
				       const std::function<bool(const ListenerStat &)> &shown = nullptr);

// Percentile (0..1) of a log2 histogram, reported as the slot's upper bound.
std::optional<double> hist_percentile(const Log2Hist &h, double q);

}  // namespace listenq
