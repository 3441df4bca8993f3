#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "cli/options.h"
#include "golden.h"
#include "render/prom_render.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

ListenerStat listener(int family, const char *addr, std::uint16_t port, std::uint64_t cookie, const char *comm)
{
	ListenerStat s;
	s.id.family = family;
	inet_pton(family, addr, s.id.addr.data());
	s.id.port = port;
	s.id.cookie = cookie;
	s.key = cookie;
	s.id.netns = 4026531840;
	s.owner_pid = 100;
	s.owner_comm = comm;
	return s;
}

ExportScrape sample_scrape()
{
	ExportScrape s;
	s.version = "0.1.0";
	s.tier = "fentry+tracepoint";
	s.listeners_tracked = 3;
	s.untracked = 1;
	s.events_lost = 2;
	s.stale_removed = 0;
	s.netns_unseeded = 0;
	s.samples = 50;
	s.scrape_seconds = 0.00125;
	s.metrics = MetricSet::full();

	ListenerStat web = listener(AF_INET, "0.0.0.0", 8080, 11, "nginx");
	web.requested_backlog = 4096;
	web.backlog = 4096;
	web.accept_queue = 3;
	web.accept_queue_peak = 17;
	web.syn_queue = 1;
	web.syn_queue_peak = 5;
	web.overflow_syn = 7;
	web.overflow_ack = 2;
	web.accepted = 1000;
	web.enqueued = 1003;
	web.synack_retrans = 4;
	web.drops = 9;
	web.hol_wait_us = 1500;         // 1.5 ms
	web.hol_wait_peak_us = 2000007;  // 2.000007 s
	web.wait_hist[0] = 1;    // < 2 µs
	web.wait_hist[4] = 10;   // 16..31 µs
	web.wait_hist[12] = 3;   // 4..8 ms
	web.wait_hist[30] = 1;   // beyond the last bound
	web.wait_sum_ns = 12345678;
	s.listeners.push_back(web);

	ListenerStat db = listener(AF_INET6, "::1", 5432, 12, "post\"gr\\es\n");  // escaped
	db.backlog = 200;  // seeded: no requested backlog
	db.seeded = true;
	db.synq_full_drops = 3;
	db.synq_full_cookies = 4;
	db.syncookies_sent = 5;
	s.listeners.push_back(db);

	Unattributed u;
	u.netns = 4026532000;
	u.counts.overflow_syn = 6;
	u.counts.syncookies_sent = 1;
	s.unattributed.push_back(u);
	return s;
}

TEST(PromRender, GoldenExposition)
{
	expect_golden("prom_fentry.txt", render_prometheus(sample_scrape()));
}

// Tier 3 before 6.15: no path split, no accept waits, no enqueue count.
TEST(PromRender, UnmeasuredSeriesAreLeftOutNotZero)
{
	ExportScrape s = sample_scrape();
	s.tier = "tracepoint";
	for (TraceField f : {TraceField::enqueued, TraceField::accept_wait, TraceField::overflow_ack})
		s.fields.set(f, Provenance::not_measured);
	// and what the kernel refused, said where the data goes
	s.refused = {{"sample_tracked", "iter/bpf_sk_storage_map", "queues", "load: Operation not permitted",
		      "iter/bpf_sk_storage_map: load: Operation not permitted (1)", EPERM, false,
		      "iter/tcp full pass of each tracked netns each sample", "each sample walks every TCP hash bucket"}};
	const std::string t = render_prometheus(s);
	EXPECT_NE(t.find("listenq_program_refused_info{program=\"sample_tracked\",kind=\"iter/bpf_sk_storage_map\","
			 "fact=\"queues\",reason=\"load: Operation not permitted\",by=\"kernel\",fallback=\"iter/tcp full "
			 "pass of each tracked netns each sample\"} 1\n"),
		  std::string::npos)
		<< t;
	EXPECT_NE(t.find("path=\"all\"} 9\n"), std::string::npos) << t;
	EXPECT_EQ(t.find("path=\"syn\""), std::string::npos);
	EXPECT_EQ(t.find("listenq_accept_wait_seconds_bucket"), std::string::npos);
	EXPECT_EQ(t.find("listenq_connections_queued_total{"), std::string::npos);
	expect_golden("prom_tracepoint.txt", t);
}

