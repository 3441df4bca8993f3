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

const Log2Hist &SparseHist::zeros()
{
	static const Log2Hist z{};
	return z;
}

Log2Hist &SparseHist::ensure()
{
	if (!h_)
		h_ = std::make_unique<Log2Hist>();
	return *h_;
}

void SparseHist::assign(const Log2Hist &h)
{
	if (std::all_of(h.begin(), h.end(), [](std::uint32_t c) { return c == 0; }))
		h_.reset();
	else
		ensure() = h;
}

void SparseHist::assign(const std::uint32_t (&slots)[kHistSlots])
{
	Log2Hist h;
	std::copy(std::begin(slots), std::end(slots), h.begin());
	assign(h);
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

IntervalBase IntervalBase::of(const ListenerStat &s)
{
	IntervalBase b;
	b.key = s.key;
	b.accepted = s.accepted;
	b.overflow_syn = s.overflow_syn;
	b.overflow_ack = s.overflow_ack;
	b.synack_retrans = s.synack_retrans;
	b.synq_full_drops = s.synq_full_drops;
	b.synq_full_cookies = s.synq_full_cookies;
	b.syncookies_sent = s.syncookies_sent;
	b.wait_hist = s.wait_hist;
	return b;
}

namespace {

bool all_zero(const IntervalBase &b)
{
	return !b.accepted && !b.overflow_syn && !b.overflow_ack && !b.synack_retrans && !b.synq_full_drops &&
	       !b.synq_full_cookies && !b.syncookies_sent && b.wait_hist.empty();
}

template <class Stats>
void bases_of(const Stats &now, IntervalBases &out)
{
	out.keys.clear();
	out.counted.clear();
	out.keys.reserve(now.size());
	for (const ListenerStat &s : now) {
		out.keys.push_back(s.key);
		IntervalBase b = IntervalBase::of(s);
		if (!all_zero(b))
			out.counted.push_back(std::move(b));
	}
	std::sort(out.keys.begin(), out.keys.end());
	std::sort(out.counted.begin(), out.counted.end(),
		  [](const IntervalBase &a, const IntervalBase &b) { return a.key < b.key; });
}

template <class Stats>
std::vector<WatchRow> rows_of(const IntervalBases &prev, const Stats &now, double seconds,
			      const std::function<bool(const ListenerStat &)> &shown)
{
	std::vector<WatchRow> rows;
	rows.reserve(shown ? static_cast<std::size_t>(std::count_if(now.begin(), now.end(), shown)) : now.size());
	const IntervalBase zero;
	for (const ListenerStat &s : now) {
		if (shown && !shown(s))
			continue;
		WatchRow r;
		r.now = &s;
		r.is_new = !std::binary_search(prev.keys.begin(), prev.keys.end(), s.key);
		auto it = std::lower_bound(prev.counted.begin(), prev.counted.end(), s.key,
					   [](const IntervalBase &b, std::uint64_t k) { return b.key < k; });
		const IntervalBase *p = it != prev.counted.end() && it->key == s.key ? &*it : r.is_new ? nullptr : &zero;
		auto delta = [&](std::uint64_t a, std::uint64_t b) { return a >= b ? a - b : a; };
		r.accepts = delta(s.accepted, p ? p->accepted : 0);
		r.overflow_syn = delta(s.overflow_syn, p ? p->overflow_syn : 0);
		r.overflow_ack = delta(s.overflow_ack, p ? p->overflow_ack : 0);
		r.synack_retrans = delta(s.synack_retrans, p ? p->synack_retrans : 0);
		r.synq_full_drops = delta(s.synq_full_drops, p ? p->synq_full_drops : 0);
		r.synq_full_cookies = delta(s.synq_full_cookies, p ? p->synq_full_cookies : 0);
		r.syncookies_sent = delta(s.syncookies_sent, p ? p->syncookies_sent : 0);
		r.accepts_per_s = seconds > 0 ? static_cast<double>(r.accepts) / seconds : 0;
		if (!s.wait_hist.empty()) {
			Log2Hist w = s.wait_hist;
			if (p)
				for (std::size_t i = 0; i < kHistSlots; i++)
					w[i] -= std::min(w[i], p->wait_hist[i]);
			r.wait_p50_us = hist_percentile(w, 0.5);
			r.wait_p99_us = hist_percentile(w, 0.99);
		}
		rows.push_back(r);
	}
	auto pressure = [](const WatchRow &r) {
		return r.now->backlog ? static_cast<double>(r.now->accept_queue_peak) / (r.now->backlog + 1.0) : 0.0;
	};
	std::sort(rows.begin(), rows.end(), [&](const WatchRow &a, const WatchRow &b) {
		const double pa = pressure(a), pb = pressure(b);
		if (pa != pb)
			return pa > pb;
		const auto oa = a.overflow_syn + a.overflow_ack, ob = b.overflow_syn + b.overflow_ack;
		if (oa != ob)
			return oa > ob;
		return std::tie(a.now->id.port, a.now->key) < std::tie(b.now->id.port, b.now->key);
	});
	return rows;
}

}  // namespace

void interval_bases(std::span<const ListenerStat> now, IntervalBases &out) { bases_of(now, out); }
void interval_bases(const std::deque<ListenerStat> &now, IntervalBases &out) { bases_of(now, out); }

std::vector<WatchRow> compute_interval(const IntervalBases &prev, std::span<const ListenerStat> now, double seconds,
				       const std::function<bool(const ListenerStat &)> &shown)
{
	return rows_of(prev, now, seconds, shown);
}

std::vector<WatchRow> compute_interval(const IntervalBases &prev, const std::deque<ListenerStat> &now, double seconds,
				       const std::function<bool(const ListenerStat &)> &shown)
{
	return rows_of(prev, now, seconds, shown);
}

}  // namespace listenq
