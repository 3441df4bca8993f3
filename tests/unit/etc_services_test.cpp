// /etc/services, read without NSS (sources/etc_services.h).
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "sources/etc_services.h"

using namespace listenq;

namespace {

TEST(EtcServices, FirstTcpEntryPerPortWins)
{
	std::istringstream in("# Network services, Internet style\n"
			      "\n"
			      "ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol\n"
			      "domain\t\t53/udp\n"
			      "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
			      "www-alt\t\t80/tcp\n"
			      "submission\t587/tcp\n"
			      "bad\t\t99999/tcp\n"
			      "worse\t\t/tcp\n"
			      "   indented 8080/tcp   \n"
			      "noport\n");
	const auto m = parse_services(in);
	EXPECT_EQ(m.at(22), "ssh");
	EXPECT_EQ(m.at(80), "http");
	EXPECT_EQ(m.at(587), "submission");
	EXPECT_EQ(m.at(8080), "indented");
	EXPECT_EQ(m.count(53), 0u) << "udp only";
	EXPECT_EQ(m.size(), 4u);
}

TEST(EtcServices, UdpWhenAsked)
{
	std::istringstream in("domain 53/tcp\ndomain 53/udp\nbootps 67/udp\n");
	const auto m = parse_services(in, "udp");
	EXPECT_EQ(m.size(), 2u);
	EXPECT_EQ(m.at(67), "bootps");
}

// The real file agrees with getservbyport() on the ports ss users know.
TEST(EtcServices, ThisHostsFile)
{
	std::ifstream in("/etc/services");
	if (!in)
		GTEST_SKIP() << "no /etc/services on this host (Debian's netbase installs it)";
	const auto m = parse_services(in);
	EXPECT_EQ(m.at(22), "ssh");
	EXPECT_EQ(m.at(443), "https");
}

}  // namespace
