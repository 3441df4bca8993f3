// The export fixture (prom_fixture.h).
#include "prom_fixture.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cerrno>
#include <deque>

namespace listenq::testing {

namespace {

std::deque<CgroupInfo> &cgroups()
{
	static std::deque<CgroupInfo> c = [] {
		std::deque<CgroupInfo> v(3);
		v[0].container_id = std::string(64, 'a');
		v[0].pod_uid = "0b7c2f6e-1d2a-4c3b-9f00-5e6d7c8b9a01";
		v[1].unit = "nginx.service";
		v[2].container_id = std::string(64, 'f');
		v[2].unit = "odd\"unit\\.scope";
		return v;
	}();
	return c;
}

}  // namespace

std::vector<ListenerStat> fixture_listeners(int n)
{
	std::vector<ListenerStat> ls;
	std::uint64_t x = 0x9E3779B97F4A7C15ULL;
	auto next = [&] {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		return x;
	};
	for (int i = 0; i < n; i++) {
		ListenerStat s;
		s.id.family = i % 2 ? AF_INET6 : AF_INET;
		if (s.id.family == AF_INET6)
			inet_pton(AF_INET6, i % 4 == 1 ? "::1" : "fd00::2:3", s.id.addr.data());
		else
			inet_pton(AF_INET, i % 4 == 0 ? "127.0.0.1" : "10.1.2.3", s.id.addr.data());
		s.id.port = static_cast<std::uint16_t>(i < n / 2 ? 8000 + i / 3 : 40000 + i);
		s.id.netns = i % 5 ? 4026531840u : 4026532500u;
		s.key = 1000 + static_cast<std::uint64_t>(i);
		if (i % 11 == 0)
			s.id.inode = 70000 + static_cast<std::uint64_t>(i);  // pointer keys: no cookie
		else
			s.id.cookie = s.key;
		s.owner_pid = 100 + static_cast<std::uint32_t>(i % 7);
		s.owner_comm = i % 97 == 0 ? "bad\xff\"q\\" : "srv" + std::to_string(i % 13);
		if (i % 5 == 0)
			s.cgroup = &cgroups()[static_cast<std::size_t>(i / 5) % 3];
		if (i % 4)
			s.requested_backlog = static_cast<std::int32_t>(next() % 70000) - 5;
		s.backlog = static_cast<std::uint32_t>(next() % 65536);
		s.accept_queue = static_cast<std::uint32_t>(next() % 100);
		s.accept_queue_peak = s.accept_queue + static_cast<std::uint32_t>(next() % 50);
		s.syn_queue = static_cast<std::uint32_t>(next() % 30);
		s.syn_queue_peak = s.syn_queue * 2;
		s.drops = static_cast<std::uint32_t>(next() % 1000);
		s.hol_wait_us = static_cast<std::uint32_t>(next() % 5000000);
		s.hol_wait_peak_us = i % 3 ? s.hol_wait_us : 1000000;
		s.overflow_syn = next() % (1ULL << 40);
		s.overflow_ack = next() % 1000;
		s.accepted = next() % (1ULL << 33);
		s.enqueued = s.accepted + next() % 10;
		s.synack_retrans = next() % 100;
		s.synq_full_drops = i % 3 ? 0 : next() % 1000;
		s.synq_full_cookies = i % 3 == 1 ? next() % 1000 : 0;
		s.syncookies_sent = s.synq_full_cookies;
		if (i % 7 == 0) {
			for (int k = 0; k < kHistSlots; k += 1 + i % 5)
				s.wait_hist[static_cast<std::size_t>(k)] = static_cast<std::uint32_t>(next() % 100000);
			s.wait_sum_ns = next() % (1ULL << 45);
		}
		ls.push_back(std::move(s));
	}
	return ls;
}

namespace {

ExportScrape fixture_scrape(MetricSet metrics)
{
	ExportScrape s;
	s.version = "0.9.0";
	s.tier = "fentry+tracepoint";
	s.metrics = metrics;
	s.listeners_tracked = 3000;
	s.untracked = 2, s.events_lost = 3, s.stale_removed = 4, s.closed_lost = 5, s.hook_runs_missed = 6;
	s.netns_unseeded = 1, s.samples = 12345;
	s.scrape_seconds = 0.012345;
	for (std::uint32_t ns : {4026531840u, 4026532500u}) {
		Unattributed u;
		u.netns = ns;
		u.counts.overflow_syn = ns % 97;
		u.counts.syncookies_sent = 3;
		s.unattributed.push_back(u);
	}
	s.refused = {{"sample_tracked", "iter/bpf_sk_storage_map", "queues", "load: Operation not permitted", "", EPERM,
		      false, "iter/tcp full pass", ""},
		     {"ringbuf", "map", "events", "LISTENQ_REFUSE", "", 0, true, "perf buffer", ""}};
	return s;
}

}  // namespace

std::vector<std::pair<std::string, ExportScrape>> fixture_bodies()
{
	std::vector<std::pair<std::string, ExportScrape>> v;
	ExportScrape per_listener = fixture_scrape(MetricSet::full());
	per_listener.listeners = fixture_listeners(3000);
	v.emplace_back("full per listener", per_listener);

	ExportScrape tier3 = per_listener;
	for (TraceField f : {TraceField::enqueued, TraceField::accept_wait, TraceField::overflow_ack})
		tier3.fields.set(f, Provenance::not_measured);
	tier3.metrics = MetricSet::defaults();
	v.emplace_back("default per listener, tier 3", tier3);

	for (MetricSet m : {MetricSet::full(), MetricSet::defaults()}) {
		ExportScrape by_port = fixture_scrape(m);
		by_port.group_by = GroupBy::port;
		PortAggregator agg;
		auto fold = [](const ListenerStat &l) { return l.id.port >= 32768; };
		std::vector<ListenerStat> ls = fixture_listeners(3000);
		(void)agg.aggregate(ls, fold, true);
		ls.erase(ls.begin() + 100, ls.begin() + 400);  // gone: their counts stay with their port
		ls.resize(2500);
		by_port.ports = agg.aggregate(ls, fold, true);
		v.emplace_back(m == MetricSet::full() ? "full per port" : "default per port", by_port);
	}
	return v;
}

}  // namespace listenq::testing
