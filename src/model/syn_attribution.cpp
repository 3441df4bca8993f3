#include "model/syn_attribution.h"

#include <set>

namespace listenq {

SynCounts &SynCounts::operator+=(const SynCounts &o)
{
	overflow_syn += o.overflow_syn;
	synq_full_drops += o.synq_full_drops;
	synq_full_cookies += o.synq_full_cookies;
	syncookies_sent += o.syncookies_sent;
	return *this;
}

namespace {

std::uint64_t rise(std::uint64_t now, std::uint64_t before) { return now > before ? now - before : 0; }

}  // namespace

void SynAttributor::apply(std::vector<ListenerStat> &stats, const std::map<std::uint32_t, ListenCounters> &mibs)
{
	apply_to(stats, mibs);
}

void SynAttributor::apply(std::deque<ListenerStat> &stats, const std::map<std::uint32_t, ListenCounters> &mibs)
{
	apply_to(stats, mibs);
}

// Long: one pass over the listeners per netns rise; the attribution rule is in the header's first comment.
template <class Stats>
void SynAttributor::apply_to(Stats &stats, const std::map<std::uint32_t, ListenCounters> &mibs)
{
	// Per netns: the listeners under SYN pressure this interval, and the
	// exact ACK-path overflows (ListenOverflows counts both paths).
	std::map<std::uint32_t, std::vector<std::uint64_t>> pressured;
	std::map<std::uint32_t, std::uint64_t> ack_overflows;
	std::set<std::uint32_t> has_older;  // netns with a listener older than listenq
	const std::uint64_t now_seen = ++applies_;
	for (const ListenerStat &s : stats) {
		if (s.seeded)
			has_older.insert(s.id.netns);
		auto it = listeners_.find(s.key);
		if (it == listeners_.end() && (s.overflow_syn || s.overflow_ack))
			it = listeners_.try_emplace(s.key).first;
		std::uint64_t drops = 0;
		if (it != listeners_.end()) {
			PerListener &pl = it->second;
			pl.seen = now_seen;
			drops = rise(s.overflow_syn, pl.raw_drops);
			ack_overflows[s.id.netns] += rise(s.overflow_ack, pl.ack);
			pl.raw_drops = s.overflow_syn;
			pl.ack = s.overflow_ack;
		}
		// A full SYN queue is qlen > backlog (6.14+, 6.1.y/6.12.y stable);
		// >= also covers older kernels, and a peak at the limit is pressure.
		if (drops || (s.syn_queue_peak && s.syn_queue_peak >= s.backlog))
			pressured[s.id.netns].push_back(s.key);
	}
	std::erase_if(listeners_, [&](const auto &kv) { return kv.second.seen != now_seen; });

	for (const auto &[netns, now] : mibs) {
		auto [it, fresh] = netns_.try_emplace(netns);
		PerNetns &pn = it->second;
		if (!fresh || (started_ && !has_older.count(netns))) {  // else: baseline now
			const std::uint64_t overflows = rise(now.listen_overflows, pn.last.listen_overflows);
			const std::uint64_t ack = ack_exact_ ? ack_overflows[netns] : 0;
			pn.pending += SynCounts{rise(overflows, ack), rise(now.reqq_full_drop, pn.last.reqq_full_drop),
						rise(now.reqq_full_do_cookies, pn.last.reqq_full_do_cookies),
						rise(now.syncookies_sent, pn.last.syncookies_sent)};
		}
		pn.last = now;
		if (!pn.pending.any())
			continue;
		const auto &who = pressured[netns];
		if (who.size() == 1) {
			PerListener &pl = listeners_[who[0]];
			pl.seen = now_seen;
			pl.given += pn.pending;
			pn.pending = {};
		} else if (who.size() > 1) {
			pn.unattributed += pn.pending;
			pn.ambiguous_with = static_cast<std::uint32_t>(who.size());
			pn.pending = {};
		}
	}

	for (ListenerStat &s : stats) {
		if (!mibs.count(s.id.netns))
			continue;
		auto it = listeners_.find(s.key);
		const SynCounts g = it == listeners_.end() ? SynCounts{} : it->second.given;
		s.overflow_syn = g.overflow_syn;
		s.synq_full_drops = g.synq_full_drops;
		s.synq_full_cookies = g.synq_full_cookies;
		s.syncookies_sent = g.syncookies_sent;
	}
}

bool SynAttributor::rose(const std::map<std::uint32_t, ListenCounters> &mibs) const
{
	for (const auto &[netns, now] : mibs) {
		auto it = netns_.find(netns);
		if (it == netns_.end())
			continue;  // its baseline is taken at the next apply()
		const PerNetns &pn = it->second;
		if (pn.pending.any() || now.listen_overflows != pn.last.listen_overflows ||
		    now.reqq_full_drop != pn.last.reqq_full_drop ||
		    now.reqq_full_do_cookies != pn.last.reqq_full_do_cookies ||
		    now.syncookies_sent != pn.last.syncookies_sent)
			return true;
	}
	return false;
}

void SynAttributor::set_start(const std::map<std::uint32_t, ListenCounters> &mibs)
{
	for (const auto &[netns, c] : mibs)
		netns_[netns].last = c;
	started_ = true;
}

std::vector<Unattributed> SynAttributor::unattributed() const
{
	std::vector<Unattributed> out;
	for (const auto &[netns, pn] : netns_) {
		SynCounts c = pn.unattributed;
		c += pn.pending;
		if (c.any())
			out.push_back({netns, c, pn.ambiguous_with});
	}
	return out;
}

}  // namespace listenq
