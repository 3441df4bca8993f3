// `listenq verify` and `listenq ss` against iproute2's ss on real
// listeners in a private netns.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <sstream>

#include <nlohmann/json.hpp>

#include "privileged.h"

using nlohmann::json;
using namespace listenq;
using namespace listenq::testing;
using namespace std::chrono_literals;

namespace {

const std::vector<std::string> kNoTcpDiagEnv = {"PROC_NET_TCP=/proc/net/tcp", "PROC_NET_TCP6=/proc/net/tcp6"};

class VerifySs : public ::testing::Test {
protected:
	void SetUp() override
	{
		LQ_REQUIRE_ROOT_NETNS();
		ss_ = which("ss");
		ASSERT_FALSE(ss_.empty()) << "iproute2 ss not found (scripts/deps.sh installs iproute2)";
		// A mix that exercises every formatting rule of ss.
		listen("127.0.0.1", 8080, 17);
		listen("0.0.0.0", 9000, 100000);
		auto v6only = make_listener("::", 22, 128);  // IPV6_V6ONLY is off by default: ss prints *
		ASSERT_TRUE(v6only) << v6only.error().message;
		keep_.push_back(std::move(*v6only));
		listen("::1", 5432, 9);
		listen("127.0.0.1", 7004, 5, true);
		listen("127.0.0.1", 7004, 6, true);
		// SO_BINDTODEVICE: ss prints 127.0.0.53%lo:53.
		UniqueFd bound(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
		sockaddr_in a{};
		a.sin_family = AF_INET;
		a.sin_port = htons(53);
		inet_pton(AF_INET, "127.0.0.53", &a.sin_addr);
		ASSERT_EQ(::setsockopt(bound.get(), SOL_SOCKET, SO_BINDTODEVICE, "lo", 3), 0);
		ASSERT_EQ(::bind(bound.get(), reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
		ASSERT_EQ(::listen(bound.get(), 4096), 0);
		keep_.push_back(std::move(bound));
		auto clients = connect_many("127.0.0.1", 8080, 5);
		ASSERT_TRUE(clients) << clients.error().message;
		for (auto &c : *clients)
			keep_.push_back(std::move(c));
		ASSERT_TRUE(wait_until([&] { return accept_queue_by_tcp_info(l8080_) == 5; }, 2s));
	}

	void listen(const char *addr, std::uint16_t port, int backlog, bool reuseport = false)
	{
		auto l = make_listener(addr, port, backlog, reuseport);
		ASSERT_TRUE(l) << l.error().message;
		if (port == 8080)
			l8080_ = l->get();
		keep_.push_back(std::move(*l));
	}

	RunResult listenq(std::vector<std::string> args, std::vector<std::string> env = {})
	{
		args.insert(args.begin(), LISTENQ_BIN);
		return run_program(args, env);
	}

	std::string ss_;
	int l8080_ = -1;
	std::vector<UniqueFd> keep_;
};

json listener_on(const json &doc, int port)
{
	for (const auto &l : doc["listeners"])
		if (l["port"] == port)
			return l;
	ADD_FAILURE() << "no listener on " << port << " in " << doc.dump(2);
	return json::object();
}

TEST_F(VerifySs, VerifyAllSourcesAgreeOrAreExplained)
{
	LQ_REQUIRE_TCP_DIAG();
	RunResult r = listenq({"verify", "--json"});
	ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
	json doc = json::parse(r.out);
	EXPECT_EQ(doc["tcp_diag"]["available"], true);
	EXPECT_EQ(doc["summary"]["listeners"], 7);
	EXPECT_EQ(doc["summary"]["mismatch"], 0);
	json l = listener_on(doc, 8080);
	EXPECT_EQ(l["verdict"], "explained");
	for (const char *s : {"bpf", "diag", "proc"})
		EXPECT_EQ(l["fields"]["accept_queue"][s], 5) << s;
	EXPECT_EQ(l["fields"]["backlog"]["bpf"], 17);
	EXPECT_EQ(l["fields"]["backlog"]["diag"], 17);
	EXPECT_EQ(l["fields"]["backlog"]["proc"], 0);
	EXPECT_EQ(l["fields"]["backlog"]["explanation"], "proc_no_backlog");
	EXPECT_EQ(listener_on(doc, 9000)["fields"]["backlog"]["bpf"], std::min(4096u, netns_somaxconn()));  // somaxconn clamp
}

TEST_F(VerifySs, VerifyBpfAgainstDiagAgreesExactly)
{
	LQ_REQUIRE_TCP_DIAG();
	RunResult r = listenq({"verify", "--sources", "bpf,diag", "--json"});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	json doc = json::parse(r.out);
	EXPECT_EQ(doc["summary"]["agree"], 7) << r.out;
	for (const auto &l : doc["listeners"])
		EXPECT_GT(l["cookie"].get<std::uint64_t>(), 0u);
}

TEST_F(VerifySs, EmulatedNoTcpDiagShowsWhatSsWouldPrint)
{
	RunResult ss = run_program({ss_, "-lnt"}, kNoTcpDiagEnv);
	ASSERT_EQ(ss.exit_code, 0);
	ASSERT_NE(ss.out.find("LISTEN 5      0          127.0.0.1:8080"), std::string::npos)
		<< "ss from /proc should show the seed bug:\n" << ss.out;

	RunResult r = listenq({"verify", "--emulate-no-tcp-diag", "--json"});
	ASSERT_EQ(r.exit_code, 0) << r.err;
	json doc = json::parse(r.out);
	EXPECT_EQ(doc["tcp_diag"]["emulated_missing"], true);
	EXPECT_EQ(doc["ss_without_tcp_diag"], ss.out);
	EXPECT_TRUE(listener_on(doc, 8080)["fields"]["backlog"]["diag"].is_null());
	EXPECT_TRUE(doc["explanations"].contains("tcp_diag_emulated"));

	RunResult text = listenq({"verify", "--emulate-no-tcp-diag"});
	ASSERT_EQ(text.exit_code, 0);
	EXPECT_NE(text.out.find("tx_queue is 0 for every LISTEN socket, so `ss`"), std::string::npos) << text.out;
	EXPECT_NE(text.out.find("What `listenq ss -lnt` prints"), std::string::npos);
	EXPECT_NE(text.out.find("LISTEN 5      17         127.0.0.1:8080"), std::string::npos) << text.out;
}

TEST_F(VerifySs, VerifyBadSourceListIsAUsageError)
{
	RunResult r = listenq({"verify", "--sources", "bpf,kernel"});
	EXPECT_EQ(r.exit_code, 2);
	EXPECT_NE(r.err.find("unknown source 'kernel'"), std::string::npos) << r.err;
}

TEST_F(VerifySs, SsMatchesIproute2ByteForByte)
{
	LQ_REQUIRE_TCP_DIAG();
	for (const char *flags : {"-lnt", "-ltn", "-lntp", "-ltnH", "-lnt4", "-lnt6", "-lt"}) {
		RunResult want = run_program({ss_, flags});
		RunResult got = listenq({"ss", flags});
		ASSERT_EQ(got.exit_code, 0) << got.err;
		EXPECT_EQ(got.out, want.out) << flags;
		EXPECT_TRUE(got.err.empty()) << got.err;
	}
	// The formatting rules above were really exercised.
	const std::string out = listenq({"ss", "-lnt"}).out;
	for (const char *needle : {"127.0.0.53%lo:53", "*:22", "[::1]:5432", "LISTEN 5      17         127.0.0.1:8080"})
		EXPECT_NE(out.find(needle), std::string::npos) << needle << " in\n" << out;
}

TEST_F(VerifySs, SsFromProcMatchesSsWithoutTcpDiag)
{
	RunResult want = run_program({ss_, "-lnt"}, kNoTcpDiagEnv);
	RunResult got = listenq({"ss", "-lnt", "--source", "proc"});
	ASSERT_EQ(got.exit_code, 0);
	EXPECT_EQ(got.out, want.out);
}

std::vector<std::string> sorted_lines(const std::string &s)
{
	std::vector<std::string> v;
	std::istringstream in(s);
	for (std::string line; std::getline(in, line);)
		v.push_back(line);
	std::sort(v.begin(), v.end());
	return v;
}

// From iter/tcp the rows are ss's rows (the numbers are the kernel's own),
// in the iter/tcp walk order, IPv4 first.
TEST_F(VerifySs, SsFromBpfHasExactlySsRows)
{
	LQ_REQUIRE_TCP_DIAG();
	RunResult want = run_program({ss_, "-lntp"});
	RunResult got = listenq({"ss", "-lntp", "--source", "bpf"});
	ASSERT_EQ(got.exit_code, 0) << got.err;
	EXPECT_EQ(sorted_lines(got.out), sorted_lines(want.out));
	EXPECT_EQ(got.out.substr(0, got.out.find('\n')), want.out.substr(0, want.out.find('\n')));
}

TEST_F(VerifySs, SsNeedsNoPrivilegeWhenTcpDiagAnswers)
{
	RunResult want = run_program({ss_, "-lnt"});
	RunResult got = run_program(
		{"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", LISTENQ_BIN, "ss", "-lnt"});
	EXPECT_EQ(got.exit_code, 0) << got.err;
	EXPECT_EQ(got.out, want.out);
}

}  // namespace
