// render_ss() against what iproute2's ss printed for the same sockets
// (tests/fixtures/ss_lnt*_6.18.txt, captured with the other fixtures).
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <sstream>

#include "golden.h"
#include "render/ss_render.h"
#include "sources/inet_diag.h"
#include "sources/proc_net.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

std::string render(const std::vector<Listener> &ls, SsFormat f = {}, int width = -1)
{
	f.numeric = true;
	std::vector<SsRow> rows;
	for (const auto &l : ls)
		rows.push_back(ss_row_from_listener(l, f));
	return render_ss(rows, f, width);
}

TEST(SsRender, InetDiagCaptureRendersExactlyLikeSs)
{
	std::vector<Listener> all;
	for (const char *f : {"inet_diag_v4_6.18.bin", "inet_diag_v6_6.18.bin"}) {
		auto b = decode_diag_batch(read_fixture_bytes(f));
		ASSERT_TRUE(b);
		all.insert(all.end(), b->listeners.begin(), b->listeners.end());
	}
	EXPECT_EQ(render(all), read_fixture_text("ss_lnt_6.18.txt"));
}

TEST(SsRender, ProcCaptureRendersExactlyLikeSsWithoutTcpDiag)
{
	std::vector<Listener> all;
	for (auto [f, fam] : {std::pair{"proc_net_tcp_6.18.txt", AF_INET}, std::pair{"proc_net_tcp6_6.18.txt", AF_INET6}}) {
		std::istringstream in(read_fixture_text(f));
		auto v = parse_proc_net_tcp(in, fam);
		ASSERT_TRUE(v);
		all.insert(all.end(), v->begin(), v->end());
	}
	const std::string out = render(all);
	EXPECT_EQ(out, read_fixture_text("ss_lnt_proc_6.18.txt"));
	EXPECT_NE(out.find("LISTEN 5      0          127.0.0.1:7001"), std::string::npos);  // the seed bug
}

Listener v6(const char *addr, std::uint16_t port, bool v6only)
{
	Listener l;
	l.family = AF_INET6;
	inet_pton(AF_INET6, addr, l.addr.data());
	l.port = port;
	l.ipv6only = v6only;
	return l;
}

TEST(SsRender, Ipv6WildcardIsStarUnlessV6Only)
{
	EXPECT_EQ(ss_row_from_listener(v6("::", 22, false), {}).local_addr, "*");
	EXPECT_EQ(ss_row_from_listener(v6("::", 22, false), {}).peer_addr, "*");
	EXPECT_EQ(ss_row_from_listener(v6("::", 22, true), {}).local_addr, "[::]");
	EXPECT_EQ(ss_row_from_listener(v6("::", 22, true), {}).peer_addr, "[::]");
	EXPECT_EQ(ss_row_from_listener(v6("::1", 22, false), {}).local_addr, "[::1]");
	EXPECT_EQ(ss_row_from_listener(v6("::ffff:127.0.0.1", 22, false), {}).local_addr, "[::ffff:127.0.0.1]");
}

TEST(SsRender, ServiceNamesOnlyOutsideTheEphemeralRange)
{
	SsFormat f;
	f.ephemeral = {32768, 60999};
	f.service_name = [](std::uint16_t p) { return p == 22 ? "ssh" : p == 40000 ? "bogus" : ""; };
	Listener l = v6("::1", 22, true);
	EXPECT_EQ(ss_row_from_listener(l, f).local_port, "ssh");
	l.port = 40000;
	EXPECT_EQ(ss_row_from_listener(l, f).local_port, "40000");
	f.numeric = true;
	l.port = 22;
	EXPECT_EQ(ss_row_from_listener(l, f).local_port, "22");
}

TEST(SsRender, BoundDeviceAndUsers)
{
	Listener l;
	l.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.53", l.addr.data());
	l.port = 53;
	l.bound_dev_if = 1;
	l.processes = {{612, 3, "resolved"}, {700, 9, "resolved"}};
	SsFormat f;
	f.ifname = [](std::uint32_t) { return std::string("lo"); };
	f.show_processes = true;
	SsRow r = ss_row_from_listener(l, f);
	EXPECT_EQ(r.local_addr, "127.0.0.53%lo");
	EXPECT_EQ(r.process, R"(users:(("resolved",pid=700,fd=9),("resolved",pid=612,fd=3)))");
}

TEST(SsRender, NoHeaderDoesNotWidenColumns)
{
	Listener l;
	l.family = AF_INET;
	l.port = 9;
	SsFormat f;
	f.header = false;
	EXPECT_EQ(render({l}, f), "LISTEN 0      0      0.0.0.0:9 0.0.0.0:*\n");
}

TEST(SsRender, TerminalWidthSpreadsColumns)
{
	Listener l;
	l.family = AF_INET;
	l.port = 9;
	const std::string out = render({l}, {}, 100);
	std::istringstream in(out);
	for (std::string line; std::getline(in, line);)
		EXPECT_EQ(line.size(), 100u) << '"' << line << '"';
}

}  // namespace
