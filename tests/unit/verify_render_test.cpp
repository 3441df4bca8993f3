#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <sstream>

#include "golden.h"
#include "render/verify_render.h"

using namespace listenq;
using namespace listenq::testing;

namespace {

Listener L(const char *addr, std::uint16_t port, std::uint32_t q, std::uint32_t max, std::uint64_t cookie,
	   std::uint64_t inode)
{
	Listener l;
	l.family = std::string(addr).find(':') != std::string::npos ? AF_INET6 : AF_INET;
	inet_pton(l.family, addr, l.addr.data());
	l.port = port;
	l.accept_queue = q;
	l.backlog = max;
	l.cookie = cookie;
	l.inode = inode;
	return l;
}

VerifyReport sample(bool emulated)
{
	SourceData d;
	d.bpf = {{L("127.0.0.1", 8080, 5, 17, 11, 101), L("::1", 5432, 0, 9, 12, 102)}};
	if (!emulated)
		d.diag = d.bpf;
	d.diag_emulated = emulated;
	d.proc = {{L("127.0.0.1", 8080, 5, 0, 0, 101), L("::1", 5432, 0, 0, 0, 102)}};
	VerifyReport r;
	r.netns = 4026532177u;
	r.sources = {Source::bpf, Source::diag, Source::proc};
	r.diag_emulated = emulated;
	r.comparison = compare_sources(d);
	r.counters = ListenCounters{3, 5, 0, 0, 0};
	if (emulated) {
		r.ss_without_tcp_diag = "State  Recv-Q Send-Q ...\n";
		r.listenq_ss = "State  Recv-Q Send-Q ...\n";
	}
	return r;
}

TEST(VerifyRender, Text)
{
	std::ostringstream os;
	render_verify_text(os, sample(false));
	expect_golden("verify.txt", os.str());
}

TEST(VerifyRender, TextEmulatedNoTcpDiag)
{
	std::ostringstream os;
	render_verify_text(os, sample(true));
	expect_golden("verify_emulated.txt", os.str());
}

TEST(VerifyRender, Json)
{
	auto j = verify_to_json(sample(false));
	expect_golden("verify.json", j.dump(2) + "\n");
	EXPECT_EQ(j["schema"], "listenq.verify/1");
	EXPECT_EQ(j["listeners"][0]["fields"]["backlog"]["proc"], 0);
	EXPECT_EQ(j["listeners"][0]["fields"]["backlog"]["explanation"], "proc_no_backlog");
	EXPECT_TRUE(j["explanations"].contains("proc_no_backlog"));
	EXPECT_EQ(j["summary"]["mismatch"], 0);
}

TEST(VerifyRender, MismatchIsShouted)
{
	VerifyReport r = sample(false);
	SourceData d;
	d.bpf = {{L("127.0.0.1", 8080, 5, 17, 11, 101)}};
	d.diag = {{L("127.0.0.1", 8080, 5, 18, 11, 101)}};
	r.sources = {Source::bpf, Source::diag};
	r.comparison = compare_sources(d);
	std::ostringstream os;
	render_verify_text(os, r);
	EXPECT_NE(os.str().find("17/18 !"), std::string::npos) << os.str();
	EXPECT_NE(os.str().find("MISMATCH"), std::string::npos);
	EXPECT_NE(os.str().find("1 mismatch"), std::string::npos);
	EXPECT_NE(os.str().find("summary: 1 listener: 0 agree"), std::string::npos) << "one listener, singular";
}

}  // namespace