// Buckets are exact sums of the BPF log2 slots (slot i = [2^i, 2^(i+1)) µs).
TEST(PromRender, AcceptWaitBucketsAreCumulativeSlotSums)
{
	const std::string t = render_prometheus(sample_scrape());
	auto value = [&](const std::string &le) {
		std::smatch m;
		const std::regex re("listenq_accept_wait_seconds_bucket\\{[^}]*port=\"8080\"[^}]*le=\"" + le + "\"\\} (\\d+)");
		EXPECT_TRUE(std::regex_search(t, m, re)) << le;
		return m.empty() ? -1 : std::stoi(m[1]);
	};
	EXPECT_EQ(value("2e-06"), 1);      // slot 0
	EXPECT_EQ(value("8e-06"), 1);      // slots 0-2
	EXPECT_EQ(value("3.2e-05"), 11);   // + slot 4
	EXPECT_EQ(value("0.008192"), 14);  // + slot 12
	EXPECT_EQ(value("33.554432"), 14);
	EXPECT_EQ(value("\\+Inf"), 15);    // + slot 30
	EXPECT_NE(t.find("listenq_accept_wait_seconds_count{netns=\"4026531840\",family=\"ipv4\",addr=\"0.0.0.0\","
			 "port=\"8080\",comm=\"nginx\",cookie=\"11\"} 15\n"),
		  std::string::npos);
	EXPECT_NE(t.find("listenq_accept_wait_seconds_sum{netns=\"4026531840\",family=\"ipv4\",addr=\"0.0.0.0\","
			 "port=\"8080\",comm=\"nginx\",cookie=\"11\"} 0.012345678\n"),
		  std::string::npos);
}

