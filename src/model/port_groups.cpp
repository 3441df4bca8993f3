#include "model/port_groups.h"

#include <algorithm>
#include <charconv>
#include <numeric>

namespace listenq {

namespace {

std::string_view trim(std::string_view s)
{
	while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
		s.remove_prefix(1);
	while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
		s.remove_suffix(1);
	return s;
}

std::optional<std::uint16_t> parse_port(std::string_view s, unsigned min)
{
	unsigned v = 0;
	const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
	if (ec != std::errc() || end != s.data() + s.size() || s.empty() || v < min || v > 65535)
		return std::nullopt;
	return static_cast<std::uint16_t>(v);
}

}  // namespace

std::optional<PortRange> parse_port_range(std::string_view text)
{
	text = trim(text);
	const std::size_t sep = text.find_first_of(" \t");
	if (sep == std::string_view::npos)
		return std::nullopt;
	const auto lo = parse_port(trim(text.substr(0, sep)), 0);
	const auto hi = parse_port(trim(text.substr(sep)), 0);
	if (!lo || !hi || *lo > *hi)
		return std::nullopt;
	return PortRange{*lo, *hi};
}

bool PortSet::contains(std::uint16_t p) const
{
	for (const auto &[lo, hi] : ranges_)
		if (p >= lo && p <= hi)
			return true;
	return false;
}

Result<PortSet> parse_port_set(std::string_view text)
{
	PortSet set;
	if (trim(text).empty())
		return Error{EINVAL, "expected ports, e.g. 80,443,8000-8099"};
	while (!text.empty()) {
		const std::size_t comma = text.find(',');
		const std::string_view item = trim(text.substr(0, comma));
		text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
		const std::size_t dash = item.find('-');
		const auto lo = parse_port(trim(item.substr(0, dash)), 1);
		const auto hi = dash == std::string_view::npos ? lo : parse_port(trim(item.substr(dash + 1)), 1);
		if (!lo || !hi)
			return Error{EINVAL, "\"" + std::string(item) + "\" is not a port (1-65535) or a range LO-HI"};
		if (*lo > *hi)
			return Error{EINVAL, "\"" + std::string(item) + "\": the range ends before it starts"};
		set.add(*lo, *hi);
	}
	return set;
}

double pressure_of(const ListenerStat &l)
{
	return static_cast<double>(l.accept_queue_peak) / (static_cast<double>(l.backlog) + 1.0);
}

RowStat RowStat::of(const ListenerStat &l)
{
	RowStat r;
	r.requested_backlog = l.requested_backlog;
	r.backlog = l.backlog;
	r.accept_queue = l.accept_queue;
	r.accept_queue_peak = l.accept_queue_peak;
	r.syn_queue = l.syn_queue;
	r.syn_queue_peak = l.syn_queue_peak;
	r.drops = l.drops;
	r.hol_wait_us = l.hol_wait_us;
	r.hol_wait_peak_us = l.hol_wait_peak_us;
	r.enqueued = l.enqueued;
	r.accepted = l.accepted;
	r.overflow_syn = l.overflow_syn;
	r.overflow_ack = l.overflow_ack;
	r.synack_retrans = l.synack_retrans;
	r.synq_full_drops = l.synq_full_drops;
	r.synq_full_cookies = l.synq_full_cookies;
	r.syncookies_sent = l.syncookies_sent;
	r.wait_sum_ns = l.wait_sum_ns;
	r.wait_hist = l.wait_hist;
	return r;
}

namespace {

bool any_count(const Log2Hist &h)
{
	return std::any_of(h.begin(), h.end(), [](std::uint32_t n) { return n != 0; });
}

}  // namespace

void PortAggregator::Counters::add(const Counters &o)
{
	overflow_syn += o.overflow_syn;
	overflow_ack += o.overflow_ack;
	drops += o.drops;
	accepted += o.accepted;
	enqueued += o.enqueued;
	synack_retrans += o.synack_retrans;
	synq_full_drops += o.synq_full_drops;
	synq_full_cookies += o.synq_full_cookies;
	syncookies_sent += o.syncookies_sent;
	wait_sum_ns += o.wait_sum_ns;
}

PortAggregator::Counters PortAggregator::counters_of(const ListenerStat &l)
{
	return {l.overflow_syn,	     l.overflow_ack,	  l.drops,		l.accepted,	    l.enqueued,
		l.synack_retrans,    l.synq_full_drops,	  l.synq_full_cookies,	l.syncookies_sent,  l.wait_sum_ns};
}

std::vector<PortGroup> PortAggregator::aggregate(const std::vector<const ListenerStat *> &ls,
						 const std::vector<char> &ephemeral, bool keep_hist)
{
	std::vector<std::uint32_t> group_of;
	group_of.reserve(ls.size());
	for (std::size_t i = 0; i < ls.size(); i++)
		group_of.push_back(ephemeral[i] ? kEphemeralGroup : ls[i]->id.port);
	return aggregate_groups(ls, group_of, keep_hist);
}

// Long: one pass that keeps each port's counters monotonic across members that come and go; to split with --top.
std::vector<PortGroup> PortAggregator::aggregate_groups(const std::vector<const ListenerStat *> &ls,
							const std::vector<std::uint32_t> &group_of, bool keep_hist)
{
	// This scrape's members that have counted something, by key. One that
	// has not would leave nothing if it went, or moved to another group.
	std::vector<std::uint32_t> order;
	for (std::uint32_t i = 0; i < ls.size(); i++)
		if (counters_of(*ls[i]) != Counters{} || (keep_hist && any_count(ls[i]->wait_hist)))
			order.push_back(i);
	std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return ls[a]->key < ls[b]->key; });
	std::vector<Member> now;
	std::vector<Log2Hist> now_hists;
	now.reserve(order.size());
	if (keep_hist)
		now_hists.reserve(order.size());
	for (std::uint32_t i : order) {
		Member m{ls[i]->key, group_of[i], counters_of(*ls[i]), 0};
		if (keep_hist) {
			m.hist = static_cast<std::uint32_t>(now_hists.size());
			now_hists.push_back(ls[i]->wait_hist.get());
		}
		now.push_back(m);
	}
	summed_ = ls.size();

	// Members gone since the previous scrape (or moved to another group)
	// leave their last counts to their group.
	auto retire = [&](const Member &m) {
		auto it = std::lower_bound(retired_.begin(), retired_.end(), m.group,
					   [](const Retired &r, std::uint32_t g) { return r.group < g; });
		if (it == retired_.end() || it->group != m.group)
			it = retired_.insert(it, Retired{m.group, {}, {}});
		it->c.add(m.c);
		if (keep_hist && m.hist < hists_.size())
			for (int s = 0; s < kHistSlots; s++)
				it->hist[static_cast<std::size_t>(s)] += hists_[m.hist][static_cast<std::size_t>(s)];
	};
	for (std::size_t i = 0, j = 0; i < members_.size(); i++) {
		while (j < now.size() && now[j].key < members_[i].key)
			j++;
		if (j == now.size() || now[j].key != members_[i].key || now[j].group != members_[i].group)
			retire(members_[i]);
	}
	members_ = std::move(now);
	hists_ = std::move(now_hists);

	// The groups, sorted: ports, then the ephemeral one. A group id is at
	// most kEphemeralGroup, so a table finds each one's row (256 KiB, where
	// sorting the ids took a copy of group_of and a binary search each).
	constexpr std::uint32_t kNone = UINT32_MAX;
	std::vector<std::uint32_t> row_of(kEphemeralGroup + 1, kNone);
	for (std::uint32_t g : group_of)
		row_of[g] = 0;
	std::uint32_t rows = 0;
	for (std::uint32_t &r : row_of)
		if (r != kNone)
			r = rows++;
	std::vector<PortGroup> groups(rows);
	for (std::uint32_t g = 0; g <= kEphemeralGroup; g++)
		if (row_of[g] != kNone) {
			groups[row_of[g]].ephemeral = g == kEphemeralGroup;
			groups[row_of[g]].port = g == kEphemeralGroup ? 0 : static_cast<std::uint16_t>(g);
		}
	for (std::size_t i = 0; i < ls.size(); i++) {
		const ListenerStat &l = *ls[i];
		PortGroup &g = groups[row_of[group_of[i]]];
		RowStat &s = g.sum;
		g.listeners++;
		g.pressure = std::max(g.pressure, pressure_of(l));
		s.backlog += l.backlog;
		s.accept_queue += l.accept_queue;
		s.accept_queue_peak += l.accept_queue_peak;
		s.syn_queue += l.syn_queue;
		s.syn_queue_peak += l.syn_queue_peak;
		s.hol_wait_us = std::max(s.hol_wait_us, l.hol_wait_us);
		s.hol_wait_peak_us = std::max(s.hol_wait_peak_us, l.hol_wait_peak_us);
		s.drops += l.drops;
		s.overflow_syn += l.overflow_syn;
		s.overflow_ack += l.overflow_ack;
		s.accepted += l.accepted;
		s.enqueued += l.enqueued;
		s.synack_retrans += l.synack_retrans;
		s.synq_full_drops += l.synq_full_drops;
		s.synq_full_cookies += l.synq_full_cookies;
		s.syncookies_sent += l.syncookies_sent;
		s.wait_sum_ns += l.wait_sum_ns;
		if (keep_hist && !l.wait_hist.empty())  // an empty one reads as zeros, and stays unallocated
			for (int k = 0; k < kHistSlots; k++)
				s.wait_hist[static_cast<std::size_t>(k)] += l.wait_hist[static_cast<std::size_t>(k)];
	}

	// Add what gone members left; forget the groups that have none left.
	std::vector<Retired> kept;
	for (Retired &r : retired_) {
		if (row_of[r.group] == kNone)
			continue;
		RowStat &s = groups[row_of[r.group]].sum;
		s.overflow_syn += r.c.overflow_syn;
		s.overflow_ack += r.c.overflow_ack;
		s.drops = static_cast<std::uint32_t>(s.drops + r.c.drops);
		s.accepted += r.c.accepted;
		s.enqueued += r.c.enqueued;
		s.synack_retrans += r.c.synack_retrans;
		s.synq_full_drops += r.c.synq_full_drops;
		s.synq_full_cookies += r.c.synq_full_cookies;
		s.syncookies_sent += r.c.syncookies_sent;
		s.wait_sum_ns += r.c.wait_sum_ns;
		if (keep_hist && any_count(r.hist))
			for (int k = 0; k < kHistSlots; k++)
				s.wait_hist[static_cast<std::size_t>(k)] += r.hist[static_cast<std::size_t>(k)];
		kept.push_back(std::move(r));
	}
	retired_ = std::move(kept);
	return groups;
}

