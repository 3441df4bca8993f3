// `listenq export` at scale: which listeners a scrape carries (--port,
// --top) and their sums by local port (--group-by port), with ephemeral
// ports folded into one label value. Pure: listeners in, rows out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/trace_model.h"
#include "util/result.h"

namespace listenq {

// net.ipv4.ip_local_port_range (IPv6 uses it too): the ports the kernel
// picks for bind(port 0), connect() and listen() without bind().
struct PortRange {
	std::uint16_t lo = 32768, hi = 60999;  // the kernel's default
	bool contains(std::uint16_t p) const { return p >= lo && p <= hi; }
	bool operator==(const PortRange &) const = default;
};
// The sysctl file's text: "32768\t60999\n". nullopt if malformed.
std::optional<PortRange> parse_port_range(std::string_view text);

// --port 80,443,8000-8099: an allow-list of ports and ranges.
class PortSet {
public:
	bool empty() const { return ranges_.empty(); }
	bool contains(std::uint16_t p) const;
	void add(std::uint16_t lo, std::uint16_t hi) { ranges_.emplace_back(lo, hi); }

private:
	std::vector<std::pair<std::uint16_t, std::uint16_t>> ranges_;
};
// "80", "80,443", "8000-8099,9090". The error names the bad item.
Result<PortSet> parse_port_set(std::string_view text);

// Pressure, as watch sorts by: accept-queue peak / (backlog + 1).
double pressure_of(const ListenerStat &l);

// The numbers export writes for a row: a listener's, or a port's sums.
// No strings and nothing that points into the tracer's table, so a scrape
// can be rendered after the tracer has moved on, and a row per port takes
// 120 bytes where a ListenerStat takes 296.
struct RowStat {
	std::optional<std::int32_t> requested_backlog;  // a listener's; never a port's (a sum means nothing)
	std::uint32_t backlog = 0, accept_queue = 0, accept_queue_peak = 0, syn_queue = 0, syn_queue_peak = 0;
	std::uint32_t drops = 0, hol_wait_us = 0, hol_wait_peak_us = 0;
	std::uint64_t enqueued = 0, accepted = 0, overflow_syn = 0, overflow_ack = 0, synack_retrans = 0;
	std::uint64_t synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0, wait_sum_ns = 0;
	SparseHist wait_hist;
	static RowStat of(const ListenerStat &l);
};

// The listeners of one local port, summed. Gauges of queues and backlogs
// and their peaks are sums (the peak is then an upper bound of the group's
// peak); the head-of-line waits are the members' maximum; counters are
// sums that never go back (PortAggregator).
struct PortGroup {
	std::uint16_t port = 0;  // 0 with ephemeral
	bool ephemeral = false;  // the ports of ip_local_port_range, folded
	std::uint32_t listeners = 0;
	double pressure = 0;  // the highest member's pressure_of()
	RowStat sum;
};

// Sums listeners by port, scrape after scrape. A counter of a group is the
// sum over its members now plus the last values of members that have gone
// (a reuseport member that closes, an ephemeral listener that ends), so it
// never goes back while the group has members: Prometheus's rate() would
// read a drop as a counter reset and count a spike. A group without
// members is forgotten (its series disappear, as a closed listener's do).
// Only members that have counted something are remembered from scrape to
// scrape: an idle one would leave nothing (at 50k idle listeners, 4.8 MB
// of zeros).
class PortAggregator {
public:
	// fold(l): is l's port ephemeral in l's netns? keep_hist: sum the
	// accept-wait histograms too (a counter, kept like the others).
	// Groups come out sorted by port, the ephemeral one last.
	template <typename Fold>
	std::vector<PortGroup> aggregate(const std::vector<ListenerStat> &ls, Fold &&fold, bool keep_hist)
	{
		std::vector<const ListenerStat *> refs;
		std::vector<char> ephemeral;
		refs.reserve(ls.size());
		ephemeral.reserve(ls.size());
		for (const ListenerStat &l : ls) {
			refs.push_back(&l);
			ephemeral.push_back(fold(l) ? 1 : 0);
		}
		return aggregate(refs, ephemeral, keep_hist);
	}
	// The same over the tracer's own table (no copy): ephemeral[i] folds ls[i].
	std::vector<PortGroup> aggregate(const std::vector<const ListenerStat *> &ls, const std::vector<char> &ephemeral,
					 bool keep_hist);
	// Listeners summed by the last aggregate(); of them, those remembered.
	std::size_t members() const { return summed_; }
	std::size_t remembered() const { return members_.size(); }

private:
	static constexpr std::uint32_t kEphemeralGroup = 1u << 16;  // sorts after every port
	struct Counters {
		std::uint64_t overflow_syn = 0, overflow_ack = 0, drops = 0, accepted = 0, enqueued = 0;
		std::uint64_t synack_retrans = 0, synq_full_drops = 0, synq_full_cookies = 0, syncookies_sent = 0;
		std::uint64_t wait_sum_ns = 0;
		void add(const Counters &o);
		bool operator==(const Counters &) const = default;
	};
	struct Member {
		std::uint64_t key = 0;
		std::uint32_t group = 0;
		Counters c;
		std::uint32_t hist = 0;  // index in hists_, with keep_hist
	};
	struct Retired {
		std::uint32_t group = 0;
		Counters c;
		Log2Hist hist{};
	};
	static Counters counters_of(const ListenerStat &l);
	std::vector<PortGroup> aggregate_groups(const std::vector<const ListenerStat *> &ls,
						const std::vector<std::uint32_t> &group_of, bool keep_hist);

	std::vector<Member> members_;  // the previous scrape's with a count, sorted by key
	std::size_t summed_ = 0;
	std::vector<Log2Hist> hists_;  // their wait histograms, with keep_hist
	std::vector<Retired> retired_;  // by group, sorted
};

// Keeps the n rows of highest pressure (then most overflows), in their
// order. Returns how many it left out.
std::size_t keep_top(std::vector<ListenerStat> &rows, std::size_t n);
std::size_t keep_top(std::vector<PortGroup> &rows, std::size_t n);

}  // namespace listenq
