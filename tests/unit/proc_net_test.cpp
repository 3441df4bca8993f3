#include <gtest/gtest.h>
#include <sys/socket.h>

#include <map>
#include <sstream>

#include "bpf/record_decode.h"
#include "golden.h"
#include "sources/kernel_info.h"
#include "sources/proc_net.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

std::vector<Listener> parse_fixture(const char *name, int family)
{
	std::istringstream in(read_fixture_text(name));
	auto r = parse_proc_net_tcp(in, family);
	EXPECT_TRUE(r) << r.error().message;
	return r ? *r : std::vector<Listener>{};
}

// Same SCENARIO as iter_tcp_6.18.bin (tests/tools/capture_fixtures.cpp).
TEST(ProcNet, CapturedTcp4ListenRows)
{
	auto v = parse_fixture("proc_net_tcp_6.18.txt", AF_INET);
	sort_listeners(v);
	ASSERT_EQ(v.size(), 4u);  // established rows of the clients are skipped
	EXPECT_EQ(v[0].port, 7001);
	EXPECT_EQ(format_address(v[0].family, v[0].addr), "127.0.0.1");
	EXPECT_EQ(v[0].accept_queue, 5u);  // rx_queue
	EXPECT_EQ(v[0].backlog, 0u);       // tx_queue: always 0 for LISTEN
	EXPECT_EQ(v[1].port, 7003);
	EXPECT_EQ(format_address(v[1].family, v[1].addr), "0.0.0.0");
	for (const auto &l : v) {
		EXPECT_EQ(l.backlog, 0u);
		EXPECT_GT(l.inode, 0u);
	}
}

TEST(ProcNet, CapturedTcp6ListenRow)
{
	auto v = parse_fixture("proc_net_tcp6_6.18.txt", AF_INET6);
	ASSERT_EQ(v.size(), 1u);
	EXPECT_EQ(format_address(v[0].family, v[0].addr), "::1");
	EXPECT_EQ(v[0].port, 7002);
	EXPECT_EQ(v[0].accept_queue, 2u);
}

TEST(ProcNet, InodesJoinWithTheIterCapture)
{
	auto iter = decode_listener_records(read_fixture_bytes("iter_tcp_6.18.bin"));
	ASSERT_TRUE(iter);
	std::map<std::uint64_t, Listener> by_inode;
	for (const auto &l : *iter)
		by_inode[l.inode] = l;
	auto v4 = parse_fixture("proc_net_tcp_6.18.txt", AF_INET);
	auto v6 = parse_fixture("proc_net_tcp6_6.18.txt", AF_INET6);
	v4.insert(v4.end(), v6.begin(), v6.end());
	ASSERT_EQ(v4.size(), by_inode.size());
	for (const auto &p : v4) {
		ASSERT_TRUE(by_inode.count(p.inode)) << p.inode;
		EXPECT_EQ(by_inode[p.inode].port, p.port);
		EXPECT_EQ(by_inode[p.inode].addr, p.addr);
		EXPECT_EQ(by_inode[p.inode].accept_queue, p.accept_queue);
	}
}

TEST(ProcNet, MalformedLinesNameTheLine)
{
	const std::string header =
		"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
	struct Case {
		std::string line;
		std::string expect;
	} cases[] = {
		{"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n", "line 2: expected at least 10 fields"},
		{"   0: 0100007G:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 99 1\n",
		 "line 2: bad local address"},
		{"   0: 0100007F 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 99 1\n",
		 "line 2: bad local address"},
		{"   0: 0100007F:1F90 00000000:0000 0A 0000000000000000 00:00000000 00000000 0 0 99 1\n",
		 "line 2: bad tx_queue:rx_queue"},
		{"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 99 1\n",
		 "line 2: bad uid or inode"},
	};
	for (const auto &c : cases) {
		std::istringstream in(header + c.line);
		auto r = parse_proc_net_tcp(in, AF_INET);
		ASSERT_FALSE(r) << c.line;
		EXPECT_NE(r.error().message.find(c.expect), std::string::npos) << r.error().message;
	}
}

TEST(ProcNet, Ipv6AddressNeedsThirtyTwoDigits)
{
	std::istringstream in("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 9 1\n");
	EXPECT_FALSE(parse_proc_net_tcp(in, AF_INET6));
}

TEST(ProcNet, NonListenRowsAndBlankLinesAreSkipped)
{
	std::istringstream in(
		"\n   0: 0100007F:1F90 0100007F:D000 01 00000000:00000000 00:00000000 00000000 0 0 42 1\n");
	auto r = parse_proc_net_tcp(in, AF_INET);
	ASSERT_TRUE(r);
	EXPECT_TRUE(r->empty());
}