namespace {

template <typename Row, typename Pressure, typename Overflows>
std::size_t keep_top_of(std::vector<Row> &rows, std::size_t n, Pressure pressure, Overflows overflows)
{
	if (rows.size() <= n)
		return 0;
	std::vector<std::size_t> order(rows.size());
	std::iota(order.begin(), order.end(), std::size_t{0});
	std::nth_element(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
			 [&](std::size_t a, std::size_t b) {
				 const double pa = pressure(rows[a]), pb = pressure(rows[b]);
				 if (pa != pb)
					 return pa > pb;
				 const std::uint64_t oa = overflows(rows[a]), ob = overflows(rows[b]);
				 return oa != ob ? oa > ob : a < b;
			 });
	std::vector<bool> keep(rows.size());
	for (std::size_t i = 0; i < n; i++)
		keep[order[i]] = true;
	std::size_t w = 0;
	for (std::size_t i = 0; i < rows.size(); i++)
		if (keep[i])
			rows[w++] = std::move(rows[i]);
	const std::size_t left_out = rows.size() - w;
	rows.resize(w);
	return left_out;
}

}  // namespace

std::size_t keep_top(std::vector<ListenerStat> &rows, std::size_t n)
{
	return keep_top_of(rows, n, pressure_of, [](const ListenerStat &l) { return l.overflow_syn + l.overflow_ack; });
}

std::size_t keep_top(std::vector<PortGroup> &rows, std::size_t n)
{
	return keep_top_of(
		rows, n, [](const PortGroup &g) { return g.pressure; },
		[](const PortGroup &g) { return g.sum.overflow_syn + g.sum.overflow_ack; });
}

}  // namespace listenq