TEST(PromRender, LabelValuesAreEscaped)
{
	EXPECT_EQ(prometheus_label_escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
	// comm is any bytes a process chose; Prometheus rejects a scrape with
	// a label that is not UTF-8.
	EXPECT_EQ(prometheus_label_escape("caf\xC3\xA9"), "caf\xC3\xA9");
	EXPECT_EQ(prometheus_label_escape("\xF0\x9F\x90\x8D-srv"), "\xF0\x9F\x90\x8D-srv");
	EXPECT_EQ(prometheus_label_escape("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
	EXPECT_EQ(prometheus_label_escape("\xC3"), "\xEF\xBF\xBD");                      // truncated
	EXPECT_EQ(prometheus_label_escape("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
	EXPECT_EQ(prometheus_label_escape("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
	EXPECT_TRUE(is_valid_utf8(prometheus_label_escape("\x80\xC3(\xF5\x80\x80\x80\xE2\x82")));
	const std::string t = render_prometheus(sample_scrape());
	EXPECT_NE(t.find("comm=\"post\\\"gr\\\\es\\n\""), std::string::npos);
}

// Every sample's name is a declared series, and every family is declared
// once with HELP and TYPE (what promtool also checks, below).
TEST(PromRender, EverySampleBelongsToADeclaredFamily)
{
	const auto names = prometheus_series_names();
	const std::set<std::string> known(names.begin(), names.end());
	std::istringstream is(render_prometheus(sample_scrape()));
	std::set<std::string> typed;
	int samples = 0;
	for (std::string line; std::getline(is, line);) {
		if (line.rfind("# TYPE ", 0) == 0) {
			EXPECT_TRUE(typed.insert(line.substr(7, line.find(' ', 7) - 7)).second) << line;
			continue;
		}
		if (line[0] == '#')
			continue;
		samples++;
		const std::string name = line.substr(0, line.find_first_of("{ "));
		EXPECT_TRUE(known.count(name)) << name;
		EXPECT_EQ(name.rfind("listenq_", 0), 0u) << name;
	}
	EXPECT_GT(samples, 40);
	EXPECT_EQ(typed.size(), 32u);  // per listener: all but listenq_port_listeners
}

// Debian's promtool (prometheus package) on the golden files.
TEST(PromRender, PromtoolAcceptsTheGoldenFiles)
{
	const char *ci = std::getenv("CI");
	if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
		if (ci && std::string(ci) == "true")
			FAIL() << "promtool is installed by scripts/deps.sh";
		GTEST_SKIP() << "promtool not installed (scripts/deps.sh installs prometheus)";
	}
	for (const char *g : {"golden/prom_fentry.txt", "golden/prom_tracepoint.txt", "golden/prom_default.txt",
			      "golden/prom_ports.txt"}) {
		const std::string cmd = "promtool check metrics < " + fixture_path(g) + " 2>&1";
		EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
	}
}

// The default: what an SRE alerts on, and nothing else per listener.
TEST(PromRender, DefaultSeriesAreTheAlertingOnes)
{
	ExportScrape s = sample_scrape();
	s.metrics = MetricSet::defaults();
	const std::string t = render_prometheus(s);
	expect_golden("prom_default.txt", t);
	std::set<std::string> per_listener;
	std::istringstream is(t);
	for (std::string line; std::getline(is, line);)
		if (line[0] != '#' && line.find("cookie=\"") != std::string::npos)
			per_listener.insert(line.substr(0, line.find('{')));
	EXPECT_EQ(per_listener, (std::set<std::string>{"listenq_accept_queue", "listenq_accept_queue_oldest_wait_seconds",
							"listenq_accept_queue_oldest_wait_peak_seconds",
							"listenq_listen_backlog", "listenq_syn_queue",
							"listenq_overflows_total", "listenq_socket_drops_total"}));
	// µs as seconds, exactly
	EXPECT_NE(t.find("listenq_accept_queue_oldest_wait_seconds{netns=\"4026531840\",family=\"ipv4\",addr=\"0.0.0.0\","
			 "port=\"8080\",comm=\"nginx\",cookie=\"11\"} 0.0015\n"),
		  std::string::npos)
		<< t;
	EXPECT_NE(t.find("listenq_accept_queue_oldest_wait_peak_seconds{netns=\"4026531840\",family=\"ipv4\",addr=\"0.0.0.0\","
			 "port=\"8080\",comm=\"nginx\",cookie=\"11\"} 2.000007\n"),
		  std::string::npos)
		<< t;
	EXPECT_NE(t.find("listenq_export_info{group_by=\"listener\",metrics=\"default\"} 1\n"), std::string::npos);
}

TEST(PromRender, MetricSets)
{
	EXPECT_EQ(metric_set_name(*parse_metric_set("default")), "default");
	EXPECT_EQ(metric_set_name(*parse_metric_set("full")), "full");
	EXPECT_EQ(metric_set_name(*parse_metric_set("default,full")), "full");
	auto m = parse_metric_set("default,listenq_accept_queue_peak,accept_wait_seconds");
	ASSERT_TRUE(m);
	EXPECT_EQ(metric_set_name(*m), "custom");
	EXPECT_TRUE(m->has(Metric::accept_queue_peak));
	EXPECT_TRUE(m->has(Metric::accept_wait));
	EXPECT_TRUE(m->has(Metric::overflows));
	EXPECT_FALSE(m->has(Metric::accepts));
	m = parse_metric_set("listenq_listen_backlog");
	ASSERT_TRUE(m);
	EXPECT_TRUE(m->has(Metric::backlog));
	EXPECT_FALSE(m->has(Metric::accept_queue));
	for (const char *bad : {"", ",", "all", "listenq_build_info", "accept_wait_seconds_bucket", "Default"})
		EXPECT_FALSE(parse_metric_set(bad)) << bad;
	// Every per-row family can be named alone.
	for (const std::string &n : prometheus_series_names()) {
		if (n.find("_bucket") != std::string::npos || n.find("_count") != std::string::npos ||
		    n == "listenq_port_listeners")
			continue;
		const std::string family = n.size() > 4 && n.substr(n.size() - 4) == "_sum" ? n.substr(0, n.size() - 4) : n;
		const ExportScrape s = sample_scrape();
		if (parse_metric_set(family)) {
			ExportScrape one = s;
			one.metrics = *parse_metric_set(family);
			EXPECT_NE(render_prometheus(one).find("\n" + n + "{netns="), std::string::npos) << n;
		}
	}
}

// --group-by port: a row per port, labelled by port alone.
TEST(PromRender, PortRows)
{
	ExportScrape s = sample_scrape();
	PortAggregator agg;
	std::vector<ListenerStat> ls = s.listeners;
	ListenerStat web2 = ls[0];  // a reuseport sibling of web
	web2.key = web2.id.cookie = 13;
	web2.accept_queue = 1;
	web2.hol_wait_us = 900;
	web2.overflow_syn = 1;
	ls.push_back(web2);
	ListenerStat eph = listener(AF_INET, "10.0.0.1", 40001, 14, "rpc");
	eph.backlog = 128;
	ls.push_back(eph);
	s.group_by = GroupBy::port;
	s.ports = agg.aggregate(ls, [](const ListenerStat &l) { return l.id.port >= 32768; }, true);
	s.listeners.clear();
	const std::string t = render_prometheus(s);
	expect_golden("prom_ports.txt", t);
	EXPECT_NE(t.find("listenq_port_listeners{port=\"8080\"} 2\n"), std::string::npos) << t;
	EXPECT_NE(t.find("listenq_port_listeners{port=\"ephemeral\"} 1\n"), std::string::npos) << t;
	EXPECT_NE(t.find("listenq_accept_queue{port=\"8080\"} 4\n"), std::string::npos) << t;
	EXPECT_NE(t.find("listenq_listen_backlog{port=\"8080\"} 8192\n"), std::string::npos) << t;
	EXPECT_NE(t.find("listenq_accept_queue_oldest_wait_seconds{port=\"8080\"} 0.0015\n"), std::string::npos) << t;
	EXPECT_NE(t.find("listenq_overflows_total{port=\"8080\",path=\"syn\"} 8\n"), std::string::npos) << t;
	EXPECT_EQ(t.find("listenq_listen_backlog_requested{"), std::string::npos) << "a sum of requests means nothing";
	EXPECT_EQ(t.find("cookie="), std::string::npos);
	EXPECT_NE(t.find("listenq_export_info{group_by=\"port\",metrics=\"full\"} 1\n"), std::string::npos);
}

TEST(ListenAddress, Forms)
{
	auto a = parse_listen_address("127.0.0.1:9464");
	ASSERT_TRUE(a);
	EXPECT_EQ(a->host, "127.0.0.1");
	EXPECT_EQ(a->port, 9464);
	a = parse_listen_address("[::1]:80");
	ASSERT_TRUE(a);
	EXPECT_EQ(a->host, "::1");
	a = parse_listen_address(":9464");
	ASSERT_TRUE(a);
	EXPECT_EQ(a->host, "0.0.0.0");
	EXPECT_EQ(a->family, AF_INET);
	a = parse_listen_address("[::]:9464");
	ASSERT_TRUE(a);
	EXPECT_EQ(a->family, AF_INET6);
	// Names are not resolved (no getaddrinfo, so no NSS in the static build).
	for (const char *bad : {"9464", "::1:80", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "h:8o", "h:1234567",
				"localhost:9464", "[127.0.0.1]:80", "[]:80", "1.2.3:80"})
		EXPECT_FALSE(parse_listen_address(bad)) << bad;
}

}  // namespace

// Where no program makes socket cookies (the kprobe walk, pointer keys),
// two members of one reuseport group have the same labels but the cookie:
// the socket inode stands in, so no series repeats.
TEST(PromRender, PointerKeyedListenersKeepApartByInode)
{
	ExportScrape s = sample_scrape();
	s.listeners.clear();
	for (std::uint64_t ino : {7001u, 7002u}) {
		ListenerStat l = listener(AF_INET, "127.0.0.1", 18081, 0, "worker");
		l.id.inode = ino;
		l.key = ino * 100;  // the socket pointer, never shown
		l.backlog = 4;
		s.listeners.push_back(l);
	}
	const std::string t = render_prometheus(s);
	EXPECT_NE(t.find("port=\"18081\",comm=\"worker\",cookie=\"ino:7001\"} 4"), std::string::npos) << t;
	EXPECT_NE(t.find("port=\"18081\",comm=\"worker\",cookie=\"ino:7002\"} 4"), std::string::npos) << t;
	EXPECT_EQ(t.find("cookie=\"0\""), std::string::npos) << t;
}
