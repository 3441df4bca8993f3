#include "model/trace_model.h"

#include <algorithm>
#include <tuple>

namespace listenq {

std::string event_type_name(EventType t)
{
	switch (t) {
	case EventType::listen: return "listen";
	case EventType::relisten: return "relisten";
	case EventType::clamp: return "clamp";
	case EventType::close: return "close";
	case EventType::overflow: return "overflow";
	case EventType::unknown: return "unknown";
	}
	return "unknown";
}

std::optional<double> hist_percentile(const Log2Hist &h, double q)
{
	std::uint64_t total = 0;
	for (auto c : h)
		total += c;
	if (!total)
		return std::nullopt;
	const double target = q * static_cast<double>(total);
	std::uint64_t seen = 0;
	for (int i = 0; i < kHistSlots; i++) {
		seen += h[static_cast<std::size_t>(i)];
		if (static_cast<double>(seen) >= target)
			return static_cast<double>(1ULL << i);
	}
	return static_cast<double>(1ULL << (kHistSlots - 1));
}

std::vector<WatchRow> compute_interval(const std::map<std::uint64_t, ListenerStat> &prev,
				       const std::vector<ListenerStat> &now, double seconds)
{
	std::vector<WatchRow> rows;
	for (const ListenerStat &s : now) {
		WatchRow r;
		r.now = s;
		auto it = prev.find(s.key);
		const ListenerStat *p = it == prev.end() ? nullptr : &it->second;
		r.is_new = !p;
		auto delta = [&](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : a; };
		r.accepts = delta(s.accepted, p ? p->accepted : 0);
		r.overflow_syn = delta(s.overflow_syn, p ? p->overflow_syn : 0);
		r.overflow_ack = delta(s.overflow_ack, p ? p->overflow_ack : 0);
		r.synack_retrans = delta(s.synack_retrans, p ? p->synack_retrans : 0);
		r.synq_full_drops = delta(s.synq_full_drops, p ? p->synq_full_drops : 0);
		r.synq_full_cookies = delta(s.synq_full_cookies, p ? p->synq_full_cookies : 0);
		r.syncookies_sent = delta(s.syncookies_sent, p ? p->syncookies_sent : 0);
		r.accepts_per_s = seconds > 0 ? static_cast<double>(r.accepts) / seconds : 0;
		Log2Hist w = s.wait_hist;
		if (p)
			for (int i = 0; i < kHistSlots; i++)
				w[static_cast<std::size_t>(i)] -= std::min(w[static_cast<std::size_t>(i)],
									   p->wait_hist[static_cast<std::size_t>(i)]);
		r.wait_p50_us = hist_percentile(w, 0.5);
		r.wait_p99_us = hist_percentile(w, 0.99);
		rows.push_back(std::move(r));
	}
	auto pressure = [](const WatchRow &r) {
		return r.now.backlog ? static_cast<double>(r.now.accept_queue_peak) / (r.now.backlog + 1.0) : 0.0;
	};
	std::stable_sort(rows.begin(), rows.end(), [&](const WatchRow &a, const WatchRow &b) {
		const double pa = pressure(a), pb = pressure(b);
		if (pa != pb)
			return pa > pb;
		const auto oa = a.overflow_syn + a.overflow_ack, ob = b.overflow_syn + b.overflow_ack;
		if (oa != ob)
			return oa > ob;
		return std::tie(a.now.id.port, a.now.key) < std::tie(b.now.id.port, b.now.key);
	});
	return rows;
}

}  // namespace listenq
