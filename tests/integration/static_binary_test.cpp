// Issue 15 item 5: build-static/listenq (scripts/build-static.sh), the
// binary for old userlands and for initramfs guests with no libraries.
// Its output must be the dynamic binary's, byte for byte, in the same
// netns. It must also run in a root that holds only itself, /proc and /sys.
#include <gtest/gtest.h>

#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "privileged.h"

using namespace listenq;
using namespace listenq::testing;
using namespace std::chrono_literals;

namespace {

const std::string kStaticBin = LQ_SOURCE_DIR "/build-static/listenq";

class StaticBinary : public ::testing::Test {
protected:
	void SetUp() override
	{
		LQ_REQUIRE_ROOT_NETNS();
		if (!std::filesystem::exists(kStaticBin)) {
			if (in_ci())
				FAIL() << kStaticBin << " missing: scripts/test.sh builds it before this tier";
			GTEST_SKIP() << kStaticBin << " not built (scripts/build-static.sh)";
		}
		// Two listeners with fixed queues: 3 clients wait on the first,
		// and the second is on 22, so that `ss -lt` prints a service name.
		auto a = make_listener("127.0.0.1", 0, 5);
		auto b = make_listener("::1", 22, 9);
		ASSERT_TRUE(a && b);
		port_ = local_port(a->get());
		auto c = connect_many("127.0.0.1", port_, 3);
		ASSERT_TRUE(c) << c.error().message;
		listeners_.push_back(std::move(*a));
		listeners_.push_back(std::move(*b));
		clients_ = std::move(*c);
	}
	std::uint16_t port_ = 0;
	std::vector<UniqueFd> listeners_, clients_;
};

std::string joined(const std::vector<std::string> &argv)
{
	std::string s;
	for (const std::string &a : argv)
		s += (s.empty() ? "" : " ") + a;
	return s;
}

// `file` and `ldd` agree that no loader or library is needed.
TEST_F(StaticBinary, IsStaticallyLinked)
{
	RunResult f = run_program({which("file"), "-b", kStaticBin});
	EXPECT_NE(f.out.find("statically linked"), std::string::npos) << f.out;
	RunResult l = run_program({which("ldd"), kStaticBin});
	EXPECT_NE((l.out + l.err).find("not a dynamic executable"), std::string::npos) << l.out << l.err;
}

// Every command whose output is deterministic: the same bytes and exit code.
TEST_F(StaticBinary, PrintsWhatTheDynamicBinaryPrints)
{
	struct Case {
		std::vector<std::string> args;
		std::vector<std::string> env;
	};
	const std::string refuse_bpf = "LISTENQ_REFUSE=iter/tcp,iter/task_file";  // read with inet_diag
	const std::vector<Case> cases = {
		{{"--version"}, {}},       {{"--help"}, {}},         {{"export", "--help"}, {}},
		{{"snapshot"}, {}},        {{"snapshot", "-p"}, {}}, {{"snapshot", "--json"}, {}},
		{{"snapshot"}, {refuse_bpf}}, {{"ss", "-lnt"}, {}},  {{"ss", "-lt"}, {}},
		{{"ss", "-ltp"}, {}},      {{"verify"}, {}},         {{"probe"}, {}},
		{{"export", "--listen", "localhost:9464"}, {}},  // names are refused, in both
	};
	for (const Case &c : cases) {
		SCOPED_TRACE(joined(c.env) + " listenq " + joined(c.args));
		std::vector<std::string> dyn = {LISTENQ_BIN}, stat = {kStaticBin};
		dyn.insert(dyn.end(), c.args.begin(), c.args.end());
		stat.insert(stat.end(), c.args.begin(), c.args.end());
		RunResult d = run_program(dyn, c.env), s = run_program(stat, c.env);
		EXPECT_EQ(s.exit_code, d.exit_code) << s.err;
		EXPECT_EQ(s.out, d.out);
		EXPECT_EQ(s.err, d.err);
	}
	// The inputs were what they should be, so equal is not equally empty.
	RunResult inet = run_program({kStaticBin, "snapshot"}, {refuse_bpf});
	EXPECT_NE(inet.out.find("source inet_diag"), std::string::npos) << inet.out << inet.err;
	RunResult ss = run_program({kStaticBin, "ss", "-lt"});
	EXPECT_NE(ss.out.find("[::1]:ssh"), std::string::npos) << "/etc/services was read:\n" << ss.out;
	EXPECT_NE(ss.out.find(":" + std::to_string(port_)), std::string::npos) << ss.out;
	RunResult snap = run_program({kStaticBin, "snapshot"});
	EXPECT_NE(snap.out.find("     3      5 "), std::string::npos) << "Recv-Q 3, Send-Q 5:\n" << snap.out;
}

// The commands that trace and sample, whose numbers vary from run to run:
// they run, and they see the listener.
TEST_F(StaticBinary, TracingCommandsRun)
{
	const std::string p = "port=\"" + std::to_string(port_) + "\"";
	const std::string addr = "127.0.0.1:" + std::to_string(port_);
	struct Case {
		std::vector<std::string> argv;
		std::string expect;
	};
	for (const Case &c : std::vector<Case>{{{kStaticBin, "watch", "0.2", "2"}, addr},
					       {{kStaticBin, "hist", "1"}, addr},
					       {{kStaticBin, "trace", "--duration", "1"}, "listenq trace: tier"},
					       {{kStaticBin, "export", "--once"}, p},
					       {{kStaticBin, "demo", "--seconds", "2"}, "listenq demo:"}}) {
		SCOPED_TRACE(joined(c.argv));
		RunResult r = run_program(c.argv);
		EXPECT_EQ(r.exit_code, 0) << r.err;
		EXPECT_NE(r.out.find(c.expect), std::string::npos) << r.out;
	}
}

// `listenq export` served by the static binary: threads, sockets, gzip.
TEST_F(StaticBinary, ExportServesMetrics)
{
	constexpr int kPort = 19465;
	Spawned exporter({kStaticBin, "export", "--listen", "127.0.0.1:" + std::to_string(kPort), "--group-by", "listener"});
	httplib::Client c("127.0.0.1", kPort);
	c.set_connection_timeout(1);
	c.set_read_timeout(10);
	std::string encoding, body;
	ASSERT_TRUE(wait_until(
		[&] {
			auto r = c.Get("/metrics", httplib::Headers{{"Accept-Encoding", "gzip"}});
			if (!r || r->status != 200)
				return false;
			encoding = r->get_header_value("Content-Encoding");
			body = r->body;
			return true;
		},
		15s))
		<< "no /metrics from the static export";
	EXPECT_EQ(encoding, "gzip");
	EXPECT_NE(body.find("listenq_listen_backlog{"), std::string::npos) << "the client inflates it";
	bool backlog_5 = false;
	std::istringstream lines(body);
	for (std::string l; std::getline(lines, l);)
		backlog_5 |= l.rfind("listenq_listen_backlog{", 0) == 0 &&
			     l.find("port=\"" + std::to_string(port_) + "\"") != std::string::npos && l.ends_with("} 5");
	EXPECT_TRUE(backlog_5) << "listenq_listen_backlog{...port=\"" << port_ << "\"...} 5 in:\n" << body;
	exporter.signal(SIGTERM);
	std::vector<std::string> rest;
	std::string err;
	EXPECT_EQ(exporter.wait(10s, rest, err), 0) << err;
}

// A root with nothing but the binary, /proc and /sys, as in an initramfs:
// no loader, no libraries, no /etc. Same output as the dynamic binary.
TEST_F(StaticBinary, RunsInAnEmptyRoot)
{
	const std::filesystem::path root = ::testing::TempDir() + "/listenq-static-root";
	std::filesystem::create_directories(root);
	// -n: with no /etc/services, port 22 stays "22" (the dynamic binary's "ssh").
	for (const std::vector<std::string> &args : {std::vector<std::string>{"snapshot", "-n"}, {"ss", "-lnt"},
						     {"verify"}, {"probe"}, {"snapshot", "--json"}}) {
		SCOPED_TRACE("listenq " + joined(args));
		// A private mount namespace: the tmpfs and bind mounts go with it.
		std::string script = "set -e; r='" + root.string() + "'; mount -t tmpfs lq-static \"$r\"; cp '" +
				     kStaticBin + "' \"$r/listenq\"; mkdir \"$r/proc\" \"$r/sys\"; " +
				     "mount --rbind /proc \"$r/proc\"; mount --rbind /sys \"$r/sys\"; " +
				     "[ \"$(ls \"$r\" | tr '\\n' ' ')\" = 'listenq proc sys ' ]; exec chroot \"$r\" /listenq " +
				     joined(args);
		RunResult s = run_program({which("unshare"), "-m", "sh", "-c", script});
		std::vector<std::string> dyn = {LISTENQ_BIN};
		dyn.insert(dyn.end(), args.begin(), args.end());
		RunResult d = run_program(dyn);
		EXPECT_EQ(s.exit_code, 0) << s.err;
		EXPECT_EQ(s.out, d.out);
		EXPECT_EQ(s.err, d.err);
	}
	std::filesystem::remove(root);
}

}  // namespace