TEST(ProcNet, NetstatCapturedCounters)
{
	std::istringstream in(read_fixture_text("proc_net_netstat_6.18.txt"));
	auto c = parse_netstat(in);
	ASSERT_TRUE(c) << c.error().message;
	ASSERT_TRUE(c->count("TcpExt"));
	ASSERT_TRUE(c->count("IpExt"));
	for (const char *k : {"ListenOverflows", "ListenDrops", "TCPReqQFullDrop", "TCPReqQFullDoCookies", "SyncookiesSent"})
		EXPECT_TRUE(c->at("TcpExt").count(k)) << k;
	auto lc = listen_counters_from(*c);
	ASSERT_TRUE(lc);
	EXPECT_LE(lc->listen_overflows, lc->listen_drops);
}

TEST(ProcNet, NetstatValuesMapToNames)
{
	std::istringstream in("TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPReqQFullDrop\n"
			      "TcpExt: 3 7 9 2\n"
			      "Tcp: RtoAlgorithm MaxConn\nTcp: 1 -1\n");
	auto c = parse_netstat(in);
	ASSERT_TRUE(c);
	auto lc = listen_counters_from(*c);
	ASSERT_TRUE(lc);
	EXPECT_EQ(lc->syncookies_sent, 3u);
	EXPECT_EQ(lc->listen_overflows, 7u);
	EXPECT_EQ(lc->listen_drops, 9u);
	EXPECT_EQ(lc->reqq_full_drop, 2u);
	EXPECT_EQ(lc->reqq_full_do_cookies, 0u);  // absent on this kernel: 0
}

// The TcpExt-only parser the tracer uses each interval gives what the full
// parser gives: on the capture, on a made-up order, and it refuses the
// same malformed TcpExt lines.
TEST(ProcNet, ListenCountersFastParserEqualsTheFullOne)
{
	for (const std::string &text : {read_fixture_text("proc_net_netstat_6.18.txt"),
				       std::string("IpExt: A\nIpExt: 1\nTcpExt: SyncookiesSent ListenOverflows ListenDrops TCPReqQFullDrop "
						   "X TCPSynRetrans\nTcpExt: 3 7 9 2 5 11\n")}) {
		std::istringstream in(text);
		auto full = parse_netstat(in);
		ASSERT_TRUE(full);
		auto want = listen_counters_from(*full);
		ASSERT_TRUE(want);
		auto got = parse_listen_counters(text);
		ASSERT_TRUE(got) << got.error().message;
		EXPECT_EQ(*got, *want);
	}
	// (the capture's listen counters are all 0: the values come from the second text)
	auto made = parse_listen_counters("TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPReqQFullDrop X TCPSynRetrans\n"
					  "TcpExt: 3 7 9 2 5 11\n");
	ASSERT_TRUE(made);
	EXPECT_EQ(made->syncookies_sent, 3u);
	EXPECT_EQ(made->listen_overflows, 7u);
	EXPECT_EQ(made->listen_drops, 9u);
	EXPECT_EQ(made->reqq_full_drop, 2u);
	EXPECT_EQ(made->syn_retrans, 11u);
	for (const char *text : {"TcpExt: A B\nTcpExt: 1\n", "TcpExt: A\nTcpExt: 1 2\n", "TcpExt: A\nIpExt: 1\n",
				 "TcpExt: ListenDrops\nTcpExt: x\n", "TcpExt: A\n"})
		EXPECT_FALSE(parse_listen_counters(text)) << text;
	EXPECT_EQ(parse_listen_counters("IpExt: A\nIpExt: 1\n").error().err, ENOENT);
}

TEST(ProcNet, NetstatMalformed)
{
	for (const char *text : {"TcpExt: A B\nTcpExt: 1\n", "TcpExt: A\nTcpExt: 1 2\n", "TcpExt: A\nIpExt: 1\n",
				 "TcpExt: A\nTcpExt: x\n", "TcpExt: A\n"}) {
		std::istringstream in(text);
		auto c = parse_netstat(in);
		EXPECT_FALSE(c) << text;
		if (!c) {
			EXPECT_NE(c.error().message.find("netstat line"), std::string::npos);
		}
	}
	std::istringstream none("IpExt: A\nIpExt: 1\n");
	auto c = parse_netstat(none);
	ASSERT_TRUE(c);
	EXPECT_FALSE(listen_counters_from(*c));
}

}  // namespace

// LINUX_VERSION_CODE as the kernel's KERNEL_VERSION() makes it: what a
// kprobe program must carry as kern_version before 5.0 (EINVAL without it,
// measured on the 4.19.48 guest).
TEST(KernelVersionCode, FromReleaseStrings)
{
	EXPECT_EQ(linux_version_code("4.19.48-lq"), 0x041330u);
	EXPECT_EQ(linux_version_code("5.4.286-lq"), 0x0504ffu);  // the sublevel saturates at 255
	EXPECT_EQ(linux_version_code("6.18.44-fc-v1272"), 0x06122cu);
	EXPECT_EQ(linux_version_code("4.15.18"), 0x040f12u);       // Ubuntu's version_signature word
	EXPECT_EQ(linux_version_code("5.10"), 0x050a00u);
	EXPECT_EQ(linux_version_code("garbage"), 0u);
}
