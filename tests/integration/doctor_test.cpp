// listenq doctor against real listeners in a private netns: each finding
// provoked for real (a stopped acceptor, a clamp by this netns's
// somaxconn, spoofed SYNs whose SYN-ACKs vanish, tcp_abort_on_overflow, a
// reuseport member that never accepts, a stall at a steady rate), then
// read back from `doctor --json`.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "privileged.h"
#include "sources/kernel_info.h"
#include "util/files.h"

using nlohmann::json;
using namespace listenq;
using namespace listenq::testing;
using namespace std::chrono_literals;

namespace {

// A doctor run over this netns: started, ready (its window has begun),
// then collected.
class DoctorRun {
public:
	DoctorRun(double seconds, std::vector<std::string> extra = {})
	{
		std::vector<std::string> argv = {LISTENQ_BIN, "doctor", std::to_string(seconds), "--json", "--netns",
						 std::to_string(current_netns_inode())};
		argv.insert(argv.end(), extra.begin(), extra.end());
		proc_ = std::make_unique<Spawned>(argv);
		ready_ = proc_->wait_stderr("listenq doctor: watching", 30s);
	}
	bool ready() const { return ready_; }
	// Exit code; the document in doc.
	int finish(json &doc, std::string &err)
	{
		std::vector<std::string> rest;
		const int rc = proc_->wait(60s, rest, err);
		std::string all;
		for (const std::string &l : rest)
			all += l + "\n";
		doc = json::parse(all, nullptr, false);
		return rc;
	}

private:
	std::unique_ptr<Spawned> proc_;
	bool ready_ = false;
};

std::vector<json> findings(const json &doc, const std::string &id)
{
	std::vector<json> v;
	if (doc.is_object())
		for (const json &f : doc["findings"])
			if (f["id"] == id)
				v.push_back(f);
	return v;
}

bool concerns(const json &finding, std::uint16_t port)
{
	for (const json &l : finding["listeners"])
		if (l["port"] == port)
			return true;
	return false;
}

class Doctor : public ::testing::Test {
protected:
	void SetUp() override { LQ_REQUIRE_ROOT_NETNS(); }
};

TEST_F(Doctor, AcceptQueueOverflowOfAStoppedAcceptorIsCritical)
{
	auto l = make_listener("127.0.0.1", 0, 4);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	DoctorRun run(3, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready()) << "doctor did not start";
	auto burst = connect_burst(port, 20);  // 5 fit (backlog + 1), the rest overflow
	json doc;
	std::string err;
	EXPECT_EQ(run.finish(doc, err), 1) << err << doc.dump(2);
	ASSERT_TRUE(doc.is_object()) << err;
	EXPECT_EQ(doc["schema"], "listenq.doctor/1");
	EXPECT_EQ(doc["needs_action"], true);
	auto f = findings(doc, "accept_queue_overflow");
	ASSERT_EQ(f.size(), 1u) << doc.dump(2);
	EXPECT_EQ(f[0]["severity"], "critical");
	ASSERT_TRUE(concerns(f[0], port));
	const json &e = f[0]["evidence"];
	EXPECT_GT(e["overflow_syn"].get<double>() + e["overflow_ack"].get<double>(), 0) << e.dump();
	EXPECT_EQ(e["accept_queue_peak"], 5) << "backlog + 1";
	EXPECT_EQ(e["backlog"], 4);
	EXPECT_GT(e["hol_wait_peak_us"].get<double>(), 1e6) << "the first clients waited the whole window";
	EXPECT_EQ(e["accepted"], 0);
	EXPECT_NE(f[0]["cause"].get<std::string>().find("accepted nothing"), std::string::npos) << f[0].dump(2);
	EXPECT_EQ(doc["findings"][0]["severity"], "critical") << "sorted by severity";
}

TEST_F(Doctor, SlowAcceptorIsToldFromArrivals)
{
	auto l = make_listener("127.0.0.1", 0, 4);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	std::atomic<bool> stop{false};
	std::thread acceptor([&] {  // 5 accepts/s
		while (!stop) {
			std::this_thread::sleep_for(200ms);
			if (int c = ::accept4(l->get(), nullptr, nullptr, SOCK_NONBLOCK); c >= 0)
				::close(c);
		}
	});
	DoctorRun run(3, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready());
	std::vector<UniqueFd> clients;
	for (int i = 0; i < 25 && !stop; i++) {  // 50 connections/s for 2.5 s
		for (int j = 0; j < 5; j++)
			clients.push_back(nonblocking_connect(port));
		std::this_thread::sleep_for(100ms);
	}
	json doc;
	std::string err;
	const int rc = run.finish(doc, err);
	stop = true;
	acceptor.join();
	EXPECT_EQ(rc, 1) << err;
	auto f = findings(doc, "accept_queue_overflow");
	ASSERT_EQ(f.size(), 1u) << doc.dump(2);
	const std::string cause = f[0]["cause"];
	// From the rates where enqueues are measured, else from the time full.
	EXPECT_NE(cause.find("does not accept fast enough"), std::string::npos) << f[0].dump(2);
	EXPECT_GT(f[0]["evidence"]["accepted"].get<double>(), 0) << f[0].dump(2);
}

TEST_F(Doctor, SomaxconnClampIsPossibleForAnOldListenerAndCertainWhenListenIsSeen)
{
	ASSERT_TRUE(write_file("/proc/sys/net/core/somaxconn", "16"));  // this netns only
	auto old = make_listener("127.0.0.1", 0, 1000);
	ASSERT_TRUE(old);
	const std::uint16_t old_port = local_port(old->get());
	DoctorRun run(2, {"--syscalls"});
	ASSERT_TRUE(run.ready());
	auto fresh = make_listener("127.0.0.1", 0, 1000);  // listen() inside the window
	ASSERT_TRUE(fresh);
	const std::uint16_t fresh_port = local_port(fresh->get());
	json doc;
	std::string err;
	const int rc = run.finish(doc, err);
	auto f = findings(doc, "somaxconn_clamp");
	ASSERT_FALSE(f.empty()) << err << doc.dump(2);
	bool possible = false, certain = false;
	for (const json &x : f) {
		EXPECT_EQ(x["evidence"]["somaxconn"], 16);
		EXPECT_NE(x["fix"][0].get<std::string>().find("net.core.somaxconn"), std::string::npos);
		if (concerns(x, old_port)) {
			possible = true;
			EXPECT_EQ(x["severity"], "info") << "no pressure: " << x.dump(2);
			EXPECT_NE(x["title"].get<std::string>().find("possibly clamped"), std::string::npos);
		}
		if (concerns(x, fresh_port)) {
			certain = true;
			EXPECT_EQ(x["severity"], "warning");
			EXPECT_EQ(x["evidence"]["requested_backlog"], 1000) << x.dump(2);
		}
	}
	EXPECT_TRUE(possible) << doc.dump(2);
	EXPECT_TRUE(certain) << "listen(fd, 1000) in the window, with --syscalls: " << doc.dump(2);
	EXPECT_EQ(rc, 1) << "a certain clamp needs action";
}

TEST_F(Doctor, SynFloodIsToldFromLoad)
{
	auto peer = setup_blackhole_peer();
	ASSERT_TRUE(peer) << peer.error().message;
	auto flooded = make_listener("0.0.0.0", 0, 8);
	ASSERT_TRUE(flooded);
	const std::uint16_t port = local_port(flooded->get());
	DoctorRun run(3, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready());
	for (std::uint16_t sport = 42000; sport < 42064; sport++)  // spoofed: the SYN-ACKs vanish
		ASSERT_TRUE(send_raw_syn(sport, port));
	json doc;
	std::string err;
	EXPECT_EQ(run.finish(doc, err), 1) << err;
	auto f = findings(doc, "syn_queue_pressure");
	ASSERT_EQ(f.size(), 1u) << err << doc.dump(2);
	EXPECT_EQ(f[0]["severity"], "warning") << "cookies, not drops (tcp_syncookies=1)";
	EXPECT_GT(f[0]["evidence"]["syncookies_sent"].get<double>(), 40) << f[0].dump(2);
	EXPECT_EQ(f[0]["evidence"]["syncookies_recv"], 0);
	EXPECT_NE(f[0]["cause"].get<std::string>().find("SYN flood"), std::string::npos) << f[0].dump(2);
}

TEST_F(Doctor, SynQueuePressureFromRealClientsIsLoad)
{
	// Ten spoofed SYNs fill a backlog-8 SYN queue (it holds backlog, or
	// backlog + 1 since 6.14); every real client then gets a cookie, and
	// completes with it.
	auto peer = setup_blackhole_peer();
	ASSERT_TRUE(peer) << peer.error().message;
	auto l = make_listener("0.0.0.0", 0, 8);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	std::atomic<bool> stop{false};
	std::thread acceptor([&] {
		while (!stop) {
			accept_all(l->get());
			std::this_thread::sleep_for(5ms);
		}
	});
	DoctorRun run(3, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready());
	for (std::uint16_t sport = 43000; sport < 43010; sport++)
		ASSERT_TRUE(send_raw_syn(sport, port));
	std::this_thread::sleep_for(100ms);
	for (int i = 0; i < 30; i++)
		EXPECT_TRUE(connect_to("192.0.2.2", port)) << "a real client";
	json doc;
	std::string err;
	run.finish(doc, err);
	stop = true;
	acceptor.join();
	auto f = findings(doc, "syn_queue_pressure");
	ASSERT_EQ(f.size(), 1u) << err << doc.dump(2);
	EXPECT_GE(f[0]["evidence"]["syncookies_recv"].get<double>(), 25) << f[0].dump(2);
	EXPECT_NE(f[0]["cause"].get<std::string>().find("looks like load"), std::string::npos) << f[0].dump(2);
}

TEST_F(Doctor, AbortOnOverflowResetsAreCounted)
{
	// ACK-path overflows of SYN-queue requests, on purpose: with
	// TCP_DEFER_ACCEPT the first clients' bare final ACKs are dropped and
	// their requests wait in the SYN queue; once it is full the next
	// clients get syncookies, which complete at once and fill the accept
	// queue. The waiting clients' data then completes their requests into
	// a full accept queue: ACK-path overflows, each answered with a RST.
	ASSERT_TRUE(write_file("/proc/sys/net/ipv4/tcp_abort_on_overflow", "1"));
	auto l = make_listener("127.0.0.1", 0, 4);
	ASSERT_TRUE(l);
	int defer = 10;
	ASSERT_EQ(::setsockopt(l->get(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer)), 0);
	const std::uint16_t port = local_port(l->get());
	DoctorRun run(2, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready());
	auto clients = connect_burst(port, 16);
	std::this_thread::sleep_for(200ms);
	for (const UniqueFd &c : clients)
		(void)!::send(c.get(), "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	json doc;
	std::string err;
	const int rc = run.finish(doc, err);
	auto f = findings(doc, "abort_on_overflow");
	ASSERT_EQ(f.size(), 1u) << err << doc.dump(2);
	EXPECT_EQ(f[0]["evidence"]["tcp_abort_on_overflow"], 1);
	EXPECT_NE(f[0]["fix"][0].get<std::string>().find("tcp_abort_on_overflow=0"), std::string::npos);
	EXPECT_EQ(f[0]["severity"], "critical") << f[0].dump(2);
	// 4 or 5 requests wait (the SYN queue holds backlog, or backlog + 1
	// since 6.14), and every one is reset.
	EXPECT_GE(f[0]["evidence"]["resets"].get<double>(), 4) << f[0].dump(2);
	EXPECT_EQ(rc, 1) << err;
}

TEST_F(Doctor, ReuseportMemberThatNeverAcceptsIsOutOfBalance)
{
	auto stuck = make_listener("127.0.0.1", 0, 4, /*reuseport=*/true);
	ASSERT_TRUE(stuck);
	const std::uint16_t port = local_port(stuck->get());
	auto busy = make_listener("127.0.0.1", port, 128, /*reuseport=*/true);
	ASSERT_TRUE(busy) << busy.error().message;
	std::atomic<bool> stop{false};
	std::thread acceptor([&] {
		while (!stop) {
			accept_all(busy->get());
			std::this_thread::sleep_for(5ms);
		}
	});
	DoctorRun run(3, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready());
	auto clients = connect_burst(port, 60);  // about half hash to the stuck member
	json doc;
	std::string err;
	EXPECT_EQ(run.finish(doc, err), 1) << err;
	stop = true;
	acceptor.join();
	auto f = findings(doc, "reuseport_imbalance");
	ASSERT_EQ(f.size(), 1u) << err << doc.dump(2);
	EXPECT_EQ(f[0]["severity"], "warning");
	EXPECT_EQ(f[0]["evidence"]["members"], 2);
	EXPECT_EQ(f[0]["evidence"]["members_full"], 1);
	EXPECT_EQ(f[0]["listeners"][0]["backlog"], 4) << "the full member first";
	EXPECT_EQ(f[0]["listeners"][0]["accept_queue_peak"], 5);
}

TEST_F(Doctor, TcpDiagMissingIsReportedAsInfo)
{
	auto l = make_listener("127.0.0.1", 0, 16);
	ASSERT_TRUE(l);
	const bool diag = tcp_diag_answers();
	// Where tcp_diag answers, only the emulation can say it is missing; the
	// guests' no-tcp_diag boot sees it for real.
	for (bool emulate : {false, true}) {
		std::vector<std::string> extra = {"--port", std::to_string(local_port(l->get()))};
		if (emulate)
			extra.push_back("--emulate-no-tcp-diag");
		DoctorRun run(1, extra);
		ASSERT_TRUE(run.ready());
		json doc;
		std::string err;
		EXPECT_EQ(run.finish(doc, err), 0) << "info only: " << err << doc.dump(2);
		auto f = findings(doc, "tcp_diag_missing");
		ASSERT_EQ(f.size(), (emulate || !diag) ? 1u : 0u) << doc.dump(2);
		if (!f.empty()) {
			EXPECT_EQ(f[0]["severity"], "info");
			EXPECT_NE(f[0]["fix"][0].get<std::string>().find("listenq ss"), std::string::npos);
		}
	}
}

TEST_F(Doctor, BacklogBelowRateTimesWaitWhenTheAcceptorStalls)
{
	auto l = make_listener("127.0.0.1", 0, 16);
	ASSERT_TRUE(l);
	const std::uint16_t port = local_port(l->get());
	std::atomic<bool> stall{false}, stop{false};
	std::thread acceptor([&] {
		while (!stop) {
			if (!stall)
				accept_all(l->get());
			std::this_thread::sleep_for(5ms);
		}
	});
	DoctorRun run(6, {"--port", std::to_string(port)});
	ASSERT_TRUE(run.ready());
	std::vector<UniqueFd> clients;
	// 50 connections/s: accepted as they come for 1.5 s, then a 1.5 s
	// stall (50/s x 1.5 s = 75 > backlog 16 + 1), then accepted again for
	// 2.5 s: an acceptor with capacity to spare, whose backlog is too small.
	for (int i = 0; i < 55; i++) {
		if (i == 15)
			stall = true;
		if (i == 30)
			stall = false;
		for (int j = 0; j < 5; j++)
			clients.push_back(nonblocking_connect(port));
		std::this_thread::sleep_for(100ms);
	}
	json doc;
	std::string err;
	const int rc = run.finish(doc, err);
	stop = true;
	acceptor.join();
	EXPECT_EQ(rc, 1) << err;
	auto f = findings(doc, "backlog_below_demand");
	ASSERT_EQ(f.size(), 1u) << err << doc.dump(2);
	const json &e = f[0]["evidence"];
	EXPECT_GT(e["connections_waiting"].get<double>(), 17) << e.dump();
	EXPECT_GE(e["peak_accepts_per_s"].get<double>(), 20) << e.dump();
	EXPECT_GT(e["hol_wait_peak_us"].get<double>(), 5e5) << e.dump();
}

TEST_F(Doctor, QuietListenerNeedsNothingAndTextSaysSo)
{
	auto l = make_listener("127.0.0.1", 0, 128);
	ASSERT_TRUE(l);
	RunResult r = run_program({LISTENQ_BIN, "doctor", "1", "--netns", std::to_string(current_netns_inode()), "--port",
				   std::to_string(local_port(l->get()))});
	EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
	EXPECT_NE(r.out.find("Nothing needs action"), std::string::npos) << r.out;
	EXPECT_NE(r.err.find("watching 1 listener for 1 s"), std::string::npos) << r.err;
}

}  // namespace
